"""Learners' questions to tutors (table `questions`, migrations `m026_questions`,
`m028_question_sync`, `m029_tutor_inbox`): asked on any channel with where the learner
was, open until a tutor answers or closes them. The rules (the daily limit, the receipt)
are the engine's (gateway/learning/asking.py), those of the tutors' inbox (claiming,
answering, closing) gateway/ops/tutoring.py's; this module only reads and writes.

Questions travel as events (docs/sync.md, Questions): asking records `question_asked`
(its id is the question's `uid`), answering or closing one asked here records
`question_answered` / `question_closed`, each in the transaction of the change. On the
hub, edges' questions are copies (`edge` the edge's id) that gateway/hub/questions.py
keeps; on an edge, an answer relayed from the hub settles the question it answers."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.store import events, programs

if TYPE_CHECKING:
    from gateway.store.store import Store

OPEN = "open"
ANSWERED = "answered"
CLOSED = "closed"
# The one question past a learner's daily limit, kept without its text: its notice
# then goes once.
REFUSED = "refused"
CHANNELS = ("sms", "ussd", "web", "whatsapp")
# The settings row holding the highest id of a question erased with its learner
# (store/privacy.py): the staff audit and the tutors' figures name questions by id, so
# an erased question's id must never come back as another's.
_HIGHEST_REMOVED = "questions_highest_removed_id"
_NEXT_ID = ("(SELECT max(coalesce((SELECT max(id) FROM questions), 0), coalesce((SELECT "
            f"CAST(value AS INTEGER) FROM settings WHERE name = '{_HIGHEST_REMOVED}'), 0)) + 1)")
ASKED, ANSWERED_EVENT, CLOSED_EVENT = "question_asked", "question_answered", "question_closed"


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
    uid: str = ""  # globally unique: the id of its `question_asked` event
    edge: str = ""  # '' asked here; on the hub, the edge whose learner asked
    locale: str | None = None  # the language the learner read in when they asked
    claimed_by: int | None = None  # the tutor holding it (claimed or reassigned to)
    claimed_at: float | None = None
    closed_by: int | None = None  # who closed it without an answer
    closed_at: float | None = None
    program: str = ""  # the program of the course it was asked from ('' none)


_COLUMNS = ("id, phone, channel, carrier_id, text, course_id, lesson_id, card, quiz_question, "
            "asked_at, status, answer, answered_at, answered_by, uid, edge, locale, "
            "claimed_by, claimed_at, closed_by, closed_at, program")


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
        quiz_question: int | None = None, status: str = OPEN,
        locale: str | None = None) -> int:
    """Store a question asked now, with a new uid, and record its `question_asked` event in
    the same transaction (a refused one, which has no text, stays here); returns its id."""
    if channel not in CHANNELS:
        raise ValueError(f"not a channel: {channel!r}")
    now = store.clock()
    uid = events.new_event_id(now)
    with store.write():
        question_id = store.db.execute(
            f"""INSERT INTO questions (id, phone, channel, carrier_id, text, course_id,
                                       lesson_id, card, quiz_question, asked_at, status, uid,
                                       locale, program)
               VALUES ({_NEXT_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [phone, channel, carrier_id or "", text, course_id, lesson_id, card,
             quiz_question, now, status, uid, locale,
             programs.program_of_course(store, course_id)]).lastrowid
        if status == OPEN:
            events.record(store, phone, ASKED, asked_data(
                uid=uid, channel=channel, carrier_id=carrier_id or "", text=text,
                course=course_id, lesson=lesson_id, card=card, quiz_question=quiz_question,
                asked_at=now, locale=locale), event_id=uid)
        return question_id


def asked_data(*, text: str, **fields: Any) -> dict[str, Any]:
    """A `question_asked` event's data: `fields` and the text, the text cut (at a
    character) so that the whole is within the hub's limit on an event's data (4,096
    bytes as compact UTF-8 JSON); the question here keeps its whole text."""
    data = {**fields, "text": text}
    while data["text"]:
        over = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()) \
            - events.MAX_DATA_BYTES
        if over <= 0:
            break
        data["text"] = data["text"][:-max(1, over // 4)]  # 4 bytes a character at most
    return data


def get(store: Store, question_id: int) -> QuestionRecord | None:
    """One question by its id here, or None."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM questions WHERE id = ?",
                           [question_id]).fetchone()
    return QuestionRecord(*row) if row else None


def by_uid(store: Store, uid: str) -> QuestionRecord | None:
    """One question by its uid, or None."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM questions WHERE uid = ?",
                           [uid]).fetchone()
    return QuestionRecord(*row) if row else None


def mark_answered(store: Store, question_id: int, answer: str, by: int | None) -> bool:
    """Mark an open question answered now with `answer` by staff account `by`, inside the
    caller's write transaction (or one of its own); for a question asked here, record
    `question_answered` so that the hub's copy is no longer open. False (nothing
    changed) when the question is not open."""
    return _settle(store, question_id, ANSWERED, answer, by)


def mark_closed(store: Store, question_id: int, by: int | None) -> bool:
    """Close an open question without an answer (as mark_answered, recording
    `question_closed`); False when it is not open."""
    return _settle(store, question_id, CLOSED, None, by)


def _settle(store: Store, question_id: int, status: str, answer: str | None,
            by: int | None) -> bool:
    now = store.clock()
    with store.write():
        row = store.db.execute(
            "SELECT phone, uid, edge FROM questions WHERE id = ? AND status = 'open'",
            [question_id]).fetchone()
        if row is None:
            return False
        phone, uid, edge = row
        if status == ANSWERED:
            store.db.execute(
                "UPDATE questions SET status = 'answered', answer = ?, answered_at = ?, "
                "answered_by = ? WHERE id = ?", [answer, now, by, question_id])
        else:
            store.db.execute(
                "UPDATE questions SET status = 'closed', closed_at = ?, closed_by = ? "
                "WHERE id = ?", [now, by, question_id])
        if not edge and uid:
            kind = ANSWERED_EVENT if status == ANSWERED else CLOSED_EVENT
            events.record(store, phone, kind, {"uid": uid, "at": now})
    return True


def answer_relayed(store: Store, question_id: int, answer: str, at: float) -> bool:
    """Inside the caller's write transaction: an open question asked here is answered by
    an answer the hub relayed (answered at `at` on the hub); no event (the hub has it).
    False when the question is not open (answered or closed here first: that wins)."""
    return store.db.execute(
        "UPDATE questions SET status = 'answered', answer = ?, answered_at = ? "
        "WHERE id = ? AND status = 'open'", [answer, at, question_id]).rowcount > 0


def close_relayed(store: Store, question_id: int, at: float) -> bool:
    """Inside the caller's write transaction: an open question asked here was closed
    without an answer by a tutor on the hub (at `at` there); no event (the hub has it).
    False when it is not open."""
    return store.db.execute(
        "UPDATE questions SET status = 'closed', closed_at = ? "
        "WHERE id = ? AND status = 'open'", [at, question_id]).rowcount > 0


# -- copies of edges' questions, on the hub --------------------------------------------------


def add_copy(store: Store, edge: str, uid: str, phone: str, data: dict[str, Any],
             asked_at: float) -> bool:
    """Inside the caller's write transaction: keep a copy of a question asked on `edge`
    (from its `question_asked` event's data), open; False when `uid` is already here."""
    def text(name: str, limit: int = 200) -> str | None:
        value = data.get(name)
        return value[:limit] if isinstance(value, str) and value else None

    def number(name: str) -> int | None:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    channel = data.get("channel") if data.get("channel") in CHANNELS else "sms"
    return store.db.execute(
        f"""INSERT INTO questions (id, phone, channel, carrier_id, text, course_id, lesson_id,
                                   card, quiz_question, asked_at, status, uid, edge, locale)
           VALUES ({_NEXT_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)
           ON CONFLICT (uid) DO NOTHING""",
        [phone, channel, text("carrier_id") or "", text("text", 4096) or "", text("course"),
         text("lesson"), number("card"), number("quiz_question"), asked_at, uid, edge,
         text("locale", 20)]).rowcount > 0


def settle_copy(store: Store, edge: str, uid: str, status: str, at: float) -> bool:
    """Inside the caller's write transaction: the copy of `edge`'s question `uid` was
    answered or closed there; False when there is no such open copy of that edge's."""
    when = "answered_at" if status == ANSWERED else "closed_at"
    return store.db.execute(
        f"UPDATE questions SET status = ?, {when} = ? "
        "WHERE uid = ? AND edge = ? AND edge != '' AND status = 'open'",
        [status, at, uid, edge]).rowcount > 0


def copy_uids(store: Store) -> list[str]:
    """The uids of every copy of an edge's question held here."""
    return [row[0] for row in store.db.execute(
        "SELECT uid FROM questions WHERE edge != ''")]


def delete_copies(store: Store, uids: list[str]) -> int:
    """Inside the caller's write transaction: delete these copies (their learner was
    erased); returns how many."""
    deleted = 0
    for start in range(0, len(uids), 500):
        chunk = uids[start:start + 500]
        deleted += _delete_keeping_ids(
            store, f"edge != '' AND uid IN ({', '.join('?' * len(chunk))})", chunk)
    return deleted


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


def hold(store: Store, question_id: int, staff_id: int) -> bool:
    """Give an open question to `staff_id` to hold (a claim, or a reassignment); whether
    it was open."""
    with store.write():
        return store.db.execute(
            "UPDATE questions SET claimed_by = ?, claimed_at = ? WHERE id = ? "
            "AND status = 'open'", [staff_id, store.clock(), question_id]).rowcount == 1


def last_quiz_answers(store: Store, phone: str, limit: int = 5,
                      courses: Collection[str] | None = None) -> list[QuizAnswer]:
    """The learner's latest `limit` quiz answers, newest first (a tutor's context); with
    `courses`, only answers in those courses."""
    where, values = "", []
    if courses is not None:
        values = sorted(courses)
        where = f" AND course_id IN ({', '.join('?' * len(values))})"
    rows = store.db.execute(
        "SELECT course_id, lesson_id, question, choice, correct, first_try, at FROM answers "
        f"WHERE phone = ?{where} ORDER BY at DESC, id DESC LIMIT ?",
        [phone, *values, limit]).fetchall()
    return [QuizAnswer(c, lesson, q, choice, bool(right), bool(first), at)
            for c, lesson, q, choice, right, first, at in rows]


# The questions tutors answer: not those of the phone simulator's pretend learners
# (numbers in the unassigned +999 range), which no carrier reaches.
_FOR_TUTORS = "status = 'open' AND phone NOT LIKE '+999%'"


def _of_programs(programs: set[str] | None) -> tuple[str, list[str]]:
    """The condition and values keeping the questions of `programs` (None: every one)."""
    if programs is None:
        return "", []
    return f" AND program IN ({', '.join('?' * len(programs))})", sorted(programs)


def open_count(store: Store, programs: set[str] | None = None) -> int:
    """How many questions wait for tutors, every learner's (the phone simulator's pretend
    learners' left out); with `programs`, only those asked from those programs' courses."""
    where, values = _of_programs(programs)
    return store.db.execute(f"SELECT count(*) FROM questions WHERE {_FOR_TUTORS}{where}",
                            values).fetchone()[0]


def open_questions(store: Store, limit: int = 100,
                   programs: set[str] | None = None) -> list[QuestionRecord]:
    """The questions waiting for tutors, oldest first (what they answer next; the phone
    simulator's pretend learners' left out); with `programs`, only those asked from those
    programs' courses (a tutor of those programs)."""
    where, values = _of_programs(programs)
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM questions WHERE {_FOR_TUTORS}{where} ORDER BY asked_at, id "
        "LIMIT ?", [*values, limit]).fetchall()
    return [QuestionRecord(*row) for row in rows]


def delete_of(store: Store, phone: str) -> int:
    """Inside the caller's write transaction: delete the questions `phone` asked, keeping
    the highest of their ids so that no later question takes it; how many were deleted."""
    return _delete_keeping_ids(store, "phone = ?", [phone])


def _delete_keeping_ids(store: Store, where: str, params: list[Any]) -> int:
    """Delete the questions `where` says, first keeping the highest of their ids in
    settings (`_NEXT_ID` stays above it); how many were deleted."""
    store.db.execute(
        # settings.value is TEXT, which compares above any number: both as integers.
        f"""INSERT INTO settings (name, value)
            SELECT '{_HIGHEST_REMOVED}', max(id) FROM questions WHERE {where}
            HAVING max(id) IS NOT NULL
            ON CONFLICT (name) DO UPDATE SET value = max(CAST(value AS INTEGER),
                                                        CAST(excluded.value AS INTEGER))""",
        params)
    return store.db.execute(f"DELETE FROM questions WHERE {where}", params).rowcount
