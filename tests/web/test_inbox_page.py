"""The tutors' inbox in a real browser (headless Chromium, JavaScript off, a 240x320
phone): a tutor signs in with their account, claims a learner's USSD question, inserts a
saved reply, edits it, sees its cost and sends it; `learnline worker --drain` (a real
subprocess) delivers it by SMS through the carrier the learner dialled, while an SMS
question's answer goes through its own carrier. The pages are valid, accessible and fit
the screen."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gateway import create_app
from gateway.ops import staff
from gateway.store import Store, questions, saved_replies
from tests.conftest import TwilioWebhooks
from tests.test_tutor_inbox import (
    SMS_LEARNER,
    TUTOR_PASSWORD,
    USSD_LEARNER,
    ussd,
)
from tests.test_tutor_inbox import aggregator as aggregator  # fixtures
from tests.test_tutor_inbox import carriers_file as carriers_file
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
    serve_app,
    validate_html,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def app(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "inbox-browser-secret-0123456789"})
    with Store.open(db_path) as store:
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD)
        saved_replies.add(store, "start-freelancing", "find-your-skill", "Deposits",
                          "Ask for half before you start.", None)
    return app


@pytest.fixture
def site(app) -> Iterator[str]:
    with serve_app(app) as base_url:
        yield base_url


def ask(app) -> None:
    """A question by USSD (Africa's Talking's webhook) from the course's first card, then
    one by SMS (Twilio's webhook)."""
    client = app.test_client()
    ussd(client, "b1", "")
    ussd(client, "b1", "1")
    ussd(client, "b1", "1*00")
    ussd(client, "b1", "1*00*6")
    ussd(client, "b1", "1*00*6*Should I take a deposit")  # the question so far: 1 sends it
    assert "reached the tutors" in ussd(client, "b1", "1*00*6*Should I take a deposit*1")
    twilio = TwilioWebhooks(client)
    for text in ("START", "ASK Where do I find clients?"):
        assert twilio.sms(SMS_LEARNER, text).status_code == 200


def drain(db_path, carriers_file) -> str:
    env = {**os.environ, "LEARNLINE_DB": str(db_path),
           "LEARNLINE_CARRIERS": str(carriers_file)}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "worker", "--drain"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 240


def test_a_tutor_answers_from_a_phone_and_the_learner_gets_it_by_sms(
        browser, app, site, db_path, carriers_file, aggregator, twilio_api):  # noqa: F811
    ask(app)
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/admin/signin")
        page.get_by_label("Username").fill("tunde")
        page.get_by_label("Password").fill(TUTOR_PASSWORD)
        follow(page.get_by_role("button", name="Sign in"))
        expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
        listed = page.locator("main").inner_text()
        assert "2 open questions, oldest first." in listed
        assert "by USSD; +25471*****78, English (en); Find a skill people pay for" in listed
        fits(page)
        documents = {"inbox": page.content()}

        follow(page.get_by_role("link", name="Should I take a deposit"))
        expect(page.get_by_role("heading", name="Question 1", level=1)).to_be_visible()
        shown = page.locator("main").inner_text()
        assert "Lesson: Find a skill people pay for, card 1." in shown
        assert "held by nobody" in shown
        follow(page.get_by_role("button", name="Claim"))
        assert page.get_by_role("status").inner_text() == "You hold this question."
        assert "held by Tunde Bello (tunde)" in page.locator("main").inner_text()
        documents["question"] = page.content()
        fits(page)

        follow(page.get_by_role("button", name="Deposits"))  # insert the saved reply
        box = page.get_by_label("Your answer")
        assert box.input_value() == "Ask for half before you start."
        box.fill("Yes.\n" + box.input_value() + " Write it down.")
        follow(page.get_by_role("button", name="Check cost"))
        receipt = page.locator("#sent").inner_text()
        assert receipt == ("Your tutor answers: Yes.\nAsk for half before you start. "
                           "Write it down.")
        assert page.locator("#cost").inner_text() == "1 SMS segment through at: 0.80 KES."
        documents["preview"] = page.content()
        fits(page)
        with Store.open(db_path) as store:
            assert questions.get(store, 1).status == "open"  # nothing sent before Send
        follow(page.get_by_role("button", name="Send", exact=True))
        assert page.get_by_role("status").inner_text() == "Answer sent."
        assert "Answered" in page.locator("main").inner_text()

        follow(page.get_by_role("link", name="Inbox").first)
        follow(page.get_by_role("link", name="Where do I find clients?"))
        page.get_by_label("Your answer").fill("At the market, on Saturdays.")
        follow(page.get_by_role("button", name="Check cost"))
        assert page.locator("#cost").inner_text() == "1 SMS segment through twilio: 0.02 USD."
        follow(page.get_by_role("button", name="Send", exact=True))
        assert page.get_by_role("status").inner_text() == "Answer sent."
        follow(page.get_by_role("link", name="Inbox").first)
        assert "No question waits for a tutor." in page.locator("main").inner_text()
        follow(page.get_by_role("link", name="Saved replies"))
        assert page.get_by_label("Title").first.input_value() == "Deposits"
        documents["saved replies"] = page.content()
        fits(page)

    drain(db_path, carriers_file)
    assert aggregator.texts_to(USSD_LEARNER) == [receipt]  # by SMS, through the USSD carrier
    assert "Your tutor answers: At the market, on Saturdays." in twilio_api.bodies_to(
        SMS_LEARNER)
    assert not [body for body in twilio_api.bodies_to(USSD_LEARNER)]
    drain(db_path, carriers_file)  # sent once
    assert len(aggregator.texts_to(USSD_LEARNER)) == 1

    assert validate_html(documents) == []
    for name, html in documents.items():
        assert axe_violations_in_html(html, 240, 320, browser=browser,
                                      base_url=site + "/admin/inbox") == [], name
