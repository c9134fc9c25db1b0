"""A tutor's answer to a learner's question, on its way back: which carrier it goes
through (the one the learner asked on; a USSD or web question by SMS; a WhatsApp question
by SMS once WhatsApp's 24-hour window has closed), what it costs, and queuing it in the
outbox as one message within the carrier's `max_segments`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.outbox.queue import queue_text
from gateway.outbox.window import is_whatsapp, window_open
from gateway.sms_text import count, split_messages

if TYPE_CHECKING:
    from gateway.config import Carrier, Carriers
    from gateway.store import Store
    from gateway.store.questions import QuestionRecord
    from gateway.store.records import LearnerRecord


@dataclass(frozen=True)
class AnswerCost:
    """What an answer costs on its carrier: messages and SMS segments as sent (one
    WhatsApp message counts as one), the price in the carrier's currency, and whether it
    fits in one message within the carrier's `max_segments`."""

    carrier_id: str
    channel: str
    messages: int
    segments: int
    cost: float
    currency: str
    fits: bool


def answer_carrier(carriers: Carriers, question: QuestionRecord,
                   learner: LearnerRecord | None, *, store: Store | None = None
                   ) -> Carrier | None:
    """The carrier an answer to `question` goes through: the one it was asked through
    when that carrier sends messages (SMS or WhatsApp); for a question asked by USSD, that
    carrier when it also carries SMS, else its `fallback_carrier`; for one asked on the
    web, the carrier the learner last wrote through. None when none is configured.
    With `store`, a WhatsApp carrier whose 24-hour window to the learner has closed
    (WhatsApp refuses a free-form message then) gives way to its `fallback_carrier` (SMS),
    and to none when it has none."""
    carrier = carriers.get(question.carrier_id) if question.carrier_id else None
    if question.channel in ("sms", "whatsapp") and carrier is not None:
        if store is not None and window_closed(store, carrier, question.phone):
            return carriers.get(carrier.fallback_carrier) if carrier.fallback_carrier \
                else None
        return carrier
    if question.channel == "ussd" and carrier is not None:
        if carrier.carries("sms"):
            return carrier
        fallback = carriers.get(carrier.fallback_carrier) if carrier.fallback_carrier \
            else None
        return fallback
    if learner is not None and learner.carrier_id:
        return carriers.get(learner.carrier_id)
    return None


def window_closed(store: Store, carrier: Carrier, phone: str) -> bool:
    """Whether `carrier` is WhatsApp and more than 24 hours have passed since the learner
    last wrote to it (gateway/outbox/window.py)."""
    return is_whatsapp(carrier) and not window_open(store, carrier, phone, store.clock())


def answer_cost(carrier: Carrier, text: str) -> AnswerCost:
    """What `text` costs sent through `carrier` as the outbox would send it."""
    if carrier.message_chars:
        fits = len(text.encode("utf-16-le")) // 2 <= carrier.message_chars
        return AnswerCost(carrier.id, "whatsapp", 1, 0,
                          carrier.price_per_whatsapp_service, carrier.currency, fits)
    parts = split_messages(text, carrier.max_segments, carrier.encoding_policy)
    segments = sum(count(part, "exact").segments for part in parts)
    return AnswerCost(carrier.id, "sms", len(parts), segments,
                      round(segments * carrier.price_per_segment, 6), carrier.currency,
                      len(parts) == 1)


def queue_answer(store: Store, carrier: Carrier, phone: str, text: str) -> int:
    """Inside the caller's write transaction, queue `text` to `phone` through `carrier`
    as a reply (no quiet hours or daily cap: the learner asked); returns the messages
    queued (0 when the text is empty)."""
    return queue_text(store, carrier, phone, text)
