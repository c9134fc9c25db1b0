"""The settings page (the channel of daily lessons and reminders) in every language: valid
HTML, and no accessibility violation in headless Chromium at 240x320, with a choice to
make, after one was made, and where a channel was refused."""

from __future__ import annotations

import pytest

from gateway import create_app
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml, csrf, web_sign_in
from tests.test_whatsapp_channel import whatsapp_carrier
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations_in_html,
    browser,
    validate_html,
)

pytestmark = pytest.mark.slow
PHONE = "+2348030000000"
LOCALES = ("en", "fr", "pt", "sw", "ar")


@pytest.fixture
def both(db_path, tmp_path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "both.toml"
    path.write_text(carriers_toml(twilio_api.url) + whatsapp_carrier("http://127.0.0.1:9")
                    + 'fallback_carrier = "twilio"\n')
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path),
                       "TESTING": True})


def settings_documents(app, client_store) -> dict[str, str]:
    documents = {}
    client = app.test_client()
    TwilioWebhooks(client).sms(PHONE, "START")
    web_sign_in(client, client_store, PHONE)
    for locale in LOCALES:
        client.post("/lang", data={"csrf": csrf(client, "/"), "lang": locale})
        documents[f"{locale}-settings"] = client.get("/settings").data.decode()
        documents[f"{locale}-settings-chosen"] = client.post("/settings", data={
            "csrf": csrf(client, "/settings"), "channel": "whatsapp"}).data.decode()
        client.post("/settings", data={"csrf": csrf(client, "/settings"), "channel": "sms"})
    client.post("/lang", data={"csrf": csrf(client, "/"), "lang": "en"})  # codes in English
    return documents


def test_the_settings_page_is_valid_and_accessible(browser, both, app, site, store):  # noqa: F811
    documents = settings_documents(both, store)
    refused = app.test_client()  # the usual carriers: no WhatsApp reaches the learner
    web_sign_in(refused, store, PHONE)
    documents["en-settings-refused"] = refused.post("/settings", data={
        "csrf": csrf(refused, "/settings"), "channel": "whatsapp"}).data.decode()
    assert len(documents) == 2 * len(LOCALES) + 1
    assert validate_html(documents) == []
    for name in ("en-settings", "en-settings-chosen", "en-settings-refused", "ar-settings"):
        assert axe_violations_in_html(documents[name], 240, 320, browser=browser,
                                      base_url=site + "/help") == [], name
