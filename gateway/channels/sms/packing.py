"""Replies that follow each other, packed into as few SMS as cost no more.

The engine's replies to one message (feedback and the next question; a lesson's last card
and its first question) are worded one by one (`render_parts`); adjacent ones go in one
concatenated message when that message counts no more segments than they would apart and
stays within the carrier's `max_segments`. Apart they are separate messages of the same
turn. The conversation queues what `pack` gives, and `cost.py` prices lessons through
`messages`, so what `learnline lessons check` prints is what a learner receives.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from gateway.channels.texts import render_parts
from gateway.learning import replies as r
from gateway.sms_text import count, split_messages

# A message's parts are joined by a line break, as `render` joins replies.
JOIN = "\n"


def pack(parts: Sequence[str], max_segments: int | None, policy: str) -> list[str]:
    """`parts` (texts in order) grouped into texts to queue: adjacent parts share one text
    when it costs no more segments than they do apart and fits in `max_segments` (0 or
    None: any length). A part alone may be longer: queuing splits it as before. Parts
    that are empty once normalized are left out; order and text are kept (joined with a
    line break)."""
    packed: list[str] = []
    for part in parts:
        part = part.strip()
        if not _cost(part, max_segments, policy):
            continue
        if packed:
            joined = packed[-1] + JOIN + part
            if _fits(joined, max_segments, policy) and _cost(joined, max_segments, policy) \
                    <= _cost(packed[-1], max_segments, policy) + _cost(part, max_segments,
                                                                       policy):
                packed[-1] = joined
                continue
        packed.append(part)
    return packed


def messages(replies: Sequence[r.Reply], locale: str, max_segments: int | None,
             policy: str, web_url: str | None = None) -> list[str]:
    """The SMS bodies a learner receives for one turn's replies, exactly as the channel
    queues them: worded, packed, and split by `max_segments` under `policy`."""
    return [body for text in pack(render_parts(replies, locale, web_url), max_segments, policy)
            for body in split_messages(text, max_segments, policy)]


@lru_cache(maxsize=4096)  # the same lesson texts are joined for learner after learner
def _fits(text: str, max_segments: int | None, policy: str) -> bool:
    return not max_segments or count(text, policy).segments <= max_segments


@lru_cache(maxsize=4096)
def _cost(text: str, max_segments: int | None, policy: str) -> int:
    """Segments a text costs once queued (split as the outbox splits it)."""
    return sum(count(body, policy).segments
               for body in split_messages(text, max_segments, policy))
