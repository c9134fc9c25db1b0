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
    """Save parsed courses in one transaction; counts per course. Courses already in the
    catalogue keep their order and a new course comes after them (learners pick courses
    by number: `START 1` must keep meaning the course it meant); new courses among
    themselves keep the order given. `on_lesson` is called after each lesson text is
    saved (a progress bar). Raises CodeTaken (and saves nothing) when a course's code
    belongs to a course already in the database that these courses do not replace."""
    report = {}
    with store.write():
        saving = {course.id for course in courses}
        known: dict[str, int] = {}
        owners: dict[str, str] = {}
        for number, installed in enumerate(store.courses()):
            known[installed.id] = number
            if installed.id not in saving:
                owners[installed.code] = installed.id
        for course in courses:
            if course.code in owners:
                raise CodeTaken(f"course {course.id} has code {course.code}, which course "
                                f"{owners[course.code]} already uses on this gateway; "
                                "give one of them another code")
        ordered = sorted(courses, key=lambda course: known.get(course.id, len(known)))
        for position, course in enumerate(ordered):
            report[course.id] = store.save_course(course, position, on_lesson)
    return report


def ensure_bundled_courses(store: Store) -> bool:
    """Import the bundled courses if the database has none; True if it did."""
    if store.course_count():
        return False
    import_courses(store)
    return True


def bundled_courses_behind(store: Store) -> list[str]:
    """Bundled courses the database holds in another version than the one this release
    bundles (after an upgrade: `learnline lessons import` brings them up to date), one
    line each naming what differs. A bundled course the database does not hold is not
    behind: an operator may serve only their own."""
    courses, _ = load_courses(lessons_dir(), strict=False)
    behind = []
    for course in courses:
        meta, stored = store.course_digests(course.id)
        if meta is None:
            continue
        bundled = {(lesson.id, locale): lesson.content_hash
                   for locale, lessons in course.lessons.items() for lesson in lessons}
        if meta == course.meta_json() and stored == bundled:
            continue
        changed = sum(1 for key, digest in bundled.items() if stored.get(key) not in
                      (None, digest))
        missing = sum(1 for key in bundled if key not in stored)
        languages = sorted({locale for _, locale in bundled} - {locale for _, locale in stored})
        what = [f"{changed} lesson texts differ, {missing} missing"]
        if languages:
            what.append(f"languages missing: {', '.join(languages)}")
        behind.append(f"bundled course {course.id}: the database holds another version "
                      f"({'; '.join(what)}): run `learnline lessons import` to bring it up "
                      "to date")
    return behind
