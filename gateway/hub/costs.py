"""A program's messages and their cost across edges this month (docs/sync.md,
Programs), from what each edge pushes with its sync round: per UTC day and currency,
the messages it sent for the program, their SMS segments and their cost as that edge
prices them (its carriers' prices, gateway/sync/spends.py). Per edge and in total, per
currency (amounts in different currencies are never added), and the cost per lesson
completed this month across edges (gateway/hub/progress.py counts them).

The month is the calendar month in UTC, as a program's budget counts it on an edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.hub import progress
from gateway.hub.store import HubStore, SpendDay


@dataclass(frozen=True)
class Spent:
    """Messages, segments and their cost in one currency (cost None: not priced), on
    one edge (`edge_id`), or across edges ('')."""

    edge_id: str
    currency: str
    messages: int
    segments: int
    cost: float | None


@dataclass(frozen=True)
class ProgramCosts:
    """A program's spend this month: per edge and currency (by edge, currency), in
    total per currency, and the lessons of its courses completed this month across
    edges."""

    month: str  # YYYY-MM, UTC
    edges: tuple[Spent, ...]
    totals: tuple[Spent, ...]
    lessons_completed: int

    def per_lesson(self, total: Spent) -> float | None:
        """A total's cost per lesson completed this month (None: no cost, no lesson)."""
        if total.cost is None or not self.lessons_completed:
            return None
        return total.cost / self.lessons_completed


def month_of(now: float) -> tuple[float, float, str, str, str]:
    """The UTC calendar month holding `now`: its start and the next month's (epoch
    seconds), its label 'YYYY-MM', its first and last days 'YYYY-MM-DD'."""
    day = datetime.fromtimestamp(now, UTC)
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
    last = datetime.fromtimestamp(end.timestamp() - 86400, UTC)
    return (start.timestamp(), end.timestamp(), start.strftime("%Y-%m"),
            start.date().isoformat(), last.date().isoformat())


def build(hub: HubStore, program: str, now: float | None = None) -> ProgramCosts:
    """`program`'s messages and their cost across edges in the month holding `now`
    (default: the hub's clock)."""
    since, until, month, first, last = month_of(hub.clock() if now is None else now)
    days = hub.program_spends(program, first, last)
    edges = _sums(((day.edge_id, day.currency), day) for day in days)
    totals = _sums((("", day.currency), day) for day in days)
    return ProgramCosts(month, edges, totals,
                        progress.lessons_completed(hub, program, since, until))


def _sums(keyed: Iterable[tuple[tuple[str, str], SpendDay]]) -> tuple[Spent, ...]:
    sums: dict[tuple[str, str], list] = {}
    for key, day in keyed:
        found = sums.setdefault(key, [0, 0, None])
        found[0] += day.messages
        found[1] += day.segments
        if day.cost is not None:
            found[2] = (found[2] or 0.0) + day.cost
    return tuple(Spent(edge_id, currency, messages, segments,
                       None if cost is None else round(cost, 6))
                 for (edge_id, currency), (messages, segments, cost) in sorted(sums.items()))
