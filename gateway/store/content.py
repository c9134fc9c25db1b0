"""Courses and lessons (tables `courses`, `lessons`) and this process's cache of them.

`ContentStore` is mixed into `Store` (gateway/store/store.py), whose core gives it the
connection, the clock and the write transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from gateway.content.model import Course, Lesson

# Every change to courses or lessons gives the content a new random version token in
# settings, in the same transaction (triggers, migration m009). A write transaction reads
# the token once and then takes content from this process's cache for that token: no
# courses or lessons statement per message. Another process's import shows as a new token
# at the next transaction (tokens are random: a rolled-back change can never match a later
# one). Within a transaction, content is written only by save_course, which sends the
# rest of that transaction's reads of content to the tables.
CONTENT_VERSION_SETTING = "content_version"


class _ContentCache:
    """Parsed courses and lessons of one content version of one database."""

    __slots__ = ("by_id", "courses", "lessons", "version")

    def __init__(self, version: str):
        self.version = version
        self.courses: list[Course] | None = None
        self.by_id: dict[str, Course | None] = {}
        self.lessons: dict[tuple[str, str, str], Lesson | None] = {}


_CONTENT: dict[str, _ContentCache] = {}


@functools.lru_cache(maxsize=2048)
def _lesson_from_body(body: str) -> Lesson:
    return Lesson.from_json(body)


# Content is read on nearly every message and changes only on import: parse each
# distinct stored text once. Keys are the stored JSON itself, so an import that
# changes a course or lesson is picked up by every process at once.
@functools.lru_cache(maxsize=256)
def _course_from_row(course_id: str, meta_json: str) -> Course:
    meta = json.loads(meta_json)
    return Course(
        id=course_id,
        code=meta["code"],
        default_locale=meta["default_locale"],
        pass_mark=meta["pass_mark"],
        lesson_ids=tuple(meta["lesson_ids"]),
        titles=meta["titles"],
        summaries=meta["summaries"],
        locales=tuple(meta["locales"]),
        program=meta.get("program", ""),
    )


class ContentStore:
    """The courses and their lessons: imported, read, and cached for one content version."""

    def save_course(
        self, course: Course, position: int, on_lesson: Callable[[], object] | None = None,
    ) -> dict[str, int]:
        """Insert or update a course and its lessons; return counts of added/updated/unchanged.

        Learners' progress is kept: it refers to lessons by id and position, and when the
        course's list of lessons changes each learner's place follows their lesson
        (`_follow_lessons`). `on_lesson` is called after each lesson text (a progress bar).
        """
        now = self.clock()
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        with self.write():
            before = self._one("SELECT meta FROM courses WHERE id = ?", [course.id])
            if before is not None:
                self._follow_lessons(course.id, json.loads(before["meta"])["lesson_ids"],
                                     list(course.lesson_ids))
            self.db.execute(
                """INSERT INTO courses (id, code, position, meta, updated_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET code = excluded.code,
                     position = excluded.position, meta = excluded.meta,
                     updated_at = excluded.updated_at
                   WHERE courses.meta != excluded.meta OR courses.position != excluded.position
                     OR courses.code != excluded.code""",
                [course.id, course.code, position, course.meta_json(), now],
            )
            existing = {
                (row["lesson_id"], row["locale"]): row["hash"]
                for row in self._rows(
                    "SELECT lesson_id, locale, hash FROM lessons WHERE course_id = ?", [course.id]
                )
            }
            keep: set[tuple[str, str]] = set()
            for locale, lessons in course.lessons.items():
                for lesson in lessons:
                    key = (lesson.id, locale)
                    keep.add(key)
                    digest = lesson.content_hash
                    if on_lesson is not None:
                        on_lesson()
                    if existing.get(key) == digest:
                        counts["unchanged"] += 1
                        continue
                    counts["updated" if key in existing else "added"] += 1
                    self.db.execute(
                        """INSERT INTO lessons
                             (course_id, lesson_id, locale, position, body, hash, updated_at)
                           VALUES (?, ?, ?, ?, ?, ?, ?)
                           ON CONFLICT (course_id, lesson_id, locale) DO UPDATE SET
                             position = excluded.position, body = excluded.body,
                             hash = excluded.hash, updated_at = excluded.updated_at""",
                        [course.id, lesson.id, locale, course.lesson_ids.index(lesson.id),
                         lesson.to_json(), digest, now],
                    )
            for lesson_id, locale in set(existing) - keep:
                self.db.execute(
                    "DELETE FROM lessons WHERE course_id = ? AND lesson_id = ? AND locale = ?",
                    [course.id, lesson_id, locale],
                )
            # Any change gave the content a new version token (triggers, m009); until
            # this transaction ends its reads of content go to the tables.
            self._content_changed = True
            self._content_now = None
        return counts

    def _content(self) -> _ContentCache | None:
        """This process's parsed content, valid for what this connection reads now; None
        when content must be read from its tables: outside a write transaction (each read
        is then its own snapshot), in one that changed content, or with no version token
        (content stored before tokens existed)."""
        if not self._writing or self._content_changed:
            return None
        if self._content_now is None:
            row = self.db.conn.execute("SELECT value FROM settings WHERE name = ?",
                                       [CONTENT_VERSION_SETTING]).fetchone()
            if row is None:
                return None
            version = row[0]
            key = self.path or f"store:{id(self)}"
            cache = _CONTENT.get(key)
            if cache is None or cache.version != version:
                cache = _CONTENT[key] = _ContentCache(version)
            # The write lock is held: no other process can change content before COMMIT.
            self._content_now = cache
        return self._content_now

    def _follow_lessons(self, course_id: str, old_ids: list[str], new_ids: list[str]) -> None:
        """Keep each learner in the lesson they were in when a course's lessons are removed,
        added or reordered: an enrollment's place is a lesson *position*, which would
        otherwise point at another lesson (mid-way through it, or in its quiz). A learner
        whose lesson was removed starts the next lesson that remains; with none left after
        it, the end of the last lesson (the engine then asks its quiz)."""
        if old_ids == new_ids:
            return
        where = {lesson_id: n for n, lesson_id in enumerate(new_ids)}
        rows = list(self._rows(
            "SELECT phone, position FROM enrollments "
            "WHERE course_id = ? AND completed_at IS NULL", [course_id]))
        for row in rows:
            position = row["position"]
            if not 0 <= position < len(old_ids):
                continue  # already past the end: the engine clamps it
            if old_ids[position] in where:
                moved, reset = where[old_ids[position]], False
            else:
                moved = next((where[i] for i in old_ids[position + 1:] if i in where), None)
                reset = True
            if moved is None:
                self.db.execute(
                    "UPDATE enrollments SET position = ?, card = ?, quiz = NULL "
                    "WHERE phone = ? AND course_id = ?",
                    [len(new_ids) - 1, 10**6, row["phone"], course_id])
                self._moved_event(row["phone"], course_id, new_ids, len(new_ids) - 1, 10**6)
            elif reset:
                self.db.execute(
                    "UPDATE enrollments SET position = ?, card = -1, quiz = NULL "
                    "WHERE phone = ? AND course_id = ?", [moved, row["phone"], course_id])
                self._moved_event(row["phone"], course_id, new_ids, moved, -1)
            elif moved != position:
                self.db.execute(
                    "UPDATE enrollments SET position = ? WHERE phone = ? AND course_id = ?",
                    [moved, row["phone"], course_id])

    def _moved_event(self, phone: str, course_id: str, lesson_ids: list[str], position: int,
                     card: int) -> None:
        # The learner's lesson is gone: their new place is a fact other edges must learn,
        # or a merge would put them back where the removed lesson was.
        self.record_event(phone, "card_reached", {
            "course": course_id, "position": position, "card": card,
            "lesson": lesson_ids[position] if 0 <= position < len(lesson_ids) else None,
            "quiz": None})

    def courses(self) -> list[Course]:
        """Every course, in catalogue order, without lesson bodies."""
        cache = self._content()
        if cache is not None and cache.courses is not None:
            return list(cache.courses)
        courses = [
            _course_from_row(row["id"], row["meta"])
            for row in self._rows("SELECT id, meta FROM courses ORDER BY position, id")
        ]
        if cache is not None:
            cache.courses = courses
            cache.by_id.update((course.id, course) for course in courses)
        return list(courses)

    def course(self, course_id: str) -> Course | None:
        """One course without lesson bodies, or None."""
        cache = self._content()
        if cache is not None and course_id in cache.by_id:
            return cache.by_id[course_id]
        row = self._one("SELECT id, meta FROM courses WHERE id = ?", [course_id])
        course = _course_from_row(row["id"], row["meta"]) if row else None
        if cache is not None:
            cache.by_id[course_id] = course
        return course

    def course_digests(self, course_id: str) -> tuple[str | None, dict[tuple[str, str], str]]:
        """A course as stored, to compare with another copy: its metadata (None when the
        course is not here) and each lesson text's content hash by (lesson id, locale)."""
        row = self._one("SELECT meta FROM courses WHERE id = ?", [course_id])
        lessons = {(r["lesson_id"], r["locale"]): r["hash"] for r in self._rows(
            "SELECT lesson_id, locale, hash FROM lessons WHERE course_id = ?", [course_id])}
        return (row["meta"] if row else None), lessons

    def course_count(self) -> int:
        """How many courses are loaded."""
        return self.db.execute("SELECT count(*) FROM courses").fetchone()[0]

    def lesson(self, course_id: str, lesson_id: str, locale: str) -> Lesson | None:
        """A lesson's content in `locale`, or None when it has no text in that locale."""
        cache = self._content()
        key = (course_id, lesson_id, locale)
        if cache is not None and key in cache.lessons:
            return cache.lessons[key]
        row = self._one(
            "SELECT body FROM lessons WHERE course_id = ? AND lesson_id = ? AND locale = ?",
            [course_id, lesson_id, locale],
        )
        lesson = _lesson_from_body(row["body"]) if row else None
        if cache is not None:
            cache.lessons[key] = lesson
        return lesson
