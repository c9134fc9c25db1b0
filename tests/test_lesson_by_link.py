"""Lessons by link: a learner who can open web pages gets each lesson as one short SMS
carrying a link to the lesson's page, signed for them (no sign-in), expiring, ended by
STOP and by switching back; the quiz is answered on the page or by SMS, the same progress
either way."""

from __future__ import annotations

import gzip
import logging
import re
import time
from urllib.parse import urlsplit

import brotli
import pytest

from gateway import create_app
from gateway.store import Store
from gateway.store.events import learner_events
from tests.conftest import (
    AUTH_TOKEN,
    PUBLIC_URL,
    TwilioWebhooks,
    carriers_toml,
    right_answers,
    web_sign_in,
)
from tests.test_certificates import ConsoleWebhooks
from tests.test_schedule import LAGOS, Week, week  # noqa: F401  (week is a fixture)

PHONE = "+2348030000000"  # an English-speaking learner (Nigeria)
OTHER = "+2348030000001"
FRENCH = "+221770000000"  # Senegal: French
LINK_RE = re.compile(re.escape(PUBLIC_URL) + r"(/l\?k=[A-Za-z0-9_-]+)")
FIRST, SECOND, THIRD = "find-your-skill", "first-clients", "set-your-price"


@pytest.fixture
def now() -> list[float]:
    """The store's clock, which a test may turn forward."""
    return [time.time()]


@pytest.fixture
def carriers_file(tmp_path, twilio_api, monkeypatch):
    """The test carriers, Twilio's learners allowed a whole lesson's messages a minute."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 600\ninbound_per_hour = 6000\n", 1))
    return path


@pytest.fixture
def app(db_path, carriers_file, now):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "lesson-link-secret-0123456789", "TESTING": True,
                       "CLOCK": lambda: now[0]})


@pytest.fixture
def text(client):
    """Text the gateway as a learner, through Twilio's signed webhook; returns what the
    learner got back (every message queued since)."""
    webhooks = TwilioWebhooks(client)

    def send(body: str, phone: str = PHONE) -> str:
        with Store.open(client.application.config["DATABASE"]) as store:
            before = len(store.outbox(phone))
            assert webhooks.sms(phone, body).status_code == 200
            return "\n".join(m.body for m in store.outbox(phone)[before:])
    return send


def link_in(reply: str) -> str:
    """The path of the lesson link in an SMS (the carrier's public address dropped)."""
    found = LINK_RE.search(reply)
    assert found, reply
    return found.group(1)


def test_link_sends_each_lesson_as_one_short_sms_with_its_link(client, text, store):
    text("START")
    reply = text("LINK")
    assert "Lessons now come as a link" in reply
    path = link_in(reply)
    assert "Find a skill people pay for" in reply
    page = client.get(path)
    assert page.status_code == 200
    html = page.data.decode()
    lesson = store.lesson("start-freelancing", FIRST, "en")
    assert html.count('class="card"') == len(lesson.cards)
    assert "Lesson 1/6: Find a skill people pay for" in html
    assert html.count("<fieldset") == len(lesson.questions)
    assert "Check my answers" in html
    assert "Set-Cookie" not in page.headers  # no sign-in, no session
    results = client.post(path, data=right_answers(store, FIRST))
    assert results.status_code == 200
    assert "3 of 3 right." in results.data.decode()
    assert "1/6 lessons done, 3/3 right." in text("STATUS")
    # The next lesson comes as a link too, as one SMS.
    reply = text("NEXT")
    assert "Find your first clients" in reply and LINK_RE.search(reply)


def test_the_quiz_of_a_linked_lesson_is_answered_by_sms_too(client, text, store):
    text("START")
    link_in(text("LINK"))
    lesson = store.lesson("start-freelancing", FIRST, "en")
    letters = "ABCD"
    for number, question in enumerate(lesson.questions):
        reply = text(letters[question.answer])
        assert reply.startswith("Right!"), reply
        if number + 1 < len(lesson.questions):
            assert f"Q{number + 2}/" in reply
    assert "Lesson done: 3/3 right first time." in reply
    assert "1/6 lessons done, 3/3 right." in text("STATUS")


def test_switching_back_restores_full_sms_lessons(client, text, store):
    text("START")
    path = link_in(text("LINK"))
    reply = text("TEXT")
    assert "Lessons now come in full by SMS" in reply
    assert not LINK_RE.search(reply)
    # The lesson the link was for comes again, card by card.
    assert "Lesson 1/6: Find a skill people pay for" in reply
    assert "[1/" in reply
    assert client.get(path).status_code == 403  # the link no longer opens
    reply = text("NEXT")
    assert "[2/" in reply and not LINK_RE.search(reply)


def finish_lesson_by_sms(text, store: Store, lesson_id: str, phone: str = PHONE) -> str:
    """Read a lesson card by card and answer its quiz right, by SMS; the last reply."""
    reply = text("NEXT", phone)
    while "Q1/" not in reply:
        reply = text("NEXT", phone)
    for question in store.lesson("start-freelancing", lesson_id, "en").questions:
        reply = text("ABCD"[question.answer], phone)
    assert "Lesson done" in reply
    return reply


def test_a_learner_who_used_the_web_is_offered_links_once(client, text, store):
    text("START")
    web_sign_in(client, store, PHONE)
    offers = [finish_lesson_by_sms(text, store, lesson_id).count("Reply LINK")
              for lesson_id in (FIRST, SECOND, THIRD)]
    assert sum(offers) == 1  # once, never twice
    assert LINK_RE.search(text("LINK"))


def test_a_learner_who_never_used_the_web_is_not_offered_links(client, text, store):
    text("START")
    for lesson_id in (FIRST, SECOND, THIRD):
        assert "LINK" not in finish_lesson_by_sms(text, store, lesson_id)


def test_french_words_lien_and_sms(client, text, store):
    text("DEBUT", FRENCH)
    reply = text("LIEN", FRENCH)
    path = link_in(reply)
    assert "lien" in reply.lower()
    assert "Leçon" in client.get(path).data.decode() or "1/6" in client.get(path).data.decode()
    reply = text("SMS", FRENCH)
    assert not LINK_RE.search(reply)
    assert client.get(path).status_code == 403


def test_the_delivery_choice_is_stored_on_the_learner(text, store):
    text("START")
    assert store.learner(PHONE).delivery == "sms"
    text("LINK")
    assert store.learner(PHONE).delivery == "link"
    text("TEXT")
    assert store.learner(PHONE).delivery == "sms"


# -- the link route, walked without and with wrong credentials ------------------------------

REFUSED = "This link does not open a lesson"


def refused(client, path: str, *learner_texts: str) -> None:
    """The link route refuses: a clear page, 403 or 404, nothing of any learner."""
    response = client.get(path)
    assert response.status_code in (403, 404), (path, response.status_code)
    html = response.data.decode()
    assert REFUSED in html
    for shown in ("+234", "803", "***", "Check my answers", *learner_texts):
        assert shown not in html, shown
    posted = client.post(path, data={"q0": "0", "q1": "0", "q2": "0"})
    assert posted.status_code in (403, 404)
    assert REFUSED in posted.data.decode()


def test_no_token_and_a_tampered_token_are_refused(client, text, store):
    text("START")
    path = link_in(text("LINK"))
    refused(client, "/l")
    refused(client, "/l?k=")
    token = path.split("k=")[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    refused(client, "/l?k=" + tampered, "Find a skill")
    refused(client, "/l?k=" + token[:-4], "Find a skill")
    assert store.lesson_results(PHONE, "start-freelancing") == {}


def test_another_learners_token_shows_only_theirs_and_a_sign_in_token_is_no_link(
        client, text, store):
    text("START")
    mine = link_in(text("LINK"))
    text("START", OTHER)
    text("NEXT", OTHER)
    theirs = link_in(text("LINK", OTHER))
    assert theirs != mine
    # Answers posted with the other learner's link count for them, never for this one.
    client.post(theirs, data=right_answers(store, FIRST))
    assert store.lesson_results(PHONE, "start-freelancing") == {}
    assert store.lesson_results(OTHER, "start-freelancing") == {FIRST: (3, 3)}
    # A web sign-in token is not a lesson link.
    web_sign_in(client, store, PHONE)
    with client.session_transaction() as session:
        sid = session["sid"]
    fresh = client.application.test_client()
    refused(fresh, "/l?k=" + sid)


def test_an_expired_link_is_refused(client, text, store, now):
    from gateway.store.web_sessions import LESSON_LINK_DAYS  # 7: docs/web.md

    assert LESSON_LINK_DAYS == 7
    text("START")
    path = link_in(text("LINK"))
    now[0] += LESSON_LINK_DAYS * 86400 - 60
    assert client.get(path).status_code == 200
    now[0] += 120
    refused(client, path, "Find a skill")


def test_stop_ends_every_link_even_after_start(client, text, store):
    text("START")
    path = link_in(text("LINK"))
    text("STOP")
    refused(client, path, "Find a skill")
    text("START")
    refused(client, path, "Find a skill")
    assert store.lesson_results(PHONE, "start-freelancing") == {}


def test_no_full_token_is_logged(client, text, store, caplog):
    caplog.set_level(logging.DEBUG)
    text("START")
    path = link_in(text("LINK"))
    token = path.split("k=")[1]
    client.get(path)
    client.get(path[:-1] + ("A" if path[-1] != "A" else "B"))
    client.post(path, data=right_answers(store, FIRST))
    text("STOP")
    client.get(path)
    assert token not in caplog.text
    assert token[:12] not in caplog.text


def test_the_link_uses_the_carriers_public_web_address(text):
    text("START")
    reply = text("LINK")
    assert urlsplit(LINK_RE.search(reply).group(0)).netloc == urlsplit(PUBLIC_URL).netloc


@pytest.mark.parametrize("locale", ["en", "fr", "pt", "sw", "ar"])
def test_a_lesson_by_link_page_keeps_the_lesson_budget(client, text, locale):
    """Cards and quiz on one page, compressed within a lesson page's 6 KB (docs/web.md),
    with the headers every page gets."""
    text("START")
    text(f"LANG {locale}")
    path = link_in(text("LINK"))
    plain = client.get(path)
    assert f'lang="{locale}"' in plain.data.decode()
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response = client.get(path, headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert decode(response.data) == plain.data
        assert len(response.data) < 6 * 1024
    assert plain.headers["Cache-Control"] == "private, no-cache"
    assert plain.headers["Referrer-Policy"] == "same-origin"
    assert "script" not in plain.headers["Content-Security-Policy"]


def test_the_daily_lesson_comes_as_its_link(week: Week):  # noqa: F811
    days = week
    ada = "+2348031110001"
    days.clock.now = days.at(0, 10, 0, LAGOS)
    days.say(ada, "START")
    days.say(ada, "LINK")
    days.take_lesson(ada)  # the linked lesson's quiz, answered by SMS
    days.say(ada, "DAILY 9")
    days.clock.now = days.at(1, 9, 5, LAGOS)
    days.run_worker()
    lessons = days.sent(ada, kind="lesson")
    assert len(lessons) == 1
    assert "Find your first clients (2/6): " + PUBLIC_URL + "/l?k=" in lessons[0]["body"]


def test_a_ussd_session_shows_the_lesson_itself(store):
    from gateway.learning import Engine
    from gateway.learning.intents import Delivery
    from tests.test_ussd import PHONE as USSD_PHONE
    from tests.test_ussd import Phone

    with store.write():
        engine = Engine(store)
        engine.handle(engine.learner(USSD_PHONE, "at", "en"), Delivery("link"))
    phone = Phone(store)
    phone.dial()
    screen = phone.press("1").text
    # USSD reads the SMS edition: three cards of the lesson's five.
    assert screen.startswith("Lesson 1/6, card 1/3\nFind a skill people pay for\n")
    assert "/l?k=" not in screen


def test_a_lesson_completed_by_link_says_so_in_its_event(client, text, store):
    text("START")
    path = link_in(text("LINK"))
    client.post(path, data=right_answers(store, FIRST))
    text("TEXT")
    finish_lesson_by_sms(text, store, SECOND)
    completed = [event["data"] for event in learner_events(store, PHONE)
                 if event["kind"] == "lesson_completed"]
    assert [(event["lesson"], event.get("delivery")) for event in completed] == [
        (FIRST, "link"), (SECOND, None)]


def test_a_lesson_taken_by_link_counts_as_link_with_its_sms_and_page(client, text, store):
    """The cost figures' `lesson by link` mode: a lesson finished on its link's page, or by
    SMS while lessons come by link, counts as `link`, with the link SMS's segments and the
    page's bytes behind it; back on full SMS, the next lesson counts as `sms`."""
    text("START")
    path = link_in(text("LINK"))
    client.get(path)
    client.post(path, data=right_answers(store, FIRST))
    link_in(text("NEXT"))
    lesson = store.lesson("start-freelancing", SECOND, "en")
    for question in lesson.questions:
        text("ABCD"[question.answer])
    text("TEXT")
    finish_lesson_by_sms(text, store, THIRD)
    rows = store.db.conn.execute(
        "SELECT c.lesson_id, c.mode, k.segments, k.web_bytes FROM lesson_completions c "
        "JOIN lesson_costs k USING (phone, course_id, lesson_id) WHERE c.phone = ? "
        "ORDER BY c.completed_at", [PHONE]).fetchall()
    assert [(lesson_id, mode) for lesson_id, mode, _, _ in rows] == [
        (FIRST, "link"), (SECOND, "link"), (THIRD, "sms")]
    first, second, third = rows
    assert first[2] >= 1 and first[3] > 1000  # its link SMS, and its page read and posted
    assert second[2] >= 1 and second[3] == 0  # its link SMS and the quiz by SMS, no page
    assert third[3] == 0 and third[2] > second[2]  # every card by SMS costs more


def test_next_after_a_lesson_link_brings_the_quiz_by_sms(client, text, store):
    """The link's SMS says "Quiz there, or reply NEXT": NEXT brings the first question as
    asked, not as a question skipped; once the quiz is under way, NEXT asks for the answer."""
    text("START")
    assert "reply NEXT" in text("LINK")
    reply = text("NEXT")
    assert reply.startswith("Q1/3: "), reply
    assert "Answer this question first" not in reply
    lesson = store.lesson("start-freelancing", FIRST, "en")
    text("ABCD"[lesson.questions[0].answer])
    assert text("NEXT").startswith("Answer this question first:")


def test_where_no_web_address_is_known_no_reply_offers_lessons_by_link(client, text, store):
    """The console carrier gives its learners no web address: LINK says it is not
    available, and TEXT (lessons in full by SMS) offers no LINK; where the carrier has an
    address (Twilio's here), the same TEXT offers it."""
    console = ConsoleWebhooks(client)
    senegal = "+221770000009"  # French

    def send(body: str) -> str:
        before = len(store.outbox(senegal))
        assert console.sms(senegal, body).status_code == 200
        return "\n".join(m.body for m in store.outbox(senegal)[before:])

    send("START")
    assert send("LINK") == "Les cours par lien ne sont pas encore disponibles ici."
    reply = send("TEXT")
    assert reply.splitlines()[0] == "Vos cours arrivent maintenant en entier par SMS.", reply
    assert "LIEN" not in reply
    text("START")
    assert "Reply LINK to get each as a link instead." in text("TEXT")


def test_a_links_quiz_posted_again_keeps_its_first_score_and_makes_no_new_link(
        client, text, store):
    """The first try is the score: posting the same link's quiz again, without asking for a
    retry, changes nothing but the answers kept, and gives no further link to keep."""
    text("START")
    path = link_in(text("LINK"))
    right = right_answers(store, FIRST)
    wrong = {name: str((int(value) + 1) % 3) for name, value in right.items()}
    first = client.post(path, data={**right, "q0": wrong["q0"]}).data.decode()
    assert "2 of 3 right." in first and "Next lesson" in first
    links_before = store.db.conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0]
    for answers in (right, wrong):
        again = client.post(path, data=answers).data.decode()
        assert "Your first try is this lesson's score" in again
        assert "Try the ones you missed once more" not in again
    assert store.lesson_results(PHONE, "start-freelancing") == {FIRST: (2, 3)}
    assert "1/6 lessons done, 2/3 right." in text("STATUS")
    links_after = store.db.conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0]
    assert links_after == links_before
