"""Cohorts in the store (docs/programs.md, Cohorts): a program's class or intake
(`cohorts`) and the numbers imported into it (`cohort_members`, migration `m031_cohorts`):
who is waiting for an invitation, who was invited (once), who joined."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.store import events

if TYPE_CHECKING:
    from gateway.store.store import Store

STATUSES = ("waiting", "invited", "joined", "stopped")
PUSH_CURSOR = "cohort_push_cursor"  # in sync_state: the last cohort id the hub has
# A cohort's name as sync carries it (the cohort pushed, a `program_joined` event), at
# most; the hub refuses a longer one.
NAME_CHARS = 200


@dataclass(frozen=True)
class Cohort:
    """One cohort as stored."""

    id: int
    program: str
    name: str
    course_id: str
    starts_on: str
    carrier_id: str
    contacts: tuple[str, ...]
    created_by: str
    created_at: float
    report_sent_at: float | None
    uid: str = ""


@dataclass(frozen=True)
class Invitee:
    """A number of a cohort still waiting for its invitation."""

    phone: str
    name: str


_COLUMNS = ("id, program, name, course_id, starts_on, carrier_id, contacts, created_by, "
            "created_at, report_sent_at, uid")


def _cohort(row) -> Cohort:
    return Cohort(row[0], row[1], row[2], row[3], row[4], row[5],
                  tuple(json.loads(row[6] or "[]")), row[7], row[8], row[9], row[10])


def create(store: Store, *, program: str, name: str, course_id: str, starts_on: str,
           carrier_id: str, created_by: str, members: list[tuple[str, str]],
           contacts: tuple[str, ...] = ()) -> Cohort:
    """Create a cohort with its members ((E.164 phone, name) pairs, each once), all in one
    transaction: every member is stored, or nothing is. Members start 'waiting'. The
    cohort gets a globally unique `uid` that names it on every edge (docs/sync.md)."""
    with store.write():
        cursor = store.db.execute(
            f"""INSERT INTO cohorts ({_COLUMNS.replace('id, ', '', 1)})
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)""",
            [program, name, course_id, starts_on, carrier_id, json.dumps(list(contacts)),
             created_by, store.clock(), uuid.uuid4().hex])
        cohort_id = cursor.lastrowid
        store.db.conn.executemany(
            "INSERT INTO cohort_members (cohort_id, phone, name) VALUES (?, ?, ?)",
            [(cohort_id, phone, member_name) for phone, member_name in members])
    found = get(store, cohort_id)
    assert found is not None
    return found


def by_uid(store: Store, uid: str) -> Cohort | None:
    """The cohort with this globally unique uid, or None (none made or known here)."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM cohorts WHERE uid = ?", [uid]).fetchone()
    return _cohort(row) if row else None


def get(store: Store, cohort_id: int) -> Cohort | None:
    """The cohort with this id, or None."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM cohorts WHERE id = ?",
                           [cohort_id]).fetchone()
    return _cohort(row) if row else None


def of_program(store: Store, program: str) -> list[Cohort]:
    """A program's cohorts, newest first."""
    return [_cohort(row) for row in store.db.execute(
        f"SELECT {_COLUMNS} FROM cohorts WHERE program = ? ORDER BY id DESC", [program])]


def all_cohorts(store: Store) -> list[Cohort]:
    """Every cohort, oldest first."""
    return [_cohort(row) for row in store.db.execute(
        f"SELECT {_COLUMNS} FROM cohorts ORDER BY id")]


def unpushed(store: Store, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` cohorts created here that the hub does not have yet, oldest first,
    as the sync protocol carries them ({uid, program, name, course, starts_on}: a cohort
    is never edited, so once is enough); and the id of the last one (the cursor itself
    when there is none) to hand to `mark_pushed`."""
    cursor = int(events.sync_value(store, PUSH_CURSOR) or 0)
    rows = store.db.execute(
        "SELECT id, uid, program, name, course_id, starts_on FROM cohorts WHERE id > ? "
        "ORDER BY id LIMIT ?", [cursor, limit]).fetchall()
    return ([{"uid": uid, "program": program, "name": name[:NAME_CHARS],
              "course": course, "starts_on": starts_on}
             for _id, uid, program, name, course, starts_on in rows],
            rows[-1][0] if rows else cursor)


def mark_pushed(store: Store, through_id: int) -> None:
    """The hub has the cohorts up to `through_id`: the cursor moves there (never back)."""
    with store.write():
        if through_id > int(events.sync_value(store, PUSH_CURSOR) or 0):
            events.set_sync_value(store, PUSH_CURSOR, str(through_id))


def waiting(store: Store, cohort_id: int, limit: int) -> list[Invitee]:
    """Up to `limit` members of the cohort not yet invited, in the order imported."""
    return [Invitee(row[0], row[1]) for row in store.db.execute(
        "SELECT phone, name FROM cohort_members WHERE cohort_id = ? AND status = 'waiting' "
        "ORDER BY rowid LIMIT ?", [cohort_id, limit])]


def mark_invited(store: Store, cohort_id: int, phone: str) -> bool:
    """Inside the caller's write transaction, before queueing its invitation: the member
    is invited now. False, changing nothing, unless they were waiting: an invitation goes
    once, however many workers run the step."""
    cursor = store.db.execute(
        "UPDATE cohort_members SET status = 'invited', invited_at = ? "
        "WHERE cohort_id = ? AND phone = ? AND status = 'waiting'",
        [store.clock(), cohort_id, phone])
    return cursor.rowcount > 0


def set_invitation(store: Store, cohort_id: int, phone: str) -> None:
    """Inside the caller's write transaction, just after queueing the member's invitation:
    it is the message queued last (the transaction holds the write lock, so no other
    message was queued since)."""
    store.db.execute(
        "UPDATE cohort_members SET outbox_id = (SELECT max(id) FROM outbox) "
        "WHERE cohort_id = ? AND phone = ?", [cohort_id, phone])


def invitation_cancelled(store: Store, phone: str, outbox_id: int) -> None:
    """Inside the caller's write transaction: the invitation to `phone` queued as
    `outbox_id` was cancelled unsent (its program at its budget); its member waits to be
    invited again."""
    store.db.execute(
        "UPDATE cohort_members SET status = 'waiting', invited_at = NULL, outbox_id = NULL "
        "WHERE phone = ? AND outbox_id = ? AND status = 'invited'", [phone, outbox_id])


def with_waiting(store: Store) -> list[Cohort]:
    """The cohorts with numbers still waiting for their invitation, oldest first."""
    return [_cohort(row) for row in store.db.execute(
        f"""SELECT {_COLUMNS} FROM cohorts c WHERE EXISTS (
                SELECT 1 FROM cohort_members m
                WHERE m.cohort_id = c.id AND m.status = 'waiting') ORDER BY id""")]


def invited_since(store: Store, cohort_id: int, since: float) -> int:
    """How many of the cohort's numbers were invited at or after `since`."""
    return store.db.execute(
        "SELECT count(*) FROM cohort_members WHERE cohort_id = ? AND invited_at >= ?",
        [cohort_id, since]).fetchone()[0]


def mark_stopped(store: Store, cohort_id: int, phone: str) -> None:
    """Inside the caller's transaction: the waiting member had sent STOP; never invited."""
    store.db.execute(
        "UPDATE cohort_members SET status = 'stopped' "
        "WHERE cohort_id = ? AND phone = ? AND status = 'waiting'", [cohort_id, phone])


def invitation_for(store: Store, program: str, phone: str) -> Cohort | None:
    """The cohort of `program` that invited `phone` and that they have not joined yet (the
    latest, if several), or None."""
    row = store.db.execute(
        f"""SELECT {', '.join('c.' + c.strip() for c in _COLUMNS.split(','))}
            FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
            WHERE m.phone = ? AND c.program = ? AND m.status = 'invited'
            ORDER BY m.invited_at DESC, c.id DESC LIMIT 1""", [phone, program]).fetchone()
    return _cohort(row) if row else None


def invited_program(store: Store, phone: str) -> str | None:
    """The program of the latest cohort invitation `phone` has not answered yet, or
    None."""
    row = store.db.execute(
        """SELECT c.program FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
           WHERE m.phone = ? AND m.status = 'invited'
           ORDER BY m.invited_at DESC, c.id DESC LIMIT 1""", [phone]).fetchone()
    return row[0] if row else None


def mark_joined(store: Store, cohort_id: int, phone: str) -> None:
    """Inside the caller's transaction: the invited member consented and joined."""
    store.db.execute(
        "UPDATE cohort_members SET status = 'joined', joined_at = ? "
        "WHERE cohort_id = ? AND phone = ? AND status = 'invited'",
        [store.clock(), cohort_id, phone])


def set_report_sent(store: Store, cohort_id: int, at: float) -> None:
    """Inside the caller's transaction: the cohort's weekly report went at `at`."""
    store.db.execute("UPDATE cohorts SET report_sent_at = ? WHERE id = ?", [at, cohort_id])


@dataclass(frozen=True)
class Funnel:
    """How far a cohort's members came: imported, invited, joined, started their first
    lesson, completed half the course's lessons, completed the course (certificate)."""

    members: int
    invited: int
    joined: int
    started: int
    half: int
    certificate: int


def funnel(store: Store, cohort: Cohort, lesson_count: int) -> Funnel:
    """The cohort's funnel; `lesson_count` is its course's number of lessons (half of it,
    rounded up, counts as half the course). Only joined members' progress counts."""
    counts = dict(store.db.execute(
        "SELECT status, count(*) FROM cohort_members WHERE cohort_id = ? GROUP BY status",
        [cohort.id]).fetchall())
    half = max(1, -(-lesson_count // 2))
    row = store.db.execute(
        """SELECT count(e.phone),
                  sum(CASE WHEN coalesce(r.done, 0) >= ? THEN 1 ELSE 0 END),
                  sum(CASE WHEN e.completed_at IS NOT NULL THEN 1 ELSE 0 END)
           FROM cohort_members m
           JOIN enrollments e ON e.phone = m.phone AND e.course_id = ?
           LEFT JOIN (SELECT phone, count(*) AS done FROM lesson_results
                      WHERE course_id = ? GROUP BY phone) r ON r.phone = m.phone
           WHERE m.cohort_id = ? AND m.status = 'joined'
             AND (e.position > 0 OR e.card >= 0 OR e.completed_at IS NOT NULL)""",
        [half, cohort.course_id, cohort.course_id, cohort.id]).fetchone()
    joined = counts.get("joined", 0)
    return Funnel(members=sum(counts.values()),
                  invited=counts.get("invited", 0) + joined,
                  joined=joined, started=row[0] or 0, half=row[1] or 0,
                  certificate=row[2] or 0)


@dataclass(frozen=True)
class Week:
    """A cohort's week: members joined so far, members active in the week (a lesson
    completed), lessons completed in the week, certificates so far."""

    joined: int
    active: int
    lessons: int
    certificates: int


def week(store: Store, cohort: Cohort, since: float) -> Week:
    """The cohort's figures for the week that began at `since`."""
    joined = store.db.execute(
        "SELECT count(*) FROM cohort_members WHERE cohort_id = ? AND status = 'joined'",
        [cohort.id]).fetchone()[0]
    active, lessons = store.db.execute(
        """SELECT count(DISTINCT r.phone), count(*) FROM lesson_results r
           JOIN cohort_members m ON m.phone = r.phone AND m.cohort_id = ?
           WHERE m.status = 'joined' AND r.course_id = ? AND r.completed_at >= ?""",
        [cohort.id, cohort.course_id, since]).fetchone()
    certificates = store.db.execute(
        """SELECT count(*) FROM enrollments e JOIN cohort_members m
           ON m.phone = e.phone AND m.cohort_id = ?
           WHERE m.status = 'joined' AND e.course_id = ? AND e.completed_at IS NOT NULL""",
        [cohort.id, cohort.course_id]).fetchone()[0]
    return Week(joined, active, lessons, certificates)


def member_rows(store: Store, cohort_id: int) -> list[tuple]:
    """Every member of the cohort: (phone, name, status, invited_at, joined_at)."""
    return store.db.execute(
        "SELECT phone, name, status, invited_at, joined_at FROM cohort_members "
        "WHERE cohort_id = ? ORDER BY rowid", [cohort_id]).fetchall()
