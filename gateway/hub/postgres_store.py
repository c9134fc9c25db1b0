"""The hub's store on PostgreSQL (psycopg 3), for a hub that outgrows one machine: the
engine operators already run with replication and backups. Chosen by a
`postgresql://` URL in `$LEARNLINE_HUB_DATABASE_URL`; needs the `hub` extra
(`pip install 'learnline[hub]'`).

The same tables and promises as the SQLite store. What differs is how writers agree on
the sequence: PostgreSQL runs ingests concurrently, and a plain sequence would hand out
numbers in start order while transactions commit in any order, so a puller could see
event 11 committed, move its cursor past it, and never see event 10 committed a moment
later. Here every ingest that stores something first locks the one `hub_sequence` row
(`SELECT ... FOR UPDATE`) and keeps it until it commits: numbers are taken in commit
order, and a later ingest reads the counter only once the earlier one is visible to
everybody. Pulls read in one REPEATABLE READ snapshot, which therefore always holds a
prefix of the sequence, and their cursor never skips an event. The price is one ingest
at a time per hub (a batch of 500 holds the row about 10 ms, the commit's flush
included: bench/hub_ingest.py, docs/sync.md); the checks, the parsing and the network
around it still run in parallel.

Lists go to the server as arrays in binary (`%b`): psycopg dumps a 500-element list
about three times faster that way than as text, and that time is spent holding the lock.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import psycopg

from gateway.hub import confine
from gateway.hub.confine import DEFAULT_ROAM_LIMIT, Region
from gateway.hub.store import (
    EXPORT_WHERE,
    STATS_SQL,
    AuditEntry,
    Clock,
    CohortDefinition,
    EdgeInfo,
    HubStats,
    HubStore,
    PackConflict,
    PackInfo,
    PackNotFound,
    PullResult,
    SpendDay,
    UnknownEdge,
    ValidEvent,
    erased_learners,
    mentioning_pattern,
    pseudonym,
)

# Advisory lock keys (transaction level): one process migrates at a time; one publishes
# a pack at a time (the "newer than the latest" check).
MIGRATE_LOCK = 0x4C4E_4855_0001
PACKS_LOCK = 0x4C4E_4855_0002
CONNECT_TIMEOUT_SECONDS = 10

# Each version's statements, applied in one transaction (PostgreSQL's DDL is
# transactional). Never edit a released version: add the next one. No foreign keys on
# the event tables (a trigger per row; the store alone writes them, and checks the edge
# once per batch), and the C collation on ids and phone numbers: byte order is all
# their indexes need, whatever the database's locale.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE hub_sequence (
            id integer PRIMARY KEY CHECK (id = 1),
            last_seq bigint NOT NULL)""",
        "INSERT INTO hub_sequence (id, last_seq) VALUES (1, 0)",
        """CREATE TABLE edges (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL DEFAULT '',
            token_hash text NOT NULL,
            created_at double precision NOT NULL,
            revoked_at double precision,
            last_push_at double precision,
            last_pull_at double precision,
            events_pushed bigint NOT NULL DEFAULT 0)""",
        """CREATE TABLE events (
            seq bigint PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            edge text COLLATE "C" NOT NULL,
            learner text COLLATE "C" NOT NULL,
            kind text NOT NULL,
            at double precision NOT NULL,
            data text NOT NULL,
            received_at double precision NOT NULL)""",
        "CREATE INDEX events_learner ON events (learner, seq)",
        """CREATE TABLE edge_learners (
            edge text COLLATE "C" NOT NULL,
            learner text COLLATE "C" NOT NULL,
            since_seq bigint NOT NULL,
            PRIMARY KEY (edge, learner))""",
        "CREATE INDEX edge_learners_learner ON edge_learners (learner)",
        """CREATE TABLE backfill (
            seq bigint PRIMARY KEY,
            edge text COLLATE "C" NOT NULL,
            event_seq bigint NOT NULL)""",
        "CREATE INDEX backfill_edge ON backfill (edge, seq)",
        """CREATE TABLE packs (
            version bigint PRIMARY KEY,
            digest text NOT NULL UNIQUE,
            data bytea NOT NULL,
            size integer NOT NULL,
            created_at double precision NOT NULL)""",
    ],
    # Edges are confined (gateway/hub/confine.py); as the SQLite store's version 2.
    2: [
        "ALTER TABLE edges ADD COLUMN countries text NOT NULL DEFAULT ''",
        "ALTER TABLE edges ADD COLUMN prefixes text NOT NULL DEFAULT ''",
        f"ALTER TABLE edges ADD COLUMN roam_limit integer NOT NULL DEFAULT {DEFAULT_ROAM_LIMIT}",
        "ALTER TABLE edge_learners ADD COLUMN trusted integer NOT NULL DEFAULT 1",
        "ALTER TABLE events ADD COLUMN shared integer NOT NULL DEFAULT 1",
        """CREATE TABLE audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            edge text COLLATE "C" NOT NULL,
            learner text COLLATE "C" NOT NULL,
            action text NOT NULL,
            events bigint NOT NULL DEFAULT 0,
            detail text NOT NULL DEFAULT '')""",
        "CREATE INDEX audit_edge ON audit (edge, action, at)",
        "CREATE INDEX audit_learner ON audit (learner)",
    ],
    # Links from before version 2 wait for the edge's region; as the SQLite store's 3.
    3: [
        "UPDATE edge_learners SET trusted = -1 WHERE trusted = 1 AND edge IN "
        "(SELECT id FROM edges WHERE countries = '' AND prefixes = '')",
    ],
    # Cohorts' definitions as edges push them; as the SQLite store's 4.
    4: [
        """CREATE TABLE cohorts (
            uid text COLLATE "C" PRIMARY KEY,
            edge text COLLATE "C" NOT NULL,
            program text COLLATE "C" NOT NULL,
            name text NOT NULL,
            course text COLLATE "C" NOT NULL,
            starts_on text NOT NULL,
            received_at double precision NOT NULL)""",
        "CREATE INDEX cohorts_program ON cohorts (program)",
    ],
    # What each edge sent for each program each day; as the SQLite store's 5.
    5: [
        """CREATE TABLE spends (
            program text COLLATE "C" NOT NULL,
            day text COLLATE "C" NOT NULL,
            edge text COLLATE "C" NOT NULL,
            currency text COLLATE "C" NOT NULL,
            messages bigint NOT NULL,
            segments bigint NOT NULL,
            cost double precision,
            received_at double precision NOT NULL,
            PRIMARY KEY (program, day, edge, currency))""",
    ],
}

_EVENT_COLUMNS = "e.id, e.edge, e.learner, e.kind, e.at, e.data"
P = ParamSpec("P")
R = TypeVar("R")


def _reconnecting(method: Callable[P, R]) -> Callable[P, R]:
    """Run `method` again, on a new connection, when the server dropped the connection
    under it (a restart, a failover). Every store operation is safe to repeat: ingest is
    idempotent by event id (a commit whose answer was lost shows up as duplicates), and
    the rest reads or sets the same values again."""

    @functools.wraps(method)
    def again(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        try:
            return method(*args, **kwargs)
        except psycopg.OperationalError:
            connection = store._connection  # type: ignore[attr-defined]
            if connection is None or not (connection.broken or connection.closed):
                raise
            return method(*args, **kwargs)

    return again


class PostgresHubStore(HubStore):
    """HubStore on a PostgreSQL database (one connection, autocommit between the store's
    own transactions; reconnects when the server dropped it)."""

    backend = "postgresql"

    def __init__(self, url: str, clock: Clock = time.time):
        super().__init__(clock)
        self._url = url
        self._connection: psycopg.Connection | None = None

    @classmethod
    def connect(cls, url: str, *, clock: Clock = time.time) -> PostgresHubStore:
        """Connect to the database at `url` (a libpq URI); call migrate() next."""
        store = cls(url, clock)
        store._conn()
        return store

    def _conn(self) -> psycopg.Connection:
        conn = self._connection
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._connection = psycopg.connect(
                self._url, autocommit=True, application_name="learnline-hub",
                connect_timeout=CONNECT_TIMEOUT_SECONDS)
        return conn

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[psycopg.Connection]:
        """A transaction (READ COMMITTED), or with `snapshot` a read-only REPEATABLE READ
        one: every query in it sees the same committed state."""
        conn = self._conn()
        with conn.transaction():
            if snapshot:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    # -- schema ----------------------------------------------------------------

    @_reconnecting
    def schema_version(self) -> int:
        """The schema version applied (0: none)."""
        conn = self._conn()
        if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version"
                            ).fetchone()[0]

    @_reconnecting
    def migrate(self) -> list[int]:
        """Create or upgrade the schema; return the versions applied now. A transaction
        advisory lock makes concurrent starters apply each version once."""
        if self.schema_version() >= max(MIGRATIONS):
            return []
        applied: list[int] = []
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         "version integer PRIMARY KEY, applied_at double precision NOT NULL)")
            current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version"
                                   ).fetchone()[0]
            for version in sorted(v for v in MIGRATIONS if v > current):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, applied_at) "
                             "VALUES (%s, %s)", (version, self.clock()))
                applied.append(version)
        return applied

    # -- edges -----------------------------------------------------------------

    @_reconnecting
    def _put_edge(self, edge_id: str, name: str, hashed: str) -> None:
        self._conn().execute(
            "INSERT INTO edges (id, name, token_hash, created_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, "
            "revoked_at = NULL, name = CASE WHEN excluded.name <> '' "
            "THEN excluded.name ELSE edges.name END",
            (edge_id, name, hashed, self.clock()))

    @_reconnecting
    def _set_edge(self, edge_id: str, region: Region | None, roam_limit: int | None) -> int:
        with self._transaction() as conn:
            # The sequence row first, as ingests take it (a region set may number
            # backfill): one lock order, no deadlock.
            last = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1 FOR UPDATE"
                                ).fetchone()[0]
            if conn.execute("SELECT 1 FROM edges WHERE id = %s FOR UPDATE",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            if roam_limit is not None:
                conn.execute("UPDATE edges SET roam_limit = %s WHERE id = %s",
                             (roam_limit, edge_id))
            if region is None:
                return 0
            conn.execute("UPDATE edges SET countries = %s, prefixes = %s WHERE id = %s",
                         (*region.columns(), edge_id))
            confined, last = confine.narrow(self._sql(conn), edge_id, region, last,
                                            self.clock())
            conn.execute("UPDATE hub_sequence SET last_seq = %s WHERE id = 1", (last,))
            return confined

    @staticmethod
    def _sql(conn: psycopg.Connection) -> confine.Sql:
        # The module's statements use `?` and no literal question mark.
        return confine.Sql(
            lambda statement, params: conn.execute(statement.replace("?", "%s"), params),
            lambda column, values: (f"{column} = ANY(?::text[])", values),
            lambda values: ("unnest(?::text[]) AS value", values))

    @_reconnecting
    def revoke_edge(self, edge_id: str) -> None:
        """Refuse the edge from now on (see HubStore.revoke_edge)."""
        with self._transaction() as conn:
            found = conn.execute("SELECT revoked_at FROM edges WHERE id = %s FOR UPDATE",
                                 (edge_id,)).fetchone()
            if found is None:
                raise UnknownEdge(edge_id)
            if found[0] is None:
                conn.execute("UPDATE edges SET revoked_at = %s WHERE id = %s",
                             (self.clock(), edge_id))

    @_reconnecting
    def edges(self) -> list[EdgeInfo]:
        """Every edge, revoked ones included, by id."""
        rows = self._conn().execute(
            "SELECT id, name, created_at, revoked_at IS NOT NULL, last_push_at, "
            "last_pull_at, events_pushed, countries, prefixes, roam_limit FROM edges "
            "ORDER BY id").fetchall()
        return [EdgeInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                         Region.from_columns(r[7], r[8]), r[9]) for r in rows]

    @_reconnecting
    def _active_token_hash(self, edge_id: str) -> str | None:
        row = self._conn().execute(
            "SELECT token_hash FROM edges WHERE id = %s AND revoked_at IS NULL",
            (edge_id,)).fetchone()
        return None if row is None else row[0]

    # -- events ----------------------------------------------------------------

    @_reconnecting
    def _store_events(self, edge_id: str, events: list[ValidEvent]) -> int:
        now = self.clock()
        with self._transaction() as conn:
            if not events:
                if conn.execute("UPDATE edges SET last_push_at = %s "
                                "WHERE id = %s AND revoked_at IS NULL",
                                (now, edge_id)).rowcount == 0:
                    raise UnknownEdge(edge_id)
                return 0
            # The sequence row first, always, then the edge's row: one lock order, no
            # deadlock. Held to the commit: the module's docstring says why.
            base = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1 FOR UPDATE"
                                ).fetchone()[0]
            if conn.execute("UPDATE edges SET last_push_at = %s "
                            "WHERE id = %s AND revoked_at IS NULL",
                            (now, edge_id)).rowcount == 0:
                raise UnknownEdge(edge_id)
            existing = {row[0] for row in conn.execute(
                "SELECT id FROM events WHERE id = ANY(%b::text[])", ([e.id for e in events],))}
            new = [e for e in events if e.id not in existing]
            sql = self._sql(conn)
            plan = confine.plan_links(sql, edge_id, sorted({e.learner for e in events}),
                                      base, now, confine.invited_only(events))
            if new:
                conn.execute(
                    "INSERT INTO events (seq, id, edge, learner, kind, at, data, received_at, "
                    "shared) SELECT %s + t.n, t.id, %s, t.learner, t.kind, t.at, t.data, %s, "
                    "t.shared FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], "
                    "%b::text[], %b::int4[]) "
                    "WITH ORDINALITY AS t (id, learner, kind, at, data, shared, n)",
                    (base, edge_id, now, [e.id for e in new], [e.learner for e in new],
                     [e.kind for e in new], [e.at for e in new], [e.data for e in new],
                     [int(e.learner in plan.trusted and e.kind not in confine.PRIVATE_KINDS)
                      for e in new]))
            last = confine.apply_links(sql, edge_id, plan, base, base + len(new), now)
            conn.execute("UPDATE hub_sequence SET last_seq = %s WHERE id = 1", (last,))
            if new:
                conn.execute("UPDATE edges SET events_pushed = events_pushed + %s "
                             "WHERE id = %s", (len(new), edge_id))
            erasing = erased_learners(new)
            served = confine.served(sql, edge_id, plan, erasing, base) if erasing else set()
            for learner in erasing:
                confine.erase(sql, edge_id, learner, learner in served, now, pseudonym)
            return len(new)

    @_reconnecting
    def pull(self, edge_id: str, after: int, limit: int = 500) -> PullResult:
        """Events for the edge after its cursor (see HubStore.pull)."""
        after, limit = self._check_pull(after, limit)
        with self._transaction(snapshot=True) as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = %s AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            streamed = conn.execute(
                f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e "
                "JOIN edge_learners l ON l.edge = %s AND l.learner = e.learner "
                "WHERE e.seq > %s AND e.seq > l.since_seq AND e.edge <> %s AND e.shared = 1 "
                f"AND (l.trusted = 1 OR e.kind IN {confine.COMPLIANCE_SQL}) "
                "ORDER BY e.seq LIMIT %s",
                (edge_id, after, edge_id, limit + 1)).fetchall()
            backfilled = conn.execute(
                f"SELECT b.seq, {_EVENT_COLUMNS} FROM backfill b "
                "JOIN events e ON e.seq = b.event_seq "
                "WHERE b.edge = %s AND b.seq > %s ORDER BY b.seq LIMIT %s",
                (edge_id, after, limit + 1)).fetchall()
            last_seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                                    ).fetchone()[0]
        page = self._page(streamed + backfilled, after, limit, last_seq)
        # Outside the snapshot: a REPEATABLE READ update of a row an ingest changed
        # meanwhile would fail to serialize. Not worth a flush to disk of its own: a
        # crash that loses it loses a time an operator reads, not data.
        with self._transaction() as conn:
            conn.execute("SET LOCAL synchronous_commit TO OFF")
            conn.execute("UPDATE edges SET last_pull_at = %s WHERE id = %s",
                         (self.clock(), edge_id))
        return page

    @_reconnecting
    def _erase(self, event: ValidEvent) -> int:
        with self._transaction() as conn:
            seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1 FOR UPDATE"
                               ).fetchone()[0] + 1
            # A repeat after a lost answer (_reconnecting) finds the event stored.
            if conn.execute("INSERT INTO events (seq, id, edge, learner, kind, at, data, "
                            "received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                            "ON CONFLICT (id) DO NOTHING",
                            (seq, event.id, event.edge, event.learner, event.kind, event.at,
                             event.data, event.at)).rowcount:
                conn.execute("UPDATE hub_sequence SET last_seq = %s WHERE id = 1", (seq,))
            return confine.erase(self._sql(conn), event.edge, event.learner, True,
                                 event.at, pseudonym)

    @_reconnecting
    def _send_to_edge(self, edge_id: str, event: ValidEvent) -> None:
        with self._transaction() as conn:
            seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1 FOR UPDATE"
                               ).fetchone()[0] + 1
            if conn.execute("SELECT 1 FROM edges WHERE id = %s AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            # A repeat after a lost answer (_reconnecting) finds the event stored.
            if conn.execute("INSERT INTO events (seq, id, edge, learner, kind, at, data, "
                            "received_at, shared) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0) "
                            "ON CONFLICT (id) DO NOTHING",
                            (seq, event.id, event.edge, event.learner, event.kind, event.at,
                             event.data, event.at)).rowcount:
                conn.execute("INSERT INTO backfill (seq, edge, event_seq) VALUES (%s, %s, %s)",
                             (seq + 1, edge_id, seq))
                conn.execute("UPDATE hub_sequence SET last_seq = %s WHERE id = 1", (seq + 1,))

    @_reconnecting
    def _store_cohorts(self, edge_id: str, cohorts: list[CohortDefinition]) -> None:
        now = self.clock()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = %s AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            if cohorts:
                conn.cursor().executemany(
                    "INSERT INTO cohorts (uid, edge, program, name, course, starts_on, "
                    "received_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (uid) DO NOTHING",
                    [(c.uid, edge_id, c.program, c.name, c.course, c.starts_on, now)
                     for c in cohorts])

    @_reconnecting
    def cohort_definitions(self, program: str | None = None) -> list[CohortDefinition]:
        """The cohorts edges pushed (see HubStore.cohort_definitions)."""
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT uid, edge, program, name, course, starts_on, received_at "
                "FROM cohorts WHERE %s::text IS NULL OR program = %s "
                "ORDER BY program, name, uid", (program, program)).fetchall()
        return [CohortDefinition(*row) for row in rows]

    @_reconnecting
    def put_spends(self, edge_id: str, spends: list[SpendDay]) -> int:
        """Replace the edge's days of these programs (see HubStore.put_spends)."""
        now = self.clock()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = %s AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            cursor = conn.cursor()
            days = sorted({(s.program, s.day) for s in spends})
            if days:
                cursor.executemany(
                    "DELETE FROM spends WHERE program = %s AND day = %s AND edge = %s",
                    [(program, day, edge_id) for program, day in days])
                cursor.executemany(
                    "INSERT INTO spends (program, day, edge, currency, messages, segments, "
                    "cost, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [(s.program, s.day, edge_id, s.currency, s.messages, s.segments, s.cost,
                      now) for s in spends])
        return len(spends)

    @_reconnecting
    def program_spends(self, program: str, first_day: str, last_day: str
                       ) -> list[SpendDay]:
        """The days edges pushed for `program` (see HubStore.program_spends)."""
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT edge, program, day, currency, messages, segments, cost FROM spends "
                "WHERE program = %s AND day >= %s AND day <= %s ORDER BY edge, day, currency",
                (program, first_day, last_day)).fetchall()
        return [SpendDay(edge, program, day, currency, int(messages), int(segments), cost)
                for edge, program, day, currency, messages, segments, cost in rows]

    @_reconnecting
    def question_events(self, after: int, limit: int = 500) -> PullResult:
        """Edges' question events and erasures after `after` (see HubStore)."""
        after, limit = self._check_pull(after, limit)
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e WHERE e.seq > %s "
                f"AND (e.kind = 'erased' OR (e.kind IN {confine.QUESTION_SQL} "
                "AND e.edge <> %s)) ORDER BY e.seq LIMIT %s",
                (after, confine.HUB_EDGE, limit + 1)).fetchall()
            last_seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                                    ).fetchone()[0]
        return self._page(rows, after, limit, last_seq)

    def _export_rows(self, low: float, high: float,
                     page: int) -> Iterator[tuple[str, str, str, str, float, str]]:
        """Events for `learnline export`, a page at a time (see HubStore.export_rows)."""
        after = 0
        with self._transaction(snapshot=True) as conn:
            while True:
                rows = conn.execute(
                    f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e WHERE e.seq > %s "
                    f"AND e.at >= %s AND e.at < %s AND {EXPORT_WHERE.replace('%', '%%')} "
                    "ORDER BY e.seq LIMIT %s", (after, low, high, page)).fetchall()
                for row in rows:
                    yield row[1:]
                if len(rows) < page:
                    return
                after = rows[-1][0]

    @_reconnecting
    def pseudonymous(self, event_ids: list[str]) -> set[str]:
        """Which of these events now name a pseudonym (see HubStore)."""
        return {row[0] for row in self._conn().execute(
            "SELECT id FROM events WHERE id = ANY(%b::text[]) AND learner LIKE 'erased:%%'",
            (list(event_ids),))}

    @_reconnecting
    def forget_question_texts(self, older_than: float) -> int:
        """Retention of question texts on the hub (see HubStore)."""
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE events SET data = (data::jsonb - 'text')::text "
                f"WHERE kind IN {confine.QUESTION_SQL} AND at < %s "
                "AND data::jsonb ? 'text'", (older_than,)).rowcount

    @_reconnecting
    def audit(self, edge_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest rows of the audit, oldest first (see HubStore.audit)."""
        rows = self._conn().execute(
            "SELECT id, at, edge, learner, action, events, detail FROM audit "
            "WHERE %s::text IS NULL OR edge = %s ORDER BY id DESC LIMIT %s",
            (edge_id, edge_id, limit)).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]

    # -- packs -----------------------------------------------------------------

    @_reconnecting
    def _put_pack(self, data: bytes, version: int, digest: str) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PACKS_LOCK,))
            same = conn.execute("SELECT version, digest FROM packs "
                                "WHERE version = %s OR digest = %s",
                                (version, digest)).fetchall()
            if same:
                if same == [(version, digest)]:
                    return
                raise PackConflict(f"version {version} or digest {digest[:16]} is already "
                                   "published with another digest or version")
            latest = conn.execute("SELECT max(version) FROM packs").fetchone()[0]
            if latest is not None and version <= latest:
                raise PackConflict(f"version {version} is not newer than {latest}")
            conn.execute("INSERT INTO packs (version, digest, data, size, created_at) "
                         "VALUES (%s, %s, %s, %s, %s)",
                         (version, digest, data, len(data), self.clock()))

    @_reconnecting
    def latest_pack(self) -> PackInfo | None:
        """The pack with the highest version, or None."""
        row = self._conn().execute("SELECT version, digest, size, created_at FROM packs "
                                   "ORDER BY version DESC LIMIT 1").fetchone()
        return None if row is None else PackInfo(*row)

    @_reconnecting
    def _read_pack(self, digest: str, start: int, length: int | None) -> bytes:
        # substring() counts bytes from 1 on bytea; a start past the end gives b"".
        if length is None:
            row = self._conn().execute(
                "SELECT substring(data FROM %s) FROM packs WHERE digest = %s",
                (start + 1, digest)).fetchone()
        else:
            row = self._conn().execute(
                "SELECT substring(data FROM %s FOR %s) FROM packs WHERE digest = %s",
                (start + 1, length, digest)).fetchone()
        if row is None:
            raise PackNotFound(digest)
        return bytes(row[0])

    # -- statistics ------------------------------------------------------------

    @_reconnecting
    def stats(self) -> HubStats:
        """Cross-edge figures (see HubStore.stats)."""
        now = self.clock()
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(STATS_SQL).fetchall()
        return self._stats(now, rows)

    @_reconnecting
    def _program_events(self, kind: str, mentioning: str | None = None
                        ) -> list[tuple[str, str, str, float]]:
        with self._transaction(snapshot=True) as conn:
            if mentioning is None:
                return conn.execute("SELECT edge, learner, data, at FROM events "
                                    "WHERE kind = %s", (kind,)).fetchall()
            return conn.execute("SELECT edge, learner, data, at FROM events "
                                "WHERE kind = %s AND data LIKE %s ESCAPE '\\'",
                                (kind, mentioning_pattern(mentioning))).fetchall()

    # The events' data is text holding a JSON object (check_event made it), read as
    # `json` with every value's type checked before a cast, so that no event an edge
    # pushed can make a figure fail; one holding a NUL (`\u0000`, which PostgreSQL's
    # text cannot take) is read as no data.
    _DATA = "CASE WHEN strpos(data, '\\u0000') = 0 THEN data::json END AS d"

    @_reconnecting
    def course_progress(self, courses: list[str]) -> list[tuple[str, str, str, str]]:
        """Learners' progress in `courses` (see HubStore.course_progress)."""
        if not courses:
            return []
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT DISTINCT learner, kind, d ->> 'course', "
                "CASE WHEN kind = 'lesson_completed' AND json_typeof(d -> 'lesson') = "
                "'string' THEN d ->> 'lesson' ELSE '' END FROM ("
                f"SELECT learner, kind, {self._DATA} FROM events WHERE kind IN "
                "('enrolled', 'card_reached', 'lesson_completed', 'course_completed') "
                "AND learner NOT LIKE 'erased:%%') AS progress "
                "WHERE json_typeof(d -> 'course') = 'string' AND d ->> 'course' = ANY(%s) "
                "AND (kind <> 'card_reached' "
                "OR CASE WHEN json_typeof(d -> 'card') = 'number' "
                "THEN (d ->> 'card')::numeric >= 0 ELSE false END "
                "OR CASE WHEN json_typeof(d -> 'position') = 'number' "
                "THEN (d ->> 'position')::numeric > 0 ELSE false END)",
                (courses,)).fetchall()
        return [tuple(row) for row in rows]

    @_reconnecting
    def first_answers(self, courses: list[str], since: float, until: float,
                      learners: list[str] | None = None
                      ) -> list[tuple[str, str, int, int, int]]:
        """First answers in `courses` (see HubStore.first_answers)."""
        if not courses or learners == []:
            return []
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT course, lesson, question, count(*), "
                "count(*) FILTER (WHERE correct) FROM ("
                "SELECT d ->> 'course' AS course, d ->> 'lesson' AS lesson, "
                "CASE WHEN json_typeof(d -> 'question') = 'number' "
                "THEN (d ->> 'question')::numeric END AS question, "
                "json_typeof(d -> 'correct') = 'boolean' AND d ->> 'correct' = 'true' "
                "AS correct FROM ("
                f"SELECT {self._DATA} FROM events "
                "WHERE kind = 'answered' AND learner NOT LIKE 'erased:%%' "
                "AND at >= %s AND at < %s "
                "AND (%s::text[] IS NULL OR learner = ANY(%s::text[]))) AS answers "
                "WHERE json_typeof(d -> 'first_try') = 'boolean' "
                "AND d ->> 'first_try' = 'true' AND json_typeof(d -> 'lesson') = 'string' "
                "AND json_typeof(d -> 'course') = 'string') AS first "
                "WHERE course = ANY(%s) AND question = trunc(question) AND question >= 0 "
                "AND question < 1000000 "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                (since, until, learners, learners, courses)).fetchall()
        return [(course, lesson, int(question), int(answers), int(right))
                for course, lesson, question, answers, right in rows]

    @_reconnecting
    def lesson_completions(self, courses: list[str], since: float, until: float
                           ) -> list[tuple[str, str, int]]:
        """Lessons completed in `courses` in a period (see HubStore.lesson_completions)."""
        if not courses:
            return []
        with self._transaction(snapshot=True) as conn:
            rows = conn.execute(
                "SELECT course, lesson, count(DISTINCT learner) FROM ("
                "SELECT learner, d ->> 'course' AS course, d ->> 'lesson' AS lesson FROM ("
                f"SELECT learner, {self._DATA} FROM events "
                "WHERE kind = 'lesson_completed' AND learner NOT LIKE 'erased:%%' "
                "AND at >= %s AND at < %s) AS done "
                "WHERE json_typeof(d -> 'course') = 'string' "
                "AND json_typeof(d -> 'lesson') = 'string') AS completed "
                "WHERE course = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
                (since, until, courses)).fetchall()
        return [(course, lesson, int(learners)) for course, lesson, learners in rows]

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
