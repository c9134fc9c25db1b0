"""Numbers bigger than the gateway can hold, wherever a request carries one (an id in a
path, a quiz form's option, a saved reply to insert, a report's days, a cookie's account
id): answered as a wrong number is (404, the form's own complaint, the default), never
a 500. SQLite's INTEGER holds at most 2**63 - 1; Python reads at most 4,300 digits.
(The hub's sync cursor: tests/hub/test_sync_failures.py; USSD options: test_ussd.py.)"""

from __future__ import annotations

import logging
import re
import warnings

import pytest

from gateway import create_app
from gateway.ops import staff
from gateway.store import Store, questions, saved_replies
from tests.conftest import TwilioWebhooks, csrf, right_answers
from tests.test_lesson_by_link import link_in

HUGE = ("9" * 4301, "99999999999999999999")  # more digits than Python reads; over 2**63
PASSWORD = "huge numbers pass phrase 45"
PHONE = "+2348030000000"


@pytest.fixture
def app(db_path, carriers_file):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "huge-numbers-secret-0123456789", "TESTING": True})


@pytest.fixture
def no_errors_logged(caplog):
    """Nothing logged at ERROR (an unexpected exception logs its traceback)."""
    caplog.set_level(logging.ERROR)
    yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.fixture
def asked(app, db_path) -> dict:
    """A question in the tutors' inbox, a saved reply, and a tutor and an administrator."""
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(PHONE, "START")
    twilio.sms(PHONE, "ASK How do I find clients?")
    with Store.open(db_path) as store:
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", PASSWORD)
        staff.add_account(store, "amina", "Amina Diallo", "admin", PASSWORD)
        reply = saved_replies.add(store, "start-freelancing", "find-your-skill", "Clients",
                                  "Ask three neighbours first.", None)
        question = questions.of_learner(store, PHONE)[0].id
    return {"question": question, "reply": reply}


def signed_in(app, username: str):
    client = app.test_client()
    token = csrf(client, "/admin/signin")
    answer = client.post("/admin/signin", data={"csrf": token, "username": username,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


@pytest.mark.parametrize("huge", HUGE)
def test_a_quiz_option_too_big_is_an_unanswered_question(app, store, huge, no_errors_logged):
    client = app.test_client()
    path = "/courses/start-freelancing/find-your-skill/quiz"
    answers = {**right_answers(store), "q0": huge, "csrf": csrf(client, path)}
    posted = client.post(path, data=answers)
    assert posted.status_code == 400
    assert "Please answer every question." in posted.text


@pytest.mark.parametrize("huge", HUGE)
def test_a_linked_lessons_quiz_option_too_big_is_an_unanswered_question(
        app, client, store, huge, no_errors_logged):
    twilio = TwilioWebhooks(client)
    twilio.sms(PHONE, "START")
    twilio.sms(PHONE, "LINK")
    path = link_in(store.outbox(PHONE)[-1].body)
    posted = client.post(path, data={**right_answers(store), "q0": huge})
    assert posted.status_code == 400
    assert "Please answer every question." in posted.text
    assert store.lesson_results(PHONE, "start-freelancing") == {}  # nothing graded


@pytest.mark.parametrize("huge", HUGE)
def test_staff_pages_answer_a_number_too_big_as_a_wrong_one(app, asked, huge,
                                                            no_errors_logged):
    tutor = signed_in(app, "tunde")
    page = tutor.get(f"/admin/inbox/{asked['question']}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert tutor.get(f"/admin/inbox/{huge}").status_code == 404
    assert tutor.post(f"/admin/inbox/{huge}/claim", data={"csrf": token}).status_code == 404
    assert tutor.post(f"/admin/replies/{huge}/delete", data={"csrf": token}
                      ).status_code == 404
    inserted = tutor.post(f"/admin/inbox/{asked['question']}/answer",
                          data={"csrf": token, "answer": "", "insert": huge})
    assert inserted.status_code == 422
    assert "That saved reply is gone" in inserted.text
    admin = signed_in(app, "amina")
    dashboard = admin.get(f"/admin?days={huge}")
    assert dashboard.status_code == 400
    assert dashboard.text.startswith("days: a whole number from 1 to 366")


def test_a_forged_known_here_cookie_with_a_huge_id_is_ignored(app, asked, no_errors_logged):
    client = app.test_client()
    with warnings.catch_warnings():  # too big for a browser to keep; a script sends it
        warnings.simplefilter("ignore", UserWarning)
        client.set_cookie("learnline_staff_known", f"{HUGE[0]}.abc_{HUGE[1]}.def",
                          path="/admin")
    form = client.get("/admin/signin")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answer = client.post("/admin/signin", data={"csrf": token, "username": "tunde",
                                                "password": PASSWORD})
    assert answer.status_code == 303


def test_a_question_stored_with_a_moment_no_date_shows_still_opens(app, asked, db_path,
                                                                   no_errors_logged):
    """An edge's question copied to a hub before the hub refused such moments (1e300
    seconds): its page opens, the date shown as unknown."""
    with Store.open(db_path) as store:
        store.db.execute("UPDATE questions SET asked_at = 1e300 WHERE id = ?",
                         [asked["question"]])
    page = signed_in(app, "tunde").get(f"/admin/inbox/{asked['question']}")
    assert page.status_code == 200
    assert "Asked (unknown date)" in page.text


def test_a_webhooks_declared_length_of_more_digits_than_python_reads_is_too_large(
        app, no_errors_logged):
    """Under any WSGI server (the gateway's own refuses it before): 413, not a 500."""
    answer = app.test_client().post(
        "/carriers/twilio/sms", data=b"x", content_type="application/x-www-form-urlencoded",
        environ_overrides={"CONTENT_LENGTH": HUGE[0]})
    assert answer.status_code == 413
