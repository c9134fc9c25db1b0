"""Merging learners' histories from several edges: the rules that turn events into progress.

A learner's progress (their rows in `learners`, `enrollments`, `lesson_results` and
`answers`) is what their events say, folded in merge order: by `at`, then by edge id, then
in the order each edge recorded them. Every edge that holds the same events therefore
shows the same progress, whatever order the events reached it in. The rule for each kind
(docs/sync.md, "Events and merge rules"):

- `enrolled`: the enrollment exists from the first one (a union). With `restart` (the
  learner started a course again after completing it) it resets a *completed* place to
  the start of the course, from which a new attempt starts (the lessons finished before
  it count no more towards it, each is scored anew); it leaves a course in progress
  alone.
- `card_reached`: the learner's place in a course. The furthest place wins, comparing
  (completed, lesson, cards then quiz, card or answers given in the quiz); an equal place
  changes nothing. A move recorded by the edge that made the current place is taken even
  when it goes back (that edge's learner sent BACK): one edge's moves are one learner's
  steps in order. The lesson is found by its id when the course here still has it.
- `answered`: every answer is kept (a union).
- `lesson_completed`: every completion counts; the score kept is the latest one's (a
  lesson is scored once an attempt, and again only in a later attempt at the course).
- `course_completed`: completed stays completed (until a `restart`).
- `language_set`, `name_set`: the latest wins (a language without a catalog here is
  left out).
- `opted_out`, `opted_in`: the latest wins; between two edges at the very same time,
  the opt-out.
- `erased`: absorbing. The learner is erased here (gateway/store/privacy.py), and later
  events for the number, from anywhere, are ignored (not kept) unless the number came
  back after the erasure (`readmitted`, recorded where the person sent START): from
  there they are a fresh learner, nothing before it counts.
- `met`: an edge's first contact with the learner; it changes no progress (the learner
  exists there), and tells the hub to send that edge the learner's history.
- `question_asked`, `question_answered`, `question_closed`: change no progress. The hub
  passes on no edge's; a `question_answered` the hub recorded (edge "hub") for a
  question asked here, or a `question_closed` (a tutor there closed it without an
  answer), is listed in `MergeReport.answers` for the sync client to apply
  (gateway/sync/answers.py).
- `program_joined`: the learner belongs to the program here too (a union); the earliest
  `joined_at` wins. The membership keeps the event's cohort uid (`cohort`, a str) when it
  has none; an older event's numeric cohort id is another edge's own and is ignored. It
  changes no progress.
- `program_invited`: a cohort of another edge invited the number; it changes nothing
  here (the hub counts invitations and passes on none: a newer hub never sends one).
- The learner's current course is the course of their latest `enrolled` or
  `card_reached`.

Events of a pseudonymous learner (`erased:...`) and of kinds this version does not know
are kept (a later version may use them) and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.i18n import SOURCE_LOCALE, locale_for_country, normalize_locale
from gateway.phones import region_of
from gateway.programs import PROGRAM_ID_RE
from gateway.store import Store, cohorts, events, privacy, programs
from gateway.store.records import QuizState

_MAX_TEXT = 200


@dataclass
class MergeReport:
    """What `apply_remote_events` did with a batch of events."""

    received: int = 0
    applied: int = 0  # new here: kept, and the learner's progress follows them
    duplicates: int = 0  # already here (pulled before, or this edge's own)
    ignored: int = 0  # for a number erased before them: not kept
    unknown: int = 0  # kinds this version does not know: kept, change nothing
    erased: int = 0  # learners erased here because another edge erased them
    learners: int = 0  # learners whose progress was recomputed
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    # New `question_answered` and `question_closed` events of the hub's: what tutors on
    # the hub did with questions asked here.
    answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Place:
    """A learner's place in one course, as the events say."""

    position: int = 0
    card: int = -1
    quiz: dict[str, list[int]] | None = None
    completed: bool = False
    mover: str = ""  # the edge whose event set this place
    started_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    attempt_started_at: float | None = None  # a course taken again: when (else None)

    def progress(self) -> tuple[int, int, int, int]:
        """How far along this place is; a larger tuple is further."""
        if self.completed:
            return (1, 0, 0, 0)
        if self.quiz is None:
            return (0, self.position, 0, self.card)
        queue, requeued = set(self.quiz["queue"]), set(self.quiz["requeued"])
        # Each first try puts a question in `right` or `requeued`; a second try takes a
        # requeued one out of the queue.
        answered = len(set(self.quiz["right"])) + len(requeued) + len(requeued - queue)
        return (0, self.position, 1, answered)


@dataclass
class Projection:
    """Everything a learner's events say about them."""

    places: dict[str, Place] = field(default_factory=dict)
    results: dict[tuple[str, str], tuple[int, int, float]] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)
    current_course: str | None = None
    locale: str | None = None
    name: str | None = None
    named: bool = False
    stopped: bool | None = None
    stop_key: tuple[float, int] | None = None  # (at, 1 for an opt-out) of the latest
    stop_edge: str = ""  # the edge that recorded it


def project(history: Iterable[dict[str, Any]],
            lessons: dict[str, tuple[str, ...]]) -> Projection:
    """Fold a learner's events, given in merge order (events.learner_events), into their
    progress by the rules above. `lessons` maps each course this edge has to its lesson
    ids: a place in a course it lacks is worked out but is not a current course."""
    found = Projection()
    for event in history:
        kind, data, at, edge = event["kind"], event["data"], event["at"], event["edge"]
        if kind == "readmitted":
            found = Projection()  # a fresh learner: nothing from before the erasure
            continue
        course = data.get("course")
        place = found.places.get(course) if course else None
        if kind == "enrolled":
            if place is None:
                found.places[course] = Place(mover=edge, started_at=at, updated_at=at)
            elif data.get("restart") and place.completed:
                # A new attempt: the lessons finished before it count no more for it.
                found.places[course] = Place(mover=edge, started_at=place.started_at,
                                             updated_at=at, attempt_started_at=at)
            if course in lessons:
                found.current_course = course
        elif kind == "card_reached":
            moved = Place(position=_position(data, lessons), card=data["card"],
                          quiz=data.get("quiz"), mover=edge, updated_at=at,
                          completed=place.completed if place else False,
                          started_at=place.started_at if place else at,
                          completed_at=place.completed_at if place else None,
                          attempt_started_at=place.attempt_started_at if place else None)
            if place is None or place.mover == edge or moved.progress() > place.progress():
                found.places[course] = moved
            if course in lessons:
                found.current_course = course
        elif kind == "answered":
            found.answers.append({
                "course_id": course, "lesson_id": data["lesson"], "question": data["question"],
                "choice": data["choice"], "correct": data["correct"],
                "first_try": data["first_try"], "at": at})
        elif kind == "lesson_completed":
            found.results[(course, data["lesson"])] = (data["score"], data["total"], at)
        elif kind == "course_completed":
            if place is None:
                last = max(len(lessons.get(course, ())) - 1, 0)
                place = found.places[course] = Place(position=last, started_at=at)
            if not place.completed:
                place.completed, place.completed_at = True, at
            place.mover, place.updated_at = edge, at
        elif kind == "language_set":
            # A language this gateway has no catalog for changes nothing.
            found.locale = normalize_locale(data["locale"]) or found.locale
        elif kind == "name_set":
            found.name, found.named = data["name"], True
        elif kind in ("opted_out", "opted_in"):
            key = (at, 1 if kind == "opted_out" else 0)
            if found.stop_key is None or found.stop_edge == edge or key >= found.stop_key:
                found.stopped, found.stop_key, found.stop_edge = kind == "opted_out", key, edge
    return found


def _position(data: dict[str, Any], lessons: dict[str, tuple[str, ...]]) -> int:
    ids = lessons.get(data["course"], ())
    lesson = data.get("lesson")
    return ids.index(lesson) if lesson in ids else data["position"]


# -- what a received event's data must hold --------------------------------------------------

_FIELDS: dict[str, dict[str, type]] = {
    "enrolled": {"course": str},
    "card_reached": {"course": str, "position": int, "card": int},
    "answered": {"course": str, "lesson": str, "question": int, "choice": int,
                 "correct": bool, "first_try": bool},
    "lesson_completed": {"course": str, "lesson": str, "score": int, "total": int},
    "course_completed": {"course": str, "score": int, "total": int, "passed": bool},
    "language_set": {"locale": str},
    "name_set": {"name": str},
    "opted_out": {}, "opted_in": {}, "erased": {}, "readmitted": {}, "met": {},
    "program_joined": {"program": str, "via": str},
    "program_invited": {"program": str, "cohort": str},
}
_LOWEST = {"position": 0, "card": -1, "question": 0, "choice": 0, "score": 0, "total": 0}


def data_problem(kind: str, data: dict[str, Any]) -> str | None:
    """Why `data` is not what an event of `kind` holds (None when it is); kinds this
    version does not know have no rule."""
    for name, wanted in _FIELDS.get(kind, {}).items():
        value = data.get(name)
        if wanted is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"data.{name}: not a whole number"
        if not isinstance(value, wanted):
            return f"data.{name}: not a {wanted.__name__}"
        if wanted is int and value < _LOWEST[name]:
            return f"data.{name}: below {_LOWEST[name]}"
        if wanted is str and not 0 < len(value) <= _MAX_TEXT:
            return f"data.{name}: empty or over {_MAX_TEXT} characters"
    if kind in events.QUESTION_KINDS:
        uid = data.get("uid")
        if not isinstance(uid, str) or not events.EVENT_ID_RE.fullmatch(uid):
            return "data.uid: not a question's uid"
        for name in ("text", "answer"):
            if not isinstance(data.get(name, ""), str):
                return f"data.{name}: not a string"
    if kind in ("program_joined", "program_invited") \
            and not PROGRAM_ID_RE.fullmatch(data["program"]):
        return "data.program: not a program id"
    if kind == "program_invited" and not events.EVENT_ID_RE.fullmatch(data["cohort"]):
        return "data.cohort: not a cohort's uid"
    if kind == "program_joined":
        cohort = data.get("cohort")
        if cohort is not None and not isinstance(cohort, int) and not (
                isinstance(cohort, str) and events.EVENT_ID_RE.fullmatch(cohort)):
            return "data.cohort: not a cohort's uid"
        name = data.get("cohort_name", "")
        if not isinstance(name, str) or len(name) > cohorts.NAME_CHARS \
                or not name.isprintable():
            return (f"data.cohort_name: not a printable string of at most "
                    f"{cohorts.NAME_CHARS} characters")
    if kind == "enrolled" and not isinstance(data.get("restart", False), bool):
        return "data.restart: not a bool"
    if kind == "card_reached":
        lesson = data.get("lesson")
        if lesson is not None and not isinstance(lesson, str):
            return "data.lesson: not a string"
        quiz = data.get("quiz")
        if quiz is not None and not (
                isinstance(quiz, dict) and all(
                    isinstance(quiz.get(part), list) and all(
                        isinstance(n, int) and not isinstance(n, bool) and n >= 0
                        for n in quiz[part]) for part in ("queue", "requeued", "right"))):
            return "data.quiz: not {queue, requeued, right} lists of question numbers"
    return None


# -- applying -----------------------------------------------------------------------------


def apply_remote_events(store: Store, received: list[dict[str, Any]]) -> MergeReport:
    """Apply events pulled from the hub (recorded on other edges), in one write
    transaction (the caller's if it has one).

    Each event whose id is new here is kept in `events` under the edge that recorded it
    (so it is never pushed as this edge's), and the progress of every learner it
    concerns is recomputed from all their events by the rules above. Repeating a batch,
    or any part of it, changes nothing (idempotent); batches may come in any order. An
    `erased` event erases the learner here (privacy.erase) and is kept under a fresh
    pseudonym. Malformed events are left out and listed in `rejected`.
    """
    report = MergeReport(received=len(received))
    valid = []
    for event in received:
        problem = events.event_problem(event)
        if problem is None and not _pseudonymous(event["learner"]):
            problem = data_problem(event["kind"], event["data"])
        if problem is not None:
            where = event.get("id") if isinstance(event, dict) else None
            report.rejected.append((str(where)[:40] if where else "?", problem))
            continue
        valid.append(event)
    # By time, stably: each edge's events keep the order the hub gives them in.
    valid.sort(key=lambda event: float(event["at"]))
    added: dict[str, list[dict[str, Any]]] = {}  # learner -> new answers
    full: set[str] = set()  # learners whose answers must be rebuilt too
    marks: dict[str, tuple[float | None, float | None]] = {}
    with store.write():
        for event in valid:
            if events.has_event(store, event["id"]):
                report.duplicates += 1
                continue
            learner, kind, at = event["learner"], event["kind"], float(event["at"])
            if _pseudonymous(learner):
                events.keep_event(store, event)
                report.applied += 1
                continue
            if kind == "erased":
                _erase_here(store, event, report, added, full)
                marks.pop(learner, None)
                continue
            if kind == "readmitted":
                privacy.note_readmission(store, learner, at)
                marks.pop(learner, None)
                events.keep_event(store, event)
                report.applied += 1
                continue
            if learner not in marks:
                marks[learner] = privacy.erasure_marks(store, learner)
            if _erased_before(marks[learner], at):
                report.ignored += 1
                continue
            events.keep_event(store, event)
            if kind not in events.KINDS:
                report.unknown += 1
                continue
            report.applied += 1
            if kind == "program_invited":
                continue
            if kind in events.QUESTION_KINDS:
                if kind in ("question_answered", "question_closed") \
                        and event["edge"] == events.HUB_EDGE:
                    report.answers.append(event)
                continue
            answers = added.setdefault(learner, [])
            if kind == "program_joined":
                cohort = event["data"].get("cohort")
                programs.merge_joined(store, learner, event["data"]["program"],
                                      event["data"]["via"], at,
                                      cohort if isinstance(cohort, str) else None)
            if kind == "answered":
                answers.append(event)
        if added:
            lessons = events.course_lessons(store)
            for learner, answers in added.items():
                _project_into(store, learner, lessons, answers, full=learner in full)
        report.learners = len(added)
    return report


def rebuild_projection(store: Store, learner: str) -> bool:
    """Recompute a learner's progress (learner fields, enrollments, lesson results and
    answers) from all their stored events, this edge's and others', by the same rules as
    a merge; False (nothing changed) for a pseudonym or a learner with no events."""
    if _pseudonymous(learner):
        return False
    with store.write():
        if not events.learner_events(store, learner):
            return False
        _project_into(store, learner, events.course_lessons(store), (), full=True)
    return True


def _pseudonymous(learner: str) -> bool:
    return learner.startswith(privacy.PSEUDONYM_PREFIX)


def _erased_before(marks: tuple[float | None, float | None], at: float) -> bool:
    """Whether an event at `at` belongs to a number erased since (and not back)."""
    erased, readmitted = marks
    if erased is None:
        return False
    return not (readmitted is not None and readmitted > erased and at >= readmitted)


def _erase_here(store: Store, event: dict[str, Any], report: MergeReport,
                added: dict[str, list[dict[str, Any]]], full: set[str]) -> None:
    learner, at = event["learner"], float(event["at"])
    _erased, readmitted = privacy.erasure_marks(store, learner)
    if readmitted is not None and readmitted > at:
        # The number came back after this erasure: forget what it had before it, only.
        privacy.note_erasure(store, learner, at)
        if events.forget_events_before(store, learner, at):
            added.setdefault(learner, [])
            full.add(learner)
    else:
        erasure = privacy.erase(store, learner, remote_at=at)
        report.erased += int(erasure.found)
        added.pop(learner, None)
        full.discard(learner)
    # Kept (so it is known when it comes again), but never with the number here.
    events.keep_event(store, event, learner=events.new_pseudonym(), data={})
    report.applied += 1


def _project_into(store: Store, learner: str, lessons: dict[str, tuple[str, ...]],
                  added: Iterable[dict[str, Any]], *, full: bool) -> None:
    found = project(events.learner_events(store, learner), lessons)
    fields: dict[str, Any] = {}
    if found.stopped is not None:
        fields["stopped"] = int(found.stopped)
    if found.locale:
        fields["locale"] = found.locale
    if found.named:
        fields["display_name"] = found.name
    if found.current_course:
        fields["current_course"] = found.current_course
    enrollments = [{
        "course_id": course, "position": place.position, "card": place.card,
        "quiz": QuizState(list(place.quiz["queue"]), list(place.quiz["requeued"]),
                          list(place.quiz["right"])).to_json() if place.quiz else None,
        "started_at": place.started_at, "updated_at": place.updated_at,
        "completed_at": place.completed_at if place.completed else None,
        "attempt_started_at": place.attempt_started_at,
    } for course, place in found.places.items() if course in lessons]
    results = [{"course_id": course, "lesson_id": lesson, "score": score, "total": total,
                "completed_at": at}
               for (course, lesson), (score, total, at) in found.results.items()]
    new_answers = [{
        "course_id": event["data"]["course"], "lesson_id": event["data"]["lesson"],
        "question": event["data"]["question"], "choice": event["data"]["choice"],
        "correct": event["data"]["correct"], "first_try": event["data"]["first_try"],
        "at": float(event["at"])} for event in added]
    events.write_projection(
        store, learner,
        new_locale=found.locale or locale_for_country(region_of(learner)) or SOURCE_LOCALE,
        fields=fields, enrollments=enrollments, results=results,
        answers=found.answers if full else None, added_answers=new_answers)
