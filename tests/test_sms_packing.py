"""What a lesson costs a learner by SMS: navigation as short as a learner can follow (full
hints in their first lesson, a terse form after), and replies that follow each other packed
into one message when that costs no more segments than sending them apart."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carrier_adapters import UssdRequest
from gateway import create_app
from gateway.channels.sms import receive_inbound, render
from gateway.channels.sms.cost import lesson_messages, lesson_segments
from gateway.channels.ussd import handle_ussd
from gateway.config import Carrier
from gateway.content import load_courses
from gateway.content.model import SMS, Lesson
from gateway.learning import replies as r
from gateway.paths import lessons_dir
from gateway.sms_text import POLICIES, count, split_messages
from gateway.store import Store
from tests.conftest import csrf, right_answers, web_sign_in

CONSOLE = Carrier.of(id="console", adapter="console", sender="Learnline", country="NG")
COURSE = "start-freelancing"
NIGERIAN = "+2348030000000"
SENEGALESE = "+221770000001"  # French by its country
_ids = itertools.count()


def say(store: Store, text: str, phone: str = NIGERIAN, carrier: Carrier = CONSOLE) -> list[str]:
    """One inbound SMS through the channel; the bodies it queued."""
    before = len(store.outbox())
    receive_inbound(store, carrier, f"m{next(_ids)}", phone, text)
    return [m.body for m in store.outbox()[before:]]


def segments(bodies: list[str], policy: str = "smart") -> int:
    return sum(count(body, policy).segments for body in bodies)


def sms_edition(store: Store, lesson_id: str, locale: str = "en") -> Lesson:
    """The lesson as SMS teaches it: its SMS edition, web-only cards left out."""
    lesson = store.lesson(COURSE, lesson_id, locale).edition(SMS)
    return dataclasses.replace(lesson, cards=tuple(card for card in lesson.cards if card.text))


def walk_lesson(store: Store, phone: str, locale: str, lesson_id: str, first: str,
                carrier: Carrier = CONSOLE) -> list[list[str]]:
    """A learner's turns through one lesson by SMS, answering every question right:
    `first` (START or NEXT) opens it, NEXT moves on until a question comes, then answers."""
    lesson = store.lesson(COURSE, lesson_id, locale)
    nxt = "NEXT" if locale == "en" else "SUITE"
    turns = [say(store, first, phone, carrier)]
    while not any(re.search(r"^Q1/\d", body, re.M) for body in turns[-1]):
        turns.append(say(store, nxt, phone, carrier))
        assert len(turns) <= len(lesson.cards), "the quiz never came"
    for question in lesson.questions:
        turns.append(say(store, "ABCD"[question.answer], phone, carrier))
    return turns


# --- navigation: full in the first lesson, terse after ---------------------------------------


@pytest.mark.parametrize(("locale", "phone", "full", "terse", "answer_hint"), [
    # The bundled lessons' SMS editions have three cards of five.
    ("en", NIGERIAN, "[1/3] Reply NEXT", "1/3 NEXT>", "Reply A-C"),
    ("fr", SENEGALESE, "[1/3] Répondez SUITE", "1/3 SUITE>", "Répondez A-C"),
])
def test_the_first_lesson_explains_each_step_and_later_lessons_are_terse(
        store: Store, locale: str, phone: str, full: str, terse: str, answer_hint: str):
    first = walk_lesson(store, phone, locale, "find-your-skill", "START")
    bodies = [body for turn in first for body in turn]
    assert full in bodies[0]  # the first card says what to reply
    assert sum(body.count(answer_hint) for body in bodies) == 3  # each question, how to answer
    # As the default policy (auto) sends French: GSM-7, "leçon" as "lecon", é kept.
    assert any(("Reply NEXT for the next lesson" if locale == "en"
                else "Répondez SUITE pour la lecon suivante") in body for body in first[-1])

    second = walk_lesson(store, phone, locale, "first-clients", "NEXT" if locale == "en"
                         else "SUITE")
    bodies = [body for turn in second for body in turn]
    assert bodies[0].rstrip().endswith(terse), bodies[0]
    assert not any(full[6:] in body or answer_hint in body for body in bodies)
    questions = len(store.lesson(COURSE, "first-clients", locale).questions)
    for turn in second[-questions - 1:-1]:  # every question still shows its letters
        assert re.search(r"^A\) .+\nB\) ", "\n".join(turn), re.M)


def test_a_learner_who_finished_a_lesson_on_the_web_is_not_first_time_by_sms(store: Store,
                                                                             db_path,
                                                                             carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    web = app.test_client()
    say(store, "START")
    web_sign_in(web, store, NIGERIAN)
    lesson = f"/courses/{COURSE}/find-your-skill"
    web.post(lesson, data={"csrf": csrf(web, lesson)})
    web.post(lesson + "/quiz", data={"csrf": csrf(web, lesson + "/quiz"),
                                     **right_answers(store)})
    [card] = say(store, "NEXT")
    # Terse, on the first of the three cards of the lesson's SMS edition.
    assert card.startswith("Lesson 2/6") and card.endswith("\n1/3 NEXT>")


def test_help_and_unexpected_replies_still_explain_everything_to_a_terse_learner(
        store: Store):
    walk_lesson(store, NIGERIAN, "en", "find-your-skill", "START")
    say(store, "NEXT")
    [help_text] = say(store, "HELP")
    assert help_text.startswith("Learnline: NEXT continue, STATUS progress, COURSES courses")
    assert say(store, "what now") == [
        "Reply NEXT to go on, STATUS for your progress, HELP for help."]
    while not (turn := say(store, "NEXT"))[0].startswith("Q1/3") and "\nQ1/3" not in turn[-1]:
        pass
    assert say(store, "what now") == ["Please answer with a letter, A-C, or reply HELP."]


# --- the last card brings the first question ---------------------------------------------


def test_the_last_card_brings_the_first_question_and_its_answer_is_taken(store: Store):
    lesson = sms_edition(store, "find-your-skill")
    turns = walk_lesson(store, NIGERIAN, "en", "find-your-skill", "START")
    # A turn per card SMS sends (3) and per question (3): no NEXT before the quiz.
    assert len(lesson.cards) == 3
    assert len(turns) == len(lesson.cards) + len(lesson.questions) == 6
    last = "\n".join(turns[len(lesson.cards) - 1])
    assert lesson.cards[-1].text in last and "for the quiz" not in last
    assert f"Q1/3: {lesson.questions[0].text}" in last
    assert turns[len(lesson.cards)][0].startswith("Right!")
    results = store.lesson_results(NIGERIAN, COURSE)
    assert results == {"find-your-skill": (3, 3)}


def test_the_packed_turn_costs_no_more_than_the_card_and_question_apart(store: Store):
    """The last card and the first question go as one message when that costs no more
    than two; never past the carrier's max_segments."""
    for max_segments in (1, 2, 6):
        carrier = dataclasses.replace(CONSOLE, max_segments=max_segments)
        phone = f"+23480300000{max_segments:02d}"
        lesson = store.lesson(COURSE, "find-your-skill", "en")
        turns = walk_lesson(store, phone, "en", "find-your-skill", "START", carrier)
        packed = turns[len(lesson.cards) - 1]
        assert all(count(body, "smart").segments <= max_segments for body in packed)
        card = render((r.CardShown("Start freelancing", 1, 6, lesson.title, 5, 5,
                                   lesson.cards[-1].text),), "en")
        question = render((r.QuestionAsked(lesson.title, 1, 3, lesson.questions[0].text,
                                           lesson.questions[0].options),), "en")
        apart = [*split_messages(card, max_segments, "smart"),
                 *split_messages(question, max_segments, "smart")]
        assert segments(packed) <= segments(apart)
    wide = dataclasses.replace(CONSOLE, max_segments=6)
    turns = walk_lesson(store, "+2348030000099", "en", "find-your-skill", "START", wide)
    assert len(turns[len(lesson.cards) - 1]) == 1  # one message: it pays


def test_a_learner_switches_channels_in_the_packed_quiz(store: Store):
    """Packed by SMS, the quiz is open for every channel: USSD shows the question and
    takes the answer; a USSD learner on the last card gets the question by SMS NEXT."""
    carrier = Carrier.of(id="at", adapter="africastalking", country="KE", locale="en")
    phone = "+2348030000077"  # English by its country, by SMS and USSD alike
    lesson = sms_edition(store, "find-your-skill")
    say(store, "START", phone)
    for _ in range(len(lesson.cards) - 1):
        say(store, "NEXT", phone)

    def ussd(text: str, session: str, new: bool = False, who: str = phone) -> str:
        request = UssdRequest(session, who, "*384*12#", text, is_new=new, cumulative=False,
                              ended=False)
        return handle_ussd(store, carrier, request, who, now=time.time()).text

    ussd("", "s1", new=True)
    screen = ussd("1", "s1")
    assert screen.startswith("Q1/3")
    ussd(str(lesson.questions[0].answer + 1), "s1")
    assert "Q2/3" in say(store, "STATUS", phone)[0]
    assert say(store, "ABCD"[lesson.questions[1].answer], phone)[0].startswith("Right!")

    other = "+254712345679"  # a USSD learner reads every card there: no quiz opened yet
    ussd("", "s2", new=True, who=other)
    screen = ussd("1", "s2", who=other)
    for _ in range(60):
        if "card 3/3" in screen:  # USSD reads the SMS edition: three cards
            break
        screen = ussd("1", "s2", who=other)
    assert "card 3/3" in screen
    assert store.enrollment(other, COURSE).quiz is None
    [reply] = say(store, "NEXT", other)
    assert reply.startswith(f"Q1/3: {lesson.questions[0].text}")
    assert say(store, "ABCD"[lesson.questions[0].answer], other)[0].startswith("Right!")


# --- packing ------------------------------------------------------------------------------


PARTS = st.one_of(
    st.integers(0, 420).map(lambda n: ("word " * 90)[:n]),
    st.integers(0, 200).map(lambda n: ("mot leçon " * 30)[:n]),
    st.sampled_from(["Right! Because.", "Q1/3: Which?\nA) Yes\nB) No\nReply A-B", "x" * 160,
                     "é" * 70, "[1/5] Reply NEXT", "ç" * 71]),
)


@given(st.lists(PARTS, min_size=1, max_size=5), st.sampled_from([0, 1, 2, 3, 6]),
       st.sampled_from(POLICIES))
@settings(max_examples=300, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
def test_packing_never_costs_more_than_apart_nor_exceeds_max_segments(
        parts: list[str], max_segments: int, policy: str):
    from gateway.channels.sms.packing import pack

    packed = pack(parts, max_segments, policy)

    def cost(texts: list[str]) -> int:
        return sum(count(m, policy).segments for t in texts
                   for m in split_messages(t, max_segments, policy))

    assert cost(packed) <= cost(parts)
    kept = [p.strip() for p in parts if split_messages(p.strip(), max_segments, policy)]
    assert "\n".join(packed) == "\n".join(kept)
    for text in packed:
        if text not in kept:  # several parts in one message
            assert max_segments == 0 or count(text, policy).segments <= max_segments


def test_every_bundled_lesson_message_fits_and_packing_pays():
    [course], _ = load_courses(lessons_dir())
    for locale in course.locales:
        for number, lesson in enumerate(course.lessons[locale], 1):
            for policy in POLICIES:
                for max_segments in (2, 6):
                    messages = lesson_messages(course, lesson, number, locale,
                                               policy=policy, max_segments=max_segments)
                    assert all(count(m, policy).segments <= max_segments for m in messages)


# --- what a lesson costs, as the channel sends it ----------------------------------------


@pytest.mark.parametrize(("locale", "phone"), [("en", NIGERIAN), ("fr", SENEGALESE)])
def test_lessons_cost_what_the_channel_sends_and_later_lessons_cost_less(
        store: Store, locale: str, phone: str):
    """`lessons check`'s figures are what a learner answering right receives, turn by
    turn; a lesson after the first costs less than it would with the first lesson's hints."""
    [course], _ = load_courses(lessons_dir())
    nxt = "NEXT" if locale == "en" else "SUITE"
    lessons = course.lessons[locale]
    walk_lesson(store, phone, locale, lessons[0].id, "START")
    for number, lesson in enumerate(lessons[1:3], 2):
        turns = walk_lesson(store, phone, locale, lesson.id, nxt)
        sent = [body for turn in turns for body in turn]
        assert sent == lesson_messages(course, lesson, number, locale)
        assert segments(sent, "auto") == lesson_segments(course, lesson, number, locale, "auto")
    later = list(enumerate(course.lessons[locale][1:], 2))
    terse = [lesson_messages(course, lesson, n, locale) for n, lesson in later]
    full = [lesson_messages(course, lesson, n, locale, familiar=False) for n, lesson in later]
    # The SMS edition's short texts leave room in most messages, so the first lesson's
    # hints seldom cost a segment more (en: none, 35 either way; fr: one): the terse form
    # sends fewer characters and never more segments.
    assert sum(len(m) for ms in terse for m in ms) < sum(len(m) for ms in full for m in ms)
    assert sum(segments(ms, "auto") for ms in terse) == sum(
        lesson_segments(course, lesson, n, locale, "auto") for n, lesson in later)
    assert sum(segments(ms, "auto") for ms in terse) <= sum(
        segments(ms, "auto") for ms in full)


def test_a_message_the_engine_answers_with_nothing_is_processed_not_failed(store: Store):
    """A learner who opted out hears nothing: no reply to pack is no failure either."""
    say(store, "START")
    say(store, "STOP")
    assert say(store, "NEXT") == []
    statuses = [row["status"] for row in store.db.query("SELECT status FROM inbound")]
    assert statuses == ["processed"] * 3


def test_a_quiz_opened_with_the_last_card_by_sms_is_finished_on_the_web(store: Store, db_path,
                                                                         carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    web = app.test_client()
    lesson = sms_edition(store, "find-your-skill")
    say(store, "START")
    for _ in range(len(lesson.cards) - 1):
        say(store, "NEXT")
    assert say(store, "ABCD"[lesson.questions[0].answer])[0].startswith("Right! ")
    web_sign_in(web, store, NIGERIAN)
    page = f"/courses/{COURSE}/find-your-skill/quiz"
    results = web.post(page, data={"csrf": csrf(web, page), **right_answers(store)})
    assert "3 of 3 right." in results.data.decode()
    status = say(store, "STATUS")[0]
    assert "1/6 lessons done" in status and "Find your first clients" in status
    [card] = say(store, "NEXT")
    # Terse, on the first of the three cards of the lesson's SMS edition.
    assert card.startswith("Lesson 2/6") and card.endswith("\n1/3 NEXT>")
