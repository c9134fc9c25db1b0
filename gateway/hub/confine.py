"""What an edge may read and pass on through the hub (docs/sync.md, "Trust between edges").

The hub cannot tell a learner who walked into an edge from a number the edge made up:
any edge's token can push an event naming any number. What it can check is the number
against the **region** the edge was registered with on the hub (`learnline hub add-edge
ID --country NG --prefix +23480`), a rate, and a record:

- An edge is **trusted** for a learner when the number is in its region. It then gets
  the learner's events from other edges, and what it records of the learner (an erasure
  included) is passed on to the other edges that know the learner.
- A learner in the region who already has history from other edges **roams** in: their
  history is queued for the edge (backfill), at most `roam_limit` learners an hour per
  edge, and each such crossing is a row of the hub's `audit` table (`roamed`; over the
  limit, `roam_refused` and nothing is given: a later push tries again).
- Outside its region an edge is **confined** for that learner: its events are kept on
  the hub but passed on to nobody, it gets nothing of other edges' except the
  compliance events (`erased`, `opted_out`), and its erasure pseudonymises only its own
  events (`erasure_scoped`). Meeting a learner who has history elsewhere is recorded as
  `confined`. An edge without a region is confined for every learner, links from a hub
  before regions included (`trusted = -1`, below).
- When a roam refused earlier is granted, what the edge recorded of the learner
  meanwhile is passed on: those events take new sequence numbers, so edges whose pull
  cursor is already past them still receive them.
- An erasure from an edge applies on every edge only when the edge had **served** the
  learner before the batch: it was trusted for them and had pushed events of theirs
  other than erasures. Otherwise it pseudonymises only the edge's own events
  (`erasure_scoped`), as from an edge outside the region.
- An erasure issued on the hub (`learnline hub erase`) reaches every edge that knows the
  number, trusted or not.
- A cohort's invitation (`program_invited`) is the edge speaking of a number it has not
  served yet: it links the edge to the number confined (so the number's erasure and
  opt-out reach it) and gives it no history; the edge is decided as any other once it
  pushes anything else of the learner. Outside the edge's region an invitation of a
  learner held elsewhere is a `confined` audit row, as meeting them is (once per edge
  and learner: at the invitation, or at the edge's next push of the learner if nobody
  held them then). Invitations are kept on the hub (its figures
  across edges) and passed on to nobody, and they do not make an edge one that served
  the learner.

A link's `trusted` is 1 (trusted), 0 (confined) or -1: made before the hub had regions
and confined until the edge's region is set (`narrow`); then those in the region are
trusted again and given what they missed meanwhile, and the others confined.

The statements here run inside the backend's ingest transaction, written once in the SQL
both backends speak, with `?` placeholders (`Sql.run`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.phones import region_of
from gateway.store.events import HUB_EDGE as HUB_EDGE
from gateway.store.events import QUESTION_KINDS

DEFAULT_ROAM_LIMIT = 60  # learners roaming in, per edge, per ROAM_WINDOW_SECONDS
ROAM_WINDOW_SECONDS = 3600.0
COMPLIANCE_KINDS = ("erased", "opted_out")  # reach every edge that knows the learner
COMPLIANCE_SQL = "(" + ", ".join(f"'{kind}'" for kind in COMPLIANCE_KINDS) + ")"
# Kept on the hub, passed on to no other edge (the hub answers questions: Questions in
# docs/sync.md; an answer reaches the edge that asked by a backfill entry of its own; the
# hub counts invitations: Programs in docs/sync.md).
INVITED = "program_invited"
PRIVATE_KINDS = (*QUESTION_KINDS, INVITED)
PRIVATE_SQL = "(" + ", ".join(f"'{kind}'" for kind in PRIVATE_KINDS) + ")"
QUESTION_SQL = "(" + ", ".join(f"'{kind}'" for kind in QUESTION_KINDS) + ")"
# A link `l` (edge_learners) to a learner of the edge: the edge pushed something of the
# number other than invitations. A number it only invited is no learner there yet.
LEARNER_LINK_SQL = ("EXISTS (SELECT 1 FROM events v WHERE v.learner = l.learner "
                    f"AND v.edge = l.edge AND v.kind <> '{INVITED}')")
PREFIX_RE = re.compile(r"\+[0-9]{0,14}")
COUNTRY_RE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Region:
    """The numbers an edge is trusted for: of these countries (ISO 3166, as
    phonenumbers places a number) or starting with these prefixes ("+" alone: every
    number). Empty: none, the edge is confined for every learner."""

    countries: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, countries: Iterable[str] = (), prefixes: Iterable[str] = ()) -> Region:
        """A region from what an operator typed; ValueError naming the bad value."""
        import phonenumbers

        checked_countries = []
        for country in countries:
            code = str(country).strip().upper()
            if not COUNTRY_RE.fullmatch(code) or code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"country {country!r}: not an ISO 3166 code such as NG")
            checked_countries.append(code)
        checked_prefixes = []
        for prefix in prefixes:
            text = str(prefix).strip().replace(" ", "")
            if not PREFIX_RE.fullmatch(text):
                raise ValueError(f"prefix {prefix!r}: '+' and up to 14 digits, such as "
                                 "+23480 ('+' alone: every number)")
            checked_prefixes.append(text)
        return cls(tuple(sorted(set(checked_countries))), tuple(sorted(set(checked_prefixes))))

    @classmethod
    def from_columns(cls, countries: str, prefixes: str) -> Region:
        """The region as the edges table keeps it (space-separated)."""
        return cls(tuple(countries.split()), tuple(prefixes.split()))

    def columns(self) -> tuple[str, str]:
        """(countries, prefixes) for the edges table."""
        return " ".join(self.countries), " ".join(self.prefixes)

    def covers(self, learner: str) -> bool:
        """Whether the number is in this region (a pseudonym never is)."""
        if not learner.startswith("+"):
            return False
        if any(learner.startswith(prefix) for prefix in self.prefixes):
            return True
        if not self.countries:
            return False

        return region_of(learner) in self.countries

    def describe(self) -> str:
        """For people: "NG +23480", or "none (confined)"."""
        return " ".join((*self.countries, *self.prefixes)) or "none (confined)"


@dataclass(frozen=True)
class Sql:
    """The backend's connection, in one transaction, as the plan below needs it."""

    run: Callable[[str, Sequence[Any]], Any]  # `?` placeholders; returns a cursor
    # A condition "column is one of these values", and its one parameter.
    one_of: Callable[[str, list[str]], tuple[str, Any]]
    # A FROM item of these values, one row each, in a column `value`; its parameter.
    each: Callable[[list[str]], tuple[str, Any]]


@dataclass
class LinkPlan:
    """What one ingest does to the pushing edge's links with the batch's learners."""

    trusted: set[str] = field(default_factory=set)  # after the batch: events are shared
    trusted_before: set[str] = field(default_factory=set)  # before the batch
    insert: list[tuple[str, int]] = field(default_factory=list)  # (learner, trusted)
    upgrade: list[str] = field(default_factory=list)  # confined until now, trusted now
    backfill: list[str] = field(default_factory=list)  # their history elsewhere queued
    audit: list[tuple[str, str, int, str]] = field(default_factory=list)


def invited_only(events: Iterable[Any]) -> set[str]:
    """The learners of a batch (events with `learner` and `kind`) of whom it holds
    nothing but cohort invitations."""
    invited = {event.learner for event in events if event.kind == INVITED}
    return invited - {event.learner for event in events if event.kind != INVITED}


def plan_links(sql: Sql, edge_id: str, learners: list[str], base: int,
               now: float, invited: set[str] | frozenset[str] = frozenset()) -> LinkPlan:
    """Decide, for each learner of a batch `edge_id` pushes, whether the edge is trusted
    for them from now on, whose history it is given, and what goes into the audit (the
    module's rules). `base` is the sequence before the batch: history is what is stored
    up to it. Those of `invited` (the batch holds only invitations of theirs) the edge
    does not know yet are linked confined, with no history; outside the edge's region
    they are audited as any confined learner (`confined` when held elsewhere), and a
    link only invitations made is audited at the edge's next push of the learner when it
    was not then. Reads only; `apply_links` writes."""
    plan = LinkPlan()
    condition, values = sql.one_of("learner", learners)
    known = {row[0]: row[1] == 1 for row in sql.run(
        f"SELECT learner, trusted FROM edge_learners WHERE edge = ? AND {condition}",
        (edge_id, values))}
    plan.trusted = {learner for learner, trusted in known.items() if trusted}
    plan.trusted_before = set(plan.trusted)
    undecided = [learner for learner in learners if not known.get(learner)]
    if not undecided:
        return plan
    countries, prefixes, limit = sql.run(
        "SELECT countries, prefixes, roam_limit FROM edges WHERE id = ?",
        (edge_id,)).fetchone()
    region = Region.from_columns(countries, prefixes)
    condition, values = sql.one_of("learner", undecided)
    history: dict[str, dict[str, int]] = {}
    for learner, edge, count in sql.run(
            f"SELECT learner, edge, count(*) FROM events WHERE {condition} AND edge <> ? "
            "AND shared = 1 AND seq <= ? GROUP BY learner, edge",
            (values, edge_id, base)):
        history.setdefault(learner, {})[edge] = int(count)
    unrecorded = _invited_unrecorded(sql, edge_id, [
        learner for learner in undecided if learner in known and not region.covers(learner)],
        base)
    roams: int | None = None
    for learner in undecided:
        linked = learner in known
        covered = region.covers(learner)
        elsewhere = history.get(learner, {})
        events = sum(elsewhere.values())
        sources = ", ".join(sorted(elsewhere))
        if not covered:
            # Confined, whether the edge invites the number or serves it; on the audit
            # when the learner is held elsewhere, once: when the link is made, or, for a
            # link an invitation made before anyone held the number, later.
            if not linked:
                plan.insert.append((learner, 0))
            if events and (not linked or learner in unrecorded):
                plan.audit.append((learner, "confined", 0, f"outside the edge's region "
                                   f"({region.describe()}); held by {sources}"))
            continue
        if learner in invited:
            if not linked:
                plan.insert.append((learner, 0))
            continue
        if events:
            if roams is None:
                roams = sql.run("SELECT count(*) FROM audit WHERE edge = ? "
                                "AND action = 'roamed' AND at > ?",
                                (edge_id, now - ROAM_WINDOW_SECONDS)).fetchone()[0]
            if roams >= limit:
                if not linked:
                    plan.insert.append((learner, 0))
                plan.audit.append((learner, "roam_refused", 0, f"over the edge's limit of "
                                   f"{limit} an hour; held by {sources}"))
                continue
            roams += 1
            plan.backfill.append(learner)
            plan.audit.append((learner, "roamed", events, f"from {sources}"))
        if linked:
            plan.upgrade.append(learner)
        else:
            plan.insert.append((learner, 1))
        plan.trusted.add(learner)
    return plan


def _invited_unrecorded(sql: Sql, edge_id: str, learners: list[str], base: int
                        ) -> set[str]:
    """Those of `learners` (linked to `edge_id`) whose link an invitation made: confined,
    the edge pushed invitations of them and nothing else (up to `base`), and no
    `confined` audit row of the edge for them yet."""
    if not learners:
        return set()
    condition, values = sql.one_of("l.learner", learners)
    return {row[0] for row in sql.run(
        f"SELECT l.learner FROM edge_learners l WHERE l.edge = ? AND {condition} "
        "AND l.trusted = 0 AND EXISTS (SELECT 1 FROM events v WHERE v.learner = l.learner "
        f"AND v.edge = l.edge AND v.kind = '{INVITED}') "
        "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.learner = l.learner "
        f"AND v.edge = l.edge AND v.kind <> '{INVITED}' AND v.seq <= ?) "
        "AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.edge = l.edge "
        "AND a.learner = l.learner AND a.action = 'confined')",
        (edge_id, values, base))}


def apply_links(sql: Sql, edge_id: str, plan: LinkPlan, base: int, last: int,
                now: float) -> int:
    """Write `plan`: links, backfill (numbered after `last`) and audit rows; returns the
    sequence's new end. One statement each, whatever the batch: PostgreSQL runs them
    holding the sequence."""
    for trusted in (0, 1):
        learners = [learner for learner, flag in plan.insert if flag == trusted]
        if learners:
            rows, values = sql.each(learners)
            sql.run("INSERT INTO edge_learners (edge, learner, since_seq, trusted) "
                    f"SELECT ?, value, ?, ? FROM {rows} WHERE true "
                    "ON CONFLICT (edge, learner) DO NOTHING",
                    (edge_id, base, trusted, values))
    if plan.upgrade:
        condition, values = sql.one_of("learner", plan.upgrade)
        sql.run(f"UPDATE edge_learners SET trusted = 1, since_seq = ? "
                f"WHERE edge = ? AND {condition}", (base, edge_id, values))
    if plan.backfill:
        condition, values = sql.one_of("learner", plan.backfill)
        last += sql.run(
            "INSERT INTO backfill (seq, edge, event_seq) "
            "SELECT ? + row_number() OVER (ORDER BY seq), ?, seq FROM events "
            f"WHERE {condition} AND edge <> ? AND shared = 1 AND seq <= ?",
            (last, edge_id, values, edge_id, base)).rowcount
    if plan.upgrade:
        last = share_held(sql, edge_id, plan.upgrade, last)
    for start in range(0, len(plan.audit), 100):
        rows = plan.audit[start:start + 100]
        sql.run("INSERT INTO audit (at, edge, learner, action, events, detail) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows)),
                [value for row in rows for value in (now, edge_id, *row)])
    return last


def share_held(sql: Sql, edge_id: str, learners: list[str], last: int) -> int:
    """Pass on what `edge_id` recorded of `learners` while confined for them (it is
    trusted for them now): those events take new sequence numbers after `last`, in
    their order, so that every edge's pull stream still brings them whatever its
    cursor. Returns the sequence's new end."""
    condition, values = sql.one_of("learner", learners)
    return last + sql.run(
        "UPDATE events SET seq = held.new_seq, shared = 1 FROM ("
        "SELECT seq AS old_seq, ? + row_number() OVER (ORDER BY seq) AS new_seq "
        f"FROM events WHERE edge = ? AND shared = 0 AND {condition} "
        f"AND kind NOT IN {PRIVATE_SQL}) AS held "
        "WHERE events.seq = held.old_seq", (last, edge_id, values)).rowcount


def served(sql: Sql, edge_id: str, plan: LinkPlan, learners: list[str], base: int
           ) -> set[str]:
    """Those of `learners` that `edge_id` had served before the batch (sequence up to
    `base`): it was trusted for them and had pushed events of theirs other than
    erasures and invitations. Only such an edge's erasure applies on every edge."""
    candidates = [learner for learner in learners if learner in plan.trusted_before]
    if not candidates:
        return set()
    condition, values = sql.one_of("learner", candidates)
    return {row[0] for row in sql.run(
        f"SELECT DISTINCT learner FROM events WHERE edge = ? AND {condition} "
        f"AND kind NOT IN ('erased', '{INVITED}') AND seq <= ?", (edge_id, values, base))}


def record(sql: Sql, now: float, edge_id: str, learner: str, action: str, events: int = 0,
           detail: str = "") -> None:
    """One row of the hub's audit."""
    sql.run("INSERT INTO audit (at, edge, learner, action, events, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (now, edge_id, learner, action, events, detail))


def erase(sql: Sql, edge_id: str, learner: str, trusted: bool, now: float,
          pseudonym: Callable[[], str]) -> int:
    """Apply an erasure of `learner` that `edge_id` pushed (or the hub issued: trusted).
    Trusted: every other event of the number takes a pseudonym and loses its data (the
    `erased` event keeps the number, to reach every edge that knows it), and so do the
    audit rows. Confined: only the edge's own events and audit rows of the number do,
    the `erased` event included, so it reaches no one, and the hub's answers sent to that
    edge alone. Returns how many events took
    the pseudonym."""
    alias = pseudonym()
    if trusted:
        changed = sql.run("UPDATE events SET learner = ?, data = '{}' "
                          "WHERE learner = ? AND kind <> 'erased'", (alias, learner)).rowcount
        sql.run("UPDATE audit SET learner = ? WHERE learner = ?", (alias, learner))
        record(sql, now, edge_id, alias, "erased", changed)
    else:
        changed = sql.run("UPDATE events SET learner = ?, data = '{}' "
                          "WHERE learner = ? AND edge = ?", (alias, learner, edge_id)).rowcount
        # And what the hub sent that edge alone of the learner (tutors' answers).
        changed += sql.run("UPDATE events SET learner = ?, data = '{}' "
                           f"WHERE learner = ? AND edge = ? AND kind IN {PRIVATE_SQL} "
                           "AND seq IN (SELECT event_seq FROM backfill WHERE edge = ?)",
                           (alias, learner, HUB_EDGE, edge_id)).rowcount
        sql.run("UPDATE audit SET learner = ? WHERE learner = ? AND edge = ?",
                (alias, learner, edge_id))
        record(sql, now, edge_id, alias, "erasure_scoped", changed)
    return changed


def narrow(sql: Sql, edge_id: str, region: Region, last: int, now: float
           ) -> tuple[int, int]:
    """After an edge's region changed: its trusted links to learners outside the new
    region become confined (those inside it that were confined become trusted at the
    edge's next push of theirs, as a roam). Links from before the hub had regions
    (`trusted = -1`) are decided now, when the region is not empty: inside it they are
    trusted again, given the other edges' events of the learner they missed while
    confined (backfill, numbered after `last`), and what the edge recorded meanwhile is
    passed on (`share_held`), each learner given anything an audit row `trusted_again`;
    outside it they are confined. Returns how many links were confined now, and the
    sequence's new end."""
    outside = [row[0] for row in sql.run(
        "SELECT learner FROM edge_learners WHERE edge = ? AND trusted = 1", (edge_id,))
        if not region.covers(row[0])]
    if region.countries or region.prefixes:
        waiting = [row[0] for row in sql.run(
            "SELECT learner FROM edge_learners WHERE edge = ? AND trusted = -1", (edge_id,))]
        inside = [learner for learner in waiting if region.covers(learner)]
        outside += [learner for learner in waiting if not region.covers(learner)]
        since = last  # every event of other edges is at or below it
        for start in range(0, len(inside), 1000):
            condition, values = sql.one_of("l.learner", inside[start:start + 1000])
            queued = last
            last += sql.run(
                "INSERT INTO backfill (seq, edge, event_seq) "
                "SELECT ? + row_number() OVER (ORDER BY e.seq), ?, e.seq FROM events e "
                "JOIN edge_learners l ON l.edge = ? AND l.learner = e.learner "
                f"WHERE l.trusted = -1 AND {condition} AND e.edge <> ? AND e.shared = 1 "
                f"AND e.seq > l.since_seq AND e.kind NOT IN {COMPLIANCE_SQL}",
                (last, edge_id, edge_id, values, edge_id)).rowcount
            sql.run("INSERT INTO audit (at, edge, learner, action, events, detail) "
                    "SELECT ?, ?, e.learner, 'trusted_again', count(*), ? FROM backfill b "
                    "JOIN events e ON e.seq = b.event_seq WHERE b.edge = ? AND b.seq > ? "
                    "GROUP BY e.learner",
                    (now, edge_id, f"known before the hub had regions; in its region "
                     f"{region.describe()}", edge_id, queued))
            last = share_held(sql, edge_id, inside[start:start + 1000], last)
            condition, values = sql.one_of("learner", inside[start:start + 1000])
            sql.run(f"UPDATE edge_learners SET trusted = 1, since_seq = ? "
                    f"WHERE edge = ? AND {condition}", (since, edge_id, values))
    for start in range(0, len(outside), 1000):
        condition, values = sql.one_of("learner", outside[start:start + 1000])
        sql.run(f"UPDATE edge_learners SET trusted = 0 WHERE edge = ? AND {condition}",
                (edge_id, values))
    return len(outside), last
