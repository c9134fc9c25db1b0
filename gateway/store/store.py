"""SQLite access through sqlite-utils: connection settings, transactions, queries."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from gateway.content.model import Course, Lesson
from gateway.store import events, files, schema_check, writelock
from gateway.store.group_commit import GroupCommit
from gateway.store.records import (
    CertificateRecord,
    EnrollmentRecord,
    InboundRecord,
    LearnerRecord,
    OutboxRecord,
    QuizState,
    UssdSessionRecord,
)
from gateway.store.schema import migrations
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


class _RecentKeys:
    """A bounded set that forgets its oldest keys (thread-safe enough: a lost race only
    repeats an idempotent insert)."""

    def __init__(self, size: int):
        self.size = size
        self._keys: dict[tuple, None] = {}

    def __contains__(self, key: tuple) -> bool:
        return key in self._keys

    def add(self, key: tuple) -> None:
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.pop(next(iter(self._keys)), None)


# (database, day, channel, phone) this process has recorded as active: most messages come
# from someone already counted today, and need no write for it.
_ACTIVITY_NOTED = _RecentKeys(50_000)
T = TypeVar("T")

# Every change to courses or lessons gives the content a new random version token in
# settings, in the same transaction (triggers, migration m009). A write transaction reads
# the token once and then takes content from this process's cache for that token: no
# courses or lessons statement per message. Another process's import shows as a new token
# at the next transaction (tokens are random: a rolled-back change can never match a later
# one). Within a transaction, content is written only by save_course, which sends the
# rest of that transaction's reads of content to the tables.
CONTENT_VERSION_SETTING = "content_version"


class _ContentCache:
    """Parsed courses and lessons of one content version of one database."""

    __slots__ = ("by_id", "courses", "lessons", "version")

    def __init__(self, version: str):
        self.version = version
        self.courses: list[Course] | None = None
        self.by_id: dict[str, Course | None] = {}
        self.lessons: dict[tuple[str, str, str], Lesson | None] = {}


_CONTENT: dict[str, _ContentCache] = {}

# Delivery states in the order a message moves through them; a late callback
# never moves a message backwards (carriers deliver callbacks out of order).
_STATUS_RANK = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "cancelled": 3,
}


def default_db_path() -> Path:
    """The database file: `$LEARNLINE_DB`, else `learnline.db` in the working directory."""
    return Path(os.environ.get("LEARNLINE_DB") or "learnline.db")


class Store:
    """One connection to the Learnline database, with every query the gateway runs."""

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
        # Content for the write transaction in progress (see _content): looked up once in it;
        # bypassed once the transaction itself changed content.
        self._writing = False
        self._transactions = 0  # write transactions begun on this connection
        self._content_now: _ContentCache | None = None
        self._content_changed = False

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
        schema_check.refuse_newer(self.db.conn, where)
        pending = [m.name for m in migrations.pending(self.db)]
        if pending:
            # Several processes may start at once (gunicorn workers): one applies them,
            # the others wait (longer than a request would: a migration of a big
            # database may take minutes), then find nothing left to apply.
            with self._locked(max(self.busy_timeout, MIGRATION_WAIT_SECONDS)):
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

    # -- content -------------------------------------------------------------------

    def save_course(
        self, course: Course, position: int, on_lesson: Callable[[], object] | None = None,
    ) -> dict[str, int]:
        """Insert or update a course and its lessons; return counts of added/updated/unchanged.

        Learners' progress is kept: it refers to lessons by id and position, and when the
        course's list of lessons changes each learner's place follows their lesson
        (`_follow_lessons`). `on_lesson` is called after each lesson text (a progress bar).
        """
        now = self.clock()
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        with self.write():
            before = self._one("SELECT meta FROM courses WHERE id = ?", [course.id])
            if before is not None:
                self._follow_lessons(course.id, json.loads(before["meta"])["lesson_ids"],
                                     list(course.lesson_ids))
            self.db.execute(
                """INSERT INTO courses (id, code, position, meta, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET code = excluded.code,
                     position = excluded.position, meta = excluded.meta,
                     updated_at = excluded.updated_at
                   WHERE courses.meta != excluded.meta OR courses.position != excluded.position
                     OR courses.code != excluded.code""",
                [course.id, course.code, position, course.meta_json(), now],
            )
            existing = {
                (row["lesson_id"], row["locale"]): row["hash"]
                for row in self._rows(
                    "SELECT lesson_id, locale, hash FROM lessons WHERE course_id = ?", [course.id]
                )
            }
            keep: set[tuple[str, str]] = set()
            for locale, lessons in course.lessons.items():
                for lesson in lessons:
                    key = (lesson.id, locale)
                    keep.add(key)
                    digest = lesson.content_hash
                    if on_lesson is not None:
                        on_lesson()
                    if existing.get(key) == digest:
                        counts["unchanged"] += 1
                        continue
                    counts["updated" if key in existing else "added"] += 1
                    self.db.execute(
                        """INSERT INTO lessons
                             (course_id, lesson_id, locale, position, body, hash, updated_at)
                           VALUES (?, ?, ?, ?, ?, ?, ?)
                           ON CONFLICT (course_id, lesson_id, locale) DO UPDATE SET
                             position = excluded.position, body = excluded.body,
                             hash = excluded.hash, updated_at = excluded.updated_at""",
                        [course.id, lesson.id, locale, course.lesson_ids.index(lesson.id),
                         lesson.to_json(), digest, now],
                    )
            for lesson_id, locale in set(existing) - keep:
                self.db.execute(
                    "DELETE FROM lessons WHERE course_id = ? AND lesson_id = ? AND locale = ?",
                    [course.id, lesson_id, locale],
                )
            # Any change gave the content a new version token (triggers, m009); until
            # this transaction ends its reads of content go to the tables.
            self._content_changed = True
            self._content_now = None
        return counts

    def _content(self) -> _ContentCache | None:
        """This process's parsed content, valid for what this connection reads now; None
        when content must be read from its tables: outside a write transaction (each read
        is then its own snapshot), in one that changed content, or with no version token
        (content stored before tokens existed)."""
        if not self._writing or self._content_changed:
            return None
        if self._content_now is None:
            row = self.db.conn.execute("SELECT value FROM settings WHERE name = ?",
                                       [CONTENT_VERSION_SETTING]).fetchone()
            if row is None:
                return None
            version = row[0]
            key = self.path or f"store:{id(self)}"
            cache = _CONTENT.get(key)
            if cache is None or cache.version != version:
                cache = _CONTENT[key] = _ContentCache(version)
            # The write lock is held: no other process can change content before COMMIT.
            self._content_now = cache
        return self._content_now

    def _follow_lessons(self, course_id: str, old_ids: list[str], new_ids: list[str]) -> None:
        """Keep each learner in the lesson they were in when a course's lessons are removed,
        added or reordered: an enrollment's place is a lesson *position*, which would
        otherwise point at another lesson (mid-way through it, or in its quiz). A learner
        whose lesson was removed starts the next lesson that remains; with none left after
        it, the end of the last lesson (the engine then asks its quiz)."""
        if old_ids == new_ids:
            return
        where = {lesson_id: n for n, lesson_id in enumerate(new_ids)}
        rows = list(self._rows(
            "SELECT phone, position FROM enrollments "
            "WHERE course_id = ? AND completed_at IS NULL", [course_id]))
        for row in rows:
            position = row["position"]
            if not 0 <= position < len(old_ids):
                continue  # already past the end: the engine clamps it
            if old_ids[position] in where:
                moved, reset = where[old_ids[position]], False
            else:
                moved = next((where[i] for i in old_ids[position + 1:] if i in where), None)
                reset = True
            if moved is None:
                self.db.execute(
                    "UPDATE enrollments SET position = ?, card = ?, quiz = NULL "
                    "WHERE phone = ? AND course_id = ?",
                    [len(new_ids) - 1, 10**6, row["phone"], course_id])
                self._moved_event(row["phone"], course_id, new_ids, len(new_ids) - 1, 10**6)
            elif reset:
                self.db.execute(
                    "UPDATE enrollments SET position = ?, card = -1, quiz = NULL "
                    "WHERE phone = ? AND course_id = ?", [moved, row["phone"], course_id])
                self._moved_event(row["phone"], course_id, new_ids, moved, -1)
            elif moved != position:
                self.db.execute(
                    "UPDATE enrollments SET position = ? WHERE phone = ? AND course_id = ?",
                    [moved, row["phone"], course_id])

    def _moved_event(self, phone: str, course_id: str, lesson_ids: list[str], position: int,
                     card: int) -> None:
        # The learner's lesson is gone: their new place is a fact other edges must learn,
        # or a merge would put them back where the removed lesson was.
        self.record_event(phone, "card_reached", {
            "course": course_id, "position": position, "card": card,
            "lesson": lesson_ids[position] if 0 <= position < len(lesson_ids) else None,
            "quiz": None})

    def courses(self) -> list[Course]:
        """Every course, in catalogue order, without lesson bodies."""
        cache = self._content()
        if cache is not None and cache.courses is not None:
            return list(cache.courses)
        courses = [
            _course_from_row(row["id"], row["meta"])
            for row in self._rows("SELECT id, meta FROM courses ORDER BY position, id")
        ]
        if cache is not None:
            cache.courses = courses
            cache.by_id.update((course.id, course) for course in courses)
        return list(courses)

    def course(self, course_id: str) -> Course | None:
        """One course without lesson bodies, or None."""
        cache = self._content()
        if cache is not None and course_id in cache.by_id:
            return cache.by_id[course_id]
        row = self._one("SELECT id, meta FROM courses WHERE id = ?", [course_id])
        course = _course_from_row(row["id"], row["meta"]) if row else None
        if cache is not None:
            cache.by_id[course_id] = course
        return course

    def course_digests(self, course_id: str) -> tuple[str | None, dict[tuple[str, str], str]]:
        """A course as stored, to compare with another copy: its metadata (None when the
        course is not here) and each lesson text's content hash by (lesson id, locale)."""
        row = self._one("SELECT meta FROM courses WHERE id = ?", [course_id])
        lessons = {(r["lesson_id"], r["locale"]): r["hash"] for r in self._rows(
            "SELECT lesson_id, locale, hash FROM lessons WHERE course_id = ?", [course_id])}
        return (row["meta"] if row else None), lessons

    def course_count(self) -> int:
        """How many courses are loaded."""
        return self.db.execute("SELECT count(*) FROM courses").fetchone()[0]

    def lesson(self, course_id: str, lesson_id: str, locale: str) -> Lesson | None:
        """A lesson's content in `locale`, or None when it has no text in that locale."""
        cache = self._content()
        key = (course_id, lesson_id, locale)
        if cache is not None and key in cache.lessons:
            return cache.lessons[key]
        row = self._one(
            "SELECT body FROM lessons WHERE course_id = ? AND lesson_id = ? AND locale = ?",
            [course_id, lesson_id, locale],
        )
        lesson = _lesson_from_body(row["body"]) if row else None
        if cache is not None:
            cache.lessons[key] = lesson
        return lesson

    # -- learners ----------------------------------------------------------------------

    _LEARNER_COLUMNS = (
        "phone", "locale", "carrier_id", "stopped", "current_course", "display_name",
        "timezone", "schedule", "schedule_hour", "schedule_paused", "schedule_offered",
        "next_check_at", "last_seen_at", "nudges", "pending_review")

    def learner(self, phone: str) -> LearnerRecord | None:
        """The learner with this E.164 number, or None."""
        row = self._one(
            f"SELECT {', '.join(self._LEARNER_COLUMNS)}, created_at FROM learners WHERE phone = ?",
            [phone])
        return _learner_record(row) if row else None

    _UPDATE_LEARNER = ("UPDATE learners SET "
                       f"{', '.join(f'{c} = ?' for c in _LEARNER_COLUMNS[1:])}, "
                       "updated_at = ? WHERE phone = ?")
    _INSERT_LEARNER = (f"INSERT INTO learners ({', '.join(_LEARNER_COLUMNS)}, created_at, "
                       f"updated_at) VALUES ({', '.join('?' * (len(_LEARNER_COLUMNS) + 2))})")

    def save_learner(self, learner: LearnerRecord) -> None:
        """Create or update a learner."""
        now = self.clock()
        values = [learner.locale, learner.carrier_id, int(learner.stopped),
                  learner.current_course, learner.display_name, learner.timezone,
                  learner.schedule, learner.schedule_hour, int(learner.schedule_paused),
                  int(learner.schedule_offered), learner.next_check_at, learner.last_seen_at,
                  learner.nudges,
                  json.dumps(learner.pending_review) if learner.pending_review else None]
        # Most saves update someone who exists: a plain UPDATE costs about half an
        # INSERT .. ON CONFLICT DO UPDATE, which tries the insert first.
        with self._write_one():
            conn = self.db.conn
            if not conn.execute(self._UPDATE_LEARNER, [*values, now, learner.phone]).rowcount:
                conn.execute(self._INSERT_LEARNER, [learner.phone, *values, now, now])

    def set_stopped(self, phone: str, stopped: bool) -> None:
        """Mark a learner as opted out (or back in), recording it as an event when it
        changes anything (one transaction; the caller's if it has one)."""
        with self.write():
            changed = self.db.conn.execute(
                "UPDATE learners SET stopped = ?, updated_at = ? WHERE phone = ? "
                "AND stopped != ?", [int(stopped), self.clock(), phone, int(stopped)],
            ).rowcount
            if changed:
                self.record_event(phone, "opted_out" if stopped else "opted_in", {})

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

    def enrollment(self, phone: str, course_id: str) -> EnrollmentRecord | None:
        """A learner's place in a course, or None if not enrolled."""
        row = self._one(
            "SELECT position, card, quiz, completed_at FROM enrollments "
            "WHERE phone = ? AND course_id = ?",
            [phone, course_id],
        )
        if row is None:
            return None
        return EnrollmentRecord(
            phone=phone,
            course_id=course_id,
            position=row["position"],
            card=row["card"],
            quiz=QuizState.from_json(row["quiz"]),
            completed=row["completed_at"] is not None,
        )

    def save_enrollment(self, enrollment: EnrollmentRecord) -> None:
        """Create or update a learner's place in a course."""
        now = self.clock()
        quiz = enrollment.quiz.to_json() if enrollment.quiz else None
        self.db.execute(
            """INSERT INTO enrollments
                 (phone, course_id, position, card, quiz, started_at, completed_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id) DO UPDATE SET position = excluded.position,
                 card = excluded.card, quiz = excluded.quiz,
                 completed_at = CASE WHEN excluded.completed_at IS NULL THEN NULL
                                     ELSE coalesce(enrollments.completed_at,
                                                   excluded.completed_at) END,
                 updated_at = excluded.updated_at""",
            [enrollment.phone, enrollment.course_id, enrollment.position, enrollment.card, quiz,
             now, now if enrollment.completed else None, now],
        )

    def record_answer(
        self, phone: str, course_id: str, lesson_id: str, question: int, choice: int,
        correct: bool, first_try: bool,
    ) -> None:
        """Keep one quiz answer, right or wrong."""
        self.db.execute(
            """INSERT INTO answers
                 (phone, course_id, lesson_id, question, choice, correct, first_try, at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [phone, course_id, lesson_id, question, choice, int(correct), int(first_try),
             self.clock()],
        )

    def note_activity(self, phone: str, channel: str) -> None:
        """Count the learner active today (UTC, by the store's clock) on `channel` ('sms',
        'ussd' or 'web'): one row per learner, channel and day, for daily active learners.
        Cheap and idempotent; call it inside the write transaction of what they did."""
        day = time.strftime("%Y-%m-%d", time.gmtime(self.clock()))
        key = (self._lock_path, day, channel, phone)
        if key in _ACTIVITY_NOTED:
            return  # this process noted it today already: skip the statement
        self.db.execute(
            "INSERT OR IGNORE INTO activity (day, channel, phone) VALUES (?, ?, ?)",
            [day, channel, phone])
        _ACTIVITY_NOTED.add(key)

    def save_lesson_result(
        self, phone: str, course_id: str, lesson_id: str, score: int, total: int
    ) -> None:
        """Record a finished lesson's score (the latest attempt counts)."""
        self.db.execute(
            """INSERT INTO lesson_results (phone, course_id, lesson_id, score, total, completed_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id, lesson_id) DO UPDATE SET score = excluded.score,
                 total = excluded.total, completed_at = excluded.completed_at""",
            [phone, course_id, lesson_id, score, total, self.clock()],
        )

    def lesson_results(self, phone: str, course_id: str) -> dict[str, tuple[int, int]]:
        """Finished lessons of a course: lesson id to (score, total)."""
        return {
            row["lesson_id"]: (row["score"], row["total"])
            for row in self._rows(
                "SELECT lesson_id, score, total FROM lesson_results "
                "WHERE phone = ? AND course_id = ?",
                [phone, course_id],
            )
        }

    # -- learning over time: the scheduler's queue and spaced review -------------------------

    def learners_to_check(self, now: float, limit: int = 200) -> list[LearnerRecord]:
        """Learners whose `next_check_at` has come, earliest first."""
        rows = self._rows(
            f"SELECT {', '.join(self._LEARNER_COLUMNS)} FROM learners "
            "WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?", [now, limit])
        return [_learner_record(row) for row in rows]

    def set_next_check(self, phone: str, at: float | None) -> None:
        """When the scheduler should next look at a learner (None: not until they write)."""
        self.db.execute("UPDATE learners SET next_check_at = ? WHERE phone = ?", [at, phone])

    def add_review(self, phone: str, course_id: str, lesson_id: str, question: int,
                   due_at: float) -> None:
        """Bring a question back for review at `due_at` (again from zero if it was due)."""
        self.db.execute(
            """INSERT INTO reviews (phone, course_id, lesson_id, question, due_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET due_at = excluded.due_at, right_count = 0""",
            [phone, course_id, lesson_id, question, due_at])

    def due_review(self, phone: str, now: float) -> dict | None:
        """The learner's review question that has waited longest past its time, or None."""
        return self._one(
            "SELECT course_id, lesson_id, question, right_count FROM reviews "
            "WHERE phone = ? AND due_at <= ? ORDER BY due_at LIMIT 1", [phone, now])

    def next_review_at(self, phone: str) -> float | None:
        """When the learner's next review question is due, or None."""
        return self.db.execute("SELECT min(due_at) FROM reviews WHERE phone = ?",
                               [phone]).fetchone()[0]

    def answer_review(self, phone: str, course_id: str, lesson_id: str, question: int,
                      correct: bool, next_due_at: float, *, needed: int = 2) -> bool:
        """Record a review answer; return True once it has been right `needed` times (the
        question then leaves review). A wrong answer starts the count again."""
        key = [phone, course_id, lesson_id, question]
        row = self._one("SELECT right_count FROM reviews WHERE phone = ? AND course_id = ? "
                        "AND lesson_id = ? AND question = ?", key)
        if row is None:
            return True
        count = row["right_count"] + 1 if correct else 0
        if count >= needed:
            self.db.execute("DELETE FROM reviews WHERE phone = ? AND course_id = ? "
                            "AND lesson_id = ? AND question = ?", key)
            return True
        self.db.execute("UPDATE reviews SET right_count = ?, due_at = ? WHERE phone = ? "
                        "AND course_id = ? AND lesson_id = ? AND question = ?",
                        [count, next_due_at, *key])
        return False

    def course_audience(self, course_id: str) -> list[tuple[str, str, str, str | None]]:
        """(phone, locale, carrier id, chosen time zone) of every learner enrolled in the
        course who has not opted out, by number."""
        return [tuple(row) for row in self.db.execute(
            """SELECT l.phone, l.locale, l.carrier_id, l.timezone
               FROM enrollments e JOIN learners l ON l.phone = e.phone
               WHERE e.course_id = ? AND l.stopped = 0 ORDER BY l.phone""", [course_id])]

    def course_opted_out(self, course_id: str) -> int:
        """How many learners enrolled in the course have opted out (erased ones aside)."""
        return self.db.execute(
            "SELECT count(*) FROM enrollments e JOIN learners l ON l.phone = e.phone "
            "WHERE e.course_id = ? AND l.stopped = 1 AND l.phone NOT LIKE 'erased:%'",
            [course_id]).fetchone()[0]

    # -- inbound -------------------------------------------------------------------------

    def record_inbound(
        self, carrier_id: str, carrier_message_id: str, phone: str, text: str,
        recipient: str = "", meta: dict[str, str] | None = None, *, processed: bool = False,
    ) -> InboundRecord:
        """Store an inbound message once per (carrier, carrier message id).

        A repeat of a known id changes nothing and returns the stored message with
        `is_new` False. `processed` stores a new message as processed already: for
        a caller that processes it in the same transaction (and marks it failed if
        that fails), which spares an update of the row and its pending index.
        """
        now = self.clock()
        with self._write_one():  # one INSERT (and a read when it is a repeat)
            inserted = self.db.conn.execute(
                """INSERT INTO inbound (carrier_id, carrier_message_id, phone, recipient, text,
                                        received_at, meta, status, processed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (carrier_id, carrier_message_id) DO NOTHING
                   RETURNING id, phone, text, status""",
                [carrier_id, carrier_message_id, phone, recipient, text, now,
                 json.dumps(meta) if meta else None,
                 "processed" if processed else "received", now if processed else None],
            ).fetchall()
            if inserted:
                row = dict(zip(("id", "phone", "text", "status"), inserted[0], strict=True))
            else:
                row = self._one(
                    "SELECT id, phone, text, status FROM inbound "
                    "WHERE carrier_id = ? AND carrier_message_id = ?",
                    [carrier_id, carrier_message_id],
                )
        assert row is not None
        return InboundRecord(
            id=row["id"],
            carrier_id=carrier_id,
            carrier_message_id=carrier_message_id,
            phone=row["phone"],
            text=row["text"],
            status=row["status"],
            is_new=bool(inserted),
        )

    def inbound_meta(self, inbound_id: int | None) -> dict[str, str]:
        """What the carrier asked us to send back with a reply to this message."""
        if inbound_id is None:
            return {}
        row = self._one("SELECT meta FROM inbound WHERE id = ?", [inbound_id])
        return json.loads(row["meta"]) if row and row["meta"] else {}

    def inbound_status(self, inbound_id: int) -> str:
        """The processing status of a stored inbound message."""
        row = self.db.execute("SELECT status FROM inbound WHERE id = ?", [inbound_id]).fetchone()
        return row[0]

    def mark_inbound(self, inbound_id: int, status: str, error: str | None = None) -> None:
        """Set an inbound message's processing status ('processed' or 'failed')."""
        self.db.execute(
            "UPDATE inbound SET status = ?, processed_at = ?, error = ? WHERE id = ?",
            [status, self.clock(), error, inbound_id],
        )

    def unprocessed_inbound(self, older_than: float, limit: int = 100) -> list[InboundRecord]:
        """Inbound messages stored but never processed (the process died in between)."""
        return [
            InboundRecord(row["id"], row["carrier_id"], row["carrier_message_id"], row["phone"],
                          row["text"], row["status"], False)
            for row in self._rows(
                """SELECT id, carrier_id, carrier_message_id, phone, text, status FROM inbound
                   WHERE status = 'received' AND received_at <= ?
                   ORDER BY received_at, id LIMIT ?""",
                [older_than, limit],
            )
        ]

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(
        self, carrier_id: str, phone: str, body: str, *, inbound_id: int | None = None,
        to_stopped_ok: bool = False, due_at: float | None = None, kind: str = "reply",
        segments: int = 1,
    ) -> int:
        """Queue one outbound message; return its id. `kind` is 'reply' for an answer to
        the learner, else what the unsolicited message is ('lesson', 'reminder',
        'review', 'announcement'): quiet hours and the daily cap apply to those."""
        now = self.clock()
        cursor = self.db.execute(
            """INSERT INTO outbox (carrier_id, phone, body, inbound_id, to_stopped_ok, due_at,
                                   created_at, updated_at, kind, segments)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [carrier_id, phone, body, inbound_id, int(to_stopped_ok),
             now if due_at is None else due_at, now, now, kind, segments],
        )
        return cursor.lastrowid

    def defer_send(self, outbox_id: int, due_at: float) -> None:
        """Put a claimed message back in the queue until `due_at`, as if never tried."""
        with self._write_one():
            self.db.execute(
                """UPDATE outbox SET status = 'queued', due_at = ?, lease_until = NULL,
                     attempts = max(attempts - 1, 0), updated_at = ?
                   WHERE id = ? AND status = 'sending'""",
                [due_at, self.clock(), outbox_id])

    def unsolicited_queued_since(self, phone: str, kind: str, since: float) -> int:
        """How many messages of this unsolicited `kind` were queued for `phone` since
        `since` (sent or not)."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND kind = ? AND kind != 'reply' "
            "AND created_at >= ?", [phone, kind, since]).fetchone()[0]

    def unsolicited_sent_since(self, phone: str, since: float) -> int:
        """How many unsolicited messages (not replies) the carrier accepted for `phone`
        since `since`."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND kind != 'reply' AND sent_at >= ?",
            [phone, since]).fetchone()[0]

    def claim_due(self, carrier_id: str, lease_seconds: float, *, phone: str | None = None,
                  skip_phones: Collection[str] = ()) -> OutboxRecord | None:
        """Take the next due message of a carrier for sending, leasing it for `lease_seconds`:
        only one to `phone` when given, none to a number in `skip_phones`.

        A message whose lease ran out (its worker died mid-send) is due again.
        """
        now = self.clock()
        only, params = self._phones_filter(phone, skip_phones)
        with self.write():
            row = self._one(
                f"""UPDATE outbox SET status = 'sending', attempts = attempts + 1,
                     lease_until = ?, updated_at = ?
                   WHERE id = (
                     SELECT id FROM (
                       SELECT id, due_at FROM (
                         SELECT id, due_at FROM outbox
                         WHERE carrier_id = ? AND status = 'queued' AND due_at <= ?{only}
                         ORDER BY due_at, id LIMIT 1)
                       UNION ALL
                       SELECT id, due_at FROM (
                         SELECT id, due_at FROM outbox
                         WHERE carrier_id = ? AND status = 'sending' AND lease_until <= ?{only}
                         ORDER BY due_at, id LIMIT 1))
                     ORDER BY due_at, id LIMIT 1)
                   RETURNING id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                             inbound_id, kind""",
                # Two index lookups (queued and due; leased and expired) rather than one
                # OR, which SQLite answers by reading every message the carrier ever had.
                [now + lease_seconds, now, carrier_id, now, *params, carrier_id, now, *params],
            )
        return _outbox_record(row) if row else None

    @staticmethod
    def _phones_filter(phone: str | None, skip_phones: Collection[str]) -> tuple[str, list]:
        """SQL (with its parameters) limiting outbox rows to `phone`, or away from
        `skip_phones`; empty when neither is given."""
        if phone is not None:
            return " AND phone = ?", [phone]
        if skip_phones:
            marks = ", ".join("?" * len(skip_phones))
            return f" AND phone NOT IN ({marks})", list(skip_phones)
        return "", []

    def due_count(self, carrier_id: str | None = None, *, phone: str | None = None) -> int:
        """How many messages are due now (queued and due, or with an expired lease), of one
        carrier and to one number when given."""
        now = self.clock()
        carrier = "" if carrier_id is None else " AND carrier_id = ?"
        extra: list[Any] = [] if carrier_id is None else [carrier_id]
        only, params = self._phones_filter(phone, ())
        queued = self.db.execute(
            f"SELECT count(*) FROM outbox WHERE status = 'queued' AND due_at <= ?{carrier}"
            f"{only}", [now, *extra, *params]).fetchone()[0]
        leased = self.db.execute(
            f"SELECT count(*) FROM outbox WHERE status = 'sending' AND lease_until <= ?"
            f"{carrier}{only}", [now, *extra, *params]).fetchone()[0]
        return queued + leased

    def sending_to(self, phone: str) -> int:
        """How many messages to `phone` are due now or being sent (claimed, not yet
        finished)."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND (status = 'sending' "
            "OR (status = 'queued' AND due_at <= ?))", [phone, self.clock()]).fetchone()[0]

    def outbox_depth(self) -> dict[str, int]:
        """Messages queued or being sent, per carrier (only carriers with some)."""
        return {row["carrier_id"]: row["n"] for row in self._rows(
            "SELECT carrier_id, count(*) AS n FROM outbox "
            "WHERE status IN ('queued', 'sending') GROUP BY carrier_id")}

    def oldest_due_at(self, now: float) -> float | None:
        """When the longest-waiting message that is due now became due, or None."""
        row = self._one("SELECT min(due_at) AS at FROM outbox "
                        "WHERE status = 'queued' AND due_at <= ?", [now])
        return row["at"] if row else None

    def oldest_waiting_since(self, now: float) -> float | None:
        """Since when the longest-waiting message has waited to be sent, or None: a reply
        since it was queued, however often it was retried since; a lesson, reminder or
        announcement held for quiet hours or the day's cap since its hold ended (or since
        it was queued, once it was tried)."""
        row = self._one(
            """SELECT min(CASE WHEN kind = 'reply' OR attempts > 0 THEN created_at
                          ELSE due_at END) AS at
               FROM outbox WHERE status IN ('queued', 'sending')
                 AND (kind = 'reply' OR attempts > 0 OR due_at <= ?)""", [now])
        return row["at"] if row else None

    def next_due_at(self) -> float | None:
        """When the next queued or leased message becomes due, or None if none waits."""
        row = self.db.execute(
            """SELECT min(CASE status WHEN 'queued' THEN due_at ELSE lease_until END)
               FROM outbox WHERE status IN ('queued', 'sending')"""
        ).fetchone()
        return row[0]

    def rebase_future_outbox(self, now: float, tolerance: float = 2.0) -> tuple[int, float]:
        """Bring queued and leased messages last touched after `now` (the clock went back
        since) onto the clock as it now reads: their waits (a reply's none, a retry's
        backoff, a lease) keep their length from `now` instead of lasting the size of the
        step. A lesson held to the end of quiet hours keeps its hour. Returns (messages
        moved, the largest step seen)."""
        found = self._one("SELECT max(updated_at) AS at FROM outbox "
                          "WHERE status IN ('queued', 'sending') AND updated_at > ?",
                          [now + tolerance])
        if found is None or found["at"] is None:
            return 0, 0.0
        with self._write_one():
            cursor = self.db.execute(
                """UPDATE outbox SET
                     due_at = CASE WHEN kind = 'reply' OR due_at <= updated_at
                                     OR error IS NOT NULL
                                   THEN due_at - (updated_at - :now) ELSE due_at END,
                     lease_until = lease_until - (updated_at - :now),
                     updated_at = :now
                   WHERE status IN ('queued', 'sending') AND updated_at > :now + :tolerance""",
                {"now": now, "tolerance": tolerance})
        return cursor.rowcount, found["at"] - now

    def record_accepted(self, outbox_id: int, carrier_message_id: str) -> None:
        """Record, in a transaction of its own, that the carrier accepted a message being
        sent: it is `sent` (since now, which the daily cap of unsolicited messages counts)
        and never due again. The smallest write there is, made before the attempt's
        bookkeeping (`finish_send`), which may fail without the message going out twice."""
        now = self.clock()
        with self._write_one():
            self.db.execute(
                """UPDATE outbox SET status = CASE WHEN status = 'sending' THEN 'sent'
                     ELSE status END, carrier_message_id = ?, lease_until = NULL,
                     updated_at = ?, sent_at = ? WHERE id = ?""",
                [carrier_message_id, now, now, outbox_id])

    def finish_send(
        self, outbox_id: int, outcome: str, *, detail: str | None = None,
        carrier_message_id: str | None = None, retry_at: float | None = None,
        carrier_ref: str | None = None,
    ) -> None:
        """Record a send attempt and move the message on.

        `outcome` is 'accepted' (sent, with the carrier's id and, where it gives one, its
        second id `carrier_ref`), 'retry' (queued again at `retry_at`), 'failed' or
        'cancelled' (final).
        """
        now = self.clock()
        with self.write():
            self.db.execute(
                "INSERT INTO send_attempts (outbox_id, at, outcome, detail) VALUES (?, ?, ?, ?)",
                [outbox_id, now, outcome, detail],
            )
            if outcome == "accepted":
                self.db.execute(
                    """UPDATE outbox SET status = CASE WHEN status = 'sending' THEN 'sent'
                         ELSE status END, carrier_message_id = ?, carrier_ref = ?,
                         lease_until = NULL, error = NULL, updated_at = ?, sent_at = ?
                       WHERE id = ?""",
                    [carrier_message_id, carrier_ref or None, now, now, outbox_id],
                )
                self._apply_early_reports(outbox_id)
            elif outcome == "retry":
                self.db.execute(
                    """UPDATE outbox SET status = 'queued', due_at = ?, lease_until = NULL,
                         error = ?, updated_at = ? WHERE id = ?""",
                    [retry_at if retry_at is not None else now, detail, now, outbox_id],
                )
            else:
                self.db.execute(
                    """UPDATE outbox SET status = ?, lease_until = NULL, error = ?, updated_at = ?
                       WHERE id = ?""",
                    [outcome, detail, now, outbox_id],
                )

    def apply_status(
        self, carrier_id: str, carrier_message_id: str, status: str | None,
        carrier_status: str, error_code: str | None = None,
    ) -> OutboxRecord | None:
        """Record a delivery report and move the message forward (never backwards).

        `status` None records the report without changing the message. Returns
        the message it concerns, or None for an id we never sent. The id may be the
        carrier's second id for the message (`carrier_ref`, finish_send).
        """
        now = self.clock()
        with self.write():
            row = self._one(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND carrier_message_id = ?""",
                [carrier_id, carrier_message_id],
            ) or (self._one(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND carrier_ref = ?""",
                [carrier_id, carrier_message_id],
            ) if carrier_message_id else None)
            self.db.execute(
                """INSERT INTO status_events
                     (carrier_id, carrier_message_id, outbox_id, status, state, error_code, at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [carrier_id, carrier_message_id, row["id"] if row else None, carrier_status,
                 status, error_code, now],
            )
            if row is None:
                return None
            new_status = self._advance(row["id"], row["status"], status, error_code)
        return _outbox_record({**row, "status": new_status,
                               "carrier_message_id": carrier_message_id})

    def _advance(self, outbox_id: int, current: str, status: str | None,
                 error_code: str | None) -> str:
        """Move a message to `status` if that is further along; return its status."""
        if status is None or _STATUS_RANK[status] <= _STATUS_RANK[current]:
            return current
        self.db.execute(
            "UPDATE outbox SET status = ?, error = coalesce(?, error), updated_at = ? "
            "WHERE id = ?",
            [status, error_code, self.clock(), outbox_id],
        )
        return status

    def _apply_early_reports(self, outbox_id: int) -> None:
        """Apply delivery reports that arrived before the carrier's id was recorded."""
        row = self._one(
            "SELECT carrier_id, carrier_message_id, carrier_ref, status FROM outbox "
            "WHERE id = ?", [outbox_id]
        )
        if row is None or row["carrier_message_id"] is None:
            return
        current = row["status"]
        ids = [row["carrier_message_id"], row["carrier_ref"] or row["carrier_message_id"]]
        for event in self._rows(
            """SELECT id, state, error_code FROM status_events
               WHERE carrier_id = ? AND carrier_message_id IN (?, ?) AND outbox_id IS NULL
               ORDER BY id""",
            [row["carrier_id"], *ids],
        ):
            current = self._advance(outbox_id, current, event["state"], event["error_code"])
            self.db.execute("UPDATE status_events SET outbox_id = ? WHERE id = ?",
                            [outbox_id, event["id"]])

    def outbox(self, phone: str | None = None) -> list[OutboxRecord]:
        """Messages in the outbox, oldest first (all, or one learner's)."""
        sql = """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                        carrier_message_id, error FROM outbox"""
        params: list[Any] = []
        if phone is not None:
            sql += " WHERE phone = ?"
            params.append(phone)
        return [_outbox_record(row) for row in self._rows(sql + " ORDER BY id", params)]

    # -- USSD sessions -------------------------------------------------------------------

    def ussd_session(self, carrier_id: str, session_id: str) -> UssdSessionRecord | None:
        """A USSD session by carrier and session id, or None."""
        row = self._one(
            "SELECT * FROM ussd_sessions WHERE carrier_id = ? AND session_id = ?",
            [carrier_id, session_id],
        )
        return _ussd_record(row) if row else None

    def save_ussd_session(self, session: UssdSessionRecord) -> None:
        """Create or update a USSD session."""
        self.db.execute(
            """INSERT INTO ussd_sessions (carrier_id, session_id, phone, service_code, history,
                 view, screen, state, started_at, updated_at, expires_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (carrier_id, session_id) DO UPDATE SET phone = excluded.phone,
                 service_code = excluded.service_code, history = excluded.history,
                 view = excluded.view, screen = excluded.screen, state = excluded.state,
                 updated_at = excluded.updated_at, expires_at = excluded.expires_at""",
            [session.carrier_id, session.session_id, session.phone, session.service_code,
             session.history, json.dumps(session.view, ensure_ascii=False), session.screen,
             session.state, session.started_at, session.updated_at, session.expires_at],
        )

    def abandoned_ussd_session(self, phone: str, since: float) -> UssdSessionRecord | None:
        """The learner's latest USSD session that was left without exiting (it timed out
        or the call dropped) and was active after `since`: the one a new dial resumes."""
        row = self._one(
            """SELECT * FROM ussd_sessions
               WHERE phone = ? AND state = 'open' AND updated_at >= ?
               ORDER BY updated_at DESC LIMIT 1""",
            [phone, since],
        )
        return _ussd_record(row) if row else None

    def end_ussd_sessions(self, phone: str) -> None:
        """Mark every open session of a learner ended (nothing left to resume)."""
        self.db.execute(
            "UPDATE ussd_sessions SET state = 'ended' WHERE phone = ? AND state = 'open'", [phone]
        )

    def purge_ussd_sessions(self, expired_before: float) -> int:
        """Delete sessions that expired before `expired_before`; return how many."""
        with self.write():
            cursor = self.db.execute(
                "DELETE FROM ussd_sessions WHERE expires_at < ?", [expired_before]
            )
        return cursor.rowcount

    def deliver_locally(self, carrier_id: str, phone: str) -> list[OutboxRecord]:
        """Mark a local carrier's queued messages to `phone` sent and return them (the
        phone simulator shows them itself; nothing goes to a network)."""
        now = self.clock()
        with self.write():
            rows = list(self._rows(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND phone = ? AND status = 'queued'
                   ORDER BY id""",
                [carrier_id, phone],
            ))
            self.db.execute(
                """UPDATE outbox SET status = 'sent', attempts = attempts + 1, updated_at = ?
                   WHERE carrier_id = ? AND phone = ? AND status = 'queued'""",
                [now, carrier_id, phone],
            )
        return [_outbox_record(row) for row in rows]

    def conversation(self, phone: str, limit: int = 20) -> list[dict]:
        """A number's latest messages both ways, oldest first: dicts with `direction`
        ('in' or 'out'), `text` and `at`."""
        rows = list(self._rows(
            """SELECT * FROM (
                 SELECT 'in' AS direction, text, received_at AS at, id FROM inbound
                 WHERE phone = ?
                 UNION ALL
                 SELECT 'out' AS direction, body AS text, created_at AS at, id FROM outbox
                 WHERE phone = ?)
               ORDER BY at DESC, direction, id DESC LIMIT ?""",
            [phone, phone, limit],
        ))
        return [{"direction": r["direction"], "text": r["text"], "at": r["at"]}
                for r in reversed(rows)]

    # -- certificates --------------------------------------------------------------------------

    def issue_certificate(
        self, phone: str, course_id: str, course_title: str, holder: str, score: int,
        total: int, new_code: Callable[[], str],
    ) -> CertificateRecord:
        """The learner's certificate for a course: the one they already have, else a new one
        with a code from `new_code()` (drawn again in the unlikely case it is taken). A
        learner gets one certificate per course, however often they complete it."""
        with self.write():
            found = self._one(
                "SELECT * FROM certificates WHERE phone = ? AND course_id = ?",
                [phone, course_id])
            if found is not None:
                return _certificate_record(found)
            now = self.clock()
            for _ in range(8):
                code = new_code()
                inserted = self.db.conn.execute(
                    """INSERT INTO certificates (code, phone, course_id, course_title, holder,
                                                 score, total, issued_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                    [code, phone, course_id, course_title, holder, score, total, now],
                ).rowcount
                if inserted:
                    return CertificateRecord(code, phone, course_id, course_title, holder,
                                             score, total, now)
        raise RuntimeError("no free certificate code after 8 draws: is new_code random?")

    def certificate(self, code: str) -> CertificateRecord | None:
        """The certificate with this canonical code, or None."""
        row = self._one("SELECT * FROM certificates WHERE code = ?", [code])
        return _certificate_record(row) if row else None

    def certificates_of(self, phone: str) -> list[CertificateRecord]:
        """The learner's certificates, oldest first."""
        return [_certificate_record(row) for row in self.db.query(
            "SELECT * FROM certificates WHERE phone = ? ORDER BY issued_at, code", [phone])]

    def rename_certificates(self, phone: str, holder: str) -> int:
        """Show `holder` as the name on every certificate the learner holds; how many."""
        with self.write():
            return self.db.conn.execute(
                "UPDATE certificates SET holder = ? WHERE phone = ? AND holder != ?",
                [holder, phone, holder]).rowcount

    # -- sign-in codes and rate limits -------------------------------------------------------

    def save_signin_code(self, phone: str, code_hash: str, expires_at: float) -> None:
        """Keep a new sign-in code for `phone`; earlier ones still unexpired keep working
        (an SMS may arrive late, after the one asked for next). Codes that expired more
        than a day ago (anyone's) are deleted: nothing needs them."""
        with self.write():
            self.db.execute(
                """INSERT INTO signin_codes (phone, code_hash, expires_at, created_at)
                   VALUES (?, ?, ?, ?)""",
                [phone, code_hash, expires_at, self.clock()],
            )
            self.db.execute("DELETE FROM signin_codes WHERE expires_at < ?",
                            [self.clock() - 86400])

    def live_signin_codes(self, phone: str) -> list[dict]:
        """The phone's codes still usable (id, code_hash, tries): unused and unexpired,
        the newest first."""
        cursor = self.db.execute(
            """SELECT id, code_hash, tries FROM signin_codes
               WHERE phone = ? AND used = 0 AND expires_at > ?
               ORDER BY id DESC""",
            [phone, self.clock()],
        )
        return [{"id": id_, "code_hash": code_hash, "tries": tries}
                for id_, code_hash, tries in cursor.fetchall()]

    def end_signin_codes(self, phone: str) -> None:
        """Every code of the phone stops working (one was right, or tries ran out)."""
        with self._write_one():
            self.db.execute("UPDATE signin_codes SET used = 1 WHERE phone = ? AND used = 0",
                            [phone])

    def spend_signin_try(self, code_id: int, *, used: bool) -> int:
        """Count one try of a code (and mark it used); return the tries so far."""
        with self.write():
            self.db.execute(
                "UPDATE signin_codes SET tries = tries + 1, used = max(used, ?) WHERE id = ?",
                [int(used), code_id],
            )
            return self.db.execute("SELECT tries FROM signin_codes WHERE id = ?",
                                   [code_id]).fetchone()[0]

    def take_rate(self, limits: list[tuple[str, int, float]]) -> str | None:
        """Count one event against each (key, limit, window seconds), all or nothing.

        Returns the first key already at its limit (nothing is counted then), else None.
        """
        now = self.clock()
        with self.write():
            for key, limit, window in limits:
                used = self.db.execute(
                    "SELECT count(*) FROM rate_events WHERE key = ? AND at > ?",
                    [key, now - window],
                ).fetchone()[0]
                if used >= limit:
                    return key
            for key, _, _ in limits:
                self.db.execute("INSERT INTO rate_events (key, at) VALUES (?, ?)", [key, now])
            self.db.execute("DELETE FROM rate_events WHERE at < ?", [now - 86400])
        return None

    def rate_used(self, key: str, window: float) -> int:
        """How many events `key` counted in the last `window` seconds (see take_rate);
        inside the caller's write transaction, a figure nobody else changes meanwhile."""
        return self.db.execute("SELECT count(*) FROM rate_events WHERE key = ? AND at > ?",
                               [key, self.clock() - window]).fetchone()[0]

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

    def send_attempts(self, outbox_id: int) -> list[dict]:
        """Every recorded attempt to send one message, oldest first."""
        return list(
            self._rows(
                "SELECT at, outcome, detail FROM send_attempts WHERE outbox_id = ? ORDER BY id",
                [outbox_id],
            )
        )


@functools.lru_cache(maxsize=2048)
def _lesson_from_body(body: str) -> Lesson:
    return Lesson.from_json(body)


def _ussd_record(row: dict) -> UssdSessionRecord:
    return UssdSessionRecord(
        carrier_id=row["carrier_id"], session_id=row["session_id"], phone=row["phone"],
        service_code=row["service_code"], history=row["history"], view=json.loads(row["view"]),
        screen=row["screen"], state=row["state"], started_at=row["started_at"],
        updated_at=row["updated_at"], expires_at=row["expires_at"],
    )


def _certificate_record(row: dict) -> CertificateRecord:
    return CertificateRecord(
        code=row["code"], phone=row["phone"], course_id=row["course_id"],
        course_title=row["course_title"], holder=row["holder"], score=row["score"],
        total=row["total"], issued_at=row["issued_at"],
    )


def _outbox_record(row: dict) -> OutboxRecord:
    return OutboxRecord(
        id=row["id"], carrier_id=row["carrier_id"], phone=row["phone"], body=row["body"],
        status=row["status"], attempts=row["attempts"], to_stopped_ok=bool(row["to_stopped_ok"]),
        carrier_message_id=row.get("carrier_message_id"), error=row.get("error"),
        inbound_id=row.get("inbound_id"), kind=row.get("kind") or "reply",
    )


# Content is read on nearly every message and changes only on import: parse each
# distinct stored text once. Keys are the stored JSON itself, so an import that
# changes a course or lesson is picked up by every process at once.
@functools.lru_cache(maxsize=256)
def _course_from_row(course_id: str, meta_json: str) -> Course:
    meta = json.loads(meta_json)
    return Course(
        id=course_id,
        code=meta["code"],
        default_locale=meta["default_locale"],
        pass_mark=meta["pass_mark"],
        lesson_ids=tuple(meta["lesson_ids"]),
        titles=meta["titles"],
        summaries=meta["summaries"],
        locales=tuple(meta["locales"]),
    )


def _learner_record(row: dict) -> LearnerRecord:
    return LearnerRecord(
        phone=row["phone"], locale=row["locale"], carrier_id=row["carrier_id"],
        stopped=bool(row["stopped"]), current_course=row["current_course"],
        display_name=row["display_name"], timezone=row["timezone"],
        schedule=row["schedule"], schedule_hour=row["schedule_hour"],
        schedule_paused=bool(row["schedule_paused"]),
        schedule_offered=bool(row["schedule_offered"]), next_check_at=row["next_check_at"],
        last_seen_at=row["last_seen_at"], nudges=row["nudges"],
        pending_review=json.loads(row["pending_review"]) if row["pending_review"] else None,
        created_at=row.get("created_at"),
    )
