"""The USSD channel over a real store: menus, paging, quizzes, sessions, resume, and one
learner across USSD and SMS."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Iterator

import pytest

from carrier_adapters import UssdRequest
from gateway.channels.sms import handle_inbound
from gateway.channels.ussd import handle_ussd
from gateway.channels.ussd.session import screen_locale
from gateway.config import USSD_RESUME_SECONDS as RESUME_SECONDS
from gateway.config import Carrier
from gateway.content.importer import import_courses
from gateway.content.model import SMS
from gateway.i18n import needs_ucs2
from gateway.sms_text import encoding_for, septets, ucs2_units
from gateway.store import Store
from tests.courses import LONG_CARDS, long_card_course

# A Kenyan carrier set to English (Kenyan numbers default to Swahili; see test_swahili.py).
CARRIER = Carrier.of(id="at", adapter="africastalking", country="KE", locale="en")
PHONE = "+254712345678"
_ids = itertools.count()


class Phone:
    """One learner's handset dialling the service code (latest-input style, like Hubtel)."""

    def __init__(self, store: Store, phone: str = PHONE, carrier: Carrier = CARRIER):
        self.store, self.phone, self.carrier = store, phone, carrier
        self.session = ""
        self.now = time.time()
        self.screens: list[str] = []

    def _send(self, text: str, *, new: bool = False, ended: bool = False):
        request = UssdRequest(self.session, self.phone, "*384*12#", text, is_new=new,
                              cumulative=False, ended=ended)
        screen = handle_ussd(self.store, self.carrier, request, self.phone, now=self.now)
        self.screens.append(screen.text)
        learner = self.store.learner(self.phone)
        if learner is None or not needs_ucs2(screen_locale(learner.locale, self.carrier)):
            assert septets(screen.text) <= self.carrier.ussd_max_chars, screen.text
            assert encoding_for(screen.text) == "GSM-7", screen.text
        else:  # Arabic and other scripts GSM-7 lacks, where the carrier carries UCS-2
            assert ucs2_units(screen.text) <= self.carrier.ussd_ucs2_max_chars, screen.text
        return screen

    def dial(self):
        self.session = f"s{next(_ids)}"
        return self._send("", new=True)

    def press(self, text: str):
        return self._send(text)

    def next_card(self):
        """Press 1 through the rest of this card's pages to the next card."""
        screen = self.press("1")
        while self.screens[-2].splitlines()[0] == screen.text.splitlines()[0]:
            screen = self.press("1")
        return screen

    def drop(self):
        """The network ends the session (timeout or a dropped call)."""
        return self._send("", ended=True)

    def wait(self, seconds: float) -> None:
        self.now += seconds


def sms(store: Store, text: str, phone: str = PHONE) -> str:
    console = Carrier.of(id="console", adapter="console", country="KE", locale="en",
                              max_segments=10)
    before = len(store.outbox())
    inbound = store.record_inbound("console", f"sms-{next(_ids)}", phone, text)
    handle_inbound(store, console, inbound)
    return "\n".join(m.body for m in store.outbox()[before:])


def body(screen: str) -> str:
    """A card screen's text, without its head line and its navigation."""
    return screen.split("\n", 1)[1].rsplit("\n1. Next", 1)[0]


@pytest.fixture
def phone(store: Store) -> Phone:
    return Phone(store)


@pytest.fixture
def long_phone(tmp_path) -> Iterator[Phone]:
    """A handset on a gateway teaching one course of cards longer than a screen (the
    bundled course's SMS edition, which USSD reads, fits a screen a card)."""
    with Store.open(tmp_path / "long.db", migrate=True) as store:
        import_courses(store, long_card_course(tmp_path / "lessons"))
        yield Phone(store)


def test_the_main_menu(phone: Phone):
    screen = phone.dial()
    assert not screen.end
    assert screen.text.splitlines() == [
        "Learnline", "1. Start: Start freelancing", "2. Courses", "3. My progress",
        "4. Language", "5. Help", "6. Ask a tutor", "0. Exit",
    ]


def test_a_question_typed_on_ussd_reaches_the_tutors_with_where_the_learner_is(phone: Phone):
    phone.dial()
    phone.press("1")  # the course's first card
    phone.press("00")
    prompt = phone.press("6")
    assert prompt.text.startswith("Type your question for the tutors and send it.")
    assert not prompt.end
    assert phone.press("0").text.splitlines()[0] == "Learnline"  # back, nothing asked
    phone.press("6")
    assert "1. Send" in phone.press("How much for 3 dresses? *not* 1").text
    receipt = phone.press("1").text
    assert receipt.startswith("Your question reached the tutors. Expect an answer ")
    [asked] = phone.store.db.execute(
        "SELECT channel, carrier_id, text, course_id, lesson_id, card FROM questions "
        "WHERE phone = ?", [PHONE]).fetchall()
    assert asked == ("ussd", "at", "How much for 3 dresses? *not* 1", "start-freelancing",
                     "find-your-skill", 1)
    phone.press("00")
    progress = phone.press("3").text + "\n" + phone.press("98").text
    assert '1 question waits for a tutor: "How much for 3 dresses? *not*..."' in progress


def test_reading_a_card_page_by_page_and_back(long_phone: Phone):
    phone = long_phone
    phone.dial()
    first = phone.press("1").text
    assert first.startswith("Lesson 1/1, card 1/3\nFind a skill people pay for\n")
    assert first.endswith("1. Next\n98 More 0 Back 00 Menu")
    pages = [first, phone.press("98").text]
    while "98 More" in pages[-1]:
        pages.append(phone.press("98").text)
    second = pages[1]
    assert second.startswith("Lesson 1/1, card 1/3\n")
    # The lesson's title and the card's start on the first page, the rest on the next:
    # nothing cut.
    read = [*body(first).split("\n", 1)[1:], *(body(page) for page in pages[1:])]
    assert " ".join(" ".join(read).split()) == LONG_CARDS[0]
    for _ in pages[1:]:
        phone.press("0")
    assert phone.screens[-1] == first  # back page by page
    assert phone.press("1").text == second  # 1 also turns the page: nothing is skipped
    while "98 More" in phone.screens[-1]:
        phone.press("1")
    assert "card 2/3" in phone.press("1").text
    assert phone.press("0").text == first  # back a card, on its first page
    # Nothing comes before a lesson's first card: 0 leads to the menu, as it says.
    assert phone.press("0").text.startswith("Learnline\n1. Continue")


def test_a_short_card_of_the_sms_edition_fits_one_screen(phone: Phone):
    phone.dial()
    first = phone.press("1").text
    assert first.startswith("Lesson 1/6, card 1/3\nFind a skill people pay for\n")
    assert first.endswith("1. Next\n0 Back 00 Menu")  # no "98 More": one screen
    # USSD reads the lesson's SMS edition: the card's short form, three cards of five.
    card = phone.store.lesson("start-freelancing", "find-your-skill",
                              "en").edition(SMS).cards[0].text
    assert body(first).split("\n", 1)[1] == card
    assert "card 2/3" in phone.press("1").text


def test_a_quiz_with_feedback_and_the_result(phone: Phone):
    lesson = phone.store.lesson("start-freelancing", "find-your-skill", "en").edition(SMS)
    phone.dial()
    phone.press("1")
    for _ in [card for card in lesson.cards if card.text]:
        screen = phone.next_card()
    assert screen.text.startswith(f"Q1/3: {lesson.questions[0].text}")
    assert "1. One you will learn later" in screen.text
    wrong = str((lesson.questions[0].answer + 1) % 3 + 1)
    feedback = phone.press(wrong).text
    assert feedback.startswith(f"Not quite: it's {lesson.questions[0].answer + 1}) ")
    assert feedback.endswith("1. Continue\n00 Menu") or "98 More" in feedback
    while "98 More" in phone.screens[-1]:
        phone.press("98")
    question = phone.press("1").text
    assert question.startswith("Q2/3")
    for number in (1, 2, 0):  # Q2, Q3 right, then Q1 again right
        screen = phone.press(str(lesson.questions[number].answer + 1))
        if number != 0:
            while "98 More" in screen.text:
                screen = phone.press("98")
            screen = phone.press("1")
    pages = [screen.text]
    while "98 More" in pages[-1]:
        pages.append(phone.press("98").text)
    result = " ".join(page.rsplit("\n", 2)[0] for page in pages)
    assert "Lesson done: 2/3 right first time." in result
    assert "Next: Find your first clients" in result
    nxt = phone.press("1").text
    assert nxt.startswith("Lesson 2/6, card 1/3\nFind your first clients")


def test_a_question_answered_by_sms_meanwhile_is_not_answered_again_on_ussd(phone: Phone):
    """The USSD screen shows Q1; the learner answers Q1 by SMS; a choice on the stale
    screen is not taken as an answer to Q2, which they never saw: the screen moves on to
    what waits now."""
    lesson = phone.store.lesson("start-freelancing", "find-your-skill", "en").edition(SMS)
    phone.dial()
    phone.press("1")
    for _ in [card for card in lesson.cards if card.text]:
        screen = phone.next_card()
    assert screen.text.startswith("Q1/3")
    assert sms(phone.store, "ABC"[lesson.questions[0].answer]).startswith("Right!")
    stale = phone.press(str((lesson.questions[1].answer + 1) % 3 + 1)).text
    assert stale.startswith(f"Q2/3: {lesson.questions[1].text}"), stale
    assert not phone.store.db.execute(
        "SELECT 1 FROM answers WHERE question = 1").fetchall()  # Q2 not answered
    right = phone.press(str(lesson.questions[1].answer + 1)).text
    assert right.startswith("Right!"), right


def test_invalid_choices_reshow_the_screen_with_a_notice(phone: Phone):
    phone.dial()
    card = phone.press("1").text
    for junk in ("7", "", "   ", "x" * 200, "1*2", "٣"):
        again = phone.press(junk).text
        assert again.startswith("Invalid choice. Try again.\n")
        assert again.split("\n", 1)[1] == card.split("\n", 1)[1]


def test_a_number_too_big_to_be_an_option_is_an_invalid_choice(phone: Phone):
    lesson = phone.store.lesson("start-freelancing", "find-your-skill", "en").edition(SMS)
    phone.dial()
    phone.press("1")
    for _ in [card for card in lesson.cards if card.text]:
        question = phone.next_card().text
    assert question.startswith("Q1/3")
    for junk in ("9" * 4301, "9" * 20):  # 4,301 digits: more than Python reads
        again = phone.press(junk).text
        assert again.startswith("Invalid choice. Try again.\n")
        assert again.split("\n", 1)[1] == question


def test_another_number_naming_a_session_gets_none_of_it(store: Store):
    """A session id is one dial's: a request from another number naming it (a carrier's
    fault, or forged) is told goodbye and sees and changes nothing of it; its owner goes
    on where they were."""
    owner, other = Phone(store), Phone(store, phone="+254712000042")
    owner.dial()
    card = owner.press("1").text
    other.session = owner.session
    intruded = other.press("1")
    assert intruded.end and intruded.text.startswith("Goodbye!")
    assert card.split("\n", 1)[1] not in intruded.text
    assert store.ussd_session(CARRIER.id, owner.session).phone == PHONE
    assert owner.press("1").text != card  # the owner's session went on, one card further
    assert store.learner("+254712000042") is None  # nothing made for the other number


def test_exit_ends_the_session(phone: Phone):
    phone.dial()
    screen = phone.press("0")
    assert screen.end and screen.text.startswith("Goodbye! Dial *384*12#")
    assert phone.dial().text.startswith("Learnline\n")  # a clean exit resumes nothing


def test_timeout_then_dial_again_resumes_at_the_card(phone: Phone):
    phone.dial()
    phone.press("1")
    phone.next_card()
    phone.wait(CARRIER.ussd_session_seconds + 1)  # the session times out silently
    resumed = phone.dial().text
    assert resumed.startswith("Welcome back! Lesson 1/6, card 2/3\n")
    # The second card USSD shows is the lesson's third (its second is for the web only).
    card = phone.store.lesson("start-freelancing", "find-your-skill",
                              "en").edition(SMS).cards[2].text
    assert resumed.split("\n")[1] in card


def test_a_dropped_call_resumes_at_the_cards_start_and_welcomes_back_once(long_phone: Phone):
    """Back after a drop on a card's second page: the card from its start (a page begins
    wherever the screen filled, often mid-sentence), and "Welcome back!" on that first
    screen only, not on every page after it."""
    phone, card = long_phone, LONG_CARDS[0]
    phone.dial()
    first = phone.press("1").text
    phone.press("98")
    phone.drop()
    resumed = phone.dial().text
    assert resumed.startswith("Welcome back! Lesson 1/1, card 1/3\n")
    pages = [resumed]
    while "98 More" in pages[-1]:
        pages.append(phone.press("98").text)
    assert len(pages) > 1
    assert " ".join(card.split()[:3]) in " ".join(" ".join(pages[:2]).split())
    assert [page.count("Welcome back!") for page in pages] == [1] + [0] * (len(pages) - 1)
    assert pages[1].startswith("Lesson 1/1, card 1/3\n")
    read = [*body(pages[0]).split("\n", 1)[1:], *(body(page) for page in pages[1:])]
    assert " ".join(" ".join(read).split()) == " ".join(card.split())  # whole, nothing cut
    assert first.startswith("Lesson 1/1, card 1/3\n")


def test_a_failed_course_offers_to_take_it_again(phone: Phone):
    """The result of a course finished below its pass mark offers 1 to take it again;
    1 starts lesson 1, where before it was an invalid choice however often pressed."""
    store = phone.store
    course = store.course("start-freelancing")
    phone.dial()
    screen = phone.press("1")
    for _ in range(600):
        enrollment = store.enrollment(phone.phone, course.id)
        if enrollment is not None and enrollment.completed:
            break
        if "98 More" in screen.text:
            screen = phone.press("98")
        elif enrollment is not None and enrollment.quiz is not None and \
                enrollment.quiz.queue and "1. Continue" not in screen.text:
            lesson = store.lesson(course.id, course.lesson_ids[enrollment.position], "en")
            question = lesson.questions[enrollment.quiz.queue[0]]
            screen = phone.press(str((question.answer + 1) % len(question.options) + 1))
        else:
            screen = phone.press("1")
    while "98 More" in screen.text:
        screen = phone.press("98")
    assert "Pass mark: 70%." in screen.text
    assert "1. Start again: Start freelancing" in screen.text
    again = phone.press("1").text
    assert again.startswith("Lesson 1/6, card 1/3\nFind a skill people pay for\n"), again
    assert not store.enrollment(phone.phone, course.id).completed


def test_a_late_request_on_an_expired_session_gets_a_fresh_start(phone: Phone):
    phone.dial()
    phone.press("1")
    phone.wait(CARRIER.ussd_session_seconds + 1)
    late = phone.press("1")
    assert not late.end and late.text.startswith("Welcome back! Lesson 1/6, card 1/3")


def test_a_dropped_call_resumes_on_the_next_dial(phone: Phone):
    phone.dial()
    phone.press("1")
    phone.next_card()
    phone.drop()
    assert phone.dial().text.startswith("Welcome back! Lesson 1/6, card 2/3\n")
    phone.drop()
    phone.wait(RESUME_SECONDS + 1)
    assert phone.dial().text.startswith("Learnline\n")  # too long ago: the menu


def test_sessions_are_cleaned_up(phone: Phone):
    phone.dial()
    phone.press("1")
    phone.wait(RESUME_SECONDS + CARRIER.ussd_session_seconds + 1)
    phone.dial()
    sessions = list(phone.store.db.query("SELECT session_id FROM ussd_sessions"))
    assert sessions == [{"session_id": phone.session}]


def test_one_learner_across_ussd_and_sms(phone: Phone):
    store = phone.store
    assert sms(store, "START").startswith("Welcome to Start freelancing")
    sms(store, "NEXT")  # card 2 by SMS (SMS and USSD read the lesson's SMS edition)
    menu = phone.dial().text
    assert "1. Continue: Start freelancing, lesson 1, card 2/3" in menu
    assert "card 2/3" in phone.press("1").text
    assert "card 3/3" in phone.next_card().text  # card 3 by USSD
    assert "card 3/3" in sms(store, "STATUS")
    question = store.lesson("start-freelancing", "find-your-skill", "en").edition(SMS).questions[0]
    assert sms(store, "NEXT").startswith(f"Q1/3: {question.text}")  # the quiz by SMS
    assert "1. Continue: Start freelancing, lesson 1 quiz" in phone.press("00").text


def test_an_sms_opt_out_does_not_close_ussd_and_ussd_does_not_opt_back_in(phone: Phone):
    sms(phone.store, "START")
    sms(phone.store, "STOP")
    phone.dial()
    assert "card 1/3" in phone.press("1").text
    assert phone.store.learner(PHONE).stopped


def test_language_switch_changes_the_screens(phone: Phone):
    phone.dial()
    languages = phone.press("4").text.splitlines()
    # Every shipped language, each by its own name where GSM-7 can show it.
    assert languages[1:6] == ["1. English", "2. Arabic", "3. Francais", "4. Portugues",
                              "5. Kiswahili"]
    assert phone.press("3").text.startswith("Langue : Francais.")
    menu = phone.press("00").text
    assert "2. Cours" in menu and "0. Quitter" in menu
    assert phone.press("1").text.startswith("Lecon 1/6, fiche 1/3\nTrouver un savoir-faire")


def test_progress_and_help_screens(phone: Phone):
    phone.dial()
    assert "You have not started a course yet." in phone.press("3").text
    phone.press("00")
    phone.press("1")
    for _ in range(3):  # the three cards of the lesson's SMS edition
        phone.next_card()
    assert phone.screens[-1].startswith("Q1/3")
    phone.press("00")
    progress = phone.press("3").text  # in the quiz: where they are, not the question
    assert progress.startswith("Start freelancing: 0/6 lessons done. Now: the quiz of")
    phone.press("00")
    help_screen = phone.press("5").text
    assert "98" in help_screen and "00" in help_screen


@pytest.mark.parametrize(("locale", "limit"), [("en", 182), ("fr", 182), ("fr", 160),
                                               ("en", 160), ("pt", 182), ("pt", 160)])
def test_the_whole_bundled_course_fits_every_screen(store: Store, locale: str, limit: int):
    """Pressing 1 all the way (next, more, answer 1, continue) walks the whole course; every
    screen on the way fits the limit in GSM-7 (Phone checks each one)."""
    carrier = dataclasses.replace(CARRIER, ussd_max_chars=limit, locale=locale)
    phone = Phone(store, carrier=carrier)
    phone.dial()
    for _ in range(400):
        phone.press("1")
        enrollment = store.enrollment(PHONE, "start-freelancing")
        if enrollment is not None and enrollment.completed:
            break
    else:
        pytest.fail("the course never ended")
    while "98" in phone.screens[-1].splitlines()[-1]:  # the result's last pages fit too
        phone.press("98")
    assert re.search(r"70 ?%", phone.screens[-1])  # the result, to its pass mark
    assert store.enrollment(PHONE, "start-freelancing").completed
    assert len(phone.screens) > 60  # six lessons' SMS editions, page by page


def test_pages_break_at_lines_then_words_and_never_lose_text():
    from gateway.channels.ussd.screens import paginate

    text = "Right! Clients trust what they can see.\nLesson done: 3/3 right first time."
    assert paginate(text, 50) == ["Right! Clients trust what they can see.",
                                  "Lesson done: 3/3 right first time."]
    words = " ".join(f"word{n}" for n in range(60))
    pages = paginate(words, 40)
    assert all(septets(page) <= 40 for page in pages)
    assert " ".join(pages) == words  # split at spaces only
    assert paginate("x" * 25 + " end", 10) == ["x" * 10, "x" * 10, "xxxxx end"]
    assert paginate("{[]}" * 5, 10) == ["{[]}{", "[]}{[", "]}{[]", "}{[]}"]  # 2 septets each


def test_a_dial_after_a_session_dropped_on_the_finished_course_does_not_start_it_over(
        phone: Phone):
    """The last answer given on USSD finishes the course; the call drops on the result;
    the next dial shows the menu, and the course stays finished with its scores."""
    store = phone.store
    course = store.course("start-freelancing")
    sms(store, "START")
    for _ in range(300):  # by SMS up to the last question of the last lesson
        place = store.enrollment(PHONE, course.id)
        if place.quiz is not None and place.quiz.queue:
            lesson = store.lesson(course.id, course.lesson_ids[place.position], "en")
            if place.position == len(course.lesson_ids) - 1 and len(place.quiz.queue) == 1:
                break
            sms(store, "ABCD"[lesson.questions[place.quiz.queue[0]].answer])
        else:
            sms(store, "NEXT")
    question = phone.dial()
    if not question.text.startswith("Q"):
        question = phone.press("1")
    assert question.text.startswith(f"Q{len(lesson.questions)}/"), question.text
    phone.press(str(lesson.questions[place.quiz.queue[0]].answer + 1))
    assert store.enrollment(PHONE, course.id).completed
    phone.drop()
    menu = phone.dial().text
    assert menu.startswith("Learnline\n"), menu
    assert store.enrollment(PHONE, course.id).completed
    assert len(store.lesson_results(PHONE, course.id)) == len(course.lesson_ids)
