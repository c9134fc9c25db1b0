"""Programs in the store (docs/programs.md): who belongs to which program
(`program_members`, migration `m030_programs`), and which program a course belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.store import cohorts, events

if TYPE_CHECKING:
    from gateway.store.store import Store


def join(store: Store, program: str, phone: str, via: str,
         cohort_id: int | None = None) -> bool:
    """Inside the caller's write transaction (or one of its own): `phone` belongs to
    `program` from now, having joined `via` ('keyword', 'short_code', 'ussd', 'web',
    'invitation'), and a `program_joined` event says so (docs/sync.md) in the same
    transaction. False, changing nothing, when they belonged already. A cohort that
    brought them is named in the event by its uid and name, the same on every edge."""
    now = store.clock()
    cohort = cohorts.get(store, cohort_id) if cohort_id is not None else None
    with store.write():
        cursor = store.db.execute(
            """INSERT INTO program_members (program, phone, joined_at, via, cohort_id,
                                          cohort_uid)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (program, phone) DO NOTHING""",
            [program, phone, now, via, cohort_id, cohort.uid if cohort else None])
        if cursor.rowcount == 0:
            return False
        data: dict[str, object] = {"program": program, "via": via}
        if cohort is not None:
            data["cohort"] = cohort.uid
            data["cohort_name"] = cohort.name[:cohorts.NAME_CHARS]
        events.record(store, phone, "program_joined", data, at=now)
        return True


def merge_joined(store: Store, phone: str, program: str, via: str, joined_at: float,
                 cohort_uid: str | None = None) -> None:
    """Inside the caller's write transaction: a `program_joined` event of another edge
    applied here. The membership is a union; the earliest `joined_at` wins, and a
    membership made here keeps its own `via` and cohort. The event's cohort (its uid)
    is kept when the membership has none: as `cohort_uid`, and as `cohort_id` too when
    a cohort with that uid is stored here (docs/sync.md, Programs)."""
    local = cohorts.by_uid(store, cohort_uid) if cohort_uid else None
    store.db.execute(
        """INSERT INTO program_members (program, phone, joined_at, via, cohort_id,
                                      cohort_uid)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (program, phone) DO UPDATE
           SET joined_at = min(joined_at, excluded.joined_at),
               cohort_id = CASE WHEN cohort_uid IS NULL AND cohort_id IS NULL
                                THEN excluded.cohort_id ELSE cohort_id END,
               cohort_uid = CASE WHEN cohort_uid IS NULL AND cohort_id IS NULL
                                 THEN excluded.cohort_uid ELSE cohort_uid END""",
        [program, phone, joined_at, via, local.id if local else None, cohort_uid])


def programs_of(store: Store, phone: str) -> set[str]:
    """The programs `phone` belongs to."""
    return {row[0] for row in store.db.execute(
        "SELECT program FROM program_members WHERE phone = ?", [phone])}


def is_member(store: Store, program: str, phone: str) -> bool:
    """Whether `phone` belongs to `program`."""
    return store.db.execute(
        "SELECT 1 FROM program_members WHERE program = ? AND phone = ?",
        [program, phone]).fetchone() is not None


def members(store: Store, program: str) -> list[str]:
    """The numbers that belong to `program`, in the order they joined."""
    return [row[0] for row in store.db.execute(
        "SELECT phone FROM program_members WHERE program = ? ORDER BY joined_at, phone",
        [program])]


def program_of_course(store: Store, course_id: str | None) -> str:
    """The program course `course_id` names in its course file ('' none, or no such
    course)."""
    course = store.course(course_id) if course_id else None
    return course.program if course is not None else ""


def month_counts(store: Store, month: str) -> list[tuple]:
    """What each program's messages created in `month` ('YYYY-MM', UTC) cost in the
    carrier's units, per program and carrier: (program, carrier id, segments the carrier
    accepted, WhatsApp messages delivered as service, utility, marketing). Messages of no
    program are left out; replies count as any other message (the carrier bills them
    alike); messages queued, cancelled or failed before the carrier took them count
    nothing. Kept by the outbox's triggers (migration m038): a few rows, however many
    messages the month holds."""
    return [tuple(row) for row in store.db.execute(
        "SELECT program, carrier_id, segments, service, utility, marketing "
        "FROM program_month_counts WHERE month = ? ORDER BY program, carrier_id", [month])]


def budget_told(store: Store, program: str, month: str, level: str) -> bool:
    """Whether the program's administrators were told, in `month` ('YYYY-MM'), that its
    spend reached `level` ('80%' or '100%') of its budget (a line of the staff audit)."""
    return store.db.execute(
        "SELECT 1 FROM staff_audit WHERE action = ? AND subject = ?",
        [f"program budget {level}", f"{program} {month}"]).fetchone() is not None
