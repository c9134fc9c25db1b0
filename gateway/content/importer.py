"""Load authored courses into the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.content.model import Course
from gateway.content.parser import load_courses
from gateway.paths import lessons_dir
from gateway.store import Store


class CodeTaken(ValueError):
    """A course's code is already another course's on this gateway (codes are unique)."""


def import_courses(store: Store, root: Path | None = None) -> dict[str, dict[str, int]]:
    """Parse every course under `root` (default: the bundled lessons) and save it.

    Idempotent: unchanged lessons are left alone, changed ones updated in
    place, learners' progress kept. Raises ContentError (and saves nothing)
    when any lesson has an error.
    """
    courses, _ = load_courses(root or lessons_dir(), strict=True)
    return save_courses(store, courses)


def save_courses(
    store: Store, courses: list[Course], on_lesson: Callable[[], object] | None = None,
) -> dict[str, dict[str, int]]:
    """Save parsed courses in catalogue order, in one transaction; counts per course.
    `on_lesson` is called after each lesson text is saved (a progress bar). Raises
    CodeTaken (and saves nothing) when a course's code belongs to a course already in the
    database that these courses do not replace."""
    report = {}
    with store.write():
        saving = {course.id for course in courses}
        owners = {c.code: c.id for c in store.courses() if c.id not in saving}
        for course in courses:
            if course.code in owners:
                raise CodeTaken(f"course {course.id} has code {course.code}, which course "
                                f"{owners[course.code]} already uses on this gateway; "
                                "give one of them another code")
        for position, course in enumerate(courses):
            report[course.id] = store.save_course(course, position, on_lesson)
    return report


def ensure_bundled_courses(store: Store) -> bool:
    """Import the bundled courses if the database has none; True if it did."""
    if store.course_count():
        return False
    import_courses(store)
    return True
