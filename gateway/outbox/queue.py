"""Queuing an outgoing message: the one way every channel, the scheduler and announcements
put text in the outbox (split into messages the carrier takes, each priced in segments;
or, for WhatsApp, one message as written with its buttons or list)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.sms_text import count, split_messages

if TYPE_CHECKING:
    from gateway.config import Carrier
    from gateway.store import Store


def queue_text(
    store: Store, carrier: Carrier, phone: str, text: str, *,
    inbound_id: int | None = None, to_stopped_ok: bool = False, kind: str = "reply",
    due_at: float | None = None,
) -> int:
    """Queue a reply (or, with `kind`, an unsolicited message due at `due_at`), split into
    messages of at most the carrier's `max_segments`."""
    if not text:
        return 0
    messages = split_messages(text, carrier.max_segments, carrier.encoding_policy)
    for body in messages:
        store.enqueue(carrier.id, phone, body, inbound_id=inbound_id,
                      to_stopped_ok=to_stopped_ok, kind=kind, due_at=due_at,
                      segments=_segments(body))
    return len(messages)


@functools.lru_cache(maxsize=4096)
def _segments(body: str) -> int:
    """What one message costs in SMS segments (the operator's dashboard prices them);
    cached: most messages are lesson cards, the same for every learner. The body is already
    prepared under the carrier's policy and goes out as it is: counted as written, since the
    ``auto`` policy would fold a part of a reply that goes as written."""
    return count(body, "exact").segments


def queue_message(
    store: Store, carrier: Carrier, phone: str, body: str, *,
    payload: Mapping[str, Any] | None = None, inbound_id: int | None = None,
    to_stopped_ok: bool = False, kind: str = "reply", due_at: float | None = None,
) -> int:
    """Queue one message as written, not split (a channel whose messages carry a whole
    card: WhatsApp), with its structure (`payload`: reply buttons, a list) kept beside its
    plain text for the adapters that take one. Returns how many messages it queued."""
    if not body:
        return 0
    store.enqueue(carrier.id, phone, body, inbound_id=inbound_id, to_stopped_ok=to_stopped_ok,
                  kind=kind, due_at=due_at, segments=1,
                  payload=json.dumps(payload, ensure_ascii=False, sort_keys=True)
                  if payload else None)
    return 1
