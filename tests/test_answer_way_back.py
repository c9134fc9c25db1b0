"""Which way a tutor's answer goes back and what it costs (gateway/outbox/answers.py):
the carrier asked through, a USSD question by SMS (the USSD carrier's own SMS, else its
fallback carrier), a web question through the learner's carrier; segments and price as
the outbox counts them, one WhatsApp message by its length."""

from __future__ import annotations

import pytest

from gateway.config import Carrier, Carriers
from gateway.outbox.answers import answer_carrier, answer_cost, queue_answer
from gateway.store import Store
from gateway.store.questions import QuestionRecord
from gateway.store.records import LearnerRecord
from tests.fakes.clock import SimulatedClock

SMS = Carrier.of(id="sms", adapter="console", country="GH", max_segments=2,
                 price_per_segment=0.05, currency="GHS")
USSD_ONLY = Carrier.of(id="hubtel", adapter="hubtel", country="GH", fallback_carrier="sms")
USSD_ALONE = Carrier.of(id="lonely", adapter="hubtel", country="GH")
USSD_AND_SMS = Carrier.of(id="at", adapter="africastalking", country="KE")
WHATSAPP = Carrier.of(id="wa", adapter="whatsapp", country="NG",
                      price_per_whatsapp_service=0.004, currency="USD")
WHATSAPP_ALONE = Carrier.of(id="wa-alone", adapter="whatsapp", country="NG")
WHATSAPP_AND_SMS = Carrier.of(id="wa-sms", adapter="whatsapp", country="NG",
                              fallback_carrier="sms")
CARRIERS = Carriers({c.id: c for c in (SMS, USSD_ONLY, USSD_ALONE, USSD_AND_SMS, WHATSAPP,
                                       WHATSAPP_ALONE, WHATSAPP_AND_SMS)}, None)
PHONE = "+233241234567"


def asked(channel: str, carrier_id: str) -> QuestionRecord:
    return QuestionRecord(1, PHONE, channel, carrier_id, "why?", None, None, None, None,
                          0.0, "open", None, None, None)


def test_a_ussd_question_goes_back_by_sms_on_its_carrier_or_its_fallback():
    assert answer_carrier(CARRIERS, asked("ussd", "at"), None) is USSD_AND_SMS
    assert answer_carrier(CARRIERS, asked("ussd", "hubtel"), None) is SMS
    assert answer_carrier(CARRIERS, asked("ussd", "lonely"), None) is None


def test_sms_and_whatsapp_questions_go_back_where_they_came_from():
    assert answer_carrier(CARRIERS, asked("sms", "sms"), None) is SMS
    assert answer_carrier(CARRIERS, asked("whatsapp", "wa"), None) is WHATSAPP
    assert answer_carrier(CARRIERS, asked("sms", "gone"), None) is None


def test_a_web_question_goes_through_the_learners_carrier_if_they_have_one():
    learner = LearnerRecord(PHONE, "en", "sms")
    assert answer_carrier(CARRIERS, asked("web", ""), learner) is SMS
    assert answer_carrier(CARRIERS, asked("web", ""), None) is None
    assert answer_carrier(CARRIERS, asked("web", ""), LearnerRecord(PHONE, "en", "")) is None


def test_the_cost_counts_segments_as_sent_and_fits_within_max_segments():
    one = answer_cost(SMS, "x" * 160)
    assert (one.messages, one.segments, one.cost, one.currency, one.fits) == (
        1, 1, 0.05, "GHS", True)
    two = answer_cost(SMS, "x" * 306)  # two segments of 153
    assert (two.segments, two.fits) == (2, True)
    over = answer_cost(SMS, "x" * 307)
    assert (over.messages, over.fits) == (2, False)
    arabic = answer_cost(SMS, "ب" * 71)  # UCS-2: 70 a segment, 67 when split
    assert (arabic.segments, arabic.fits) == (2, True)


def test_a_whatsapp_answer_is_one_message_up_to_its_length():
    cost = answer_cost(WHATSAPP, "x" * 4096)
    assert (cost.channel, cost.messages, cost.cost, cost.fits) == ("whatsapp", 1, 0.004, True)
    assert not answer_cost(WHATSAPP, "x" * 4097).fits


def test_an_answer_is_queued_as_one_reply(store: Store):
    with store.write():
        assert queue_answer(store, SMS, PHONE, "Your tutor answers: yes.") == 1
    [queued] = store.outbox(PHONE)
    assert (queued.carrier_id, queued.body, queued.kind) == ("sms", "Your tutor answers: yes.",
                                                             "reply")


def test_a_whatsapp_answer_after_the_24_hour_window_goes_by_sms_or_not_at_all(db_path):
    """WhatsApp takes no free-form message 24 hours after the learner last wrote: the
    answer then goes through the carrier's SMS fallback, or, without one, nowhere."""
    clock = SimulatedClock(1_800_000_000.0)
    with Store.open(db_path, clock=clock) as store:
        for carrier_id in ("wa-sms", "wa-alone"):
            store.record_inbound(carrier_id, f"wamid.{carrier_id}", PHONE, "ASK why?")
        for carrier_id, falls_back in (("wa-sms", True), ("wa-alone", False)):
            question = asked("whatsapp", carrier_id)
            clock.now = 1_800_000_000.0 + 23 * 3600
            assert answer_carrier(CARRIERS, question, None, store=store) is \
                CARRIERS.get(carrier_id)
            clock.now = 1_800_000_000.0 + 25 * 3600
            assert answer_carrier(CARRIERS, question, None, store=store) is (
                SMS if falls_back else None)
        # Writing again opens the window again.
        store.record_inbound("wa-alone", "wamid.again", PHONE, "hello?")
        assert answer_carrier(CARRIERS, asked("whatsapp", "wa-alone"), None,
                              store=store) is WHATSAPP_ALONE


def test_the_tutor_is_told_why_a_late_whatsapp_answer_cannot_go(db_path):
    from gateway.ops import staff, tutoring
    from gateway.store import questions

    clock = SimulatedClock(1_800_000_000.0)
    with Store.open(db_path, clock=clock) as store:
        tutor = staff.add_account(store, "tunde", "Tunde Bello", "tutor",
                                  "tutor pass phrase 42")
        store.record_inbound("wa-alone", "wamid.1", PHONE, "ASK why?")
        question_id = questions.add(store, PHONE, "whatsapp", "wa-alone", "Why?")
        clock.now += 25 * 3600
        with pytest.raises(tutoring.TutoringError) as refused:
            tutoring.answer_question(store, CARRIERS, question_id, tutor, "Because.")
        assert refused.value.status == 409
        assert "more than 24 hours ago" in str(refused.value)
        assert "'wa-alone' has no fallback_carrier" in str(refused.value)
        assert questions.get(store, question_id).status == "open"
        assert store.outbox(PHONE) == []
