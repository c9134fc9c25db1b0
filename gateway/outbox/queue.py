"""Queuing an outgoing message: the one way every channel, the scheduler and announcements
put text in the outbox (split into messages the carrier takes, each priced in segments;
or, for WhatsApp, one message as written with its buttons or list)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.outbox.window import unsolicited_payload
from gateway.sms_text import count, split_messages

if TYPE_CHECKING:
    from gateway.config import Carrier
    from gateway.message_templates import TemplateMessage
    from gateway.store import Store


def queue_text(
    store: Store, carrier: Carrier, phone: str, text: str, *,
    inbound_id: int | None = None, to_stopped_ok: bool = False, kind: str = "reply",
    due_at: float | None = None, lesson: tuple[str, str] | None = None,
    template: TemplateMessage | None = None, fallback_of: int | None = None,
    program: str = "",
) -> int:
    """Queue a reply (or, with `kind`, an unsolicited message due at `due_at`), split into
    messages of at most the carrier's `max_segments`; for a carrier whose messages are not
    SMS (WhatsApp), as written, in as few messages as its length allows, the first with
    the `template` it becomes outside WhatsApp's 24-hour window (gateway/outbox/window.py),
    or as that template alone when the window will be closed by `due_at`. With `lesson`
    (course id, lesson id), its segments (or messages) count toward that lesson's cost.
    `fallback_of`: the message the text stands for, which another carrier could not
    deliver. `program`: the program whose course the text is about, kept with each
    message (`outbox.program`, '' none; docs/programs.md)."""
    if not text:
        return 0
    whole = carrier.message_chars
    if whole:
        parts = _whole_parts(text, whole)
        first = None
        if template is not None:
            first = unsolicited_payload(store, carrier, phone,
                                        store.clock() if due_at is None else due_at,
                                        None, template)
            if first is not None and "template" in first:
                parts = [text]  # the template carries it; the text stays for operators
        return sum(queue_message(store, carrier, phone, part, inbound_id=inbound_id,
                                 to_stopped_ok=to_stopped_ok, kind=kind, due_at=due_at,
                                 lesson=lesson, payload=first if n == 0 else None,
                                 program=program)
                   for n, part in enumerate(parts))
    messages = split_messages(text, carrier.max_segments, carrier.encoding_policy)
    segments = 0
    for body in messages:
        segments += (priced := _segments(body))
        store.enqueue(carrier.id, phone, body, inbound_id=inbound_id,
                      to_stopped_ok=to_stopped_ok, kind=kind, due_at=due_at,
                      segments=priced, fallback_of=fallback_of, program=program)
    if lesson is not None:
        store.add_lesson_cost(phone, *lesson, carrier.id, segments=segments)
    return len(messages)


def _whole_parts(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut between lines, else between
    words, else between code points that are not half of a pair."""
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-16-le")) // 2 > limit:
        head = rest[:limit]
        while len(head.encode("utf-16-le")) // 2 > limit:
            head = head[:-1]
        cut = max(head.rfind("\n"), head.rfind(" "))
        if cut > limit // 2:
            head = head[:cut]
        parts.append(head.rstrip())
        rest = rest[len(head):].lstrip()
    return [*parts, rest] if rest.strip() else parts


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
    lesson: tuple[str, str] | None = None, program: str = "",
) -> int:
    """Queue one message as written, not split (a channel whose messages carry a whole
    card: WhatsApp), with its structure (`payload`: reply buttons, a list, a template)
    kept beside its plain text for the adapters that take one. With `lesson` (course id,
    lesson id), the message counts toward that lesson's cost, in its pricing category
    (`pricing_category`); `program` as queue_text's. Returns how many messages it
    queued."""
    if not body:
        return 0
    store.enqueue(carrier.id, phone, body, inbound_id=inbound_id, to_stopped_ok=to_stopped_ok,
                  kind=kind, due_at=due_at, segments=1,
                  payload=json.dumps(payload, ensure_ascii=False, sort_keys=True)
                  if payload else None, program=program)
    if lesson is not None:
        store.add_lesson_cost(phone, *lesson, carrier.id,
                              **{f"whatsapp_{pricing_category(payload)}": 1})
    return 1


PRICING_CATEGORIES = ("service", "utility", "marketing")


def pricing_category(payload: Mapping[str, Any] | None) -> str:
    """The category a WhatsApp carrier prices a message in: a template's own `category`
    ('utility' or 'marketing'); else 'service', a free-form message (which WhatsApp lets
    through only inside the 24-hour window after the learner's last message)."""
    template = payload.get("template") if payload else None
    category = template.get("category") if isinstance(template, Mapping) else None
    return category if category in PRICING_CATEGORIES else "service"
