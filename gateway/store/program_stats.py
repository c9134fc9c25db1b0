"""Read-only queries for one program's figures (gateway/ops/program_reports.py): its
members, the enrolments in its courses, first answers to its quizzes, its messages
(`outbox.program`) and the questions asked from its courses (`questions.program`).

Every function takes the program's id and reads that program's rows alone: a learner in
two programs counts in each only by what they did in that program's courses. The phone
simulator's pretend learners are left out, as in gateway/store/stats.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.store.stats import (
    _ACCEPTED,
    _REAL_CARRIER,
    _REAL_LEARNER,
    CATEGORIES,
    CATEGORY,
    first_id_since,
)
from gateway.store.store import Store


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def members_joined(store: Store, program: str) -> int:
    """How many learners belong to `program` (program_members)."""
    return store.db.conn.execute(
        f"SELECT count(*) FROM program_members WHERE program = ? AND {_REAL_LEARNER}",
        [program]).fetchone()[0]


@dataclass(frozen=True)
class CourseSteps:
    """One course of a program from enrolment to completion, over all time: learners
    enrolled, who started its first lesson, finished at least half its lessons, and
    completed it."""

    course_id: str
    enrolled: int
    started: int
    half: int
    completed: int


def course_steps(store: Store, program: str,
                 lessons: dict[str, int]) -> list[CourseSteps]:
    """Per course of `program` (`lessons`: its course ids with their lesson counts; a
    course naming another program is skipped): enrolled, started, half way, completed.
    Members and non-members alike: an enrolment in the program's course is the program's."""
    found = []
    for course_id, count in lessons.items():
        if store.db.conn.execute(
                "SELECT json_extract(meta, '$.program') FROM courses WHERE id = ?",
                [course_id]).fetchone() != (program,):
            continue
        half = (count + 1) // 2
        row = store.db.conn.execute(
            f"""SELECT count(*),
                      coalesce(sum(e.card >= 0 OR e.position > 0 OR e.completed_at IS NOT NULL
                                   OR c.learner IS NOT NULL), 0),
                      coalesce(sum(coalesce(r.finished, 0) >= ? OR c.learner IS NOT NULL), 0),
                      coalesce(sum(e.completed_at IS NOT NULL OR c.learner IS NOT NULL), 0)
               FROM enrollments e
               LEFT JOIN (SELECT DISTINCT learner FROM events WHERE kind = 'course_completed'
                          AND json_extract(data, '$.course') = ?) c ON c.learner = e.phone
               LEFT JOIN (SELECT phone, count(*) AS finished FROM lesson_results
                          WHERE course_id = ? GROUP BY phone) r ON r.phone = e.phone
               WHERE e.course_id = ? AND e.{_REAL_LEARNER}""",
            [max(1, half), course_id, course_id, course_id]).fetchone()
        found.append(CourseSteps(course_id, *row))
    return found


def first_answers(store: Store, course_ids: Sequence[str], since: float,
                  until: float) -> list[tuple[str, str, int, int, int]]:
    """(course id, lesson id, question from 0, first answers, right ones) of the
    questions of `course_ids` (a program's courses) answered at a first try in
    [since, until)."""
    if not course_ids:
        return []
    start = first_id_since(store, "answers", "at", since)  # the period's rows alone
    return [tuple(row) for row in store.db.conn.execute(
        f"""SELECT course_id, lesson_id, question, count(*), sum(correct) FROM answers
           WHERE id >= ? AND course_id IN ({_marks(course_ids)}) AND at >= ? AND at < ?
           AND first_try = 1 AND {_REAL_LEARNER}
           GROUP BY course_id, lesson_id, question""", [start, *course_ids, since, until])]


def lessons_completed(store: Store, course_ids: Sequence[str], since: float,
                      until: float) -> int:
    """Lessons of `course_ids` completed in [since, until) (latest completion)."""
    if not course_ids:
        return 0
    return store.db.conn.execute(
        f"""SELECT count(*) FROM lesson_results WHERE course_id IN ({_marks(course_ids)})
           AND completed_at >= ? AND completed_at < ? AND {_REAL_LEARNER}""",
        [*course_ids, since, until]).fetchone()[0]


@dataclass(frozen=True)
class ProgramMessages:
    """One carrier's messages about a program's courses created in a period: messages the
    carrier accepted (sent: what it bills) and their segments, delivered, WhatsApp
    messages delivered by pricing category (service, utility, marketing), and apart, the
    messages still queued (or being sent) and those never sent (cancelled, or failed
    before the carrier accepted them), which cost nothing."""

    carrier_id: str
    messages: int
    segments: int
    delivered: int
    delivered_service: int
    delivered_utility: int
    delivered_marketing: int
    queued: int = 0
    unsent: int = 0


# The columns of a ProgramMessages after `carrier_id`, read from outbox rows.
MESSAGE_COUNTS = (
    f"sum({_ACCEPTED}), sum(CASE WHEN {_ACCEPTED} THEN segments ELSE 0 END), "
    "sum(status = 'delivered'), "
    + ", ".join(f"sum(status = 'delivered' AND {CATEGORY} = '{category}')"
                for category in CATEGORIES)
    + f", sum(status IN ('queued', 'sending')), "
    f"sum(status = 'cancelled' OR (status = 'failed' AND NOT {_ACCEPTED}))")


def messages_by_carrier(store: Store, program: str, since: float,
                        until: float) -> list[ProgramMessages]:
    """Per carrier, the outbox rows of `program` created in [since, until), read by id
    range as gateway/store/stats.py reads the period's rows."""
    # NOT INDEXED: grouping by carrier_id, SQLite would otherwise walk outbox_due, the
    # whole outbox's history, instead of the period's id range.
    return [ProgramMessages(*row) for row in store.db.conn.execute(
        f"""SELECT carrier_id, {MESSAGE_COUNTS}
           FROM outbox NOT INDEXED
           WHERE id >= ? AND program = ? AND created_at >= ? AND created_at < ?
           AND {_REAL_CARRIER} GROUP BY carrier_id ORDER BY carrier_id""",
        [first_id_since(store, "outbox", "created_at", since), program, since, until])]


def daily_messages(store: Store, since: float,
                   until: float) -> list[tuple[str, str, ProgramMessages]]:
    """(UTC day 'YYYY-MM-DD', program, one carrier's messages) for every program's outbox
    rows created in [since, until), by day, program and carrier: what an edge pushes the
    hub of its programs' messages (gateway/sync/spends.py)."""
    return [(day, program, ProgramMessages(*counts)) for day, program, *counts in
            store.db.conn.execute(
        f"""SELECT date(created_at, 'unixepoch'), program, carrier_id, {MESSAGE_COUNTS}
           FROM outbox WHERE id >= ? AND program != '' AND created_at >= ? AND created_at < ?
           AND {_REAL_CARRIER} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        [first_id_since(store, "outbox", "created_at", since), since, until])]


def questions_asked(store: Store, program: str, since: float,
                    until: float) -> tuple[int, int, int, int]:
    """(asked, answered, closed unanswered, still open) of the questions asked from
    `program`'s courses in [since, until); the marks of learners past the daily limit
    are not questions."""
    row = store.db.conn.execute(
        f"""SELECT count(*), coalesce(sum(answered_at IS NOT NULL), 0),
                  coalesce(sum(status = 'closed' AND answered_at IS NULL), 0),
                  coalesce(sum(status NOT IN ('closed') AND answered_at IS NULL), 0)
           FROM questions WHERE program = ? AND status != 'refused'
           AND asked_at >= ? AND asked_at < ? AND {_REAL_LEARNER}""",
        [program, since, until]).fetchone()
    return tuple(row)
