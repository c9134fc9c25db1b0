"""The hub's store: one interface (`HubStore`), two backends (SQLite, PostgreSQL).

`open_hub_store()` picks the backend from a URL. Both keep the same tables and make the
same promises, and the same tests run against each (tests/hub/test_hub_store.py). The
rules every backend keeps (docs/sync.md, "The hub's storage"):

- **Sequence.** Every stored event, and every backfill entry (below), takes the next
  number of one hub-wide sequence (`hub_sequence.last_seq`, a counter row updated in the
  ingest's own transaction). Ingests take that row first and hold it until they commit,
  so numbers are handed out in commit order: whatever a reader sees is a prefix of the
  sequence, and a pull cursor never passes an event that is still to commit.
- **Pull.** An edge gets the events of the learners it knows (`edge_learners`: it pushed
  an event of theirs), recorded by other edges, in sequence order after its cursor, as
  far as it is trusted for them (`gateway.hub.confine`: the number in the edge's
  registered region; otherwise only compliance events reach it, and what it records
  of the learner is passed on to nobody).
- **Backfill.** When an ingest makes an edge know a learner for the first time, the
  learner's events from other edges already stored (all below that moment, `since_seq`)
  are queued for that edge in `backfill`, each under a new sequence number; the events
  stream gives that pair only what comes after `since_seq`. So an edge receives each of
  its learners' events from elsewhere once, in its pull stream, wherever its cursor was
  when it met the learner. Events an edge recorded while confined for a learner are
  renumbered (the next numbers) when it becomes trusted for them, and so passed on.

A store holds one database connection: use one per thread.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from gateway import environment
from gateway.hub.confine import (
    DEFAULT_ROAM_LIMIT,
    HUB_EDGE,
    INVITED,
    LEARNER_LINK_SQL,
    Region,
)
from gateway.store import default_db_path
from gateway.store.cohorts import NAME_CHARS as MAX_COHORT_NAME  # what edges send
from gateway.store.events import is_moment

# The event format every edge speaks (docs/sync.md).
EVENT_FIELDS = frozenset({"id", "edge", "learner", "kind", "at", "data"})
EVENT_ID_RE = re.compile(r"[0-9a-f]{32}")
EDGE_ID_RE = re.compile(r"[a-z0-9-]{1,40}")
KIND_RE = re.compile(r"[a-z_]{1,32}")
DIGEST_RE = re.compile(r"[0-9A-Za-z._:-]{1,128}")
MAX_LEARNER_CHARS = 64
MAX_DATA_BYTES = 4096
MAX_PULL_LIMIT = 5000
MAX_TOKEN_CHARS = 256
# A cohort's definition as edges push it (docs/sync.md, Programs).
COHORT_FIELDS = frozenset({"uid", "program", "name", "course", "starts_on"})
PROGRAM_ID_RE = re.compile(r"[a-z0-9_-]{1,40}")
COURSE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A day of what an edge sent for a program, as edges push it (docs/sync.md, Programs).
SPEND_FIELDS = frozenset({"day", "program", "currency", "messages", "segments", "cost"})
MAX_CURRENCY_CHARS = 8  # as the carriers file keeps a carrier's currency
MAX_SPEND_COUNT = 10**12
MAX_SPEND_COST = 1e15

Clock = Callable[[], float]


class HubError(Exception):
    """Something the hub's store refuses (a base class for the store's own errors)."""


class UnknownEdge(HubError, LookupError):
    """No such edge, or the edge is revoked."""


class PackNotFound(HubError, LookupError):
    """No pack with that digest."""


class PackConflict(HubError, ValueError):
    """A pack whose version is already published with other bytes, or is not newer."""


@dataclass(frozen=True)
class EdgeInfo:
    """One edge as the hub knows it (times in epoch seconds, None: never)."""

    edge_id: str
    name: str
    created_at: float
    revoked: bool
    last_push_at: float | None
    last_pull_at: float | None
    events: int  # events this edge pushed that the hub stored (duplicates not counted)
    region: Region = field(default_factory=Region)  # numbers it is trusted for (confine)
    roam_limit: int = DEFAULT_ROAM_LIMIT  # learners roaming in, an hour


@dataclass(frozen=True)
class AuditEntry:
    """One row of the hub's audit (gateway.hub.confine): a learner's history given to an
    edge (`roamed`, `trusted_again`), refused (`roam_refused`, `confined`), or an
    erasure (`erased`, `erasure_scoped`; the learner is then a pseudonym)."""

    id: int
    at: float
    edge: str
    learner: str
    action: str
    events: int
    detail: str


@dataclass
class IngestResult:
    """What one ingest did with a batch.

    `acknowledged` lists the ids now safely stored (new or already there), in batch order:
    the edge may forget about those. `rejected` holds (event id, or its index in the batch
    when it has no valid id, reason) for each malformed event; none of those is stored.
    """

    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[str | int, str]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)


@dataclass
class PullResult:
    """Events for an edge in sequence order, the cursor to ask from next time, and
    whether more are waiting now (`more`: pull again at once)."""

    events: list[dict[str, Any]]
    next_cursor: int
    more: bool


@dataclass(frozen=True)
class PackInfo:
    """A published course pack."""

    version: int
    digest: str
    size: int
    created_at: float


@dataclass(frozen=True)
class EdgeStats:
    """One edge's share of the hub's data; `lag_seconds` = now - last push (None: never).
    `learners`: the numbers it pushed anything of but cohort invitations; `invited`: the
    numbers it pushed nothing of but invitations (no learners there yet)."""

    edge_id: str
    name: str
    revoked: bool
    events: int
    learners: int
    last_push_at: float | None
    lag_seconds: float | None
    invited: int = 0


_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")

# HubStore.stats in one statement for both databases: each edge's figures, with the
# learners in all and those on several edges repeated on every row. Whether a link is a
# learner's (LEARNER_LINK_SQL reads their events) is asked once a link.
STATS_SQL = f"""
    WITH served AS MATERIALIZED (
        SELECT l.edge, l.learner FROM edge_learners l WHERE {LEARNER_LINK_SQL}),
    per_learner AS (SELECT learner, count(*) AS edges FROM served GROUP BY learner),
    served_by_edge AS (SELECT edge, count(*) AS n FROM served GROUP BY edge),
    links_by_edge AS (SELECT edge, count(*) AS n FROM edge_learners GROUP BY edge)
    SELECT e.id, e.name, e.revoked_at, e.events_pushed, coalesce(s.n, 0), e.last_push_at,
           coalesce(k.n, 0) - coalesce(s.n, 0),
           (SELECT count(*) FROM per_learner),
           (SELECT count(*) FROM per_learner WHERE edges > 1)
    FROM edges e LEFT JOIN served_by_edge s ON s.edge = e.id
         LEFT JOIN links_by_edge k ON k.edge = e.id
    ORDER BY e.id"""


@dataclass(frozen=True)
class HubStats:
    """Cross-edge figures: events and learners in all, learners known on more than one
    edge (they moved or use several), and each edge's counts and lag. A number an edge
    only invited (cohort invitations) is no learner of that edge."""

    at: float
    events: int
    learners: int
    learners_on_several_edges: int
    edges: list[EdgeStats]


@dataclass(frozen=True)
class ProgramFigures:
    """One program's members on one edge, from the `program_joined` events the hub holds:
    the learners who joined it there, and those of them who joined in the last `days`."""

    program: str
    edge_id: str
    members: int
    joined_recently: int


@dataclass(frozen=True)
class CohortFigures:
    """One cohort of a program across edges, from the `program_joined` events the hub
    holds: its uid and name, the learners it brought in per edge where they joined
    ((edge id, members), by edge), and in all (a learner counted once)."""

    program: str
    cohort: str
    name: str
    edges: tuple[tuple[str, int], ...]
    members: int


@dataclass(frozen=True)
class CohortDefinition:
    """A cohort as the edge that created it pushed it: its uid (the same on every edge),
    program, name, course and start date (YYYY-MM-DD), the edge, when the hub got it."""

    uid: str
    edge_id: str
    program: str
    name: str
    course: str
    starts_on: str
    received_at: float


def check_cohort(cohort: Any) -> CohortDefinition | str:
    """A pushed cohort ready to store (edge and time to be set), or why it is not one."""
    if not isinstance(cohort, dict):
        return "not a JSON object"
    if cohort.keys() != COHORT_FIELDS:
        return f"fields: not {', '.join(sorted(COHORT_FIELDS))}"
    uid, program, name = cohort["uid"], cohort["program"], cohort["name"]
    course, starts_on = cohort["course"], cohort["starts_on"]
    if not isinstance(uid, str) or not EVENT_ID_RE.fullmatch(uid):
        return "uid: not 32 lowercase hex digits"
    if not isinstance(program, str) or not PROGRAM_ID_RE.fullmatch(program):
        return "program: not a program id"
    if not isinstance(name, str) or not 0 < len(name) <= MAX_COHORT_NAME \
            or not name.isprintable():
        return f"name: not 1 to {MAX_COHORT_NAME} printable characters"
    if not isinstance(course, str) or not COURSE_ID_RE.fullmatch(course):
        return "course: not a course id"
    if not isinstance(starts_on, str) or not DATE_RE.fullmatch(starts_on) \
            or not _is_date(starts_on):
        return "starts_on: not a date (YYYY-MM-DD)"
    return CohortDefinition(uid, "", program, name, course, starts_on, 0.0)


@dataclass(frozen=True)
class KnownPrograms:
    """The programs the hub takes edges' program figures for (cohorts, days of messages,
    invitations: docs/sync.md, Trust between edges): those of its programs file and of
    its published pack's courses, and the program of each course of that pack ('' for a
    course of none). No program known (no programs file, no pack naming one): nothing
    to check against, and nothing is refused."""

    programs: frozenset[str] = frozenset()
    courses: dict[str, str] = field(default_factory=dict)  # course id -> its program

    def refuse(self, program: Any, course: Any = None) -> tuple[str, str] | None:
        """(field, reason) when `program` is not one the hub knows, or `course` is a
        course of the pack of another program; None when the hub takes them."""
        if not self.programs:
            return None
        if not isinstance(program, str) or program not in self.programs:
            return "program", (f"{str(program)[:40]!r} is not a program of this hub "
                               "(its programs file, its course pack)")
        owner = self.courses.get(course) if isinstance(course, str) else None
        if owner is not None and owner != program:
            return "course", (f"{course!r} is a course of "
                              + (f"program {owner!r}" if owner else "no program")
                              + " in the hub's course pack")
        return None


@dataclass(frozen=True)
class SpendDay:
    """What one edge sent for one program on one UTC day (YYYY-MM-DD), in one currency,
    as the edge prices its messages: messages, SMS segments, and their cost (None: the
    edge has no price for them). `edge_id` '' until the hub stores it."""

    edge_id: str
    program: str
    day: str
    currency: str
    messages: int
    segments: int
    cost: float | None


def _count(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and 0 <= value <= MAX_SPEND_COUNT)


def check_spends(items: list[Any], known: KnownPrograms = KnownPrograms()
                 ) -> list[SpendDay] | str:
    """The days an edge pushed, ready to store, or why the push is refused, naming the
    row and its field (`spends[2].day: not a date (YYYY-MM-DD)`, or a program not among
    `known`'s): one bad row refuses them all."""
    checked: list[SpendDay] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(items):
        where = f"spends[{index}]"
        if not isinstance(item, dict):
            return f"{where}: not a JSON object"
        if item.keys() != SPEND_FIELDS:
            return f"{where}: fields: not {', '.join(sorted(SPEND_FIELDS))}"
        day, program, currency = item["day"], item["program"], item["currency"]
        messages, segments, cost = item["messages"], item["segments"], item["cost"]
        if not isinstance(day, str) or not DATE_RE.fullmatch(day) or not _is_date(day):
            return f"{where}.day: not a date (YYYY-MM-DD)"
        if not isinstance(program, str) or not PROGRAM_ID_RE.fullmatch(program):
            return f"{where}.program: not a program id ([a-z0-9_-], 1 to 40)"
        refused = known.refuse(program)
        if refused:
            return f"{where}.{refused[0]}: {refused[1]}"
        if not isinstance(currency, str) or len(currency) > MAX_CURRENCY_CHARS \
                or not currency.isprintable() or currency != currency.strip():
            return f"{where}.currency: not at most {MAX_CURRENCY_CHARS} printable characters"
        if not _count(messages):
            return f"{where}.messages: not a whole number, 0 or more"
        if not _count(segments):
            return f"{where}.segments: not a whole number, 0 or more"
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)
                                 or not math.isfinite(cost)
                                 or not 0 <= cost <= MAX_SPEND_COST):
            return f"{where}.cost: not a number, 0 or more, or null"
        earlier = seen.setdefault((program, day, currency), index)
        if earlier != index:
            return f"{where}: the same day, program and currency as spends[{earlier}]"
        checked.append(SpendDay("", program, day, currency, messages, segments,
                                None if cost is None else float(cost)))
    return checked


def _is_date(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ValidEvent:
    """An event that passed validation, its `data` serialized as stored."""

    id: str
    edge: str
    learner: str
    kind: str
    at: float
    data: str


_encode_data = json.JSONEncoder(ensure_ascii=False, allow_nan=False,
                               separators=(",", ":")).encode


def check_event(event: Any, edge_id: str) -> ValidEvent | str:
    """The event ready to store, or the reason it is malformed (str)."""
    if not isinstance(event, dict):
        return "not a JSON object"
    if event.keys() != EVENT_FIELDS:
        unknown = sorted(str(key) for key in event if key not in EVENT_FIELDS)
        if unknown:
            return f"unknown field(s): {', '.join(unknown)[:100]}"
        return f"missing field(s): {', '.join(sorted(EVENT_FIELDS - event.keys()))}"
    event_id = event["id"]
    if not isinstance(event_id, str) or not EVENT_ID_RE.fullmatch(event_id):
        return "id: not 32 lowercase hex digits"
    edge = event["edge"]
    if edge != edge_id:
        if not isinstance(edge, str) or not EDGE_ID_RE.fullmatch(edge):
            return "edge: not an edge id ([a-z0-9-], 1 to 40)"
        return f"edge: {edge!r} is not the edge pushing it"
    learner = event["learner"]
    if (not isinstance(learner, str) or not 0 < len(learner) <= MAX_LEARNER_CHARS
            or not learner.isprintable()):
        return f"learner: not 1 to {MAX_LEARNER_CHARS} printable characters"
    kind = event["kind"]
    if not isinstance(kind, str) or not KIND_RE.fullmatch(kind):
        return "kind: not [a-z_], 1 to 32"
    at = event["at"]
    if not is_moment(at):
        return "at: not epoch seconds from 1970 to 9999"
    data = event["data"]
    if not isinstance(data, dict):
        return "data: not a JSON object"
    try:
        text = _encode_data(data)
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
    except (TypeError, ValueError):  # NaN, a non-JSON value, a lone surrogate
        return "data: not valid JSON"
    if size > MAX_DATA_BYTES:
        return f"data: {size} bytes serialized, more than {MAX_DATA_BYTES}"
    return ValidEvent(event_id, edge, learner, kind, float(at), text)


def event_document(event_id: str, edge: str, learner: str, kind: str, at: float,
                   data: str) -> dict[str, Any]:
    """A stored event back in the edges' format."""
    return {"id": event_id, "edge": edge, "learner": learner, "kind": kind, "at": at,
            "data": json.loads(data)}


def erased_learners(events: list[ValidEvent]) -> list[str]:
    """The learners these newly stored events erase."""
    return sorted({event.learner for event in events if event.kind == "erased"})


def pseudonym() -> str:
    """A fresh stand-in for an erased learner's number, as the edges make them."""
    return f"erased:{secrets.token_hex(8)}"


def token_hash(token: str) -> str:
    """What the hub keeps of an edge's token. The token is 256 random bits, so one
    SHA-256 is enough: nobody can search that space, and a leaked table gives no token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_NO_HASH = token_hash("no edge has this token")
# What `learnline export` leaves out (docs/integrations.md, Research exports): erased
# learners, and the kinds that are no learning (gateway/store/event_export.py).
EXPORT_WHERE = ("e.learner NOT LIKE 'erased:%' "
                "AND e.kind NOT IN ('erased', 'readmitted', 'program_invited')")


class HubStore(abc.ABC):
    """The hub's data: edges and their credentials, every edge's events, course packs,
    and cross-edge statistics. One connection; one store per thread."""

    backend: str = ""

    def __init__(self, clock: Clock = time.time):
        # Wall-clock time (epoch seconds) for what is stored; a test may turn it.
        self.clock = clock

    # -- schema ----------------------------------------------------------------

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Create or upgrade the schema; return the versions applied now ([] when up to
        date). Idempotent, and safe when several hub processes start at once (one applies,
        the others wait and find nothing to do)."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version applied (0: none)."""

    # -- edges -----------------------------------------------------------------

    def add_edge(self, edge_id: str, name: str = "", *, region: Region | None = None,
                 roam_limit: int | None = None) -> str:
        """Register `edge_id` and return its new token (shown this once; only its hash is
        kept). Adding an existing edge gives it a new token (the old one stops working),
        readmits it if it was revoked, and renames it when `name` is given. `region` and
        `roam_limit` as set_edge() takes them; a new edge without a region is confined
        for every learner."""
        if not isinstance(edge_id, str) or not EDGE_ID_RE.fullmatch(edge_id):
            raise ValueError(f"edge id {edge_id!r}: [a-z0-9-], 1 to 40 characters")
        if edge_id == HUB_EDGE:
            raise ValueError(f"edge id {edge_id!r} is the hub's own")
        token = secrets.token_urlsafe(32)
        self._put_edge(edge_id, name, token_hash(token))
        if region is not None or roam_limit is not None:
            self.set_edge(edge_id, region=region, roam_limit=roam_limit)
        return token

    def set_edge(self, edge_id: str, *, region: Region | None = None,
                 roam_limit: int | None = None) -> int:
        """Set the numbers an edge is trusted for and how many learners may roam into it
        an hour (None: unchanged). Learners it knew outside the new region are confined
        from now on; returns how many. Those it knew from before the hub had regions and
        in the new region are trusted again, and given what they missed meanwhile
        (gateway.hub.confine.narrow). UnknownEdge if there is no such edge."""
        if roam_limit is not None and (isinstance(roam_limit, bool)
                                       or not isinstance(roam_limit, int) or roam_limit < 0):
            raise ValueError("roam_limit: a whole number, 0 or more")
        return self._set_edge(edge_id, region, roam_limit)

    @abc.abstractmethod
    def _set_edge(self, edge_id: str, region: Region | None, roam_limit: int | None) -> int:
        """set_edge() once its arguments are checked."""

    @abc.abstractmethod
    def _put_edge(self, edge_id: str, name: str, hashed: str) -> None:
        """Insert the edge, or give an existing one this token hash (and name, if any)."""

    @abc.abstractmethod
    def revoke_edge(self, edge_id: str) -> None:
        """Refuse the edge from now on: authenticate() is False for it, ingest() and
        pull() raise UnknownEdge. Its events stay. UnknownEdge if there is no such edge."""

    @abc.abstractmethod
    def edges(self) -> list[EdgeInfo]:
        """Every edge, revoked ones included, by id."""

    def authenticate(self, edge_id: str, token: str) -> bool:
        """Whether `token` is the current token of `edge_id`, an active edge. The compare
        takes the same time whatever the token; an unknown edge costs the same work."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return False
        if not isinstance(edge_id, str) or not EDGE_ID_RE.fullmatch(edge_id):
            return False
        stored = self._active_token_hash(edge_id)
        matches = hmac.compare_digest(token_hash(token), stored or _NO_HASH)
        return matches and stored is not None

    @abc.abstractmethod
    def _active_token_hash(self, edge_id: str) -> str | None:
        """The token hash of an active edge; None when unknown or revoked."""

    # -- events ----------------------------------------------------------------

    def ingest(self, edge_id: str, events: list[Any],
               known: KnownPrograms = KnownPrograms()) -> IngestResult:
        """Store a batch of `edge_id`'s events in one transaction, idempotently by event
        id: new events get the next sequence numbers (in batch order), events already
        stored (or repeated in the batch) count as duplicates, malformed ones are
        rejected with a reason and not stored. The edge then knows each valid event's
        learner, trusted or confined (gateway.hub.confine: a learner of its region met
        for the first time queues their earlier events from other edges for it, the
        module's backfill rule, within the edge's roam limit and audited), its events
        are passed on only for learners it is trusted for, an `erased` one applies as
        far as it is trusted, and its last push time moves. A cohort's invitation
        (`program_invited`) naming a program not among `known`'s, or a course of the
        pack's of another program, is rejected as malformed is. UnknownEdge when the
        edge is unknown or revoked (nothing stored)."""
        result = IngestResult()
        valid: list[ValidEvent] = []
        seen: set[str] = set()
        order: list[str] = []  # ids of valid events, batch order, first occurrence
        for index, event in enumerate(events):
            checked = check_event(event, edge_id)
            if not isinstance(checked, str) and checked.kind == INVITED:
                data = event["data"]
                refused = known.refuse(data.get("program"), data.get("course"))
                if refused:
                    checked = f"data.{refused[0]}: {refused[1]}"
            if isinstance(checked, str):
                key = event.get("id") if isinstance(event, dict) else None
                result.rejected.append(
                    (key if isinstance(key, str) and EVENT_ID_RE.fullmatch(key) else index,
                     checked))
                continue
            if checked.id in seen:
                result.duplicates += 1
                continue
            seen.add(checked.id)
            valid.append(checked)
            order.append(checked.id)
        stored = self._store_events(edge_id, valid)
        result.stored = stored
        result.duplicates += len(valid) - stored
        result.acknowledged = order
        return result

    @abc.abstractmethod
    def _store_events(self, edge_id: str, events: list[ValidEvent]) -> int:
        """In one transaction: store those of `events` not stored yet (with sequence
        numbers), the edge's new learners and their backfill, the edge's push time and
        count; return how many events were new. UnknownEdge for an unknown or revoked
        edge (nothing changes)."""

    def erase(self, learner: str) -> int:
        """Erase a learner from the hub, for every edge: an `erased` event recorded by the
        hub itself (edge "hub") reaches every edge that knows the number, trusted or
        confined, and every other event of the number takes a pseudonym and loses its
        data. Returns how many events did."""
        if not isinstance(learner, str) or not learner.startswith("+") \
                or not 1 < len(learner) <= MAX_LEARNER_CHARS or not learner[1:].isdigit():
            raise ValueError("learner: an E.164 number such as +2348030000000")
        now = self.clock()
        event = ValidEvent(f"{int(now * 1000):012x}{secrets.token_hex(10)}", HUB_EDGE,
                           learner, "erased", now, "{}")
        return self._erase(event)

    @abc.abstractmethod
    def _erase(self, event: ValidEvent) -> int:
        """Store the hub's `erased` event (the next sequence number, shared) and apply
        it (gateway.hub.confine.erase), in one transaction."""

    def send_to_edge(self, edge_id: str, learner: str, kind: str,
                     data: dict[str, Any]) -> str:
        """Record an event of the hub's own (edge "hub") for `learner` that reaches
        `edge_id` alone: kept unshared, with a backfill entry for that edge, so its next
        pull brings it whatever the edge's trust for the number (it carries the hub's
        reply to what that edge sent). Returns the event's id. UnknownEdge when the edge
        is unknown or revoked (nothing stored)."""
        now = self.clock()
        checked = check_event({"id": f"{int(now * 1000):012x}{secrets.token_hex(10)}",
                               "edge": HUB_EDGE, "learner": learner, "kind": kind,
                               "at": now, "data": data}, HUB_EDGE)
        if isinstance(checked, str):
            raise ValueError(checked)
        self._send_to_edge(edge_id, checked)
        return checked.id

    def put_cohorts(self, edge_id: str, cohorts: list[Any],
                    known: KnownPrograms = KnownPrograms()
                    ) -> tuple[list[str], list[tuple[str | int, str]]]:
        """Keep the definitions of cohorts `edge_id` created (docs/sync.md, Programs):
        (uids acknowledged, (uid or index, reason) of those refused: malformed, of a
        program not among `known`'s, or with a course of the pack's of another program).
        A uid is the first edge's to push it: another edge's definition of it is
        acknowledged and changes nothing, as is the same edge's again. UnknownEdge for an
        unknown or revoked edge (nothing kept)."""
        valid: list[CohortDefinition] = []
        refused: list[tuple[str | int, str]] = []
        for index, cohort in enumerate(cohorts):
            checked = check_cohort(cohort)
            if isinstance(checked, CohortDefinition):
                wrong = known.refuse(checked.program, checked.course)
                if wrong:
                    checked = f"{wrong[0]}: {wrong[1]}"
            if isinstance(checked, str):
                uid = cohort.get("uid") if isinstance(cohort, dict) else None
                refused.append((uid if isinstance(uid, str) and EVENT_ID_RE.fullmatch(uid)
                                else index, checked))
                continue
            valid.append(checked)
        self._store_cohorts(edge_id, valid)
        return [cohort.uid for cohort in valid], refused

    @abc.abstractmethod
    def _store_cohorts(self, edge_id: str, cohorts: list[CohortDefinition]) -> None:
        """Insert the cohorts whose uid is not kept yet, as `edge_id`'s, in one
        transaction; UnknownEdge for an unknown or revoked edge (nothing kept)."""

    @abc.abstractmethod
    def cohort_definitions(self, program: str | None = None) -> list[CohortDefinition]:
        """The cohorts edges pushed (`program`'s alone when given), by program, name,
        uid."""

    @abc.abstractmethod
    def put_spends(self, edge_id: str, spends: list[SpendDay]) -> int:
        """Keep what `edge_id` sent for each program each day (checked by check_spends):
        for each (program, day) among them, the edge's rows of that day are replaced by
        these, in one transaction; other edges' rows are never touched. Returns how many
        rows were kept; UnknownEdge for an unknown or revoked edge (nothing kept)."""

    @abc.abstractmethod
    def program_spends(self, program: str, first_day: str, last_day: str
                       ) -> list[SpendDay]:
        """The days edges pushed for `program` from `first_day` to `last_day` (YYYY-MM-DD,
        both included), by edge, day, currency."""

    @abc.abstractmethod
    def _send_to_edge(self, edge_id: str, event: ValidEvent) -> None:
        """Store the event unshared and a backfill entry of it for the edge (two numbers
        of the sequence), in one transaction; UnknownEdge for an unknown or revoked edge."""

    @abc.abstractmethod
    def question_events(self, after: int, limit: int = 500) -> PullResult:
        """For the hub's copies of edges' questions (gateway/hub/questions.py): the events
        above `after`, in sequence order, that are edges' question events or erasures
        (any learner, pseudonymous ones included), from one snapshot; the cursor and
        `more` as pull() gives them."""

    def export_rows(self, since: float | None = None, until: float | None = None,
                    page: int = 5000) -> Iterator[tuple[str, str, str, str, float, str]]:
        """For `learnline export`: every edge's events (and the hub's own) recorded at or
        after `since` and before `until` (epoch seconds; None: no bound), as (id, edge,
        learner, kind, at, data as stored JSON), in sequence order, read `page` at a time
        from one snapshot (an event renumbered meanwhile is not read twice). Events of
        erased learners (a pseudonym, their data blanked), the erasure and readmission
        notices (an `erased` event may hold the number) and cohorts' invitations (to
        numbers that may never join) are left out."""
        low = float("-inf") if since is None else since
        high = float("inf") if until is None else until
        yield from self._export_rows(low, high, page)

    @abc.abstractmethod
    def _export_rows(self, low: float, high: float,
                     page: int) -> Iterator[tuple[str, str, str, str, float, str]]:
        """export_rows() with both bounds set (infinite where there is none)."""

    @abc.abstractmethod
    def pseudonymous(self, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` whose event now has a pseudonym for its learner (erased)."""

    @abc.abstractmethod
    def forget_question_texts(self, older_than: float) -> int:
        """Retention: question events recorded before `older_than` lose their texts (the
        question's and the answer's); returns how many events changed."""

    @abc.abstractmethod
    def audit(self, edge_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest `limit` rows of the hub's audit (of one edge, or all), oldest
        first."""

    @abc.abstractmethod
    def pull(self, edge_id: str, after: int, limit: int = 500) -> PullResult:
        """Up to `limit` events of the learners `edge_id` knows, recorded by other edges,
        whose sequence number is above `after`, in sequence order (backfill included: the
        module's rule; of a learner it is confined for, only compliance events), read
        from one snapshot. `next_cursor` is the `after` for the next call: the last
        event's number when `more`, else the end of the sequence as this snapshot saw it
        (never below `after`). Records the edge's pull time. UnknownEdge when the edge is
        unknown or revoked."""

    @staticmethod
    def _check_pull(after: int, limit: int) -> tuple[int, int]:
        if isinstance(after, bool) or not isinstance(after, int):
            raise TypeError("after: an int cursor")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit: a positive int")
        return max(after, 0), min(limit, MAX_PULL_LIMIT)

    @staticmethod
    def _page(rows: list[tuple], after: int, limit: int, last_seq: int) -> PullResult:
        """Merge (seq, id, edge, learner, kind, at, data) rows of the two streams (each
        at most limit + 1 long, in order) into one page."""
        rows = sorted(rows, key=lambda row: row[0])[:limit + 1]
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = rows[-1][0] if more else max(after, last_seq)
        return PullResult([event_document(*row[1:]) for row in rows], cursor, more)

    # -- packs -----------------------------------------------------------------

    def put_pack(self, data: bytes, version: int, digest: str) -> None:
        """Publish a course pack (its bytes kept in the database). Publishing the same
        version and digest again changes nothing; PackConflict when the version is
        already published with another digest, the digest under another version, or the
        version is not newer than the latest."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data: bytes")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ValueError("version: a non-negative int")
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise ValueError("digest: 1 to 128 of [0-9A-Za-z._:-]")
        self._put_pack(bytes(data), version, digest)

    @abc.abstractmethod
    def _put_pack(self, data: bytes, version: int, digest: str) -> None:
        """put_pack() once its arguments are checked."""

    @abc.abstractmethod
    def latest_pack(self) -> PackInfo | None:
        """The pack with the highest version, or None when none is published."""

    def read_pack(self, digest: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes [start, end) of the pack with that digest (`end` None: to its end; a
        range past the end is cut short, as a slice is). PackNotFound when no pack has
        that digest."""
        if start < 0 or (end is not None and end < 0):
            raise ValueError("start and end: offsets from 0")
        length = None if end is None else max(end - start, 0)
        return self._read_pack(digest, start, length)

    @abc.abstractmethod
    def _read_pack(self, digest: str, start: int, length: int | None) -> bytes:
        """`length` bytes (None: all the rest) of a pack from `start`."""

    # -- statistics ------------------------------------------------------------

    @abc.abstractmethod
    def stats(self) -> HubStats:
        """Events and learners in all, learners known on several edges, and per edge its
        events, learners, numbers it only invited, and lag (now - last push), edges by
        id. A learner of an edge is a number it pushed anything of but invitations."""

    def program_figures(self, program: str | None = None, *,
                        days: float = 7) -> list[ProgramFigures]:
        """Each program's members per edge where they joined (`program` alone when
        given), counted from the `program_joined` events the hub holds, and how many of
        them joined in the last `days` days; by program, then edge. An erased learner's
        events are pseudonymised and blanked on the hub, so they count nowhere. A
        learner who joined on two edges counts on each."""
        since = self.clock() - days * 86400
        first: dict[tuple[str, str, str], float] = {}
        for edge, learner, data, at in self._program_events("program_joined",
                                                            _mentioning(program)):
            if learner.startswith("erased:"):
                continue
            try:
                joined = json.loads(data).get("program")
            except ValueError:
                continue
            if not isinstance(joined, str) or (program is not None and joined != program):
                continue
            key = (joined, edge, learner)
            first[key] = min(at, first.get(key, at))
        figures: dict[tuple[str, str], list[int]] = {}
        for (joined, edge, _learner), at in first.items():
            counts = figures.setdefault((joined, edge), [0, 0])
            counts[0] += 1
            counts[1] += int(at >= since)
        return [ProgramFigures(joined, edge, members, recent)
                for (joined, edge), (members, recent) in sorted(figures.items())]

    def cohort_figures(self, program: str | None = None) -> list[CohortFigures]:
        """Each cohort's members across edges (`program`'s cohorts alone when given), by
        program, then cohort name and uid: a cohort is its uid, the same on every edge;
        its name is the latest event's. Joins without a cohort, or from an edge older
        than cohort uids (a numeric cohort), are left out; erased learners count
        nowhere."""
        joined: dict[tuple[str, str], dict[str, set[str]]] = {}
        names: dict[str, tuple[float, str]] = {}
        for edge, learner, data, at in self._program_events("program_joined",
                                                            _mentioning(program)):
            if learner.startswith("erased:"):
                continue
            try:
                parsed = json.loads(data)
            except ValueError:
                continue
            joined_program, cohort = parsed.get("program"), parsed.get("cohort")
            if not isinstance(joined_program, str) or not isinstance(cohort, str) \
                    or (program is not None and joined_program != program):
                continue
            name = parsed.get("cohort_name")
            if isinstance(name, str) and at >= names.get(cohort, (at, ""))[0]:
                names[cohort] = (at, name)
            joined.setdefault((joined_program, cohort), {}).setdefault(edge, set()).add(
                learner)
        figures = [CohortFigures(
            joined_program, cohort, names.get(cohort, (0.0, ""))[1],
            tuple((edge, len(learners)) for edge, learners in sorted(per_edge.items())),
            len(set().union(*per_edge.values())))
            for (joined_program, cohort), per_edge in joined.items()]
        return sorted(figures, key=lambda f: (f.program, f.name, f.cohort))

    def program_events(self, kind: str, program: str | None = None
                       ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(edge, learner, data, at) of every event of `kind` held (`program_joined`,
        `program_invited`) whose data is a JSON object naming a program (a string),
        `program` alone when given; erased learners' events (pseudonymised, blanked) are
        left out."""
        found = []
        for edge, learner, data, at in self._program_events(kind, _mentioning(program)):
            if learner.startswith("erased:"):
                continue
            try:
                parsed = json.loads(data)
            except ValueError:
                continue
            if isinstance(parsed, dict) and isinstance(parsed.get("program"), str) \
                    and (program is None or parsed["program"] == program):
                found.append((edge, learner, parsed, at))
        return found

    @abc.abstractmethod
    def _program_events(self, kind: str, mentioning: str | None = None
                        ) -> list[tuple[str, str, str, float]]:
        """(edge, learner, data, at) of every event of `kind` held; with `mentioning`,
        only those whose data holds that text (the database reads the rest, not Python;
        callers still check what the data says)."""

    @abc.abstractmethod
    def course_progress(self, courses: list[str]) -> list[tuple[str, str, str, str]]:
        """Each distinct (learner, kind, course, lesson) of the events held that show a
        learner's progress in one of `courses`: `enrolled`, `card_reached` past the
        course's very start (a card shown, or a lesson after the first), and
        `lesson_completed` (its lesson id; '' for the other kinds), `course_completed`;
        whichever edge recorded them. Erased learners (pseudonyms) are left out."""

    @abc.abstractmethod
    def first_answers(self, courses: list[str], since: float, until: float,
                      learners: list[str] | None = None
                      ) -> list[tuple[str, str, int, int, int]]:
        """(course, lesson, question from 0, first answers, right ones) of the
        `answered` events held in `courses` at a first try, recorded in [since, until),
        of `learners` alone when given; by course, lesson, question."""

    @abc.abstractmethod
    def lesson_completions(self, courses: list[str], since: float, until: float
                           ) -> list[tuple[str, str, int]]:
        """(course, lesson, learners) of the `lesson_completed` events held in `courses`
        recorded in [since, until), a learner counted once per lesson whichever edges
        recorded it; erased learners left out; by course, lesson."""

    @staticmethod
    def _stats(now: float, rows: list[tuple]) -> HubStats:
        """HubStats from STATS_SQL's rows."""
        edges = [EdgeStats(edge_id, name, revoked_at is not None, int(events), int(learners),
                           last_push, None if last_push is None else max(now - last_push, 0.0),
                           int(invited))
                 for edge_id, name, revoked_at, events, learners, last_push, invited, *_
                 in rows]
        learners, several = (int(rows[0][7]), int(rows[0][8])) if rows else (0, 0)
        return HubStats(now, sum(e.events for e in edges), learners, several, edges)

    # -- lifetime --------------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> HubStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mentioning(program: str | None) -> str | None:
    """The text an event naming `program` holds in its data, for the database to look for
    (a program's id as it stands in the JSON); None to read every event: no program, or
    an id that JSON might write otherwise."""
    return program if program and _PLAIN_ID.fullmatch(program) else None


def mentioning_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching any value that holds `text`."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def default_hub_db_path() -> Path:
    """The hub's SQLite file: `$LEARNLINE_HUB_DB`, else `hub.db` beside the gateway's
    database (`$LEARNLINE_DB`, else the working directory)."""
    configured = environment.get("LEARNLINE_HUB_DB", "").strip()
    return Path(configured) if configured else default_db_path().parent / "hub.db"


def open_hub_store(url: str | None = None, *, clock: Clock = time.time) -> HubStore:
    """The hub's store for `url`: `postgresql://...` or `postgres://...` (a libpq URI) is
    PostgreSQL; `sqlite:///relative.db`, `sqlite:////absolute.db` or a plain file path is
    SQLite. `url` None: `$LEARNLINE_HUB_DATABASE_URL` when set, else the SQLite file of
    `default_hub_db_path()`. The schema is not touched: call migrate(). ValueError for
    another scheme (the message never repeats the URL, which may hold a password)."""
    if url is None:
        url = environment.get("LEARNLINE_HUB_DATABASE_URL", "").strip() or None
    path = hub_sqlite_path(url)
    if path is not None:
        from gateway.hub.sqlite_store import SqliteHubStore

        return SqliteHubStore.open(path, clock=clock)
    assert url is not None
    try:
        from gateway.hub.postgres_store import PostgresHubStore
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise HubError("a hub on PostgreSQL needs psycopg: "
                       "pip install 'learnline[hub]'") from None
    return PostgresHubStore.connect(url, clock=clock)


def hub_sqlite_path(url: str | None = None) -> Path | None:
    """The SQLite file of the hub's store at `url`, read as `open_hub_store` reads it
    (`url` None: `$LEARNLINE_HUB_DATABASE_URL`, else `default_hub_db_path()`); None for a
    store on PostgreSQL. Opens nothing. ValueError for another scheme."""
    if url is None:
        url = environment.get("LEARNLINE_HUB_DATABASE_URL", "").strip() or None
    if url is None:
        return default_hub_db_path()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return Path(url)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return None
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError("a SQLite URL is sqlite:///relative/path or sqlite:////abs/path")
        return Path(rest[1:])
    raise ValueError(f"hub database URL scheme {scheme!r}: use postgresql://, sqlite:/// "
                     "or a file path")
