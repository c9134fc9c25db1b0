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
from array import array
from bisect import bisect_right
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
        # One array of doubles a key, its events in the longest of its windows, oldest
        # first: most senders have a few recent events; a deque costs about 600 bytes even
        # when nearly empty, and a list 24 bytes an event more than an array (tens of MB
        # across 100,000 numbers).
        self._events: OrderedDict[str, array[float]] = OrderedDict()
        self._noticed: dict[str, dict[int, float]] = {}  # key: window: when first refused
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> tuple[bool, bool]:
        """Count one event for `key`; return (within the limit, first refusal in window)."""
        refused, first = self.hit_all(key, ((limit, window),))
        return refused is None, first

    def hit_all(self, key: str,
                limits: tuple[tuple[int, float], ...]) -> tuple[int | None, bool]:
        """Count one event for `key` against several (limit, window) pairs at once, which
        share its events: the event counts only if every window allows it. Returns the
        index in `limits` of the first window it is over (None: within all), and whether
        this is that window's first refusal in its window (the one worth a notice)."""
        now = self.clock()
        longest = max(window for _, window in limits)
        with self._lock:
            events = self._events.pop(key, None)
            if events is None:  # made with its first event: an array sized to it
                events = array("d")
            elif events and events[0] <= now - longest:
                events = events[bisect_right(events, now - longest):]
            self._events[key] = events  # most recently used last
            if len(self._events) > self.max_keys:
                evicted, _ = self._events.popitem(last=False)
                self._noticed.pop(evicted, None)
            for index, (limit, window) in enumerate(limits):
                if len(events) - bisect_right(events, now - window) >= limit:
                    noticed = self._noticed.setdefault(key, {})
                    at = noticed.get(index)
                    first = at is None or at <= now - window
                    if first:
                        noticed[index] = now
                    return index, first
            if events:
                events.append(now)
            else:
                self._events[key] = array("d", (now,))
            return None, False


class InboundLimits:
    """Per-number (a minute, an hour) and per-block (a minute) limits for inbound SMS."""

    def __init__(self, windows: SlidingWindows | None = None):
        self.windows = windows or SlidingWindows()

    def check(self, carrier_id: str, phone: str, per_minute: int, per_hour: int,
              block_per_minute: int) -> Verdict:
        """Count a message from `phone` and say whether to answer it."""
        # The number's two windows share one record of its messages (half the memory of
        # one each): a message over either counts in neither.
        over, first = self.windows.hit_all(f"{carrier_id}:{phone}",
                                           ((per_minute, 60.0), (per_hour, 3600.0)))
        if over is not None:
            return Verdict(False, ("number per minute", "number per hour")[over], first)
        allowed, _ = self.windows.hit(f"{carrier_id}:b:{phone[:-BLOCK_DIGITS]}",
                                      block_per_minute, 60.0)
        if not allowed:
            # Only the sender's own number gets told; a block's other numbers did nothing
            # wrong, and a flood from a block is not worth a reply each.
            return Verdict(False, "block per minute", False)
        return Verdict(True)
