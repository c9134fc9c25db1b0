"""Tutors' saved replies per lesson (table `saved_replies`, migration `m029_tutor_inbox`):
texts a tutor inserts into an answer and edits before sending. The rules (lengths, who
may write them) are gateway/ops/tutoring.py's; this module only reads and writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.store import Store


@dataclass(frozen=True)
class SavedReply:
    """One saved reply for a lesson of a course."""

    id: int
    course_id: str
    lesson_id: str
    title: str
    text: str
    updated_by: int | None
    updated_at: float


_COLUMNS = "id, course_id, lesson_id, title, text, updated_by, updated_at"


def add(store: Store, course_id: str, lesson_id: str, title: str, text: str,
        staff_id: int | None) -> int:
    """Keep a new saved reply for a lesson; returns its id."""
    with store.write():
        return store.db.execute(
            """INSERT INTO saved_replies (course_id, lesson_id, title, text, updated_by,
                                          updated_at) VALUES (?, ?, ?, ?, ?, ?)""",
            [course_id, lesson_id, title, text, staff_id, store.clock()]).lastrowid


def update(store: Store, reply_id: int, title: str, text: str, staff_id: int | None) -> bool:
    """Change a saved reply's title and text; whether it exists."""
    with store.write():
        return store.db.execute(
            "UPDATE saved_replies SET title = ?, text = ?, updated_by = ?, updated_at = ? "
            "WHERE id = ?", [title, text, staff_id, store.clock(), reply_id]).rowcount == 1


def delete(store: Store, reply_id: int) -> bool:
    """Delete a saved reply; whether it existed."""
    with store.write():
        return store.db.execute("DELETE FROM saved_replies WHERE id = ?",
                                [reply_id]).rowcount == 1


def get(store: Store, reply_id: int) -> SavedReply | None:
    """The saved reply of that id, or None."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM saved_replies WHERE id = ?",
                           [reply_id]).fetchone()
    return SavedReply(*row) if row else None


def of_lesson(store: Store, course_id: str | None, lesson_id: str | None) -> list[SavedReply]:
    """A lesson's saved replies, by title."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM saved_replies WHERE course_id = ? AND lesson_id = ? "
        "ORDER BY title, id", [course_id or "", lesson_id or ""]).fetchall()
    return [SavedReply(*row) for row in rows]


def every(store: Store) -> list[SavedReply]:
    """Every saved reply, by course, lesson and title."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM saved_replies ORDER BY course_id, lesson_id, title, id"
    ).fetchall()
    return [SavedReply(*row) for row in rows]
