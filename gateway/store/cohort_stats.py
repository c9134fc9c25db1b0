"""Read-only queries for one cohort's figures (gateway/ops/cohort_reports.py): lessons
its joined members completed in its course, their first answers to its quizzes, and the
messages of its numbers about its program since it was created.

A cohort's learners are its members who joined (`cohort_members.status = 'joined'`);
their progress counts by the cohort's course alone, so a learner of two programs (or two
courses) counts here only by what they did in this cohort's course.
"""

from __future__ import annotations

from gateway.store.cohorts import Cohort
from gateway.store.program_stats import MESSAGE_COUNTS, ProgramMessages
from gateway.store.stats import _REAL_CARRIER, first_id_since
from gateway.store.store import Store

_JOINED = "SELECT phone FROM cohort_members WHERE cohort_id = ? AND status = 'joined'"


def joined_count(store: Store, cohort: Cohort) -> int:
    """How many of the cohort's members joined."""
    return store.db.execute(f"SELECT count(*) FROM ({_JOINED})", [cohort.id]).fetchone()[0]


def lessons_completed(store: Store, cohort: Cohort) -> dict[str, int]:
    """Per lesson id of the cohort's course, how many of its joined members completed it
    (all time); lessons nobody completed are absent."""
    return dict(store.db.execute(
        f"""SELECT lesson_id, count(*) FROM lesson_results
           WHERE course_id = ? AND phone IN ({_JOINED}) GROUP BY lesson_id""",
        [cohort.course_id, cohort.id]).fetchall())


def first_answers(store: Store, cohort: Cohort) -> list[tuple[str, int, int, int]]:
    """(lesson id, question from 0, first answers, right ones) of the cohort's course's
    questions answered at a first try by its joined members (all time)."""
    return [tuple(row) for row in store.db.execute(
        f"""SELECT lesson_id, question, count(*), sum(correct) FROM answers
           WHERE course_id = ? AND first_try = 1 AND phone IN ({_JOINED})
           GROUP BY lesson_id, question""", [cohort.course_id, cohort.id])]


def messages_by_carrier(store: Store, cohort: Cohort) -> list[ProgramMessages]:
    """Per carrier, the outbox rows about the cohort's program (`outbox.program`) to any
    of its numbers (invitations included) created since the cohort was."""
    # NOT INDEXED: read by id range, not along outbox_due (program_stats.messages_by_carrier).
    return [ProgramMessages(*row) for row in store.db.execute(
        f"""SELECT carrier_id, {MESSAGE_COUNTS}
           FROM outbox NOT INDEXED WHERE id >= ? AND program = ? AND created_at >= ?
           AND phone IN (SELECT phone FROM cohort_members WHERE cohort_id = ?)
           AND {_REAL_CARRIER} GROUP BY carrier_id ORDER BY carrier_id""",
        [first_id_since(store, "outbox", "created_at", cohort.created_at), cohort.program,
         cohort.created_at, cohort.id])]
