"""Asking a tutor: the ASK command in every language, the receipt with when to expect an
answer, the daily limit, open questions on STATUS, and questions in a learner's export
and erasure."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.app import create_app
from gateway.channels.sms import parse_command, receive_inbound
from gateway.config import Carrier, ConfigError
from gateway.learning import asking
from gateway.learning import intents as i
from gateway.store import Store, privacy, questions

CONSOLE = Carrier.of(id="console", adapter="console", sender="Learnline", country="NG")
PHONE = "+2348030000000"  # Nigeria: Africa/Lagos, UTC+1
LAGOS = ZoneInfo("Africa/Lagos")


def at(text: str) -> float:
    """An instant given as Lagos local time, 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LAGOS).timestamp()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-12-07 10:00"))  # a Monday


@pytest.fixture
def timed(db_path: Path, clock: Clock):
    with Store.open(db_path, clock=clock) as store:
        yield store


def say(store: Store, text: str, phone: str = PHONE) -> list[str]:
    """One inbound SMS through the channel; returns the bodies it queued."""
    before = len(store.outbox())
    receive_inbound(store, CONSOLE, f"m{before}-{store.clock()}-{text}", phone, text)
    return [m.body for m in store.outbox()[before:]]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ASK How do I set a price?", i.Ask("How do I set a price?")),
        ("ask: what is a client?", i.Ask("what is a client?")),
        ("Question Why three quotes?", i.Ask("Why three quotes?")),
        ("ASK", i.Ask(None)),
        ("question?", i.Ask(None)),
        ("DEMANDE Comment fixer un prix ?", i.Ask("Comment fixer un prix ?")),
        ("question combien ?", i.Ask("combien ?")),
        ("PERGUNTA Como cobrar?", i.Ask("Como cobrar?")),
        ("swali Bei gani?", i.Ask("Bei gani?")),
        ("سؤال كيف أحدد السعر؟", i.Ask("كيف أحدد السعر؟")),
    ],
)
def test_ask_is_read_in_every_language_with_the_question_as_typed(text, intent):
    assert parse_command(text) == intent


def test_a_question_by_sms_is_kept_with_where_the_learner_is_and_receipted(timed: Store):
    say(timed, "START")
    say(timed, "NEXT")
    [receipt] = say(timed, "ASK How do I set a price for   my first job?")
    assert receipt == ("Your question reached the tutors. Expect an answer today before "
                       "17:00.")
    [asked] = questions.of_learner(timed, PHONE)
    assert (asked.channel, asked.carrier_id, asked.status) == ("sms", "console", "open")
    assert asked.text == "How do I set a price for my first job?"
    # The card's number in the lesson as authored: SMS counts it 2/3, a web-only card
    # being left out, and a tutor reads the lesson whole.
    assert (asked.course_id, asked.lesson_id, asked.card, asked.quiz_question) == (
        "start-freelancing", "find-your-skill", 3, None)
    assert asked.asked_at == timed.clock()
    assert questions.open_questions(timed) == [asked]


def test_a_question_in_a_quiz_names_the_question_waiting(timed: Store):
    say(timed, "START")
    while "Q1/3" not in say(timed, "NEXT")[0]:
        pass
    say(timed, "ASK what does B mean?")
    [asked] = questions.of_learner(timed, PHONE)
    assert (asked.lesson_id, asked.card, asked.quiz_question) == ("find-your-skill", None, 1)


def test_ask_alone_explains_how_to_ask_and_keeps_nothing(timed: Store):
    assert say(timed, "ASK") == ["To ask a tutor, reply ASK and your question, e.g. ASK "
                                 "what is a verb?"]
    assert say(timed, "DEMANDE", phone="+221770000000") == [
        "Pour poser une question à un tuteur, répondez QUESTION et votre question, par ex. "
        "QUESTION qu'est-ce qu'un verbe ?"]
    assert questions.of_learner(timed, PHONE) == []


@pytest.mark.parametrize(
    ("now", "hours", "expected"),
    [
        ("2026-12-07 10:00", "Mon-Fri 08-17", "today before 17:00."),  # Monday
        ("2026-12-07 06:30", "Mon-Fri 08-17", "today before 17:00."),  # before opening
        ("2026-12-07 17:00", "Mon-Fri 08-17", "tomorrow from 08:00."),  # at closing
        ("2026-12-11 18:00", "Mon-Fri 08-17", "on Monday from 08:00."),  # Friday evening
        ("2026-12-13 12:00", "Mon-Fri 08-17", "tomorrow from 08:00."),  # Sunday
        ("2026-12-10 16:00", "Sun-Thu 9-15", "on Sunday from 09:00."),  # Thursday late
        ("2026-12-12 23:00", "Sat-Sat 07-12", "on Saturday from 07:00."),  # a week on
    ],
)
def test_the_receipt_says_when_from_the_tutors_hours_in_the_learners_zone(
        timed: Store, clock: Clock, monkeypatch, now: str, hours: str, expected: str):
    monkeypatch.setenv("LEARNLINE_TUTOR_HOURS", hours)
    clock.now = at(now)
    [receipt] = say(timed, "ASK why?")
    assert receipt == "Your question reached the tutors. Expect an answer " + expected


def test_the_receipt_is_worded_in_the_learners_language(timed: Store, clock: Clock):
    clock.now = at("2026-12-11 18:00")
    [receipt] = say(timed, "QUESTION pourquoi ?", phone="+221770000000")
    assert receipt == ("Votre question est arrivée aux tuteurs. Attendez une réponse "
                       "lundi à partir de 08:00.")


@pytest.mark.parametrize("bad", ["weekdays", "Mon-Fri 17-08", "Mon-Fry 08-17", "Mon-Fri 8-25"])
def test_tutor_hours_that_are_not_hours_stop_the_start_naming_the_setting(
        db_path: Path, carriers_file: Path, monkeypatch, bad: str):
    monkeypatch.setenv("LEARNLINE_TUTOR_HOURS", bad)
    with pytest.raises(ConfigError, match=r"LEARNLINE_TUTOR_HOURS=.*Mon-Fri 08-17"):
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                    "TESTING": True})


def test_bad_tutor_hours_stop_the_worker_and_the_server_and_doctor_says_so(
        db_path: Path, tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEARNLINE_DB": str(db_path), "LEARNLINE_TUTOR_HOURS": "all day"}
    env.pop("LEARNLINE_CARRIERS", None)
    from tests.ports import free_port

    serve = ["serve", "--host", "127.0.0.1", "--port", str(free_port())]
    for command in (["worker", "--drain"], ["doctor"], serve):
        result = subprocess.run([sys.executable, "-m", "gateway.cli", *command], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, command
        assert "LEARNLINE_TUTOR_HOURS='all day'" in result.stdout + result.stderr, command
        assert "Traceback" not in result.stderr


def test_the_daily_limit_refuses_politely_once_and_keeps_no_more(timed: Store, clock: Clock):
    for n in range(asking.DAILY_LIMIT):
        assert say(timed, f"ASK question {n}")[0].startswith("Your question reached")
        clock.now += 60
    assert say(timed, "ASK one more") == [
        "You have asked 5 questions today, the most a day. Please ask again tomorrow."]
    assert say(timed, "ASK and another") == []
    kept = questions.of_learner(timed, PHONE)
    assert [q.status for q in kept] == ["open"] * 5 + ["refused"]
    assert kept[-1].text == "" and not any("another" in q.text for q in kept)
    clock.now += 86400  # a day after the first: one more may be asked
    assert say(timed, "ASK next day")[0].startswith("Your question reached")


def test_status_shows_the_open_questions_and_the_oldest_ones_first_words(timed: Store,
                                                                         clock: Clock):
    say(timed, "START")
    [status] = say(timed, "STATUS")
    assert "tutor" not in status
    say(timed, "ASK How do I find my very first client in a small town?")
    [status] = say(timed, "STATUS")
    assert status.endswith('1 question waits for a tutor: "How do I find my very first..."')
    say(timed, "ASK and the price?")
    [status] = say(timed, "STATUS")
    assert status.endswith('2 questions wait for a tutor, the first: "How do I find my very '
                           'first..."')
    timed.db.execute("UPDATE questions SET status = 'answered'")
    timed.db.conn.commit()
    assert "tutor" not in say(timed, "STATUS")[0]


def test_status_without_a_course_shows_open_questions_too(timed: Store):
    say(timed, "ASK where do I start?")
    [status] = say(timed, "STATUS")
    assert '1 question waits for a tutor: "where do I start?"' in status


def test_a_question_is_logged_masked_never_its_text(timed: Store, caplog):
    with caplog.at_level(logging.INFO):
        say(timed, "ASK my secret worry")
    assert "+23480******00" in caplog.text and "question" in caplog.text
    assert "secret worry" not in caplog.text and PHONE not in caplog.text


def test_questions_are_in_the_export_and_gone_after_erasure(timed: Store):
    say(timed, "ASK how much to charge?")
    [exported] = privacy.learner_export(timed, PHONE)["questions"]
    assert exported["text"] == "how much to charge?" and exported["channel"] == "sms"
    privacy.erase(timed, PHONE)
    assert timed.db.execute("SELECT count(*) FROM questions").fetchone()[0] == 0


def test_a_signed_in_learner_asks_on_the_web_and_sees_the_receipt(client, store: Store):
    from tests.conftest import csrf, web_sign_in

    assert client.get("/ask").location.endswith("/signin")
    token = csrf(client)
    refused = client.post("/ask", data={"csrf": token, "question": "anyone there?"})
    assert refused.location.endswith("/signin")  # not signed in: sent to sign in
    web_sign_in(client, store, PHONE)
    assert client.post("/ask", data={"question": "no token"}).status_code == 400
    assert client.post("/ask", data={"csrf": "forged-token",
                                     "question": "forged"}).status_code == 400
    assert client.post("/ask", data={"csrf": csrf(client, "/ask"),
                                     "question": "   "}).status_code == 400
    assert questions.of_learner(store, PHONE) == []
    form = client.get("/ask").get_data(as_text=True)
    assert 'name="question"' in form and 'name="csrf"' in form
    answered = client.post("/ask", data={"csrf": csrf(client, "/ask"),
                                         "question": "Is a <b>deposit</b> fair?"})
    page = answered.get_data(as_text=True)
    assert answered.status_code == 200
    assert "Your question reached the tutors. Expect an answer " in page
    assert "1 question waits for a tutor: &#34;Is a &lt;b&gt;deposit&lt;/b&gt; fair?&#34;" \
        in page
    [asked] = questions.of_learner(store, PHONE)
    assert (asked.channel, asked.text) == ("web", "Is a <b>deposit</b> fair?")
    progress = client.get("/progress").get_data(as_text=True)
    assert "1 question waits for a tutor" in progress and 'href="/ask"' in progress


def test_the_web_form_says_the_daily_limit_each_time_and_keeps_no_more(client, store: Store):
    from tests.conftest import csrf, web_sign_in

    web_sign_in(client, store, PHONE)
    for n in range(asking.DAILY_LIMIT):
        client.post("/ask", data={"csrf": csrf(client, "/ask"), "question": f"q{n}"})
    for _ in range(2):
        over = client.post("/ask", data={"csrf": csrf(client, "/ask"), "question": "more"})
        assert over.status_code == 429
        assert "You have asked 5 questions today" in over.get_data(as_text=True)
    assert [q.status for q in questions.of_learner(store, PHONE)] == ["open"] * 5 + ["refused"]


@pytest.mark.parametrize("locale", ["en", "fr", "pt", "sw", "ar"])
def test_every_asking_reply_is_one_sms_in_every_language(locale: str):
    from gateway.channels.sms import render
    from gateway.learning import replies as r
    from gateway.sms_text import count

    samples = [r.QuestionReceived("today", 17), r.QuestionReceived("tomorrow", 8),
               *(r.QuestionReceived("weekday", 8, day) for day in range(7)),
               r.Notice("ask_how"), r.Notice("ask_limited", {"limit": 5}),
               r.QuestionsOpen(1, "x" * 30), r.QuestionsOpen(12, "x" * 30)]
    for sample in samples:
        text = render((sample,), locale)
        assert "%(" not in text and count(text, "gsm7").segments == 1, (locale, text)
        if locale != "en":
            assert text != render((sample,), "en"), (locale, sample)


@pytest.mark.parametrize(("locale", "segments"),
                         [("en", 1), ("fr", 1), ("pt", 1), ("sw", 1), ("ar", 2)])
def test_help_in_a_lesson_names_ask_within_its_budget(locale: str, segments: int):
    """HELP in a lesson, where no channel choice takes the line for the moment, says how to
    ask a tutor in the learner's words, in one SMS (two in Arabic) as before."""
    from gateway.channels.sms import render
    from gateway.channels.vocabulary import command_words
    from gateway.learning import replies as r
    from gateway.sms_text import count

    text = render((r.HelpShown(True, False, 0, False),), locale)
    assert command_words(locale)["ask"] in text
    assert count(text, "gsm7").segments == segments, text
