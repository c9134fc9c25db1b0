"""The hub's store on one SQLite file (the default): stdlib sqlite3 with the gateway's
conventions (docs/architecture.md, Storage): WAL, a 10 s busy timeout, autocommit
connections, `BEGIN IMMEDIATE` for writes behind an exclusive `flock` on
`<database>-writelock`, so writers from every process queue in the kernel."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
from gateway.store.files import create_private

BUSY_TIMEOUT_SECONDS = 10.0

# Each version's statements, applied in one transaction. Never edit a released version:
# add the next one. No foreign keys on the event tables: a check per row costs ingest
# time, and the store alone writes them (the edge is checked once per batch, in the
# batch's transaction; edges are revoked, never deleted).
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE hub_sequence (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_seq INTEGER NOT NULL)""",
        "INSERT INTO hub_sequence (id, last_seq) VALUES (1, 0)",
        """CREATE TABLE edges (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            token_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL,
            last_push_at REAL,
            last_pull_at REAL,
            events_pushed INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            edge TEXT NOT NULL,
            learner TEXT NOT NULL,
            kind TEXT NOT NULL,
            at REAL NOT NULL,
            data TEXT NOT NULL,
            received_at REAL NOT NULL)""",
        "CREATE INDEX events_learner ON events (learner, seq)",
        """CREATE TABLE edge_learners (
            edge TEXT NOT NULL,
            learner TEXT NOT NULL,
            since_seq INTEGER NOT NULL,
            PRIMARY KEY (edge, learner)) WITHOUT ROWID""",
        "CREATE INDEX edge_learners_learner ON edge_learners (learner)",
        """CREATE TABLE backfill (
            seq INTEGER PRIMARY KEY,
            edge TEXT NOT NULL,
            event_seq INTEGER NOT NULL)""",
        "CREATE INDEX backfill_edge ON backfill (edge, seq)",
        """CREATE TABLE packs (
            version INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            data BLOB NOT NULL,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL)""",
    ],
    # Edges are confined (gateway/hub/confine.py): each edge's region and roam limit,
    # whether an edge is trusted for a learner, whether an event is passed on, and the
    # audit of learners' histories crossing between edges. Links and events from before
    # stay as they were (trusted, shared); edges have no region until one is set.
    2: [
        "ALTER TABLE edges ADD COLUMN countries TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE edges ADD COLUMN prefixes TEXT NOT NULL DEFAULT ''",
        f"ALTER TABLE edges ADD COLUMN roam_limit INTEGER NOT NULL DEFAULT {DEFAULT_ROAM_LIMIT}",
        "ALTER TABLE edge_learners ADD COLUMN trusted INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE events ADD COLUMN shared INTEGER NOT NULL DEFAULT 1",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            edge TEXT NOT NULL,
            learner TEXT NOT NULL,
            action TEXT NOT NULL,
            events INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX audit_edge ON audit (edge, action, at)",
        "CREATE INDEX audit_learner ON audit (learner)",
    ],
    # Links made before version 2 stayed trusted there, yet an edge without a region is
    # confined for every learner: they wait (-1, confined) until the edge's region is
    # set, which trusts again those in it (gateway.hub.confine.narrow).
    3: [
        "UPDATE edge_learners SET trusted = -1 WHERE trusted = 1 AND edge IN "
        "(SELECT id FROM edges WHERE countries = '' AND prefixes = '')",
    ],
    # Cohorts' definitions as the edges that created them push them (docs/sync.md,
    # Programs): the hub lists a program's cohorts before anyone joined.
    4: [
        """CREATE TABLE cohorts (
            uid TEXT PRIMARY KEY,
            edge TEXT NOT NULL,
            program TEXT NOT NULL,
            name TEXT NOT NULL,
            course TEXT NOT NULL,
            starts_on TEXT NOT NULL,
            received_at REAL NOT NULL)""",
        "CREATE INDEX cohorts_program ON cohorts (program)",
    ],
    # What each edge sent for each program each day, as it priced it (docs/sync.md,
    # Programs): the hub shows a program's cost across edges. cost NULL: not priced.
    5: [
        """CREATE TABLE spends (
            program TEXT NOT NULL,
            day TEXT NOT NULL,
            edge TEXT NOT NULL,
            currency TEXT NOT NULL,
            messages INTEGER NOT NULL,
            segments INTEGER NOT NULL,
            cost REAL,
            received_at REAL NOT NULL,
            PRIMARY KEY (program, day, edge, currency))""",
    ],
}

_EVENT_COLUMNS = "e.id, e.edge, e.learner, e.kind, e.at, e.data"


class SqliteHubStore(HubStore):
    """HubStore on a SQLite file."""

    backend = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str, clock: Clock = time.time):
        super().__init__(clock)
        self.conn = conn
        self.path = path
        self._lock_fd: int | None = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT,
                                            0o600)

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = time.time) -> SqliteHubStore:
        """Open (creating if needed) the hub database at `path`; call migrate() next."""
        path = str(path)
        create_private(path)  # owner-only, whatever the umask (its WAL takes its mode)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return cls(conn, path, clock)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, behind the cross-process write lock."""
        assert self._lock_fd is not None, "the store is closed"
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in it sees the same committed state (WAL)."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    # -- schema ----------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version applied (0: none)."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return 0
        return self.conn.execute("SELECT coalesce(max(version), 0) FROM schema_version"
                                 ).fetchone()[0]

    def migrate(self) -> list[int]:
        """Create or upgrade the schema; return the versions applied now. The write lock
        and `BEGIN IMMEDIATE` make concurrent starters apply each version once."""
        if self.schema_version() >= max(MIGRATIONS):
            return []
        applied: list[int] = []
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         "version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
            current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version"
                                   ).fetchone()[0]
            for version in sorted(v for v in MIGRATIONS if v > current):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                             (version, self.clock()))
                applied.append(version)
        return applied

    # -- edges -----------------------------------------------------------------

    def _put_edge(self, edge_id: str, name: str, hashed: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO edges (id, name, token_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, "
                "revoked_at = NULL, name = CASE WHEN excluded.name <> '' "
                "THEN excluded.name ELSE edges.name END",
                (edge_id, name, hashed, self.clock()))

    def _set_edge(self, edge_id: str, region: Region | None, roam_limit: int | None) -> int:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = ?", (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            if roam_limit is not None:
                conn.execute("UPDATE edges SET roam_limit = ? WHERE id = ?",
                             (roam_limit, edge_id))
            if region is None:
                return 0
            conn.execute("UPDATE edges SET countries = ?, prefixes = ? WHERE id = ?",
                         (*region.columns(), edge_id))
            last = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1").fetchone()[0]
            confined, last = confine.narrow(self._sql(conn), edge_id, region, last,
                                            self.clock())
            conn.execute("UPDATE hub_sequence SET last_seq = ? WHERE id = 1", (last,))
            return confined

    @staticmethod
    def _sql(conn: sqlite3.Connection) -> confine.Sql:
        return confine.Sql(
            conn.execute,
            lambda column, values: (f"{column} IN (SELECT value FROM json_each(?))",
                                    json.dumps(values)),
            lambda values: ("json_each(?)", json.dumps(values)))

    def revoke_edge(self, edge_id: str) -> None:
        """Refuse the edge from now on (see HubStore.revoke_edge)."""
        with self._write() as conn:
            found = conn.execute("SELECT revoked_at FROM edges WHERE id = ?",
                                 (edge_id,)).fetchone()
            if found is None:
                raise UnknownEdge(edge_id)
            if found[0] is None:
                conn.execute("UPDATE edges SET revoked_at = ? WHERE id = ?",
                             (self.clock(), edge_id))

    def edges(self) -> list[EdgeInfo]:
        """Every edge, revoked ones included, by id."""
        rows = self.conn.execute(
            "SELECT id, name, created_at, revoked_at IS NOT NULL, last_push_at, "
            "last_pull_at, events_pushed, countries, prefixes, roam_limit FROM edges "
            "ORDER BY id").fetchall()
        return [EdgeInfo(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6],
                         Region.from_columns(r[7], r[8]), r[9]) for r in rows]

    def _active_token_hash(self, edge_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT token_hash FROM edges WHERE id = ? AND revoked_at IS NULL",
            (edge_id,)).fetchone()
        return None if row is None else row[0]

    # -- events ----------------------------------------------------------------

    def _store_events(self, edge_id: str, events: list[ValidEvent]) -> int:
        now = self.clock()
        with self._write() as conn:
            if conn.execute("UPDATE edges SET last_push_at = ? "
                            "WHERE id = ? AND revoked_at IS NULL",
                            (now, edge_id)).rowcount == 0:
                raise UnknownEdge(edge_id)
            if not events:
                return 0
            # Inside BEGIN IMMEDIATE this process is the only writer: the counter and
            # the existing ids cannot change under us.
            base = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1").fetchone()[0]
            existing = {row[0] for row in conn.execute(
                "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([e.id for e in events]),))}
            new = [e for e in events if e.id not in existing]
            sql = self._sql(conn)
            plan = confine.plan_links(sql, edge_id, sorted({e.learner for e in events}),
                                      base, now, confine.invited_only(events))
            conn.executemany(
                "INSERT INTO events (seq, id, edge, learner, kind, at, data, received_at, "
                "shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(base + n, e.id, e.edge, e.learner, e.kind, e.at, e.data, now,
                  int(e.learner in plan.trusted and e.kind not in confine.PRIVATE_KINDS))
                 for n, e in enumerate(new, start=1)])
            last = confine.apply_links(sql, edge_id, plan, base, base + len(new), now)
            conn.execute("UPDATE hub_sequence SET last_seq = ? WHERE id = 1", (last,))
            if new:
                conn.execute("UPDATE edges SET events_pushed = events_pushed + ? WHERE id = ?",
                             (len(new), edge_id))
            erasing = erased_learners(new)
            served = confine.served(sql, edge_id, plan, erasing, base) if erasing else set()
            for learner in erasing:
                confine.erase(sql, edge_id, learner, learner in served, now, pseudonym)
            return len(new)

    def pull(self, edge_id: str, after: int, limit: int = 500) -> PullResult:
        """Events for the edge after its cursor (see HubStore.pull)."""
        after, limit = self._check_pull(after, limit)
        with self._snapshot() as conn:
            if self._active_token_hash(edge_id) is None:
                raise UnknownEdge(edge_id)
            streamed = conn.execute(
                f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e "
                "JOIN edge_learners l ON l.edge = ? AND l.learner = e.learner "
                "WHERE e.seq > ? AND e.seq > l.since_seq AND e.edge <> ? AND e.shared = 1 "
                f"AND (l.trusted = 1 OR e.kind IN {confine.COMPLIANCE_SQL}) "
                "ORDER BY e.seq LIMIT ?",
                (edge_id, after, edge_id, limit + 1)).fetchall()
            backfilled = conn.execute(
                f"SELECT b.seq, {_EVENT_COLUMNS} FROM backfill b "
                "JOIN events e ON e.seq = b.event_seq "
                "WHERE b.edge = ? AND b.seq > ? ORDER BY b.seq LIMIT ?",
                (edge_id, after, limit + 1)).fetchall()
            last_seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                                    ).fetchone()[0]
        page = self._page(streamed + backfilled, after, limit, last_seq)
        with self._write() as conn:
            conn.execute("UPDATE edges SET last_pull_at = ? WHERE id = ?",
                         (self.clock(), edge_id))
        return page

    def _erase(self, event: ValidEvent) -> int:
        with self._write() as conn:
            seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                               ).fetchone()[0] + 1
            conn.execute("INSERT INTO events (seq, id, edge, learner, kind, at, data, "
                         "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (seq, event.id, event.edge, event.learner, event.kind, event.at,
                          event.data, event.at))
            conn.execute("UPDATE hub_sequence SET last_seq = ? WHERE id = 1", (seq,))
            return confine.erase(self._sql(conn), event.edge, event.learner, True,
                                 event.at, pseudonym)

    def _send_to_edge(self, edge_id: str, event: ValidEvent) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = ? AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                               ).fetchone()[0] + 1
            conn.execute("INSERT INTO events (seq, id, edge, learner, kind, at, data, "
                         "received_at, shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                         (seq, event.id, event.edge, event.learner, event.kind, event.at,
                          event.data, event.at))
            conn.execute("INSERT INTO backfill (seq, edge, event_seq) VALUES (?, ?, ?)",
                         (seq + 1, edge_id, seq))
            conn.execute("UPDATE hub_sequence SET last_seq = ? WHERE id = 1", (seq + 1,))

    def _store_cohorts(self, edge_id: str, cohorts: list[CohortDefinition]) -> None:
        now = self.clock()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = ? AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            conn.executemany(
                "INSERT INTO cohorts (uid, edge, program, name, course, starts_on, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING",
                [(c.uid, edge_id, c.program, c.name, c.course, c.starts_on, now)
                 for c in cohorts])

    def cohort_definitions(self, program: str | None = None) -> list[CohortDefinition]:
        """The cohorts edges pushed (see HubStore.cohort_definitions)."""
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT uid, edge, program, name, course, starts_on, received_at "
                "FROM cohorts WHERE ? IS NULL OR program = ? ORDER BY program, name, uid",
                (program, program)).fetchall()
        return [CohortDefinition(*row) for row in rows]

    def put_spends(self, edge_id: str, spends: list[SpendDay]) -> int:
        """Replace the edge's days of these programs (see HubStore.put_spends)."""
        now = self.clock()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM edges WHERE id = ? AND revoked_at IS NULL",
                            (edge_id,)).fetchone() is None:
                raise UnknownEdge(edge_id)
            conn.executemany("DELETE FROM spends WHERE program = ? AND day = ? AND edge = ?",
                             [(program, day, edge_id)
                              for program, day in sorted({(s.program, s.day)
                                                          for s in spends})])
            conn.executemany(
                "INSERT INTO spends (program, day, edge, currency, messages, segments, cost, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.program, s.day, edge_id, s.currency, s.messages, s.segments, s.cost, now)
                 for s in spends])
        return len(spends)

    def program_spends(self, program: str, first_day: str, last_day: str
                       ) -> list[SpendDay]:
        """The days edges pushed for `program` (see HubStore.program_spends)."""
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT edge, program, day, currency, messages, segments, cost FROM spends "
                "WHERE program = ? AND day >= ? AND day <= ? ORDER BY edge, day, currency",
                (program, first_day, last_day)).fetchall()
        return [SpendDay(*row) for row in rows]

    def question_events(self, after: int, limit: int = 500) -> PullResult:
        """Edges' question events and erasures after `after` (see HubStore)."""
        after, limit = self._check_pull(after, limit)
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e WHERE e.seq > ? "
                f"AND (e.kind = 'erased' OR (e.kind IN {confine.QUESTION_SQL} "
                "AND e.edge <> ?)) ORDER BY e.seq LIMIT ?",
                (after, confine.HUB_EDGE, limit + 1)).fetchall()
            last_seq = conn.execute("SELECT last_seq FROM hub_sequence WHERE id = 1"
                                    ).fetchone()[0]
        return self._page(rows, after, limit, last_seq)

    def _export_rows(self, low: float, high: float,
                     page: int) -> Iterator[tuple[str, str, str, str, float, str]]:
        """Events for `learnline export`, a page at a time (see HubStore.export_rows)."""
        after = 0
        with self._snapshot() as conn:
            while True:
                rows = conn.execute(
                    f"SELECT e.seq, {_EVENT_COLUMNS} FROM events e WHERE e.seq > ? "
                    f"AND e.at >= ? AND e.at < ? AND {EXPORT_WHERE} ORDER BY e.seq LIMIT ?",
                    (after, low, high, page)).fetchall()
                for row in rows:
                    yield row[1:]
                if len(rows) < page:
                    return
                after = rows[-1][0]

    def pseudonymous(self, event_ids: list[str]) -> set[str]:
        """Which of these events now name a pseudonym (see HubStore)."""
        found: set[str] = set()
        for start in range(0, len(event_ids), 1000):
            found.update(row[0] for row in self.conn.execute(
                "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?)) "
                "AND learner LIKE 'erased:%'", (json.dumps(event_ids[start:start + 1000]),)))
        return found

    def forget_question_texts(self, older_than: float) -> int:
        """Retention of question texts on the hub (see HubStore)."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE events SET data = json_remove(data, '$.text') "
                f"WHERE kind IN {confine.QUESTION_SQL} AND at < ? "
                "AND json_extract(data, '$.text') IS NOT NULL", (older_than,)).rowcount

    def audit(self, edge_id: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest rows of the audit, oldest first (see HubStore.audit)."""
        rows = self.conn.execute(
            "SELECT id, at, edge, learner, action, events, detail FROM audit "
            "WHERE ? IS NULL OR edge = ? ORDER BY id DESC LIMIT ?",
            (edge_id, edge_id, limit)).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]

    # -- packs -----------------------------------------------------------------

    def _put_pack(self, data: bytes, version: int, digest: str) -> None:
        with self._write() as conn:
            same = conn.execute("SELECT version, digest FROM packs "
                                "WHERE version = ? OR digest = ?", (version, digest)).fetchall()
            if same:
                if same == [(version, digest)]:
                    return
                raise PackConflict(f"version {version} or digest {digest[:16]} is already "
                                   "published with another digest or version")
            latest = conn.execute("SELECT max(version) FROM packs").fetchone()[0]
            if latest is not None and version <= latest:
                raise PackConflict(f"version {version} is not newer than {latest}")
            conn.execute("INSERT INTO packs (version, digest, data, size, created_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (version, digest, data, len(data), self.clock()))

    def latest_pack(self) -> PackInfo | None:
        """The pack with the highest version, or None."""
        row = self.conn.execute("SELECT version, digest, size, created_at FROM packs "
                                "ORDER BY version DESC LIMIT 1").fetchone()
        return None if row is None else PackInfo(*row)

    def _read_pack(self, digest: str, start: int, length: int | None) -> bytes:
        # substr() counts bytes from 1 on a BLOB; a start past the end gives b"".
        if length is None:
            row = self.conn.execute("SELECT substr(data, ?) FROM packs WHERE digest = ?",
                                    (start + 1, digest)).fetchone()
        else:
            row = self.conn.execute("SELECT substr(data, ?, ?) FROM packs WHERE digest = ?",
                                    (start + 1, length, digest)).fetchone()
        if row is None:
            raise PackNotFound(digest)
        return bytes(row[0] or b"")

    # -- statistics ------------------------------------------------------------

    def stats(self) -> HubStats:
        """Cross-edge figures (see HubStore.stats)."""
        now = self.clock()
        with self._snapshot() as conn:
            rows = conn.execute(STATS_SQL).fetchall()
        return self._stats(now, rows)

    def _program_events(self, kind: str, mentioning: str | None = None
                        ) -> list[tuple[str, str, str, float]]:
        with self._snapshot() as conn:
            if mentioning is None:
                return conn.execute("SELECT edge, learner, data, at FROM events "
                                    "WHERE kind = ?", (kind,)).fetchall()
            return conn.execute("SELECT edge, learner, data, at FROM events "
                                "WHERE kind = ? AND data LIKE ? ESCAPE '\\'",
                                (kind, mentioning_pattern(mentioning))).fetchall()

    def course_progress(self, courses: list[str]) -> list[tuple[str, str, str, str]]:
        """Learners' progress in `courses` (see HubStore.course_progress)."""
        if not courses:
            return []
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT DISTINCT learner, kind, json_extract(data, '$.course'), "
                "CASE WHEN kind = 'lesson_completed' AND json_type(data, '$.lesson') = 'text' "
                "THEN json_extract(data, '$.lesson') ELSE '' END "
                "FROM events WHERE kind IN "
                "('enrolled', 'card_reached', 'lesson_completed', 'course_completed') "
                "AND learner NOT LIKE 'erased:%' "
                "AND json_extract(data, '$.course') IN (SELECT value FROM json_each(?)) "
                "AND (kind <> 'card_reached' "
                "OR json_type(data, '$.card') = 'integer' AND json_extract(data, '$.card') >= 0 "
                "OR json_type(data, '$.position') = 'integer' "
                "AND json_extract(data, '$.position') > 0)",
                (json.dumps(courses),)).fetchall()
        return [(learner, kind, course, str(lesson)) for learner, kind, course, lesson in rows]

    def first_answers(self, courses: list[str], since: float, until: float,
                      learners: list[str] | None = None
                      ) -> list[tuple[str, str, int, int, int]]:
        """First answers in `courses` (see HubStore.first_answers)."""
        if not courses or learners == []:
            return []
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT json_extract(data, '$.course'), json_extract(data, '$.lesson'), "
                "json_extract(data, '$.question'), count(*), "
                "coalesce(sum(json_type(data, '$.correct') = 'true'), 0) "
                "FROM events WHERE kind = 'answered' AND learner NOT LIKE 'erased:%' "
                "AND at >= ? AND at < ? AND json_type(data, '$.first_try') = 'true' "
                "AND json_type(data, '$.lesson') = 'text' "
                "AND json_type(data, '$.question') = 'integer' "
                "AND json_extract(data, '$.question') >= 0 "
                "AND json_extract(data, '$.course') IN (SELECT value FROM json_each(?)) "
                "AND (? IS NULL OR learner IN (SELECT value FROM json_each(?))) "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                (since, until, json.dumps(courses),
                 None if learners is None else 1, json.dumps(learners or []))).fetchall()
        return [(course, lesson, int(question), int(answers), int(right))
                for course, lesson, question, answers, right in rows]

    def lesson_completions(self, courses: list[str], since: float, until: float
                           ) -> list[tuple[str, str, int]]:
        """Lessons completed in `courses` in a period (see HubStore.lesson_completions)."""
        if not courses:
            return []
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT json_extract(data, '$.course'), json_extract(data, '$.lesson'), "
                "count(DISTINCT learner) FROM events WHERE kind = 'lesson_completed' "
                "AND learner NOT LIKE 'erased:%' AND at >= ? AND at < ? "
                "AND json_type(data, '$.lesson') = 'text' "
                "AND json_extract(data, '$.course') IN (SELECT value FROM json_each(?)) "
                "GROUP BY 1, 2 ORDER BY 1, 2", (since, until, json.dumps(courses))).fetchall()
        return [(course, lesson, int(learners)) for course, lesson, learners in rows]

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the connection and the lock file."""
        self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
