"""A learner in Kenya: the whole bundled course in Swahili by SMS, and Swahili USSD screens.

Kenyan (+254) numbers default to Swahili, the first official language of Kenya with a
catalog, and Swahili command words (ANZA, ENDELEA, HALI, ...) work next to the English ones.
"""

from __future__ import annotations

import pytest

from gateway.config import Carrier
from gateway.content.model import SMS
from gateway.i18n import translations
from gateway.ratelimit import InboundLimits, SlidingWindows
from gateway.sms_text import encoding_for, septets
from gateway.store import Store
from tests.conftest import TwilioWebhooks
from tests.test_ussd import Phone

KENYA = "+254712345670"  # Safaricom
COURSE = "start-freelancing"
LETTERS = "ABCD"


class Clock:
    """The rate limiter's clock: a learner reading the course texts a few times an hour."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 600.0
        return self.now


def texted(twilio: TwilioWebhooks, store: Store, body: str, phone: str = KENYA) -> str:
    """One inbound SMS through the Twilio webhook; the replies it queued, joined."""
    before = len(store.outbox(phone))
    assert twilio.sms(phone, body).status_code == 200
    return "\n".join(m.body for m in store.outbox(phone)[before:])


def test_a_kenyan_takes_the_whole_course_by_sms_in_swahili(twilio: TwilioWebhooks, store: Store):
    # The course is ~60 texts: spread them out so the inbound rate limits do not apply.
    limits = InboundLimits(SlidingWindows(clock=Clock()))
    twilio.client.application.extensions["learnline.inbound_limits"] = limits
    # The carrier is Nigerian (country NG, no locale): the number's country decides.
    reply = texted(twilio, store, "ANZA")
    learner = store.learner(KENYA)
    assert (learner.locale, learner.current_course) == ("sw", COURSE)
    assert reply.startswith("Karibu Anza kujiajiri: masomo 6.\n"
                            "Somo 1/6: Tafuta ujuzi ambao watu hulipia\n")
    assert reply.endswith("[1/3] Jibu ENDELEA")

    course = store.course(COURSE)
    assert "sw" in course.locales
    for number, lesson_id in enumerate(course.lesson_ids, start=1):
        # SMS sends the lesson's SMS edition: short forms, web-only cards left out.
        lesson = store.lesson(COURSE, lesson_id, "sw").edition(SMS)
        assert f"Somo {number}/6: {lesson.title}" in reply
        cards = [card for card in lesson.cards if card.text]
        for card in cards:
            assert card.text in " ".join(reply.split())
            if card is not cards[-1]:
                reply = texted(twilio, store, "ENDELEA")
        # The quiz's first question came with the last card.
        for q, question in enumerate(lesson.questions, start=1):
            assert f"S{q}/{len(lesson.questions)}: {question.text}" in reply
            reply = texted(twilio, store, LETTERS[question.answer])
            assert reply.startswith("Sahihi! "), reply
        total = len(lesson.questions)
        if number == 1:  # the first lesson says it all; after it, the terse form
            assert f"Somo limekamilika: {total}/{total} sahihi mara ya kwanza." in reply
        else:
            assert f"\nLimekamilika: {total}/{total}." in reply
        if number < len(course.lesson_ids):
            reply = texted(twilio, store, "ENDELEA")
    assert "Kozi imekamilika: Anza kujiajiri." in reply
    assert "Hongera, umefaulu!" in reply

    status = texted(twilio, store, "HALI")
    assert status.startswith("Anza kujiajiri: masomo 6/6 yamekamilika, ")
    assert texted(twilio, store, "STATUS") == status  # English words always work too
    for message in store.outbox(KENYA):
        assert encoding_for(message.body) == "GSM-7", message.body


def test_swahili_help_language_and_stop(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, "JIUNGE")
    assert texted(twilio, store, "MSAADA") == (
        "Learnline: ENDELEA endelea, HALI maendeleo, KOZI kozi, LUGHA lugha, ACHA acha. "
        "SWALI na swali: mwalimu atajibu.")
    assert texted(twilio, store, "LUGHA en") == "Language: English."
    assert texted(twilio, store, "LANG sw") == "Lugha: Kiswahili."
    assert store.learner(KENYA).locale == "sw"
    assert texted(twilio, store, "ACHA") == "Hutapata ujumbe tena. Jibu ANZA kurudi."
    assert store.learner(KENYA).stopped


@pytest.mark.parametrize("limit", [182, 160])
def test_a_ussd_session_in_swahili_fits_the_screen(store: Store, limit: int):
    # Phone checks every screen: within the limit, in GSM-7.
    carrier = Carrier.of(id="at", adapter="africastalking", country="KE",
                              ussd_max_chars=limit)
    phone = Phone(store, "+254722000001", carrier)
    menu = phone.dial().text
    assert menu.startswith("Learnline\n1. Anza: Anza kujiajiri\n2. Kozi\n")
    card = phone.press("1").text
    assert card.startswith("Somo 1/6, kadi 1/3\nTafuta ujuzi ambao watu hulipia\n")
    for _ in range(40):  # every page of every card, then the first question
        screen = phone.press("1").text
        if screen.startswith("S1/"):
            break
    assert screen.startswith("S1/3: Ujuzi upi unaleta pesa haraka?"), screen
    phone.press("00")
    assert phone.press("3").text.startswith("Anza kujiajiri: masomo 0/6 yamekamilika.")
    phone.press("00")
    assert "Kiswahili" in phone.press("4").text
    assert all(septets(s) <= limit and encoding_for(s) == "GSM-7" for s in phone.screens)


def test_swahili_plurals_follow_babels_rules():
    t = translations("sw")
    assert t.ngettext("%(num)d lesson", "%(num)d lessons", 1) % {"num": 1} == "somo 1"
    assert t.ngettext("%(num)d lesson", "%(num)d lessons", 0) % {"num": 0} == "masomo 0"
    assert t.ngettext("%(num)d lesson", "%(num)d lessons", 6) % {"num": 6} == "masomo 6"


def test_every_command_has_a_swahili_word_that_differs_from_english():
    t = translations("sw")
    from gateway.channels.commands import COMMANDS, fold
    for key, english in COMMANDS.items():
        swahili = t.pgettext("command", english)
        assert swahili and swahili != english, key
        assert set(fold(swahili).split()).isdisjoint(english.split()), key
