"""The ask-a-tutor page in every language: valid HTML, and no accessibility violation in
headless Chromium at 240x320, empty, with its receipt, refused for an empty question,
past the daily limit, and listing questions answered and closed; and a learner reading
a tutor's answer there in Chromium at 240x320 with JavaScript off."""

from __future__ import annotations

import re

import pytest

from gateway.learning import asking
from gateway.store import questions
from tests.conftest import TwilioWebhooks, csrf, web_sign_in
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
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
    first, *_ = questions.of_learner(store, PHONE)
    questions.mark_answered(store, first.id, "Because a deposit shows the client is serious.",
                            None)
    closed = questions.of_learner(store, PHONE)[1]
    store.db.execute("UPDATE questions SET status = 'closed' WHERE id = ?", [closed.id])
    for locale in LOCALES:
        client.post("/lang", data={"csrf": csrf(client, "/"), "lang": locale})
        documents[f"{locale}-answered"] = client.get("/ask").data.decode()
    assert validate_html(documents) == []
    for name in ("en-ask", "en-asked", "en-empty", "ar-asked", "ar-limited", "ar-progress",
                 "en-answered", "ar-answered"):
        assert axe_violations_in_html(documents[name], 240, 320, browser=browser,
                                      base_url=site + "/help") == [], name


def test_a_learner_reads_the_tutors_answer_at_240x320(browser, site, store):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/signin")
        page.get_by_label("Your phone number").fill("0803 000 0000")
        follow(page.get_by_role("button", name="Send me a code"))
        code = re.search(r"code is (\d{6})", store.outbox(PHONE)[-1].body).group(1)
        page.get_by_label("Code").fill(code)
        follow(page.get_by_role("button", name="Sign in"))
        page.goto(site + "/ask")
        page.get_by_label("Your question for the tutors").fill("Should I ask for a deposit?")
        follow(page.get_by_role("button", name="Send"))
        expect(page.get_by_text("Your question reached the tutors.")).to_be_visible()
        expect(page.get_by_text(re.compile(r"Asked on .+, waiting for a tutor\."))).to_be_visible()
        [asked] = questions.of_learner(store, PHONE)
        questions.mark_answered(store, asked.id, "Yes: half before you start is usual.", None)
        page.goto(site + "/ask")
        answer = page.get_by_text("Yes: half before you start is usual.")
        answer.scroll_into_view_if_needed()
        expect(answer).to_be_visible()
        expect(page.get_by_text(re.compile(r"Asked on .+, answered on .+:"))).to_be_visible()
        expect(page.get_by_text("Should I ask for a deposit?")).to_be_visible()
        assert page.get_by_text("question waits for a tutor").count() == 0
        # Nothing wider than the phone's screen (the question's box included).
        assert page.evaluate("document.documentElement.scrollWidth") <= 240
