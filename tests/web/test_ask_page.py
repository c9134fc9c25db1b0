"""The ask-a-tutor page in every language: valid HTML, and no accessibility violation in
headless Chromium at 240x320, empty, with its receipt, refused for an empty question and
past the daily limit."""

from __future__ import annotations

import pytest

from gateway.learning import asking
from tests.conftest import TwilioWebhooks, csrf, web_sign_in
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations_in_html,
    browser,
    validate_html,
)

pytestmark = pytest.mark.slow
PHONE = "+2348030000000"
LOCALES = ("en", "fr", "pt", "sw", "ar")


def test_the_ask_page_is_valid_and_accessible(browser, app, site, store):  # noqa: F811
    client = app.test_client()
    TwilioWebhooks(client).sms(PHONE, "START")
    web_sign_in(client, store, PHONE)
    documents = {}
    for locale in LOCALES:
        client.post("/lang", data={"csrf": csrf(client, "/"), "lang": locale})
        documents[f"{locale}-ask"] = client.get("/ask").data.decode()
        documents[f"{locale}-asked"] = client.post("/ask", data={
            "csrf": csrf(client, "/ask"), "question": f"Why, in {locale}?"}).data.decode()
        documents[f"{locale}-empty"] = client.post("/ask", data={
            "csrf": csrf(client, "/ask"), "question": ""}).data.decode()
    for _ in range(asking.DAILY_LIMIT):
        over = client.post("/ask", data={"csrf": csrf(client, "/ask"), "question": "more"})
    documents["ar-limited"] = over.data.decode()
    documents["ar-progress"] = client.get("/progress").data.decode()
    assert validate_html(documents) == []
    for name in ("en-ask", "en-asked", "en-empty", "ar-asked", "ar-limited", "ar-progress"):
        assert axe_violations_in_html(documents[name], 240, 320, browser=browser,
                                      base_url=site + "/help") == [], name
