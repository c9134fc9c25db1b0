"""Learners' questions to tutors (table `questions`, migration `m026_questions`): asked
on any channel with where the learner was, open until a tutor answers or closes them.
The rules (the daily limit, the receipt) are the engine's (gateway/learning/asking.py),
those of the tutors' inbox (claiming, answering, closing) gateway/ops/tutoring.py's; this
module only reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.store import Store

OPEN = "open"
ANSWERED = "answered"
CLOSED = "closed"
# The one question past a learner's daily limit, kept without its text: its notice
# then goes once.
REFUSED = "refused"
CHANNELS = ("sms", "ussd", "web", "whatsapp")


@dataclass(frozen=True)
class QuestionRecord:
    """One question as stored."""

    id: int
    phone: str
    channel: str
    carrier_id: str
    text: str
    course_id: str | None
    lesson_id: str | None
    card: int | None
    quiz_question: int | None
    asked_at: float
    status: str
    answer: str | None
    answered_at: float | None
    answered_by: int | None
    claimed_by: int | None = None  # the tutor holding it (claimed or reassigned to)
    claimed_at: float | None = None
    closed_by: int | None = None  # who closed it without an answer
    closed_at: float | None = None


_COLUMNS = ("id, phone, channel, carrier_id, text, course_id, lesson_id, card, quiz_question, "
            "asked_at, status, answer, answered_at, answered_by, claimed_by, claimed_at, "
            "closed_by, closed_at")


@dataclass(frozen=True)
class QuizAnswer:
    """One answer a learner gave in a quiz (table `answers`): 0-based question number,
    0-based choice, whether it was right, and whether it was their first try."""

    course_id: str
    lesson_id: str
    question: int
    choice: int
    correct: bool
    first_try: bool
    at: float


def add(store: Store, phone: str, channel: str, carrier_id: str, text: str, *,
        course_id: str | None = None, lesson_id: str | None = None, card: int | None = None,
        quiz_question: int | None = None, status: str = OPEN) -> int:
    """Store a question asked now; returns its id."""
    if channel not in CHANNELS:
        raise ValueError(f"not a channel: {channel!r}")
    with store.write():
        return store.db.execute(
            """INSERT INTO questions (phone, channel, carrier_id, text, course_id, lesson_id,
                                      card, quiz_question, asked_at, status)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [phone, channel, carrier_id or "", text, course_id, lesson_id, card,
             quiz_question, store.clock(), status]).lastrowid


def asked_since(store: Store, phone: str, since: float) -> int:
    """How many questions (refused ones included) the learner asked since `since`."""
    return store.db.execute(
        "SELECT count(*) FROM questions WHERE phone = ? AND asked_at >= ?",
        [phone, since]).fetchone()[0]


def of_learner(store: Store, phone: str, status: str | None = None) -> list[QuestionRecord]:
    """A learner's questions, oldest first (only those of `status` when given)."""
    sql = f"SELECT {_COLUMNS} FROM questions WHERE phone = ?"
    params: list = [phone]
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    rows = store.db.execute(sql + " ORDER BY asked_at, id", params).fetchall()
    return [QuestionRecord(*row) for row in rows]


def get(store: Store, question_id: int) -> QuestionRecord | None:
    """The question of that id, or None."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM questions WHERE id = ?",
                           [question_id]).fetchone()
    return QuestionRecord(*row) if row else None


def hold(store: Store, question_id: int, staff_id: int) -> bool:
    """Give an open question to `staff_id` to hold (a claim, or a reassignment); whether
    it was open."""
    with store.write():
        return store.db.execute(
            "UPDATE questions SET claimed_by = ?, claimed_at = ? WHERE id = ? "
            "AND status = 'open'", [staff_id, store.clock(), question_id]).rowcount == 1


def mark_answered(store: Store, question_id: int, staff_id: int, answer: str) -> bool:
    """Mark an open question answered by `staff_id` with `answer`, now; whether it was
    still open (False: answered or closed meanwhile, nothing changed). Inside the
    caller's write transaction, with the answer's queuing."""
    with store.write():
        return store.db.execute(
            """UPDATE questions SET status = 'answered', answer = ?, answered_at = ?,
                                    answered_by = ? WHERE id = ? AND status = 'open'""",
            [answer, store.clock(), staff_id, question_id]).rowcount == 1


def close(store: Store, question_id: int, staff_id: int) -> bool:
    """Close an open question without an answer; whether it was open."""
    with store.write():
        return store.db.execute(
            """UPDATE questions SET status = 'closed', closed_by = ?, closed_at = ?
               WHERE id = ? AND status = 'open'""",
            [staff_id, store.clock(), question_id]).rowcount == 1


def last_quiz_answers(store: Store, phone: str, limit: int = 5) -> list[QuizAnswer]:
    """The learner's latest `limit` quiz answers, newest first (a tutor's context)."""
    rows = store.db.execute(
        "SELECT course_id, lesson_id, question, choice, correct, first_try, at FROM answers "
        "WHERE phone = ? ORDER BY at DESC, id DESC LIMIT ?", [phone, limit]).fetchall()
    return [QuizAnswer(c, lesson, q, choice, bool(right), bool(first), at)
            for c, lesson, q, choice, right, first, at in rows]


def open_count(store: Store) -> int:
    """How many questions are open, every learner's."""
    return store.db.execute("SELECT count(*) FROM questions WHERE status = 'open'"
                            ).fetchone()[0]


def open_questions(store: Store, limit: int = 100) -> list[QuestionRecord]:
    """Every learner's open questions, oldest first (what tutors answer next)."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM questions WHERE status = 'open' ORDER BY asked_at, id "
        "LIMIT ?", [limit]).fetchall()
    return [QuestionRecord(*row) for row in rows]
