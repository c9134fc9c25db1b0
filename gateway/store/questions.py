"""Learners' questions to tutors (table `questions`, migration `m026_questions`): asked
on any channel with where the learner was, open until a tutor answers or closes them.
The rules (the daily limit, the receipt) are the engine's (gateway/learning/asking.py);
this module only reads and writes."""

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


_COLUMNS = ("id, phone, channel, carrier_id, text, course_id, lesson_id, card, quiz_question, "
            "asked_at, status, answer, answered_at, answered_by")


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


def open_questions(store: Store, limit: int = 100) -> list[QuestionRecord]:
    """Every learner's open questions, oldest first (what tutors answer next)."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM questions WHERE status = 'open' ORDER BY asked_at, id "
        "LIMIT ?", [limit]).fetchall()
    return [QuestionRecord(*row) for row in rows]


def record_answer(store: Store, question_id: int, text: str, staff_id: int | None) -> bool:
    """Keep a tutor's answer to an open question: status 'answered', the text, now, and
    the staff account. False (nothing changed) for a question that is not open."""
    with store.write():
        return store.db.execute(
            "UPDATE questions SET status = 'answered', answer = ?, answered_at = ?, "
            "answered_by = ? WHERE id = ? AND status = 'open'",
            [text, store.clock(), staff_id, question_id]).rowcount == 1
