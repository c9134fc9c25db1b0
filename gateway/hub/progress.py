"""A program's figures across edges (docs/sync.md, Programs): its funnel (invited,
joined, then each of its courses from enrolled to completed), each lesson's completions,
its quiz questions' right first answers, and the same for each of its cohorts, computed
on the hub from the events every edge pushed.

Which course is whose: the hub knows a course's program from the course packs it
publishes (`program = "<id>"` in `course.toml`, carried by the pack): the latest pack's
courses are the catalogue here. A course the latest pack lacks is nobody's on the hub.
A cohort is known by the definition its edge pushed (uid, name, course, start date), so
it is listed before anyone joined; else (an edge from before cohorts were pushed) by its
events: its name the latest event's, its course the latest `program_invited` event's.

A learner counts once across edges, whichever edges recorded what they did; erased
learners count nowhere (their events are pseudonymised on the hub). Messages and their
cost are in gateway/hub/costs.py, from what each edge pushes of them; the lessons
completed in a period that it divides them by are counted here (`lessons_completed`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.content.model import Course
from gateway.hub.store import CohortDefinition, HubStore
from gateway.sync import packs

log = logging.getLogger(__name__)
QUIZ_ROWS = 20  # a cohort's quiz table: its worst questions, as on an edge

_cache_lock = threading.Lock()
_cache: dict[str, dict[str, Course]] = {}  # the latest pack's digest -> its courses


@dataclass(frozen=True)
class Steps:
    """One course from enrolment to completion: learners enrolled, who started its first
    lesson, finished at least half its lessons (rounded up), completed it."""

    enrolled: int
    started: int
    half: int
    completed: int


@dataclass(frozen=True)
class CourseFigures:
    """One course of the program across edges: its steps and, per lesson in order,
    (lesson id, title, learners who completed it)."""

    course_id: str
    title: str
    steps: Steps
    lessons: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class CohortFigures:
    """One cohort across edges (its uid): numbers invited, members joined, and of those
    in its course: started, half of it, certificate; each lesson's completions by
    them, and their quiz questions (all time, worst first). `course_id` '' when neither
    its definition nor an invitation named its course (then no progress is counted);
    `starts_on` and `edge_id` (where it was made) '' when the hub has no definition."""

    uid: str
    name: str
    course_id: str
    invited: int
    joined: int
    started: int
    half: int
    certificate: int
    lessons: tuple[tuple[str, str, int], ...]
    quiz: tuple[tuple[str, int, str, int, int], ...]  # lesson, question from 1, text, ...
    starts_on: str = ""
    edge_id: str = ""


@dataclass(frozen=True)
class ProgramProgress:
    """Every figure of one program across edges. `pack_version` None: no pack is
    published, so the hub knows no course's program."""

    program: str
    pack_version: int | None
    invited: int
    joined: int
    courses: tuple[CourseFigures, ...]
    # (course, lesson, question from 1, its text, first answers, right ones), in the
    # period asked for
    quiz: tuple[tuple[str, str, int, str, int, int], ...]
    cohorts: tuple[CohortFigures, ...]


def catalogue(hub: HubStore) -> tuple[int | None, dict[str, Course]]:
    """(version, courses by id) of the latest pack published on the hub; (None, {})
    when none is. Parsed once per pack (kept by digest); a pack whose content this
    version cannot read has no courses here (logged)."""
    latest = hub.latest_pack()
    if latest is None:
        return None, {}
    with _cache_lock:
        found = _cache.get(latest.digest)
    if found is None:
        try:
            courses = packs.courses_of(packs.read_pack(hub.read_pack(latest.digest)))
        except packs.PackError as exc:  # content this version cannot read: no courses
            log.error("hub: pack %s: its courses cannot be read here: %s", latest.version,
                      exc)
            courses = []
        found = {course.id: course for course in courses}
        with _cache_lock:
            _cache.clear()
            _cache[latest.digest] = found
    return latest.version, found


def knows(hub: HubStore, program: str) -> bool:
    """Whether the hub holds anything of `program`: a course of its latest pack, a
    cohort or a day's messages an edge pushed, or a `program_joined` or
    `program_invited` event naming it (an erased learner's, blanked, names nothing)."""
    if hub.cohort_definitions(program) \
            or hub.program_spends(program, "0000-01-01", "9999-12-31"):
        return True
    if any(course.program == program for course in catalogue(hub)[1].values()):
        return True
    return any(hub.program_events(kind, program)
               for kind in ("program_joined", "program_invited"))


def build(hub: HubStore, program: str, since: float, until: float) -> ProgramProgress:
    """`program`'s figures across edges: its quiz questions answered in [since, until),
    everything else over all time."""
    version, courses = catalogue(hub)
    mine = [course for course in courses.values() if course.program == program]
    invited = _members(hub.program_events("program_invited", program), program)
    joined = _members(hub.program_events("program_joined", program), program)
    progress = _progress(hub.course_progress([course.id for course in mine]))
    figures = tuple(_course_figures(course, progress) for course in mine)
    quiz = sorted(((course_id, lesson, number + 1, _question_text(courses, course_id,
                                                                   lesson, number),
                    answers, right)
                   for course_id, lesson, number, answers, right in hub.first_answers(
                       [course.id for course in mine], since, until)),
                  key=lambda q: (q[5] / q[4] if q[4] else 0.0, q[0], q[1], q[2]))
    defined = {cohort.uid: cohort for cohort in hub.cohort_definitions(program)}
    cohorts = tuple(_cohort_figures(hub, uid, defined.get(uid), invited, joined, courses,
                                    program, progress)
                    for uid in _cohort_uids(invited, joined) | set(defined))
    return ProgramProgress(program, version, len(_learners(invited)),
                           len(_learners(joined)), figures, tuple(quiz),
                           tuple(sorted(cohorts, key=lambda c: (c.name, c.uid))))


def lessons_completed(hub: HubStore, program: str, since: float, until: float) -> int:
    """Lessons of `program`'s courses (the latest pack's) completed in [since, until)
    across edges: each learner's lesson once, whichever edges recorded it; erased
    learners nowhere."""
    _version, courses = catalogue(hub)
    mine = {course.id: set(course.lesson_ids) for course in courses.values()
            if course.program == program}
    return sum(learners for course, lesson, learners in hub.lesson_completions(
        sorted(mine), since, until) if lesson in mine.get(course, ()))


# -- the events, by program and cohort -------------------------------------------------


@dataclass(frozen=True)
class _Mark:
    """One learner's invitation to, or joining of, the program (through a cohort or
    not)."""

    learner: str
    cohort: str  # uid, '' none (or an older edge's numeric id)
    name: str
    course: str
    at: float


def _members(events: Iterable[tuple[str, str, dict, float]], program: str) -> list[_Mark]:
    marks = []
    for _edge, learner, data, at in events:
        if data.get("program") != program:
            continue
        cohort, name, course = data.get("cohort"), data.get("cohort_name"), data.get("course")
        marks.append(_Mark(learner, cohort if isinstance(cohort, str) else "",
                           name if isinstance(name, str) else "",
                           course if isinstance(course, str) else "", at))
    return marks


def _learners(marks: Iterable[_Mark], cohort: str | None = None) -> set[str]:
    return {mark.learner for mark in marks if cohort is None or mark.cohort == cohort}


def _cohort_uids(*groups: list[_Mark]) -> set[str]:
    return {mark.cohort for group in groups for mark in group if mark.cohort}


def _latest(marks: Iterable[_Mark], field: str) -> str:
    dated = [(mark.at, getattr(mark, field)) for mark in marks if getattr(mark, field)]
    return max(dated)[1] if dated else ""


# -- progress ------------------------------------------------------------------------------


@dataclass
class _Place:
    """What the hub holds of one learner in one course."""

    enrolled: bool = False
    started: bool = False
    completed: bool = False
    lessons: set[str] = field(default_factory=set)


def _progress(rows: Iterable[tuple[str, str, str, str]]) -> dict[tuple[str, str], _Place]:
    """(course, learner) -> their place, from course_progress rows."""
    places: dict[tuple[str, str], _Place] = {}
    for learner, kind, course, lesson in rows:
        place = places.setdefault((course, learner), _Place())
        place.enrolled = True
        if kind in ("card_reached", "lesson_completed", "course_completed"):
            place.started = True
        if kind == "course_completed":
            place.completed = True
        if kind == "lesson_completed" and lesson:
            place.lessons.add(lesson)
    return places


def _steps(course: Course, places: Iterable[_Place]) -> Steps:
    half = max(1, -(-len(course.lesson_ids) // 2))
    enrolled = started = halfway = completed = 0
    for place in places:
        done = len(place.lessons & set(course.lesson_ids))
        enrolled += 1
        started += place.started
        halfway += place.completed or done >= half
        completed += place.completed
    return Steps(enrolled, started, halfway, completed)


def _lessons(course: Course, places: list[_Place]) -> tuple[tuple[str, str, int], ...]:
    titles = {lesson.id: lesson.title
              for lesson in course.lessons.get(course.default_locale, ())}
    return tuple((lesson_id, titles.get(lesson_id, lesson_id),
                  sum(lesson_id in place.lessons for place in places))
                 for lesson_id in course.lesson_ids)


def _course_figures(course: Course, progress: dict[tuple[str, str], _Place]
                    ) -> CourseFigures:
    places = [place for (course_id, _), place in progress.items() if course_id == course.id]
    return CourseFigures(course.id, course.title_in(course.default_locale),
                         _steps(course, places), _lessons(course, places))


def _question_text(courses: dict[str, Course], course_id: str, lesson_id: str,
                   number: int) -> str:
    course = courses.get(course_id)
    if course is None:
        return "-"
    for lesson in course.lessons.get(course.default_locale, ()):
        if lesson.id == lesson_id and number < len(lesson.questions):
            return lesson.questions[number].text
    return "-"


def _cohort_figures(hub: HubStore, uid: str, defined: CohortDefinition | None,
                    invited: list[_Mark],
                    joined: list[_Mark], courses: dict[str, Course], program: str,
                    progress: dict[tuple[str, str], _Place]) -> CohortFigures:
    marks = [mark for mark in invited + joined if mark.cohort == uid]
    name = defined.name if defined else _latest(marks, "name")
    course_id = defined.course if defined else _latest(
        [mark for mark in invited if mark.cohort == uid], "course")
    starts_on, edge_id = (defined.starts_on, defined.edge_id) if defined else ("", "")
    members = _learners(joined, uid)
    reached = _learners(invited, uid) | members  # whoever joined through it was invited
    course = courses.get(course_id)
    if course is None or course.program != program:
        return CohortFigures(uid, name, course_id, len(reached), len(members), 0, 0, 0,
                             (), (), starts_on, edge_id)
    places = [place for (key, learner), place in progress.items()
              if key == course.id and learner in members]
    steps = _steps(course, places)
    quiz = sorted(((lesson, number + 1, _question_text(courses, course.id, lesson, number),
                    answers, right)
                   for _, lesson, number, answers, right in hub.first_answers(
                       [course.id], 0.0, float("inf"), sorted(members))),
                  key=lambda q: (q[4] / q[3] if q[3] else 0.0, q[0], q[1]))[:QUIZ_ROWS]
    return CohortFigures(uid, name, course.id, len(reached), len(members), steps.started,
                         steps.half, steps.completed, _lessons(course, places), tuple(quiz),
                         starts_on, edge_id)
