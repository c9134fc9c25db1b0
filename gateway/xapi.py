"""Learning events as xAPI 1.0.3 statements for a school's Learning Record Store
(docs/integrations.md, Learning records).

Pure: an event document (gateway/store/events.py) and what the caller looked up (the
learner's pseudonym, whether they hold the course's certificate, the names of the
course, lesson, card or question: `Names`) in, statements out; no database, no network.
No statement carries a certificate's code, a learner's name or number: the actor is the
pseudonym, and the certificate earned is the course's one activity, the same for every
learner (a code would lead to the certificate's page and its holder).
Each statement's id is a UUID made from its event's id, so an event is one statement
under one id wherever and however often it is sent, and an LRS that already holds it
drops the copy.

| event | statement |
|---|---|
| enrolled | registered the course |
| card_reached (a card shown; a lesson read on a page) | experienced the card (lesson) |
| answered | answered the question: result success, response (A, B...) |
| lesson_completed | completed the lesson: result score, completion |
| course_completed | passed or failed the course: result score, success, completion |
| course_completed, passed | also: earned the course's certificate (while not revoked) |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION = "1.0.3"
PLATFORM = "Learnline"
# Statement ids are UUIDs (version 5) in this namespace, named by the event id (and a
# part for an event's second statement): the same event always gives the same ids.
NAMESPACE = uuid.UUID("5b0d3c1e-8f7a-4d61-9a2b-6c4e2f1d7a90")

ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {
    "registered": ADL + "registered",
    "experienced": ADL + "experienced",
    "answered": ADL + "answered",
    "completed": ADL + "completed",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "voided": ADL + "voided",
    # ADL's vocabulary has no verb for receiving a credential; the xAPI registry's is this.
    "earned": "http://id.tincanapi.com/verb/earned",
}
ACTIVITY_TYPES = {
    "course": "http://adlnet.gov/expapi/activities/course",
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "question": "http://adlnet.gov/expapi/activities/cmi.interaction",
    "card": "http://id.tincanapi.com/activitytype/slide",
    "certificate": "http://id.tincanapi.com/activitytype/certificate",
}
KINDS = frozenset({"enrolled", "card_reached", "answered", "lesson_completed",
                   "course_completed"})
NAME_LENGTH = 100  # characters of a question's text kept as its activity's name
CERTIFICATE_PART = "certificate"
VOIDED_PART = "voided"
GATEWAY_ACCOUNT = "learnline"  # the actor of voiding statements: the gateway itself


@dataclass(frozen=True)
class Names:
    """What the course calls an event's activities, each a language map in the language
    the step was read in (`{"fr": "Se lancer en freelance"}`): the course, the lesson, and
    the card or question (`item`). None where not known: the activity then goes with its
    type alone."""

    course: dict[str, str] | None = None
    lesson: dict[str, str] | None = None
    item: dict[str, str] | None = None


def card_name(lesson_title: str, card: int, cards: int) -> str:
    """A card's name: its lesson's title and its number in the lesson (from 1)."""
    return f"{lesson_title} ({card + 1}/{cards})"


def question_name(text: str) -> str:
    """A question's name: its text on one line, cut to at most NAME_LENGTH characters."""
    text = " ".join(text.split())
    return text if len(text) <= NAME_LENGTH else text[:NAME_LENGTH - 1].rstrip() + "…"


def statement_id(event_id: str, part: str = "") -> str:
    """The id of the statement an event makes (`part` names an event's second one)."""
    return str(uuid.uuid5(NAMESPACE, f"{event_id}/{part}" if part else event_id))


def voiding_id(voided: str) -> str:
    """The id of the statement that voids statement `voided`: one per voided statement."""
    return str(uuid.uuid5(NAMESPACE, f"{voided}/{VOIDED_PART}"))


def parts(event: dict[str, Any]) -> list[str]:
    """Which statements an event makes, by part ("" the main one), from its kind and
    data alone: none for a kind that is not a learning step, or a place in a quiz."""
    kind, data = event["kind"], event["data"]
    if kind not in KINDS or not data.get("course"):
        return []
    if kind == "card_reached" and not shown(data):
        return []
    if kind in ("answered", "lesson_completed") and not data.get("lesson"):
        return []
    if kind == "answered" and (not isinstance(data.get("question"), int)
                               or isinstance(data["question"], bool)):
        return []
    if kind == "course_completed" and data.get("passed") is True:
        return ["", CERTIFICATE_PART]
    return [""]


def shown(data: dict[str, Any]) -> str | None:
    """What a `card_reached` event's data says the learner was given to read: "card",
    "lesson" (a whole lesson on a page) or None (a step of a quiz, a place moved). Events
    recorded before `shown` was (they have no `channel` either) count a place on a card
    outside a quiz. The research export's `shown` column says the same."""
    if not data.get("lesson"):
        return None
    what = data.get("shown")
    if what is None and "channel" not in data and data.get("quiz") is None:
        what = "card"
    if what == "card" and (not isinstance(data.get("card"), int)
                           or isinstance(data["card"], bool) or data["card"] < 0):
        return None
    return what if what in ("card", "lesson") else None


def statement_ids(event: dict[str, Any]) -> list[str]:
    """The ids of every statement `event` makes (see `parts`)."""
    return [statement_id(event["id"], part) for part in parts(event)]


def timestamp(at: float) -> str:
    """Epoch seconds as xAPI's ISO 8601 UTC timestamp, to the millisecond."""
    moment = datetime.fromtimestamp(round(at, 3), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def course_iri(base: str, course: str) -> str:
    """The activity id of a course under the base IRI."""
    return f"{base}/courses/{course}"


def lesson_iri(base: str, course: str, lesson: str) -> str:
    """The activity id of a lesson of a course."""
    return f"{course_iri(base, course)}/lessons/{lesson}"


def certificate_iri(base: str, course: str) -> str:
    """The activity id of a course's certificate: one for every learner of the course."""
    return f"{course_iri(base, course)}/certificate"


def extension_iri(base: str, name: str) -> str:
    """The IRI of one of Learnline's context or result extensions."""
    return f"{base}/xapi/extensions/{name}"


def _activity(iri: str, kind: str, name: dict[str, str] | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": ACTIVITY_TYPES[kind]}
    if name:
        definition["name"] = name
    if kind == "question":
        definition["interactionType"] = "choice"  # one option of several, by its letter
    return {"objectType": "Activity", "id": iri, "definition": definition}


def _score(data: dict[str, Any]) -> dict[str, Any] | None:
    score, total = data.get("score"), data.get("total")
    if not isinstance(score, int) or not isinstance(total, int) or total <= 0:
        return None
    score = min(max(score, 0), total)
    return {"raw": score, "min": 0, "max": total, "scaled": round(score / total, 4)}


def statements(event: dict[str, Any], *, base: str, learner: str,
               certified: bool = False,
               names: Names | None = None) -> list[dict[str, Any]]:
    """The statements `event` makes (as `parts` says, the certificate's only when the
    learner holds it, `certified`), each a JSON-ready dict: `learner` is the actor's
    account name (their pseudonym) at `base`, the gateway's base IRI (no final slash);
    each statement's object is named by `names` (its context activities carry their
    type alone: the LRS learns their names from the statements whose object they are)."""
    data = event["data"]
    names = names or Names()
    made = []
    for part in parts(event):
        if part == CERTIFICATE_PART and not certified:
            continue
        verb, target, result = _what(event["kind"], data, base, part, names)
        context: dict[str, Any] = {"platform": PLATFORM}
        if isinstance(data.get("language"), str) and data["language"]:
            context["language"] = data["language"]
        if isinstance(data.get("channel"), str) and data["channel"]:
            context["extensions"] = {extension_iri(base, "channel"): data["channel"]}
        context.update(_around(event["kind"], data, base, part))
        statement: dict[str, Any] = {
            "id": statement_id(event["id"], part),
            "actor": {"objectType": "Agent",
                      "account": {"homePage": base, "name": learner}},
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": target,
            "context": context,
            "timestamp": timestamp(event["at"]),
            "version": VERSION,
        }
        if result:
            statement["result"] = result
        made.append(statement)
    return made


def _around(kind: str, data: dict[str, Any], base: str, part: str) -> dict[str, Any]:
    """The context activities of a statement: a card's or question's lesson as its
    parent, in its course (grouping); a lesson's or certificate's course as its parent."""
    course = _activity(course_iri(base, data["course"]), "course")
    if part == "" and kind == "card_reached" and shown(data) == "lesson":
        return {"contextActivities": {"parent": [course]}}
    if part == "" and kind in ("card_reached", "answered"):
        lesson = _activity(lesson_iri(base, data["course"], str(data["lesson"])), "lesson")
        return {"contextActivities": {"parent": [lesson], "grouping": [course]}}
    if part == CERTIFICATE_PART or kind == "lesson_completed":
        return {"contextActivities": {"parent": [course]}}
    return {}


def _what(kind: str, data: dict[str, Any], base: str, part: str,
          names: Names) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The verb, the object and the result of one statement."""
    course = data["course"]
    if part == CERTIFICATE_PART:
        return "earned", _activity(certificate_iri(base, course), "certificate",
                                   names.course), None
    if kind == "enrolled":
        return "registered", _activity(course_iri(base, course), "course", names.course), None
    lesson = lesson_iri(base, course, str(data.get("lesson")))
    if kind == "card_reached" and shown(data) == "lesson":
        return "experienced", _activity(lesson, "lesson", names.lesson), None
    if kind == "card_reached":
        return "experienced", _activity(f"{lesson}/cards/{data['card']}", "card",
                                        names.item), None
    if kind == "answered":
        question = data.get("question")
        choice = data.get("choice")
        result: dict[str, Any] = {"success": bool(data.get("correct"))}
        if isinstance(choice, int) and 0 <= choice < 26:
            result["response"] = chr(ord("A") + choice)
        if isinstance(data.get("first_try"), bool):
            result["extensions"] = {extension_iri(base, "first-try"): data["first_try"]}
        return "answered", _activity(f"{lesson}/questions/{question}", "question",
                                     names.item), result
    score = _score(data)
    result = {"completion": True}
    if score is not None:
        result["score"] = score
    if kind == "lesson_completed":
        return "completed", _activity(lesson, "lesson", names.lesson), result
    passed = data.get("passed") is True
    result["success"] = passed
    return ("passed" if passed else "failed"), _activity(course_iri(base, course),
                                                         "course", names.course), result


def voiding(voided: str, *, base: str, at: float) -> dict[str, Any]:
    """The statement that voids statement `voided` (a learner erased, a certificate
    revoked), made by the gateway's own account at `base`, at `at`."""
    return {
        "id": voiding_id(voided),
        "actor": {"objectType": "Agent",
                  "account": {"homePage": base, "name": GATEWAY_ACCOUNT}},
        "verb": {"id": VERBS["voided"], "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": voided},
        "timestamp": timestamp(at),
        "version": VERSION,
    }
