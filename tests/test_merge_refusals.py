"""Events pulled from the hub whose data is not what their kind holds (a newer or broken
edge, a damaged hub) are left out with their reason, and change no learner here; the
valid events of the same batch are applied."""

from __future__ import annotations

import secrets

import pytest

from gateway.learning.merge import apply_remote_events
from gateway.store import Store, events

COURSE = "start-freelancing"
ADA = "+2348030000001"
AT = 1_741_082_400.0


def event(kind: str, data: dict, learner: str = ADA, at: float = AT) -> dict:
    return {"id": f"{int(at * 1000):012x}" + secrets.token_hex(10), "edge": "edge-b",
            "learner": learner, "kind": kind, "at": at, "data": data}


@pytest.mark.parametrize(("kind", "data", "problem"), [
    ("enrolled", {"course": COURSE, "restart": "yes"}, "data.restart: not a bool"),
    ("enrolled", {"course": ""}, "data.course: empty or over 200 characters"),
    ("name_set", {"name": "A" * 201}, "data.name: empty or over 200 characters"),
    ("card_reached", {"course": COURSE, "position": 0, "card": -2},
     "data.card: below -1"),
    ("card_reached", {"course": COURSE, "position": True, "card": 0},
     "data.position: not a whole number"),
    ("card_reached", {"course": COURSE, "position": 0, "card": 0, "lesson": 3},
     "data.lesson: not a string"),
    ("card_reached", {"course": COURSE, "position": 0, "card": 0,
                      "quiz": {"queue": [0], "requeued": [], "right": [-1]}},
     "data.quiz: not {queue, requeued, right} lists of question numbers"),
    ("card_reached", {"course": COURSE, "position": 0, "card": 0, "quiz": [0, 1]},
     "data.quiz: not {queue, requeued, right} lists of question numbers"),
    ("answered", {"course": COURSE, "lesson": "find-your-skill", "question": 0,
                  "choice": 1, "correct": "true", "first_try": True},
     "data.correct: not a bool"),
    ("language_set", {"locale": 7}, "data.locale: not a str"),
    # A program's id and a cohort's name are shown on pages and terminals.
    ("program_joined", {"program": "orange\x1b[5m", "via": "keyword"},
     "data.program: not a program id"),
    ("program_invited", {"program": "Orange Academy", "cohort": "c" * 32},
     "data.program: not a program id"),
    ("program_joined", {"program": "orange", "via": "invitation", "cohort": "c" * 32,
                        "cohort_name": "Lagos\x1b]0;owned\x07"},
     "data.cohort_name: not a printable string of at most 200 characters"),
])
def test_an_event_whose_data_is_not_its_kinds_is_left_out_with_its_reason(
        store: Store, kind, data, problem):
    bad = event(kind, data)
    good = event("language_set", {"locale": "fr"}, learner="+2348030000002", at=AT + 1)
    report = apply_remote_events(store, [bad, good])
    assert report.rejected == [(bad["id"], problem)]
    assert report.applied == 1
    assert store.learner(ADA) is None and not events.has_event(store, bad["id"])
    assert store.learner("+2348030000002").locale == "fr"
