"""SQLite access through sqlite-utils: connection settings, transactions, queries.

`Store` is the one entry point. This module holds its core: opening the connection, the
write transaction (`write()`, `write_shared()`, the write lock, group commit), settings,
events and the database's health. Each family of tables has its queries in a module of
its own, mixed into `Store`: content.py (courses, lessons), progress.py (learners and
their progress), messages.py (inbound, outbox, delivery reports), sessions.py (USSD
sessions, sign-in codes, rate limits)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from gateway import environment
from gateway.store import events, files, schema_check, writelock
from gateway.store.content import ContentStore, _ContentCache
from gateway.store.costs import CostsStore
from gateway.store.group_commit import GroupCommit
from gateway.store.messages import MessagesStore
from gateway.store.progress import ProgressStore
from gateway.store.schema import migrations
from gateway.store.sessions import SessionsStore
from gateway.store.writelock import LockBusy, WriteLock

BUSY_TIMEOUT_SECONDS = 10.0
MIGRATION_WAIT_SECONDS = 300.0
# Page size of a new database file (an existing one keeps the size it was made with).
# A commit writes every page it changed into the WAL, whole: a message changes one leaf
# page each of a dozen tables and indexes, a few hundred bytes of rows in all, so
# smaller pages write less. 2 KiB pages cut a message's commit by about a quarter
# against SQLite's 4 KiB (bench/RESULTS.md); 1 KiB gains nothing more and spills more
# rows into overflow pages.
PAGE_SIZE_BYTES = 2048
WAL_CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
_PROCESS_WRITE_LOCK = threading.RLock()
# One group commit per database file, shared by this process's threads.
_GROUPS: dict[str, GroupCommit] = {}
_GROUPS_LOCK = threading.Lock()
T = TypeVar("T")


def default_db_path() -> Path:
    """The database file: `$LEARNLINE_DB`, else `learnline.db` in the working directory."""
    return Path(environment.get("LEARNLINE_DB") or "learnline.db")


class Store(ContentStore, ProgressStore, MessagesStore, SessionsStore, CostsStore):
    """One connection to the Learnline database, with every query the gateway runs (the
    families of tables' queries come from the classes it mixes in)."""

    def __init__(self, db: Database, lock_path: str | None = None,
                 clock: Callable[[], float] = time.time,
                 busy_timeout: float = BUSY_TIMEOUT_SECONDS):
        self.db = db
        self.path = ""  # the database file (Store.open sets it)
        # Wall-clock time (epoch seconds) for everything stored; a test may turn it.
        self.clock = clock
        # The longest a writer waits for the write lock (seconds) before giving up.
        self.busy_timeout = busy_timeout
        self._depth = 0  # nesting of write() inside one transaction (savepoint names)
        self._edge_id: str | None = None  # this edge's id, once looked up (edge_id())
        self._lock_path = lock_path
        self._lock = WriteLock(lock_path) if lock_path else None
        # The database file this connection opened ((device, inode); Store.open sets it):
        # a commit checks the path still names it (see _commit).
        self._file: tuple[int, int] | None = None
        self._abs_path = ""  # its path, absolute (a process may change directory)
        self._writing = False
        self._transactions = 0  # write transactions begun on this connection
        # Content for the write transaction in progress (ContentStore._content): looked up
        # once in it; bypassed once the transaction itself changed content.
        self._content_now: _ContentCache | None = None
        self._content_changed = False
        # Learners created in the write transaction numbered `_created_in` that have had
        # no place, no review or no lesson result saved since (ProgressStore._has_none_yet).
        self._no_places: set[str] = set()
        self._no_reviews: set[str] = set()
        self._no_results: set[str] = set()
        self._created_in: int | None = None

    @contextmanager
    def _file_lock(self, timeout: float) -> Iterator[None]:
        """The lock writers of every process queue on (gateway/store/writelock.py);
        LockBusy when another process still holds it after `timeout` seconds."""
        if self._lock is None:
            yield
            return
        self._lock.acquire(timeout)
        try:
            yield
        finally:
            self._lock.release()

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, migrate: bool = False,
             clock: Callable[[], float] = time.time,
             busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Store:
        """Open the database (WAL, busy timeout, foreign keys on); `migrate` applies the
        schema. `clock` gives the time stored with every change (tests simulate days);
        a writer waits at most `busy_timeout` seconds for the write lock."""
        path = Path(path) if path is not None else default_db_path()
        created = False
        if not path.exists():
            files.refuse_to_remake(path)  # a database was here: restore it, not nothing
            # Made empty and private first: SQLite would make it (and its WAL) 0644.
            created = files.create_private(path)
        conn = sqlite3.connect(
            str(path),
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE_BYTES}")  # before WAL makes the file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # A checkpoint copies each page changed since the last one into the database
        # file, inside whichever commit crosses the threshold. Every message rewrites
        # the same hot pages (table tails, indexes), so rarer checkpoints copy far
        # fewer pages in all: 10,000 pages (20 MB of WAL at 2 KiB a page) instead of
        # SQLite's 1,000.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        store = cls(Database(conn, execute_plugins=False), str(path) + "-writelock", clock,
                    busy_timeout)
        store.path = str(path)
        store._abs_path = str(path.absolute())
        store._file = files.identity(store._abs_path)
        if migrate:
            store.migrate()
        if created or migrate:  # made here, or a process starting on it
            files.mark(path)
        return store

    def migrate(self) -> list[str]:
        """Apply pending schema migrations and return their names. Raises SchemaError,
        changing nothing, for a database made by a newer Learnline; raises SchemaError
        when the schema then differs from the one a new database gets (schema_check)."""
        where = self.path or "the database"
        try:
            schema_check.refuse_newer(self.db.conn, where)
            pending = [m.name for m in migrations.pending(self.db)]
        except schema_check.SchemaError:
            # Perhaps only half-made: another process may be applying the first
            # migrations right now. Judge again once it is done (under the lock below).
            pending = None
        if pending is None or pending:
            # Several processes may start at once (gunicorn workers, `serve` and `worker`):
            # one applies them, the others wait (longer than a request would: a migration
            # of a big database may take minutes), then find nothing left to apply.
            with self._locked(max(self.busy_timeout, MIGRATION_WAIT_SECONDS)):
                schema_check.refuse_newer(self.db.conn, where)
                pending = [m.name for m in migrations.pending(self.db)]
                migrations.apply(self.db)
        schema_check.refuse_different(self.db.conn, where)
        return pending

    def checkpoint(self) -> tuple[int, int]:
        """Copy committed WAL pages into the database file without waiting on anyone
        (a passive checkpoint); return (pages in the WAL, pages copied so far)."""
        _busy, wal_pages, copied = self.db.conn.execute(
            "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return wal_pages, copied

    def backup_to(self, target: str | Path) -> None:
        """Copy the whole database into `target` (a new file) with SQLite's online backup:
        one consistent snapshot, taken while other connections keep writing."""
        with sqlite3.connect(str(target)) as copy:
            self.db.conn.backup(copy)
        copy.close()

    def integrity_problems(self, *, full: bool = False) -> list[str]:
        """What SQLite's integrity check finds wrong ([] when sound). `full` runs
        integrity_check (also cross-checks indexes against tables; slower) instead of
        quick_check."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            found = [row[0] for row in self.db.conn.execute(f"PRAGMA {pragma}")]
        except sqlite3.DatabaseError as exc:  # too damaged for the check to finish
            return [str(exc)]
        return [] if found == ["ok"] else found

    def row_counts(self) -> dict[str, int]:
        """How many learners, enrollments, inbound and outbox messages are stored."""
        return {table: self.db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("learners", "enrollments", "inbound", "outbox")}

    def ping(self) -> None:
        """Raise if the database cannot be read."""
        self.db.execute("SELECT count(*) FROM courses").fetchone()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        """The write lock of this process and of every process, waiting at most
        `timeout` seconds for both; LockBusy past that."""
        deadline = time.monotonic() + timeout
        # Threads of one process queue here, in order, rather than in SQLite's busy
        # handler, whose growing sleeps let an unlucky writer wait far longer than needed.
        if not _PROCESS_WRITE_LOCK.acquire(timeout=max(timeout, 0)):
            raise LockBusy(f"write lock busy for {timeout:g} s (this process)")
        try:
            with self._file_lock(deadline - time.monotonic()):
                yield
        finally:
            _PROCESS_WRITE_LOCK.release()

    @contextmanager
    def _immediate(self, timeout: float | None = None) -> Iterator[None]:
        """A write transaction, waiting at most `timeout` seconds (default: the busy
        timeout) for the write lock; LockBusy, nothing written, past that."""
        conn = self.db.conn
        with self._locked(self.busy_timeout if timeout is None else timeout):
            conn.execute("BEGIN IMMEDIATE")
            self._writing = True
            self._transactions += 1
            try:
                yield
                self._commit()
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._writing = False
                self._content_now = None
                self._content_changed = False

    def _commit(self) -> None:
        # A database deleted or replaced under an open connection still takes its writes,
        # into a file nobody will read again: refuse them before anyone is told they are
        # stored. (One stat per transaction.)
        if self._file is not None and files.identity(self._abs_path) != self._file:
            raise files.DatabaseFileError(files.gone(self.path))
        self.db.conn.execute("COMMIT")

    @contextmanager
    def write(self, timeout: float | None = None) -> Iterator[Store]:
        """A write transaction: all or nothing. A nested call is a savepoint inside the
        outer transaction: if it raises, only its own changes are undone.

        It takes the write lock at the start (BEGIN IMMEDIATE), waiting at most
        `timeout` seconds (default: the busy timeout), so two writers never deadlock on
        a lock upgrade; past that it raises LockBusy (an sqlite3.OperationalError) and
        nothing is written.
        """
        conn = self.db.conn
        if conn.in_transaction:
            self._depth += 1
            savepoint = f"learnline_{self._depth}"
            conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
                raise
            else:
                conn.execute(f"RELEASE {savepoint}")
            finally:
                self._depth -= 1
            return
        with self._immediate(timeout):
            yield self

    def write_transaction(self) -> int | None:
        """A number for the write transaction in progress on this connection (None outside
        one). While it lasts, nothing but this connection changes what it reads: a caller
        may remember a row it read or wrote in it until the number changes."""
        return self._transactions if self._writing else None

    @contextmanager
    def _write_one(self) -> Iterator[Store]:
        """For a change made by a single statement (or by one of two, the first changing
        nothing when the second runs): a transaction of its own when none is open; inside
        one, no savepoint (a statement that fails changes nothing, and the error goes on
        to whoever opened the transaction, as from write())."""
        if self.db.conn.in_transaction:
            yield self
            return
        with self._immediate():
            yield self

    def write_shared(self, work: Callable[[Store], T]) -> T:
        """Run `work(store)` in a write transaction that other threads of this process may
        share (group commit: gateway/store/group_commit.py); return its result once that
        transaction is committed. `work` must use only the store it is given: it may run
        on another thread's connection. Inside an open transaction it simply runs."""
        if self._lock_path is None or self.db.conn.in_transaction:
            with self.write():
                return work(self)
        group = _GROUPS.get(self._lock_path)
        if group is None:
            with _GROUPS_LOCK:
                group = _GROUPS.setdefault(self._lock_path, GroupCommit())
        return group.run(self, work)

    def _rows(self, sql: str, params: Any = ()) -> Iterator[dict]:
        # Straight to the connection: sqlite-utils' query() wraps each read in a
        # savepoint, two extra statements that cost as much as the read itself.
        cursor = self.db.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def _one(self, sql: str, params: Any = ()) -> dict | None:
        cursor = self.db.conn.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([column[0] for column in cursor.description], row, strict=True))

    # -- events (gateway/store/events.py, docs/sync.md) ----------------------------------

    def edge_id(self) -> str:
        """This edge's id: `$LEARNLINE_EDGE_ID` if set (ValueError if it is not 1 to 40
        of a-z, 0-9 and -), else one made once and kept in settings."""
        if self._edge_id is None:
            wanted = events.edge_id_from_env()
            stored = events.stored_edge_id(self.db.conn)
            if stored is not None and wanted in (None, stored):
                self._edge_id = stored
            else:
                with self.write():
                    self._edge_id = events.resolve_edge_id(self.db.conn)
        return self._edge_id

    def record_event(self, learner: str, kind: str, data: dict[str, Any]) -> str:
        """Record a change to a learner as an immutable event of this edge, inside the
        caller's write transaction (one INSERT); return the event's id."""
        return events.record(self, learner, kind, data)

    # -- settings, heartbeats and the database's health -------------------------------

    def setting(self, name: str, default_factory) -> str:
        """A stored setting, created once from `default_factory()` (shared by every process)."""
        row = self._one("SELECT value FROM settings WHERE name = ?", [name])
        if row is not None:
            return row["value"]
        with self.write():
            self.db.execute("INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)",
                            [name, default_factory()])
            return self.db.execute("SELECT value FROM settings WHERE name = ?",
                                   [name]).fetchone()[0]

    def installed_pack(self) -> tuple[int, str] | None:
        """(version, digest) of the course pack last installed (gateway/sync/packs.py), or None."""
        row = self._one("SELECT value FROM settings WHERE name = 'pack'")
        if row is None:
            return None
        pack = json.loads(row["value"])
        return int(pack["version"]), str(pack["digest"])

    def record_pack(self, version: int, digest: str) -> None:
        """Record the course pack just installed (call in the transaction that applied it)."""
        with self.write():
            self.db.execute(
                "INSERT INTO settings (name, value) VALUES ('pack', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [json.dumps({"version": version, "digest": digest,
                             "installed_at": self.clock()})])

    def beat(self, name: str) -> None:
        """Record that a background process (`name`, e.g. "worker") is alive, now."""
        with self.write():
            self.db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [f"heartbeat:{name}", repr(time.time())])

    def record_refusal(self, carrier_id: str, detail: str) -> None:
        """Record that a carrier's API refused the gateway's credentials, now."""
        with self._write_one():
            self.db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [f"refused:{carrier_id}", json.dumps({"at": self.clock(), "detail": detail})])

    def clear_refusal(self, carrier_id: str) -> None:
        """Forget a carrier's refusal (it accepted a message since)."""
        with self._write_one():
            self.db.execute("DELETE FROM settings WHERE name = ?", [f"refused:{carrier_id}"])

    def refusals(self) -> dict[str, dict]:
        """Carriers whose API refused the gateway's credentials at their last send that
        was not accepted: {carrier id: {"at": when, "detail": what it said}}."""
        return {row["name"].removeprefix("refused:"): json.loads(row["value"])
                for row in self._rows("SELECT name, value FROM settings "
                                      "WHERE name LIKE 'refused:%' ORDER BY name")}

    def last_beat(self, name: str) -> float | None:
        """When `name` last recorded a heartbeat (Unix seconds), or None if never."""
        row = self._one("SELECT value FROM settings WHERE name = ?", [f"heartbeat:{name}"])
        return float(row["value"]) if row else None

    def pending_migrations(self) -> list[str]:
        """Names of schema migrations this database has not had yet."""
        return [m.name for m in migrations.pending(self.db)]

    def write_problem(self) -> str | None:
        """Why a write would fail now, in a few words (None: nothing known against it).
        Never waits for the write lock: a health check must answer while writers queue."""
        if self._file is not None:
            if files.identity(self._abs_path) != self._file:
                return files.gone(self.path)
            problem = files.read_only(self.path)
            if problem is not None:
                return problem
        if self._lock_path is not None:
            held = writelock.holder(self._lock_path)
            if held is not None and time.time() - held[0] > self.busy_timeout:
                return (f"the write lock has been held for {time.time() - held[0]:.0f} s by "
                        f"process {held[1]}, longer than writers wait ({self.busy_timeout:g} "
                        "s)")
        return None

    def schema_problems(self) -> list[str]:
        """What is wrong with this database's schema for this version of Learnline, one
        phrase each ([] when nothing): made by a newer Learnline, or tables, columns,
        indexes or triggers missing or different from what its migrations make."""
        newer = schema_check.newer_migrations(self.db.conn)
        if newer:
            return [f"made by a newer Learnline (migration {newer[-1]} is unknown here)"]
        return schema_check.differences(self.db.conn)
