"""Learners' rights: export what is stored about a number, erase it, forget old bodies.

Every table with a `phone` column is named in `PHONE_TABLES`; export and erasure refuse
to run on a database with a table they do not know (`UnhandledTable`), so a new table
holding numbers cannot be silently missed (tests/test_privacy.py checks the schema too).

Erasure keeps the anonymous shape of what happened and drops the person (docs/privacy.md):

- the number is replaced everywhere by one random pseudonym (`erased:<hex>`), so counts
  of learners, enrollments, completions, answers, messages and segments stay;
- message bodies (`inbound.text`, `outbox.body`), carrier metadata (`inbound.meta`),
  the display name, time zone and pending review question are cleared; error texts keep
  their kind only; USSD sessions (their screens and inputs), sign-in codes, review
  questions and the number's rate-limit events are deleted;
- the pseudonymous learner is opted out with its schedule off, and its queued messages
  are cancelled, so no feature messages it again;
- certificates keep verifying, with the holder replaced by `ERASED_HOLDER` and no number;
- the number is remembered only as a keyed hash (HMAC-SHA256, key in the settings
  table) in `erased_numbers`, so a stray message does not enroll it again;
- the learner's events (`events`, keyed by `learner`) take the pseudonym with their data
  blanked, except the `erased` event recorded now, which keeps the number until the
  hub has it (events.mark_pushed): the number travels once, to have other edges erase
  it too (docs/sync.md). An erasure recorded on another edge is applied here with
  `erase(..., remote_at=...)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.store import lrs, questions

if TYPE_CHECKING:
    from gateway.store.store import Store

EXPORT_FORMAT = "learnline-learner-export/1"
ERASED_HOLDER = "erased"
# Who a message from an erased number is stored as: no number, no pseudonym, no link.
STRAY_PHONE = "erased"
PSEUDONYM_PREFIX = "erased:"
ERASURE_KEY_SETTING = "erasure_key"

# Every table with a `phone` column, with the order its rows are exported in.
PHONE_TABLES: dict[str, str] = {
    "learners": "phone",
    "enrollments": "started_at, course_id",
    "lesson_results": "completed_at, course_id, lesson_id",
    "answers": "id",
    "reviews": "due_at, course_id, lesson_id, question",
    "certificates": "issued_at, code",
    "activity": "day, channel",
    "inbound": "id",
    "outbox": "id",
    "ussd_sessions": "started_at, session_id",
    "signin_codes": "id",
    "web_sessions": "started_at",
    "lesson_costs": "course_id, lesson_id, carrier_id",
    "lesson_completions": "completed_at, course_id, lesson_id",
    "questions": "asked_at, id",
    "program_members": "joined_at, program",
    "cohort_members": "cohort_id",
}
# Tables keyed to a number some other way, exported too (rate_events: `key` ends ":<phone>").
OTHER_TABLES = ("rate_events", "events")
# Columns never exported: sign-in codes are kept only as an HMAC, useless to the learner.
HIDDEN_COLUMNS = {"signin_codes": {"code_hash"}, "web_sessions": {"id", "mark"}}
# Columns holding JSON, exported as JSON rather than as a string of it.
JSON_COLUMNS = {"quiz", "meta", "pending_review", "view", "data"}
BOOLEAN_COLUMNS = {"stopped", "schedule_paused", "schedule_offered", "link_offered",
                   "to_stopped_ok", "correct", "first_try", "used"}
# Message states after which nothing more happens to a message: retention may blank it.
FINISHED_INBOUND = ("processed", "failed")
FINISHED_OUTBOX = ("sent", "delivered", "undelivered", "failed", "cancelled")
SETTLED_QUESTIONS = ("answered", "closed", "refused")  # no tutor needs their text any more
_CHUNK = 500  # ids per statement (SQLite allows 32766 variables; keep statements small)


class UnhandledTable(RuntimeError):
    """The database has a table with a `phone` column that privacy.py does not know."""


@dataclass(frozen=True)
class Erasure:
    """What `erase` did: rows anonymised or deleted per table (`counts`; `cohort_members`
    anonymised for a learner, deleted for a number that never was one), how many queued
    messages it cancelled, and whether the number had been erased before."""

    phone: str
    counts: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    already_erased: bool = False
    pseudonym: str | None = None

    @property
    def found(self) -> bool:
        """Whether anything about the number was stored (and is now erased)."""
        return any(self.counts.values())


# -- the tables ------------------------------------------------------------------------------


def phone_tables(store: Store) -> list[str]:
    """Every table of the database that has a `phone` column, by reading sqlite_master."""
    conn = store.db.conn
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    return [name for name in names
            if any(column[1] == "phone" for column in conn.execute(
                f"PRAGMA table_info({_quoted(name)})"))]


def _check_tables(store: Store) -> None:
    unknown = [name for name in phone_tables(store) if name not in PHONE_TABLES]
    if unknown:
        raise UnhandledTable(
            f"table(s) {', '.join(unknown)} hold phone numbers that gateway/store/privacy.py "
            "does not export or erase: add them to PHONE_TABLES and to erase()")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- export ----------------------------------------------------------------------------------


def learner_export(store: Store, phone: str) -> dict[str, Any]:
    """Everything stored about the E.164 number `phone`, as JSON-ready data.

    One key per table that holds the number (`PHONE_TABLES`, plus `rate_events`), each a
    list of that table's rows, oldest first, every column but sign-in code hashes; outbox
    rows carry their `send_attempts` and `status_events`. Times are ISO 8601 UTC strings,
    JSON columns are objects. `erased_at` says when the number was erased, if it was.
    Read from one consistent snapshot; raises UnhandledTable on an unknown phone table.
    """
    _check_tables(store)
    with _snapshot(store):
        export: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "phone": phone,
            "exported_at": _iso(store.clock()),
            "erased_at": _iso(erased_at(store, phone)),
        }
        for table, order in PHONE_TABLES.items():
            export[table] = [_exported(table, row) for row in _rows(
                store, f"SELECT * FROM {table} WHERE phone = ? ORDER BY {order}", [phone])]
        # status_events has no index on outbox_id: read it once, not once per message.
        events: dict[int, list[dict[str, Any]]] = {}
        for row in _rows(store, "SELECT * FROM status_events WHERE outbox_id IN "
                         "(SELECT id FROM outbox WHERE phone = ?) ORDER BY id", [phone]):
            events.setdefault(row["outbox_id"], []).append(_exported("status_events", row))
        for message in export["outbox"]:
            message["send_attempts"] = [_exported("send_attempts", row) for row in _rows(
                store, "SELECT * FROM send_attempts WHERE outbox_id = ? ORDER BY id",
                [message["id"]])]
            message["status_events"] = events.get(message["id"], [])
        export["rate_events"] = [_exported("rate_events", row) for row in _rows(
            store, "SELECT * FROM rate_events WHERE substr(key, -?) = ? ORDER BY at",
            [len(phone) + 1, ":" + phone])]
        export["events"] = [_exported("events", row) for row in _rows(
            store, "SELECT * FROM events WHERE learner = ? ORDER BY seq", [phone])]
    return export


def export_is_empty(export: dict[str, Any]) -> bool:
    """Whether an export holds no row at all (nothing is stored about the number)."""
    return not any(export[table] for table in (*PHONE_TABLES, *OTHER_TABLES))


def _exported(table: str, row: dict[str, Any]) -> dict[str, Any]:
    hidden = HIDDEN_COLUMNS.get(table, set())
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in hidden:
            continue
        if value is not None and _is_time(name) and isinstance(value, int | float):
            value = _iso(value)
        elif name in JSON_COLUMNS and isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        elif name in BOOLEAN_COLUMNS and isinstance(value, int):
            value = bool(value)
        out[name] = value
    return out


def _is_time(column: str) -> bool:
    return column == "at" or column.endswith("_at") or column == "lease_until"


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def _rows(store: Store, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
    cursor = store.db.conn.execute(sql, list(params))
    keys = [column[0] for column in cursor.description]
    return (dict(zip(keys, row, strict=True)) for row in cursor)


class _snapshot:
    """One read transaction around several reads (WAL: other writers go on meanwhile)."""

    def __init__(self, store: Store):
        self.conn = store.db.conn
        self.own = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.own = True

    def __exit__(self, *exc: object) -> None:
        if self.own and self.conn.in_transaction:
            self.conn.execute("COMMIT")


# -- erased numbers --------------------------------------------------------------------------


def _key(store: Store, *, create: bool) -> bytes | None:
    """The erasure key (made once, kept in settings), or None if none was ever made."""
    if create:
        return bytes.fromhex(store.setting(ERASURE_KEY_SETTING, lambda: secrets.token_hex(32)))
    row = store.db.conn.execute("SELECT value FROM settings WHERE name = ?",
                                [ERASURE_KEY_SETTING]).fetchone()
    return bytes.fromhex(row[0]) if row else None


def _number_hash(key: bytes, phone: str) -> str:
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


def erased_at(store: Store, phone: str) -> float | None:
    """When `phone` was erased (Unix seconds), or None if it is not an erased number."""
    key = _key(store, create=False)
    if key is None:  # nothing was ever erased
        return None
    row = store.db.conn.execute("SELECT erased_at FROM erased_numbers WHERE number_hash = ?",
                                [_number_hash(key, phone)]).fetchone()
    return row[0] if row else None


def is_erased(store: Store, phone: str) -> bool:
    """Whether `phone` belongs to a learner who was erased and has not come back: one
    primary-key lookup (and a settings read). Call it only when no learner has the number."""
    return erased_at(store, phone) is not None


def readmit(store: Store, phone: str) -> bool:
    """The person behind an erased number chose to come back (START, a USSD dial, a web
    sign-in): forget that the number was erased, so a fresh learner can begin. Run it
    inside the caller's write transaction; returns whether the number was erased."""
    key = _key(store, create=False)
    if key is None:
        return False
    if not store.db.conn.execute("DELETE FROM erased_numbers WHERE number_hash = ?",
                                 [_number_hash(key, phone)]).rowcount:
        return False
    # Other edges apply this learner's events again from here on (docs/sync.md).
    _mark(store, key, phone, readmitted_at=store.clock())
    store.record_event(phone, "readmitted", {})
    return True


def erasure_marks(store: Store, phone: str) -> tuple[float | None, float | None]:
    """(latest erasure, latest readmission) of `phone`, here or on any edge this edge
    heard from, in Unix seconds; None for what never happened."""
    key = _key(store, create=False)
    if key is None:
        return None, None
    row = store.db.conn.execute(
        "SELECT erased_at, readmitted_at FROM erasure_marks WHERE number_hash = ?",
        [_number_hash(key, phone)]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def note_readmission(store: Store, phone: str, at: float) -> bool:
    """Another edge readmitted `phone` at `at` (it came back after an erasure): remember
    it, and if that is after its latest erasure, the number is no longer erased here.
    In the caller's write transaction; returns whether it is no longer erased."""
    key = _key(store, create=True)
    assert key is not None
    _mark(store, key, phone, readmitted_at=at)
    erased, readmitted = erasure_marks(store, phone)
    if erased is not None and readmitted is not None and readmitted <= erased:
        return False
    store.db.conn.execute("DELETE FROM erased_numbers WHERE number_hash = ?",
                          [_number_hash(key, phone)])
    return True


def note_erasure(store: Store, phone: str, at: float) -> None:
    """Remember that `phone` was erased at `at` (an erasure this edge could not apply in
    full: the number came back here after it). In the caller's write transaction."""
    key = _key(store, create=True)
    assert key is not None
    _mark(store, key, phone, erased_at=at)


def _mark(store: Store, key: bytes, phone: str, *, erased_at: float | None = None,
          readmitted_at: float | None = None) -> None:
    """Keep the latest erasure and readmission times of a number (each only moves on)."""
    store.db.conn.execute(
        """INSERT INTO erasure_marks (number_hash, erased_at, readmitted_at) VALUES (?, ?, ?)
           ON CONFLICT (number_hash) DO UPDATE SET
             erased_at = CASE WHEN excluded.erased_at > coalesce(erased_at, excluded.erased_at - 1)
                              THEN excluded.erased_at ELSE erased_at END,
             readmitted_at = CASE WHEN excluded.readmitted_at >
                                       coalesce(readmitted_at, excluded.readmitted_at - 1)
                                  THEN excluded.readmitted_at ELSE readmitted_at END""",
        [_number_hash(key, phone), erased_at, readmitted_at])


def silence_stray(store: Store, inbound_id: int) -> None:
    """Keep a stray message from an erased number without its sender or text: it counts
    as a message received and processed, answered by nothing. Inside the caller's write
    transaction, so its body is never committed."""
    store.db.conn.execute(
        """UPDATE inbound SET phone = ?, text = '', meta = NULL, status = 'processed',
             processed_at = ?, error = 'from an erased number: not answered' WHERE id = ?""",
        [STRAY_PHONE, store.clock(), inbound_id])


# -- erasure ---------------------------------------------------------------------------------


def erase(store: Store, phone: str, *, remote_at: float | None = None) -> Erasure:
    """Erase the learner with the E.164 number `phone`, in one write transaction.

    Replaces the number everywhere by a new pseudonym, blanks message bodies and
    personal fields, deletes USSD sessions, sign-in codes, review questions and rate
    events, cancels queued messages, keeps certificates verifiable without a holder,
    and records the number as erased (a keyed hash). Counts of learners, enrollments,
    results, answers, messages and segments are unchanged. Unknown number: changes
    nothing (`found` False). Erasing again is harmless: it erases whatever was stored
    since (a sign-in code asked for on the web), else reports `already_erased`.
    Raises UnhandledTable on a table holding numbers it does not know.

    A local erasure records an `erased` event holding the number, to be pushed to the
    hub (docs/sync.md); every earlier event of the learner takes the pseudonym, its data
    blanked. `remote_at` applies an erasure recorded on another edge at that time: no
    event is recorded here, and the number is remembered as erased even when nothing
    was stored about it here, so a stray message from it is not answered.
    """
    _check_tables(store)
    # The two big tables have no index on phone: find their rows with a read, which
    # waits for no one, then touch only those (and any newer) rows under the write lock.
    with _snapshot(store):
        found_ids = {table: [row[0] for row in store.db.conn.execute(
            f"SELECT id FROM {table} WHERE phone = ?", [phone])] for table in ("inbound",
                                                                              "outbox")}
        newest = {table: store.db.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
                  .fetchone()[0] for table in ("inbound", "outbox")}
        days = [(row[0], row[1]) for row in store.db.conn.execute(
            "SELECT day, channel FROM activity WHERE phone = ?", [phone])]
        last_day = store.db.conn.execute("SELECT max(day) FROM activity").fetchone()[0]
    pseudonym = PSEUDONYM_PREFIX + secrets.token_hex(8)
    now = store.clock()
    with store.write():
        already = is_erased(store, phone)
        ids = {table: found_ids[table] + [row[0] for row in store.db.conn.execute(
            f"SELECT id FROM {table} WHERE id > ? AND phone = ?", [newest[table], phone])]
            for table in ("inbound", "outbox")}
        counts, cancelled = _erase_rows(store, phone, pseudonym, ids, days, last_day, now)
        found = any(counts.values())
        if not found and remote_at is None:
            return Erasure(phone, counts, 0, already, None)
        key = _key(store, create=True)
        assert key is not None
        store.db.conn.execute(
            "INSERT INTO erased_numbers (number_hash, erased_at) VALUES (?, ?) "
            "ON CONFLICT (number_hash) DO NOTHING", [_number_hash(key, phone), now])
        _mark(store, key, phone, erased_at=now if remote_at is None else remote_at)
        if remote_at is None:
            store.record_event(phone, "erased", {})
    return Erasure(phone, counts, cancelled, already, pseudonym if found else None)


def _erase_rows(store: Store, phone: str, pseudonym: str, ids: dict[str, list[int]],
                days: list[tuple[str, str]], last_day: str | None,
                now: float) -> tuple[dict[str, int], int]:
    conn = store.db.conn
    counts: dict[str, int] = {}

    def run(sql: str, params: Iterable[Any]) -> int:
        return conn.execute(sql, list(params)).rowcount

    # Learner: a pseudonymous copy takes the progress over, then the original goes.
    counts["learners"] = 0
    seen = conn.execute("SELECT 1 FROM learners WHERE phone = ?", [phone]).fetchone()
    if seen:
        columns = [column[1] for column in conn.execute("PRAGMA table_info(learners)")]
        selected = ", ".join("?" if c == "phone" else _quoted(c) for c in columns)
        run(f"INSERT INTO learners ({', '.join(map(_quoted, columns))}) "
            f"SELECT {selected} FROM learners WHERE phone = ?", [pseudonym, phone])
        run("""UPDATE learners SET display_name = NULL, timezone = NULL, pending_review = NULL,
                 stopped = 1, schedule = 'off', next_check_at = NULL, updated_at = ?
               WHERE phone = ?""", [now, pseudonym])
    for table in ("enrollments", "lesson_results", "answers", "lesson_costs",
                  "lesson_completions", "program_members"):
        counts[table] = run(f"UPDATE {table} SET phone = ? WHERE phone = ?", [pseudonym, phone])
    # A cohort keeps counting a learner, under the pseudonym; nobody invites it. A number
    # that never became a learner (imported, perhaps invited, it never answered) leaves
    # its cohorts: nothing of it was the person's doing.
    counts["cohort_members"] = run(
        "UPDATE cohort_members SET phone = ?, name = '', status = CASE status "
        "WHEN 'waiting' THEN 'stopped' ELSE status END WHERE phone = ?", [pseudonym, phone]
    ) if seen else run("DELETE FROM cohort_members WHERE phone = ?", [phone])
    counts["reviews"] = run("DELETE FROM reviews WHERE phone = ?", [phone])
    counts["learners"] = run("DELETE FROM learners WHERE phone = ?", [phone])
    counts["certificates"] = run(
        "UPDATE certificates SET phone = NULL, holder = ? WHERE phone = ?",
        [ERASED_HOLDER, phone])

    activity = sum(run("UPDATE activity SET phone = ? WHERE day = ? AND channel = ? "
                       "AND phone = ?", [pseudonym, day, channel, phone])
                   for day, channel in days)
    if last_day is not None:  # days begun since the read
        activity += run("UPDATE activity SET phone = ? WHERE day >= ? AND phone = ?",
                        [pseudonym, last_day, phone])
    counts["activity"] = activity

    counts["inbound"] = 0
    for chunk in _chunks(ids["inbound"]):
        marks = ", ".join("?" * len(chunk))
        # Error texts keep their kind ("throttled", an exception's name), not what follows.
        counts["inbound"] += run(
            f"""UPDATE inbound SET phone = ?, text = '', meta = NULL,
                  error = CASE WHEN instr(error, ':') > 0
                               THEN substr(error, 1, instr(error, ':') - 1) ELSE error END
                WHERE id IN ({marks}) AND phone = ?""", [pseudonym, *chunk, phone])

    cancelled = 0
    counts["outbox"] = 0
    digits = phone.lstrip("+")
    for chunk in _chunks(ids["outbox"]):
        marks = ", ".join("?" * len(chunk))
        waiting = f"id IN ({marks}) AND phone = ? AND status IN ('queued', 'sending')"
        run(f"""INSERT INTO send_attempts (outbox_id, at, outcome, detail)
                SELECT id, ?, 'cancelled', 'learner erased' FROM outbox WHERE {waiting}""",
            [now, *chunk, phone])
        cancelled += run(f"""UPDATE outbox SET status = 'cancelled', lease_until = NULL,
                               error = 'learner erased', updated_at = ? WHERE {waiting}""",
                         [now, *chunk, phone])
        # A carrier's error may quote the number it refused.
        counts["outbox"] += run(
            f"""UPDATE outbox SET phone = ?, body = '',
                  error = replace(replace(error, ?, ?), ?, ?)
                WHERE id IN ({marks}) AND phone = ?""",
            [pseudonym, phone, pseudonym, digits, pseudonym, *chunk, phone])
        run(f"""UPDATE send_attempts SET detail = replace(replace(detail, ?, ?), ?, ?)
                WHERE outbox_id IN ({marks}) AND detail IS NOT NULL""",
            [phone, pseudonym, digits, pseudonym, *chunk])

    # Earlier events take the pseudonym with their data blanked (a name, answers); an
    # `erased` event still holding the number waits to tell the hub (events.mark_pushed).
    # What the school's LRS already has of them is voided (docs/integrations.md).
    lrs.queue_voids(store, phone)
    counts["events"] = run("UPDATE events SET learner = ?, data = '{}' WHERE learner = ? "
                           "AND kind != 'erased'", [pseudonym, phone])
    counts["ussd_sessions"] = run("DELETE FROM ussd_sessions WHERE phone = ?", [phone])
    counts["questions"] = questions.delete_of(store, phone)
    counts["signin_codes"] = run("DELETE FROM signin_codes WHERE phone = ?", [phone])
    counts["web_sessions"] = run("DELETE FROM web_sessions WHERE phone = ?", [phone])
    counts["rate_events"] = run("DELETE FROM rate_events WHERE substr(key, -?) = ?",
                                [len(phone) + 1, ":" + phone])
    return counts, cancelled


def _chunks(ids: list[int], size: int = _CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# -- retention -------------------------------------------------------------------------------


def forget_bodies(store: Store, older_than: float, batch: int = 500) -> int:
    """Blank the text (and carrier metadata) of finished messages stored before
    `older_than` (Unix seconds): inbound processed or failed, outbox sent, delivered,
    undelivered, failed or cancelled. Messages still in flight keep their bodies. So do
    learners' questions asked before then once answered, closed or refused (the question
    and the answer), and the texts question events carried (an open question keeps
    its own).

    Candidates are found by reads (no lock held); each `batch` of them is blanked in its
    own short write transaction, re-checking its conditions. Returns how many messages
    were blanked.
    """
    plans = (
        ("inbound", "received_at", FINISHED_INBOUND, "text != '' OR meta IS NOT NULL",
         "text = '', meta = NULL"),
        ("outbox", "created_at", FINISHED_OUTBOX, "body != ''", "body = ''"),
        ("questions", "asked_at", SETTLED_QUESTIONS, "text != '' OR answer != ''",
         "text = '', answer = CASE WHEN answer IS NULL THEN NULL ELSE '' END"),
    )
    blanked = 0
    for table, at, finished, has_body, blank in plans:
        states = ", ".join(f"'{state}'" for state in finished)
        # "+status": walk the primary key in id order, not the outbox's status index
        # (which would read every sent message and sort them, for each batch).
        condition = f"{at} < ? AND +status IN ({states}) AND ({has_body})"
        after = 0
        while True:
            chunk = [row[0] for row in store.db.conn.execute(
                f"SELECT id FROM {table} WHERE id > ? AND {condition} ORDER BY id LIMIT ?",
                [after, older_than, batch])]
            if not chunk:
                break
            marks = ", ".join("?" * len(chunk))
            with store.write():
                blanked += store.db.conn.execute(
                    f"UPDATE {table} SET {blank} WHERE id IN ({marks}) AND {condition}",
                    [*chunk, older_than]).rowcount
            after = chunk[-1]
            if len(chunk) < batch:
                break
    with store.write():
        # What question events carried (the question's text, a relayed answer's), once
        # the question is no longer open: the hub has had them since.
        blanked += store.db.conn.execute(
            "UPDATE events SET data = json_remove(data, '$.text') "
            "WHERE kind IN ('question_asked', 'question_answered', 'question_closed') "
            "AND at < ? AND json_extract(data, '$.text') IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM questions q WHERE q.uid = json_extract(events.data, '$.uid') "
            "AND q.status = 'open')", [older_than]).rowcount
    return blanked
