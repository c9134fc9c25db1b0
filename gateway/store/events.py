"""Learner events: every change to a learner kept as an immutable fact, and this edge's side
of sync (docs/sync.md, "Events and merge rules").

An event is a JSON object, the one format edges and the hub speak:

    {"id": "<12 hex of milliseconds since the epoch, then 20 random hex>",
     "edge": "<the edge that recorded it>", "learner": "<E.164, or erased:<16 hex>>",
     "kind": "<kind>", "at": <epoch seconds>, "data": {<by kind>}}

They live in `events`: `seq` is the order this database stored them in (its own and those
pulled from the hub alike); the push cursor in `sync_state` says up to which `seq` the hub
has this edge's own events. The rules that turn events into progress are in
gateway/learning/merge.py; the SQL they need is here, as everywhere, in the store.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gateway import environment
from gateway.store import lrs, privacy

if TYPE_CHECKING:
    from gateway.store.store import Store

KINDS = frozenset({
    "enrolled", "card_reached", "answered", "lesson_completed", "course_completed",
    "language_set", "name_set", "opted_out", "opted_in", "erased", "readmitted", "met",
    # Learners' questions to tutors (gateway/store/questions.py): they change no progress.
    "question_asked", "question_answered", "question_closed",
    # A learner joined a program (gateway/store/programs.py): kept as a membership.
    "program_joined",
    # A cohort's invitation was queued for a number (gateway/channels/invitations.py):
    # counted on the hub, kept there and passed on to no edge; it changes nothing.
    "program_invited",
})
QUESTION_KINDS = ("question_asked", "question_answered", "question_closed")
HUB_EDGE = "hub"  # the edge id of events the hub itself records (no edge may take it)
MAX_DATA_BYTES = 4096  # the most an event's data may take, as compact UTF-8 JSON, on the hub
EDGE_ID_ENV = "LEARNLINE_EDGE_ID"
EDGE_ID_SETTING = "edge_id"
PUSH_CURSOR = "push_cursor"
EDGE_ID_RE = re.compile(r"[a-z0-9-]{1,40}")
EVENT_ID_RE = re.compile(r"[0-9a-f]{32}")
KIND_RE = re.compile(r"[a-z_]{1,32}")
LEARNER_RE = re.compile(r"\+[1-9][0-9]{1,14}|erased:[0-9a-f]{16}")
_MAX_MILLIS = 0xFFFFFFFFFFFF
# The latest moment an event may name: the end of year 9999, the last a date can show.
LATEST_MOMENT = 253_402_300_800.0
# What json.dumps(data, separators=(",", ":"), ensure_ascii=False) makes, without building
# an encoder for every event.
_DATA_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_COLUMNS = "seq, id, edge, learner, kind, at, data"


# -- ids ---------------------------------------------------------------------------------------


# The random part of event ids: 80 bits from a generator of their own, seeded from the
# system's randomness when this module is loaded and again in every forked process (so no
# two server processes share a sequence), and seeded by nothing else. Cheaper than a
# system call for every event; ids need to be unique, not secret.
_ID_RANDOM = random.Random()
os.register_at_fork(after_in_child=_ID_RANDOM.seed)


def new_event_id(at: float) -> str:
    """A globally unique event id: 12 hex digits of `at` in milliseconds (so ids sort
    roughly by time), then 20 random hex digits."""
    millis = min(max(int(at * 1000), 0), _MAX_MILLIS)
    return f"{millis:012x}{_ID_RANDOM.getrandbits(80):020x}"


def edge_id_from_env() -> str | None:
    """`$LEARNLINE_EDGE_ID` if set; ValueError naming the variable if it is not an edge id
    (1 to 40 of a-z, 0-9 and -)."""
    value = environment.get(EDGE_ID_ENV, "").strip()
    if not value:
        return None
    if not EDGE_ID_RE.fullmatch(value):
        raise ValueError(f"{EDGE_ID_ENV}={value!r}: an edge id is 1 to 40 characters "
                         "of a-z, 0-9 and -")
    return value


def stored_edge_id(conn: sqlite3.Connection) -> str | None:
    """The edge id kept in settings, or None if none was made yet."""
    row = conn.execute("SELECT value FROM settings WHERE name = ?",
                       [EDGE_ID_SETTING]).fetchone()
    return row[0] if row else None


def resolve_edge_id(conn: sqlite3.Connection) -> str:
    """This edge's id, inside the caller's write transaction: `$LEARNLINE_EDGE_ID` if set,
    else one made once and kept in settings. When the variable names a new id, this
    edge's events not yet pushed are recorded under it (they are still this edge's),
    so none is stranded under an id that never syncs."""
    wanted = edge_id_from_env()
    stored = stored_edge_id(conn)
    if wanted is None:
        if stored is not None:
            return stored
        wanted = "edge-" + secrets.token_hex(6)
    elif stored is not None and stored != wanted:
        conn.execute("UPDATE events SET edge = ? WHERE edge = ? AND seq > ?",
                     [wanted, stored, _cursor(conn)])
    if stored != wanted:
        conn.execute("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) "
                     "DO UPDATE SET value = excluded.value", [EDGE_ID_SETTING, wanted])
    return wanted


# -- recording ---------------------------------------------------------------------------------


def record(store: Store, learner: str, kind: str, data: dict[str, Any], *,
           event_id: str | None = None, at: float | None = None) -> str:
    """Record one event of this edge (one INSERT, in the caller's transaction), at `at`
    (default now); return its id (`event_id` when given, made from its time like every
    id). Raises ValueError for a kind that is not in KINDS."""
    if kind not in KINDS:
        raise ValueError(f"not an event kind: {kind!r}")
    at = store.clock() if at is None else at
    event_id = event_id or new_event_id(at)
    store.db.conn.execute(
        "INSERT INTO events (id, edge, learner, kind, at, data) VALUES (?, ?, ?, ?, ?, ?)",
        [event_id, store.edge_id(), learner, kind, at, _DATA_JSON(data)])
    return event_id


def is_moment(value: object) -> bool:
    """Whether `value` is epoch seconds a date can show (from 1970 to the end of year
    9999): what an event's `at`, and a moment in its data, may be. An edge whose clock
    was reset still writes moments after 1970; 1e300 is no moment."""
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and 0 <= value < LATEST_MOMENT


def event_problem(event: object) -> str | None:
    """Why a received event is not one (None when its shape is right): the six fields,
    each of its type and format. What `data` must hold, by kind, is merge.py's."""
    if not isinstance(event, dict):
        return "not a JSON object"
    missing = [name for name in ("id", "edge", "learner", "kind", "at", "data")
               if name not in event]
    if missing:
        return "missing " + ", ".join(missing)
    checks = (("id", EVENT_ID_RE), ("edge", EDGE_ID_RE), ("learner", LEARNER_RE),
              ("kind", KIND_RE))
    for name, pattern in checks:
        value = event[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return f"{name}: not a valid {name}"
    if not is_moment(event["at"]):
        return "at: not epoch seconds from 1970 to 9999"
    if not isinstance(event["data"], dict):
        return "data: not a JSON object"
    return None


# -- the push side of sync -----------------------------------------------------------------------


def _cursor(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM sync_state WHERE name = ?", [PUSH_CURSOR]).fetchone()
    return int(row[0]) if row else 0


def _document(row: tuple) -> dict[str, Any]:
    _seq, event_id, edge, learner, kind, at, data = row
    return {"id": event_id, "edge": edge, "learner": learner, "kind": kind, "at": at,
            "data": json.loads(data)}


def unpushed_events(store: Store, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` of this edge's own events the hub does not have yet, in the order
    they were recorded, as event documents; and the `seq` of the last one (the cursor
    itself when there is none) to hand to `mark_pushed` once the hub acknowledged them.
    Events pulled from other edges are never among them."""
    cursor = _cursor(store.db.conn)
    rows = store.db.conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND edge = ? ORDER BY seq LIMIT ?",
        [cursor, store.edge_id(), limit]).fetchall()
    return [_document(row) for row in rows], (rows[-1][0] if rows else cursor)


def mark_pushed(store: Store, through_seq: int) -> None:
    """The hub has this edge's events up to `through_seq`: move the push cursor there
    (never backwards, never past the last event stored). The `erased` events among them
    held the erased number only to carry it to the hub: they now get a pseudonym."""
    conn = store.db.conn
    with store.write():
        old = _cursor(conn)
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        new = min(max(old, int(through_seq)), top)
        if new <= old:
            return
        for (seq,) in conn.execute(
                "SELECT seq FROM events WHERE seq > ? AND seq <= ? AND kind = 'erased' "
                "AND learner NOT LIKE 'erased:%'", [old, new]).fetchall():
            # A fresh pseudonym, not the learner's: nothing links the number's erasure
            # notice to the pseudonymous history it left here.
            conn.execute("UPDATE events SET learner = ? WHERE seq = ?", [new_pseudonym(), seq])
        set_sync_value(store, PUSH_CURSOR, str(new))


def release_erasure_notices(store: Store) -> int:
    """Give every `erased` event that still names its number a pseudonym now: for a
    gateway with no hub to tell, the number must not wait for a push that never comes.
    Returns how many were released."""
    conn = store.db.conn
    with store.write():
        rows = conn.execute("SELECT seq FROM events WHERE kind = 'erased' "
                            "AND learner NOT LIKE 'erased:%'").fetchall()
        for (seq,) in rows:
            conn.execute("UPDATE events SET learner = ? WHERE seq = ?", [new_pseudonym(), seq])
    return len(rows)


def new_pseudonym() -> str:
    """A fresh random pseudonym, `erased:<16 hex>`, linked to nothing."""
    return privacy.PSEUDONYM_PREFIX + secrets.token_hex(8)


def sync_value(store: Store, name: str) -> str | None:
    """A value kept for sync under `name` (the pull cursor, the time of the last success,
    the last error...), or None if never set."""
    row = store.db.conn.execute("SELECT value FROM sync_state WHERE name = ?",
                                [name]).fetchone()
    return row[0] if row else None


def set_sync_value(store: Store, name: str, value: str) -> None:
    """Keep `value` for sync under `name` (in the caller's transaction if there is one)."""
    with store.write():
        store.db.conn.execute(
            "INSERT INTO sync_state (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value", [name, str(value)])


def known_learners(store: Store) -> int:
    """How many learners this edge knows (erased ones aside)."""
    return store.db.conn.execute(
        "SELECT count(*) FROM learners WHERE phone NOT LIKE 'erased:%'").fetchone()[0]


def unpushed_count(store: Store) -> int:
    """How many of this edge's events the hub does not have yet (the sync lag)."""
    return store.db.conn.execute(
        "SELECT count(*) FROM events WHERE seq > ? AND edge = ?",
        [_cursor(store.db.conn), store.edge_id()]).fetchone()[0]


def oldest_unpushed_at(store: Store) -> float | None:
    """When the oldest event the hub does not have yet was recorded, or None if none."""
    return store.db.conn.execute(
        "SELECT min(at) FROM events WHERE seq > ? AND edge = ?",
        [_cursor(store.db.conn), store.edge_id()]).fetchone()[0]


# -- what merging reads and writes ---------------------------------------------------------------


def has_event(store: Store, event_id: str) -> bool:
    """Whether an event with this id is stored (recorded here or pulled before)."""
    return store.db.conn.execute("SELECT 1 FROM events WHERE id = ?",
                                 [event_id]).fetchone() is not None


def keep_event(store: Store, event: dict[str, Any], *, learner: str | None = None,
               data: dict[str, Any] | None = None) -> bool:
    """Store an event received from elsewhere as it is (or with `learner` and `data` in
    place of its own); False if its id was stored already."""
    return store.db.conn.execute(
        "INSERT INTO events (id, edge, learner, kind, at, data) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        [event["id"], event["edge"], learner or event["learner"], event["kind"],
         float(event["at"]),
         json.dumps(event["data"] if data is None else data, separators=(",", ":"),
                    ensure_ascii=False)]).rowcount > 0


def learner_events(store: Store, learner: str) -> list[dict[str, Any]]:
    """Every stored event of a learner, this edge's and others', each a document with its
    `seq`, in merge order: by time, then edge id, then the order they were stored."""
    cursor = store.db.conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE learner = ? ORDER BY at, edge, seq", [learner])
    return [{**_document(row), "seq": row[0]} for row in cursor]


def forget_events_before(store: Store, learner: str, at: float) -> int:
    """Pseudonymise and blank a learner's events recorded up to `at` (an erasure that
    reached this edge after the number had come back here); return how many."""
    lrs.queue_voids(store, learner, before=at)
    return store.db.conn.execute(
        "UPDATE events SET learner = ?, data = '{}' WHERE learner = ? AND at <= ? "
        "AND kind NOT IN ('erased', 'readmitted')", [new_pseudonym(), learner, at]).rowcount


def write_projection(
    store: Store, phone: str, *, new_locale: str, fields: dict[str, Any],
    enrollments: list[dict[str, Any]], results: list[dict[str, Any]],
    answers: list[dict[str, Any]] | None, added_answers: Iterable[dict[str, Any]] = (),
) -> None:
    """Make a learner's rows say what their events say, in the caller's transaction.

    The learner is created if this edge did not know them (language `new_locale`, no
    carrier yet, and `fields`); `fields` (learners columns) are set; the enrollments
    and lesson results are replaced by `enrollments` and `results`; the answers by
    `answers` when given, else `added_answers` are added to those stored.
    """
    conn = store.db.conn
    now = store.clock()
    store._saving_for(phone)
    conn.execute(
        "INSERT INTO learners (phone, locale, carrier_id, created_at, updated_at) "
        "VALUES (?, ?, '', ?, ?) ON CONFLICT (phone) DO NOTHING", [phone, new_locale, now, now])
    if fields:
        conn.execute(
            f"UPDATE learners SET {', '.join(f'{name} = ?' for name in fields)}, "
            "updated_at = ? WHERE phone = ?", [*fields.values(), now, phone])
    conn.execute("DELETE FROM enrollments WHERE phone = ?", [phone])
    conn.executemany(
        """INSERT INTO enrollments (phone, course_id, position, card, quiz, started_at,
                                    completed_at, updated_at, attempt_started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [(phone, row["course_id"], row["position"], row["card"], row["quiz"],
          row["started_at"], row["completed_at"], row["updated_at"],
          row.get("attempt_started_at")) for row in enrollments])
    conn.execute("DELETE FROM lesson_results WHERE phone = ?", [phone])
    conn.executemany(
        """INSERT INTO lesson_results (phone, course_id, lesson_id, score, total, completed_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        [(phone, row["course_id"], row["lesson_id"], row["score"], row["total"],
          row["completed_at"]) for row in results])
    if answers is not None:
        conn.execute("DELETE FROM answers WHERE phone = ?", [phone])
    conn.executemany(
        """INSERT INTO answers (phone, course_id, lesson_id, question, choice, correct,
                                first_try, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [(phone, row["course_id"], row["lesson_id"], row["question"], row["choice"],
          int(row["correct"]), int(row["first_try"]), row["at"])
         for row in (answers if answers is not None else added_answers)])


def course_lessons(store: Store) -> dict[str, tuple[str, ...]]:
    """Every course here: its id to its lesson ids, in order."""
    return {course.id: course.lesson_ids for course in store.courses()}


# -- progress stored before events existed ------------------------------------------------------


def backfill(conn: sqlite3.Connection) -> int:
    """Write the progress already stored (learners, enrollments, lesson results, answers)
    as this edge's events, at the times the rows carry, so that merging and
    rebuilding from events keep it and it travels to the hub. Run once, by the
    migration that creates `events`; returns how many events it wrote."""
    learners = {row[0]: row[1:] for row in conn.execute(
        "SELECT phone, stopped, display_name, current_course, updated_at "
        "FROM learners WHERE phone NOT LIKE 'erased:%'")}
    if not learners:
        return 0
    edge = resolve_edge_id(conn)
    meta = {row[0]: json.loads(row[1]) for row in conn.execute("SELECT id, meta FROM courses")}
    facts: dict[str, list[tuple[float, int, int, str, dict]]] = {phone: [] for phone in learners}

    def add(phone: str, at: float, order: int, kind: str, data: dict) -> None:
        if phone in facts:
            facts[phone].append((at, order, len(facts[phone]), kind, data))

    results: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for phone, course, lesson, score, total, at in conn.execute(
            "SELECT phone, course_id, lesson_id, score, total, completed_at "
            "FROM lesson_results ORDER BY completed_at"):
        results.setdefault((phone, course), {})[lesson] = (score, total)
        add(phone, at, 1, "lesson_completed",
            {"course": course, "lesson": lesson, "score": score, "total": total})
    for phone, course, lesson, question, choice, correct, first_try, at in conn.execute(
            "SELECT phone, course_id, lesson_id, question, choice, correct, first_try, at "
            "FROM answers ORDER BY id"):
        add(phone, at, 2, "answered",
            {"course": course, "lesson": lesson, "question": question, "choice": choice,
             "correct": bool(correct), "first_try": bool(first_try)})
    places: dict[str, dict[str, tuple[float, dict]]] = {}
    for phone, course, position, card, quiz, started, completed, updated in conn.execute(
            "SELECT phone, course_id, position, card, quiz, started_at, completed_at, "
            "updated_at FROM enrollments"):
        lesson_ids = meta.get(course, {}).get("lesson_ids", [])
        add(phone, started, 0, "enrolled", {"course": course, "restart": False})
        place = {"course": course, "position": position, "card": card,
                 "lesson": lesson_ids[position] if 0 <= position < len(lesson_ids) else None,
                 "quiz": json.loads(quiz) if quiz else None}
        add(phone, updated, 3, "card_reached", place)
        places.setdefault(phone, {})[course] = (updated, place)
        if completed is not None:
            done = [results.get((phone, course), {}).get(lesson) for lesson in lesson_ids]
            score = sum(found[0] for found in done if found)
            total = sum(found[1] for found in done if found)
            percent = 100 * score / total if total else 100
            add(phone, completed, 4, "course_completed",
                {"course": course, "score": score, "total": total,
                 "passed": percent >= meta.get(course, {}).get("pass_mark", 0)})
    for phone, (stopped, name, current, updated) in learners.items():
        if name:
            add(phone, updated, 0, "name_set", {"name": name})
        if stopped:
            add(phone, updated, 0, "opted_out", {})
        mine = places.get(phone, {})
        if current in mine and mine[current][0] < max(at for at, _ in mine.values()):
            # The current course is the one of the latest place: say it once more, last.
            add(phone, max(at for at, _ in mine.values()), 5, "card_reached", mine[current][1])
    written = 0
    for phone, found in facts.items():
        found.sort(key=lambda fact: fact[:3])
        conn.executemany(
            "INSERT INTO events (id, edge, learner, kind, at, data) VALUES (?, ?, ?, ?, ?, ?)",
            [(new_event_id(at), edge, phone, kind, at,
              json.dumps(data, separators=(",", ":"), ensure_ascii=False))
             for at, _order, _n, kind, data in found])
        written += len(found)
    return written
