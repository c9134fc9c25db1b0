"""Sliding-window limits on inbound messages, kept in memory.

A learner who sends 500 messages a minute (a stuck phone, a script, a prank)
must not starve everyone else or run up replies we pay for; nor may a block
of neighbouring numbers (a SIM farm). Each web process counts what it sees:
behind gunicorn's N processes a sender may get up to N times a limit before
every process throttles them, which is enough to stop a flood without a
write to the shared database for every message.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Numbers sharing all but their last digits form a block.
BLOCK_DIGITS = 3


@dataclass(frozen=True)
class Verdict:
    """Whether a message may be answered; if not, which limit it passed and whether this
    is the first message over it in the window (the one that gets a polite notice)."""

    allowed: bool
    limit: str = ""
    first_over: bool = False


class SlidingWindows:
    """Counts events per key over sliding windows; remembers at most `max_keys` keys."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.max_keys = max_keys
        self.clock = clock
        # Plain lists: most senders have a few recent events, and a deque costs about
        # 600 bytes even when nearly empty (tens of MB across 100,000 numbers).
        self._events: OrderedDict[str, list[float]] = OrderedDict()
        self._noticed: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> tuple[bool, bool]:
        """Count one event for `key`; return (within the limit, first refusal in window)."""
        now = self.clock()
        with self._lock:
            events = self._events.pop(key, None) or []
            if events and events[0] <= now - window:
                events = [at for at in events if at > now - window]
            self._events[key] = events  # most recently used last
            if len(self._events) > self.max_keys:
                evicted, _ = self._events.popitem(last=False)
                self._noticed.pop(evicted, None)
            if len(events) < limit:
                events.append(now)
                return True, False
            noticed = self._noticed.get(key)
            first = noticed is None or noticed <= now - window
            if first:
                self._noticed[key] = now
            return False, first


class InboundLimits:
    """Per-number (a minute, an hour) and per-block (a minute) limits for inbound SMS."""

    def __init__(self, windows: SlidingWindows | None = None):
        self.windows = windows or SlidingWindows()

    def check(self, carrier_id: str, phone: str, per_minute: int, per_hour: int,
              block_per_minute: int) -> Verdict:
        """Count a message from `phone` and say whether to answer it."""
        for limit, key, count, window in (
            ("number per minute", f"{carrier_id}:m:{phone}", per_minute, 60.0),
            ("number per hour", f"{carrier_id}:h:{phone}", per_hour, 3600.0),
            ("block per minute", f"{carrier_id}:b:{phone[:-BLOCK_DIGITS]}", block_per_minute,
             60.0),
        ):
            allowed, first = self.windows.hit(key, count, window)
            if not allowed:
                # Only the sender's own number gets told; a block's other numbers did
                # nothing wrong, and a flood from a block is not worth a reply each.
                return Verdict(False, limit, first and limit != "block per minute")
        return Verdict(True)
