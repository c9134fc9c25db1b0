"""A learner in Morocco: the whole bundled course in Arabic by SMS (UCS-2, its 70/67 limits
checked message by message), Arabic command words and keypads, and Arabic on USSD: UCS-2
screens within the carrier's limit, or the Latin fallback where the carrier cannot carry
UCS-2.
"""

from __future__ import annotations

import math
import re

import pytest

from gateway.channels.ussd.screens import gsm
from gateway.channels.vocabulary import command_words
from gateway.config import Carrier
from gateway.content.model import SMS
from gateway.i18n import available_locales, language_name, needs_ucs2, translations
from gateway.ratelimit import InboundLimits, SlidingWindows
from gateway.sms_text import count, encoding_for, ucs2_units
from gateway.store import Store
from tests.conftest import TwilioWebhooks
from tests.courses import take_course_by_sms
from tests.test_swahili import Clock, texted
from tests.test_ussd import Phone

MOROCCO = "+212612345678"
COURSE = "start-freelancing"
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
WORDS = command_words("ar")


def ucs2_segments(text: str) -> int:
    """3GPP TS 23.040 for UCS-2, computed independently: 70 units in one message, else 67
    units per part of a concatenated one."""
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def test_arabic_ships_complete_and_right_to_left():
    assert "ar" in available_locales()
    assert needs_ucs2("ar") and not any(needs_ucs2(loc) for loc in ("en", "fr", "pt", "sw"))
    t = translations("ar")
    # Arabic has six plural forms; each is a real translation, not the English fallback.
    forms = {t.ngettext("%(num)d lesson", "%(num)d lessons", n) for n in (0, 1, 2, 3, 11, 100)}
    assert len(forms) >= 4 and all(ARABIC_LETTER.search(form) for form in forms)
    lessons = [t.ngettext("%(num)d lesson", "%(num)d lessons", n) % {"num": n}
               for n in (1, 2, 5, 11, 100)]
    # One and two are words (no digit); 3-10 take the plural, 11-99 the accusative singular.
    assert lessons == ["درس واحد", "درسان", "5 دروس", "11 درسا", "100 درس"]
    for key, word in WORDS.items():
        assert ARABIC_LETTER.search(word), (key, word)


def test_a_moroccan_takes_the_whole_course_by_sms_in_arabic(twilio: TwilioWebhooks,
                                                           store: Store):
    twilio.client.application.extensions["learnline.inbound_limits"] = InboundLimits(
        SlidingWindows(clock=Clock()))
    # The Twilio carrier is Nigerian with no locale: the +212 number makes the learner Arabic.
    reply = texted(twilio, store, WORDS["start"], MOROCCO)
    learner = store.learner(MOROCCO)
    assert (learner.locale, learner.current_course) == ("ar", COURSE)
    course = store.course(COURSE)
    assert "ar" in course.locales
    assert course.title_in("ar") in reply

    def keypad(asked: int, right: int) -> str:
        # Keypads differ: Latin letters, Arabic-Indic digits, abjad letters all answer.
        return ("ABCD"[right], "١٢٣٤"[right], "ابجد"[right])[asked % 3]

    reply = take_course_by_sms(lambda body: texted(twilio, store, body, MOROCCO), store,
                               COURSE, "ar", reply, WORDS["next"], keypad)
    assert store.enrollment(MOROCCO, COURSE).completed
    code = re.search(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b", reply)
    assert code, reply
    assert store.certificate(code.group().replace("-", "")).phone == MOROCCO
    # Anyone checks it by SMS with the Arabic word, from another phone.
    checked = texted(twilio, store, f"{WORDS['verify']} {code.group()}", "+212612345679")
    assert code.group() in checked and ARABIC_LETTER.search(checked)

    status = texted(twilio, store, WORDS["status"], MOROCCO)
    assert "6/6" in status and ARABIC_LETTER.search(status)
    assert texted(twilio, store, "STATUS", MOROCCO) == status  # English words work too

    sent = store.outbox(MOROCCO)
    assert len(sent) > 40  # 6 lessons of about 7 texts each (their SMS editions), and more
    for message in sent:
        assert ARABIC_LETTER.search(message.body), message.body
        assert encoding_for(message.body) == "UCS-2"
        assert count(message.body).segments == ucs2_segments(message.body), message.body
        assert count(message.body).segments <= 6  # the carrier's max_segments
        # Babel's direction marks would cost a unit each and show nothing.
        assert not set(message.body) & {"\u200e", "\u200f", "\u061c"}


def test_arabic_help_language_and_stop(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, WORDS["start"], MOROCCO)
    help_text = texted(twilio, store, WORDS["help"], MOROCCO)
    for key in ("next", "status", "courses", "lang", "stop"):
        assert WORDS[key] in help_text, key
    # Latin-script replies go as GSM-7 under the carriers' default policy: ç, í, ê folded.
    assert texted(twilio, store, f"{WORDS['lang']} fr", MOROCCO) == "Langue : Francais."
    assert texted(twilio, store, "LANG portugues", MOROCCO) == "Lingua: Portugues."
    assert store.learner(MOROCCO).locale == "pt"
    for name in ("arabic", "ARABE", "العربية"):
        assert texted(twilio, store, "LANG en", MOROCCO) == "Language: English."
        reply = texted(twilio, store, f"LANG {name}", MOROCCO)
        assert "العربية" in reply and store.learner(MOROCCO).locale == "ar", name
    stopped = texted(twilio, store, WORDS["stop"], MOROCCO)
    assert store.learner(MOROCCO).stopped and WORDS["start"] in stopped


def arabic_carrier(**settings) -> Carrier:
    return Carrier.of(id="at", adapter="africastalking", country="MA", **settings)


@pytest.mark.parametrize("limit", [80, 60])
def test_a_ussd_session_in_arabic_is_ucs2_within_the_carriers_limit(store: Store, limit: int):
    phone = Phone(store, MOROCCO, arabic_carrier(ussd_ucs2_max_chars=limit))
    menu = phone.dial().text
    assert ARABIC_LETTER.search(menu)
    card = phone.press("١").text  # Arabic-Indic 1 on the keypad: continue
    lesson = store.lesson(COURSE, store.course(COURSE).lesson_ids[0], "ar").edition(SMS)
    text = card
    for _ in range(80):  # every page of every card, then the first question
        screen = phone.press("1").text
        text += "\n" + screen
        if lesson.questions[0].options[0] in screen:
            break
    for card in lesson.cards:  # nothing lost to pagination: every word shown
        for word in card.text.split():
            assert word in text, word
    assert lesson.questions[0].options[0] in screen
    assert all(ucs2_units(s) <= limit for s in phone.screens)
    assert all(encoding_for(s) == "UCS-2" for s in phone.screens)
    assert store.learner(MOROCCO).locale == "ar"


@pytest.mark.parametrize("limit", [80, 60])
def test_no_arabic_ussd_screen_is_cut(store: Store, limit: int):
    """The whole course by pressing 1 (next, more, option 1, continue), and 98 where a
    question's answers take more than a screen (1 answers there: "98 More" turns to the
    rest): no screen is cut short ("..."), the main menu's long course name included, and
    every answer of every question is shown in full."""
    phone = Phone(store, MOROCCO, arabic_carrier(ussd_ucs2_max_chars=limit))
    screen = phone.dial().text
    for _ in range(800):
        if store.enrollment(MOROCCO, COURSE) and store.enrollment(MOROCCO, COURSE).completed:
            break
        screen = phone.press("98" if screen.splitlines()[-1].startswith("98 ") else "1").text
    else:
        pytest.fail("the course never ended")
    assert [screen for screen in phone.screens if "..." in screen] == []
    shown = "\n".join(phone.screens)
    course = store.course(COURSE)
    for lesson_id in course.lesson_ids:  # every answer of every question, in full
        for question in store.lesson(COURSE, lesson_id, "ar").edition(SMS).questions:
            for option in question.options:
                assert option in shown, option


def test_an_arabic_question_resumed_after_a_drop_shows_its_answers_in_full(store: Store):
    """Back on a question after a dropped call: the welcome-back line gives way rather than
    cut an answer (the right one, here)."""
    phone = Phone(store, MOROCCO, arabic_carrier())
    phone.dial()
    question = store.lesson(COURSE, store.course(COURSE).lesson_ids[0],
                            "ar").edition(SMS).questions[0]
    for _ in range(80):
        if question.text in phone.press("1").text:
            break
    phone.drop()
    screens = [phone.dial().text]
    while not all(option in "\n".join(screens) for option in question.options) \
            and len(screens) < 4:
        screens.append(phone.press("98").text)
    assert all(option in "\n".join(screens) for option in question.options), screens
    assert not any("..." in screen for screen in screens), screens


@pytest.mark.parametrize("run", [0, 1])
def test_a_drop_on_answers_of_their_own_resumes_on_the_same_answers(store: Store, run: int):
    """At 60 units the first question's answers take two pages of their own. Dropped on
    either, the call comes back on the same one, its "98" still there to reach the rest,
    and every answer can be read."""
    phone = Phone(store, MOROCCO, arabic_carrier(ussd_ucs2_max_chars=60))
    question = store.lesson(COURSE, store.course(COURSE).lesson_ids[0],
                            "ar").edition(SMS).questions[0]
    phone.dial()
    screen = ""
    for _ in range(80):  # to the first page of answers
        screen = phone.press("1").text
        if screen.startswith("1. "):
            break
    for _ in range(run):
        screen = phone.press("98").text
    phone.drop()
    resumed = phone.dial().text
    shown = [line for line in resumed.splitlines() if line[:1].isdigit() and ". " in line]
    assert shown == [line for line in screen.splitlines() if line[:1].isdigit() and ". " in line]
    seen = resumed  # from the answer dropped on to the last, after the drop
    while resumed.splitlines()[-1].startswith("98 "):
        resumed = phone.press("98").text
        seen += "\n" + resumed
    assert all(option in seen for option in question.options[run:]), seen
    assert "..." not in seen


def test_a_question_with_its_answers_on_one_screen_resumes_with_its_text(store: Store):
    """At 80 units a question may fit one screen with its answers; resumed after a drop,
    "Welcome back!" takes room and the question moves to two pages: the call comes back on
    the one with the question, not on the answers alone."""
    phone = Phone(store, MOROCCO, arabic_carrier(ussd_ucs2_max_chars=80))
    phone.dial()
    for _ in range(300):
        screen = phone.press("98" if phone.screens[-1].splitlines()[-1].startswith("98 ")
                             else "1").text
        if screen.startswith("س") and "\n1. " in screen:  # Q1/3 ... and 1. on one screen
            break
    else:
        pytest.fail("no question fits one screen with its answers")
    phone.drop()
    resumed = phone.dial().text
    assert screen.splitlines()[0] in resumed, resumed


def test_ussd_falls_back_to_latin_where_the_carrier_cannot_carry_ucs2(store: Store):
    carrier = arabic_carrier(ussd_ucs2=False, ussd_fallback_locale="fr")
    phone = Phone(store, MOROCCO, carrier)
    menu = phone.dial().text
    assert menu.startswith("Learnline\n1. ") and "Cours" in menu
    card = phone.press("1").text
    french = store.lesson(COURSE, store.course(COURSE).lesson_ids[0], "fr")
    assert card.startswith("Lecon 1/6"), card  # French, accents folded to GSM-7
    assert french.title.replace("é", "e") in card
    phone.press("00")
    languages = phone.press("4").text
    assert "Arabe" in languages and "Francais" in languages  # names GSM-7 can show
    assert all(encoding_for(s) == "GSM-7" for s in phone.screens)
    # The screens were French; the learner is still Arabic, and SMS still speak Arabic.
    assert store.learner(MOROCCO).locale == "ar"


def test_a_fallback_locale_in_arabic_script_is_refused_at_start_up(tmp_path):
    from gateway.config import ConfigError, load_carriers

    path = tmp_path / "carriers.toml"
    path.write_text('[carriers.at]\nadapter = "console"\nussd_fallback_locale = "ar"\n')
    with pytest.raises(ConfigError, match=r"carriers.toml.*at.*ussd_fallback_locale.*Latin"):
        load_carriers(path)


def test_every_shipped_language_can_be_chosen_from_the_ussd_menu(store: Store):
    phone = Phone(store, "+254712345601", Carrier.of(
        id="at", adapter="africastalking", country="KE", locale="en"))
    phone.dial()
    for position, locale in enumerate(available_locales(), start=1):
        listed = phone.press("4").text
        if store.learner("+254712345601").locale == "ar":  # a UCS-2 screen: as written
            assert f"{position}. {language_name(locale)}" in listed, listed
        elif locale != "ar":  # a GSM-7 screen: accents folded
            assert f"{position}. {gsm(language_name(locale))}" in listed, listed
        else:  # Arabic on a Latin (GSM-7) screen is listed by its name in that language
            assert f"{position}. " in listed and "?" not in listed, listed
        phone.press(str(position))
        assert store.learner("+254712345601").locale == locale
        menu = phone.press("00").text
        # Nothing cut: on an 80-unit UCS-2 screen the Arabic course name in option 1
        # takes the room of the "Learnline" line.
        assert menu.startswith("1. " if locale == "ar" else "Learnline\n1. ") \
            and "..." not in menu, menu


@pytest.mark.parametrize("limit", [80, 60])
def test_arabic_card_screens_keep_words_whole_and_say_more_when_there_is_more(
        store: Store, limit: int):
    """Every card screen of the course on small UCS-2 screens: no word split across two
    screens, no word alone on a line of its own at a page's foot or on a page, and '1'
    labelled 'more' while the card goes on, 'next' on its last page."""
    t = translations("ar")
    more, nxt = f"1 {t.gettext('More')}", f"1 {t.gettext('Next')}"
    phone = Phone(store, MOROCCO, arabic_carrier(ussd_ucs2_max_chars=limit))
    screen = phone.dial().text
    for _ in range(800):
        if store.enrollment(MOROCCO, COURSE) and store.enrollment(MOROCCO, COURSE).completed:
            break
        screen = phone.press("98" if screen.splitlines()[-1].startswith("98 ") else "1").text
    course = store.course(COURSE)
    lessons = [store.lesson(COURSE, lesson_id, "ar").edition(SMS)
               for lesson_id in course.lesson_ids]
    words = {word for lesson in lessons for card in lesson.cards for word in card.text.split()}
    words |= {word for lesson in lessons for word in lesson.title.split()}
    head = re.compile(r"^\S+ \d/\d، \S+ \d/\d$")  # "Lesson 1/6, card 2/5"
    back = f"0 {t.gettext('Back')}"  # only cards go back a page
    cards = [(n, s) for n, s in enumerate(phone.screens)
             if s.splitlines()[-1].startswith((more, nxt)) and back in s.splitlines()[-1]]
    assert len(cards) > 30
    for number, shown in cards:
        lines = shown.splitlines()
        body = [line for line in lines[:-1] if not head.match(line)]
        assert body, shown
        for line in body:
            assert set(line.split()) <= words, (line, set(line.split()) - words)
            assert len(line.split()) > 1 or line == body[0] == lines[0], shown
        following = phone.screens[number + 1]
        if lines[-1].startswith(more):  # the same card goes on: no head line of a new card
            assert not head.match(following.splitlines()[0]), (shown, following)
        else:  # its last page: a new card, or the quiz
            assert head.match(following.splitlines()[0]) or "1 " not in following[:3], \
                (shown, following)
