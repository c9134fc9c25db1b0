"""WhatsApp's 24-hour window: a free-form message (text, buttons, a list) may go to a
learner only within 24 hours of their last message to the carrier's number; outside it,
only a template Meta approved (docs/carriers.md, WhatsApp templates).

Replies answer the learner's message and go inside the window. Unsolicited messages (the
day's lesson, a review, a reminder, an announcement) are checked twice: when queued
(`unsolicited_payload`: free-form with its template beside it while the window will still
be open when the message is due, else the template alone) and when the worker sends them
(`as_sendable`: a message held past quiet hours may find the window closed, and goes as its
template, or not at all, with the reason, for the carrier's fallback or the operator).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carrier_adapters import SendError
from gateway.message_templates import TemplateMessage, missing_reason

if TYPE_CHECKING:
    from gateway.config import Carrier
    from gateway.store import OutboxRecord, Store

WINDOW_SECONDS = 24 * 3600.0
# The payload's key for the template a free-form message becomes outside the window.
OUTSIDE_WINDOW = "outside_window"


def is_whatsapp(carrier: Carrier) -> bool:
    """Whether the carrier's messages are WhatsApp's, under its 24-hour rule."""
    return carrier.channel == "whatsapp"


def window_open(store: Store, carrier: Carrier, phone: str, at: float) -> bool:
    """Whether a free-form message may reach `phone` through the carrier at time `at`:
    their last message to it came less than 24 hours before."""
    last = store.last_inbound_at(phone, carrier.id)
    return last is not None and at < last + WINDOW_SECONDS


def unsolicited_payload(store: Store, carrier: Carrier, phone: str, due_at: float,
                        payload: Mapping[str, Any] | None,
                        template: TemplateMessage | None) -> Mapping[str, Any] | None:
    """The payload to queue an unsolicited WhatsApp message with, due at `due_at`: its own
    (buttons, a list) with its template beside it (`outside_window`) while the window is
    open then; the template alone when it will be closed by then; its own when there is
    no template (the worker then records why it cannot go)."""
    if template is None:
        return payload
    if not window_open(store, carrier, phone, due_at):
        return template.payload
    return {**(payload or {}), OUTSIDE_WINDOW: template.payload}


def as_sendable(store: Store, carrier: Carrier, message: OutboxRecord,
                locale: str) -> OutboxRecord:
    """The message as it may go now. A reply, a template, or a message inside the window,
    as it is; an unsolicited free-form message outside the window, as its template (the
    outbox's payload changed to it, so the outbox says what went). Raises SendError (not
    retried, `fallback`) when it has no template: the carrier's fallback may carry it."""
    if message.kind == "reply" or not is_whatsapp(carrier):
        return message
    payload = json.loads(message.payload) if message.payload else {}
    if "template" in payload:
        return message
    if window_open(store, carrier, message.phone, store.clock()):
        if OUTSIDE_WINDOW in payload:
            message = _with_payload(store, message, {k: v for k, v in payload.items()
                                                     if k != OUTSIDE_WINDOW})
        return message
    if OUTSIDE_WINDOW not in payload:
        raise SendError(missing_reason(message.kind, locale), retry=False, fallback=True)
    return _with_payload(store, message, payload[OUTSIDE_WINDOW])


def _with_payload(store: Store, message: OutboxRecord,
                  payload: Mapping[str, Any]) -> OutboxRecord:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True) if payload else None
    store.set_payload(message.id, text)
    return dataclasses.replace(message, payload=text)
