"""What this edge sent for each program each day, as its sync round pushes it to the hub
(docs/sync.md, Programs): per UTC day, program and currency, the messages, their SMS
segments and their cost priced as the program's own page here prices them
(gateway/ops/program_reports.py `priced`: this edge's carriers' prices). No number and
no text leaves this way: counts and amounts only.

A day's figures go on changing after the day (delivery reports, retries), so each round
reads the days of this month and of the last WINDOW_DAYS, and pushes only the (program,
day) whose figures differ from what the hub last acknowledged (their digests, kept in
`sync_state`); the hub replaces this edge's rows of each (program, day) pushed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config import Carrier
from gateway.ops.program_reports import priced
from gateway.programs import PROGRAM_ID_RE
from gateway.store import Store, events, program_stats
from gateway.sync.protocol import SPEND_BATCH

log = logging.getLogger(__name__)

WINDOW_DAYS = 7  # days before this one read again every round, across a month's start
PUSHED = "spend_push_digests"  # in sync_state: {"<program> <day>": digest} the hub has


def window(now: float) -> tuple[float, float, str]:
    """The period read each round: (from the earlier of this UTC month's start and the
    start of the day WINDOW_DAYS ago, to the start of tomorrow, that first day)."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0,
                                                     microsecond=0)
    first = min(today.replace(day=1), today - timedelta(days=WINDOW_DAYS))
    return first.timestamp(), (today + timedelta(days=1)).timestamp(), first.date().isoformat()


def summary(store: Store, carriers: Iterable[Carrier], now: float | None = None
            ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """This edge's days in the window, by (program, day): each a list of rows as the sync
    protocol carries them ({day, program, currency, messages, segments, cost}: the
    messages the carriers accepted, their segments and cost, None when no carrier here
    prices them; messages queued or never sent are not counted), one per currency."""
    since, until, _first = window(store.clock() if now is None else now)
    carriers = list(carriers)
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for day, program, sent in program_stats.daily_messages(store, since, until):
        if not PROGRAM_ID_RE.fullmatch(program):
            log.warning("sync: messages of program %r are not pushed: not a program id",
                        program[:60])
            continue
        grouped[(program, day)].append(sent)
    return {(program, day): [
        {"day": day, "program": program, "currency": currency, "messages": messages,
         "segments": segments, "cost": None if cost is None else round(cost, 6)}
        for currency, messages, segments, cost, *_ in priced(carriers, rows, 0)]
        for (program, day), rows in sorted(grouped.items(), key=lambda item: (item[0][1],
                                                                              item[0][0]))}


def unpushed(store: Store, carriers: Iterable[Carrier], now: float | None = None
             ) -> list[list[dict[str, Any]]]:
    """The rows of the (program, day)s whose figures the hub does not have yet, in
    batches of at most SPEND_BATCH rows, a (program, day) never split between two (the
    hub replaces a day's rows with those pushed together)."""
    pushed = _pushed(store)
    batches: list[list[dict[str, Any]]] = [[]]
    for (program, day), rows in summary(store, carriers, now).items():
        if pushed.get(f"{program} {day}") == _digest(rows):
            continue
        if len(batches[-1]) + len(rows) > SPEND_BATCH:
            batches.append([])
        batches[-1].extend(rows)
    return [batch for batch in batches if batch]


def mark_pushed(store: Store, batch: list[dict[str, Any]], now: float | None = None) -> None:
    """The hub has these rows: remember their (program, day)s' digests, forgetting days
    before the window."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in batch:
        grouped[f"{row['program']} {row['day']}"].append(row)
    _since, _until, first = window(store.clock() if now is None else now)
    with store.write():
        pushed = {key: digest for key, digest in _pushed(store).items()
                  if key.rpartition(" ")[2] >= first}
        pushed.update({key: _digest(rows) for key, rows in grouped.items()})
        events.set_sync_value(store, PUSHED, json.dumps(pushed, sort_keys=True))


def _pushed(store: Store) -> dict[str, str]:
    try:
        found = json.loads(events.sync_value(store, PUSHED) or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _digest(rows: list[dict[str, Any]]) -> str:
    text = json.dumps(sorted(rows, key=lambda row: row["currency"]), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
