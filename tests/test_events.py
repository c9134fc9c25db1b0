"""Learner events (docs/sync.md, "Events and merge rules"): every change to a learner is
recorded as an event; edges apply each other's events and end with the same progress;
opt-outs and erasures travel; progress can be rebuilt from events alone.

Each edge here is its own SQLite file and its own gateway app, driven by signed Twilio
webhooks; what a sync would carry between them is handed over directly (the hub and
the HTTP protocol are tested elsewhere)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway import create_app
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.content.model import SMS
from gateway.learning import intents as i
from gateway.learning.engine import Engine
from gateway.learning.merge import apply_remote_events, data_problem, rebuild_projection
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store, events, privacy
from gateway.store.schema import migrations
from tests.conftest import TwilioWebhooks, carriers_toml

COURSE = "start-freelancing"
ADA = "+2348030000001"
BOLA = "+2348030000002"
START_TIME = 1_741_082_400.0  # 4 March 2025, 10:00 UTC


class TickingClock:
    """Wall-clock time that moves on a millisecond at every look, shared by every edge
    of a test (as real clocks do; a frozen one would make every event simultaneous)."""

    def __init__(self, now: float = START_TIME):
        self.now = now

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@dataclass
class Edge:
    """One edge: its database, a store on it, and signed Twilio webhooks to its app."""

    name: str
    db_path: Path
    carriers_file: Path
    store: Store
    twilio: TwilioWebhooks

    def say(self, phone: str, *texts: str) -> str:
        """SMS from `phone`; the text of every reply queued for them meanwhile."""
        before = len(self.store.outbox(phone))
        for text in texts:
            assert self.twilio.sms(phone, text).status_code == 200
        return "\n".join(m.body for m in self.store.outbox(phone)[before:])

    def own_events(self) -> list[dict]:
        """What this edge would push now (and the hub acknowledges: the cursor moves)."""
        batch, last = events.unpushed_events(self.store, 100_000)
        events.mark_pushed(self.store, last)
        return batch


def _all_events(store: Store) -> list[dict]:
    return [{**dict(zip(("seq", "id", "edge", "learner", "kind", "at"), row[:6],
                        strict=True)), "data": json.loads(row[6])}
            for row in store.db.conn.execute(
                "SELECT seq, id, edge, learner, kind, at, data FROM events ORDER BY seq")]


@pytest.fixture(autouse=True)
def _edge_id_not_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def edge(tmp_path: Path, twilio_api, clock: TickingClock,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Edge]]:
    """Make edges on demand. A course takes about 60 messages from one number: the
    inbound limits are lifted, as an operator may."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "auth-token-for-tests-0123456789")
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))
    made: list[Edge] = []

    def make(name: str) -> Edge:
        path = tmp_path / f"{name}.db"
        with Store.open(path, migrate=True) as fresh:
            import_courses(fresh)
        app = create_app({"DATABASE": str(path), "CARRIERS_FILE": str(carriers),
                          "TESTING": True, "CLOCK": clock})
        made.append(Edge(name, path, carriers, Store.open(path, clock=clock),
                         TwilioWebhooks(app.test_client())))
        return made[-1]

    yield make
    for each in made:
        each.store.close()


def learn(edge: Edge, phone: str, lessons: int) -> None:
    """START, then read and answer by SMS until `lessons` more lessons are done (or the
    course is). The first question of each lesson is answered wrong once."""
    edge.say(phone, "START")
    course = edge.store.course(COURSE)
    target = len(edge.store.lesson_results(phone, COURSE)) + lessons
    for _ in range(400):
        enrollment = edge.store.enrollment(phone, COURSE)
        if enrollment.completed or len(edge.store.lesson_results(phone, COURSE)) >= target:
            return
        if enrollment.quiz is not None and enrollment.quiz.queue:
            lesson = edge.store.lesson(COURSE, course.lesson_ids[enrollment.position], "en")
            number = enrollment.quiz.queue[0]
            question = lesson.questions[number]
            choice = question.answer
            if number == 0 and number not in enrollment.quiz.requeued:
                choice = (question.answer + 1) % len(question.options)
            edge.say(phone, "ABCD"[choice])
        else:
            edge.say(phone, "NEXT")
    raise AssertionError("the lessons never ended")


def progress(store: Store, phone: str) -> dict[str, list[tuple]]:
    """A learner's progress as every channel shows it (times aside: an answer's row and
    its event are stamped by two looks at the clock)."""
    def rows(sql: str) -> list[tuple]:
        return [tuple(row) for row in store.db.conn.execute(sql, [phone])]

    return {
        "learner": rows("SELECT stopped, locale, current_course, display_name FROM learners "
                        "WHERE phone = ?"),
        "enrollments": rows("SELECT course_id, position, card, quiz, completed_at IS NOT NULL "
                            "FROM enrollments WHERE phone = ? ORDER BY course_id"),
        "results": rows("SELECT course_id, lesson_id, score, total FROM lesson_results "
                        "WHERE phone = ? ORDER BY course_id, lesson_id"),
        "answers": sorted(rows("SELECT course_id, lesson_id, question, choice, correct, "
                               "first_try FROM answers WHERE phone = ?")),
    }


def holding(db_path: Path, needle: str) -> list[tuple[str, str]]:
    """(table, column) of every stored text that contains `needle`."""
    hits = []
    with sqlite3.connect(db_path) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            hits.extend((table, column) for row in cursor
                        for column, value in zip(columns, row, strict=True)
                        if isinstance(value, str) and needle in value)
    conn.close()
    return hits


# -- recording ---------------------------------------------------------------------------------


def test_a_course_taken_by_sms_is_recorded_as_events_of_this_edge(edge):
    a = edge("a")
    learn(a, ADA, 6)
    assert a.store.enrollment(ADA, COURSE).completed
    a.say(ADA, "LANG fr", "NAME Ada Obi", "STOP", "START")  # START: the course again

    recorded = [e for e in _all_events(a.store) if e["learner"] == ADA]

    assert {e["edge"] for e in recorded} == {a.store.edge_id()}
    assert re.fullmatch(r"edge-[0-9a-f]{12}", a.store.edge_id())
    ids = [e["id"] for e in recorded]
    assert len(set(ids)) == len(ids)
    for event in recorded:
        assert re.fullmatch(r"[0-9a-f]{32}", event["id"])
        assert int(event["id"][:12], 16) == int(event["at"] * 1000)  # time first
        assert events.event_problem({k: event[k] for k in ("id", "edge", "learner", "kind",
                                                           "at", "data")}) is None
        assert data_problem(event["kind"], event["data"]) is None
    assert [e["at"] for e in recorded] == sorted(e["at"] for e in recorded)
    kinds = [e["kind"] for e in recorded]
    assert kinds[:3] == ["met", "enrolled", "card_reached"]
    assert kinds.count("lesson_completed") == 6 and kinds.count("course_completed") == 1
    assert kinds.count("answered") == a.store.db.execute(
        "SELECT count(*) FROM answers WHERE phone = ?", [ADA]).fetchone()[0] == 19 + 6
    assert kinds[-6:] == ["language_set", "name_set", "opted_out", "opted_in", "enrolled",
                          "card_reached"]
    # A learning step says the channel and the language it was taken in (the LRS's
    # context, docs/integrations.md).
    assert recorded[-2]["data"] == {"course": COURSE, "restart": True, "channel": "sms",
                                    "language": "fr"}
    # Every move of the learner's place is a `card_reached`: every card SMS sends (the
    # lesson's SMS edition leaves web-only cards out), every question.
    course = a.store.course(COURSE)
    cards = sum(len([card for card in a.store.lesson(COURSE, lesson, "en").edition(SMS).cards
                     if card.text])
                for lesson in course.lesson_ids)
    assert kinds.count("card_reached") >= cards + 19
    done = next(e for e in recorded if e["kind"] == "course_completed")
    assert done["data"] == {"course": COURSE, "score": 13, "total": 19, "passed": False,
                            "channel": "sms", "language": "en"}
    wrong = next(e for e in recorded if e["kind"] == "answered")
    first = a.store.lesson(COURSE, "find-your-skill", "en").questions[0]
    sent = (first.answer + 1) % len(first.options)  # the wrong letter learn() texted
    assert wrong["data"] == {"course": COURSE, "lesson": "find-your-skill", "question": 0,
                             "choice": sent, "correct": False,
                             "first_try": True, "channel": "sms", "language": "en"}
    requeued = next(e for e in recorded if e["kind"] == "card_reached" and e["data"]["quiz"]
                    and e["data"]["quiz"]["requeued"])
    assert requeued["data"]["quiz"]["queue"][-1] == 0


def test_a_carrier_opt_out_is_an_event_once(edge):
    a = edge("a")
    a.say(ADA, "START")
    a.store.set_stopped(ADA, True)
    a.store.set_stopped(ADA, True)  # already stopped: nothing changes, nothing recorded
    a.store.set_stopped(BOLA, True)  # no such learner

    kinds = [e["kind"] for e in _all_events(a.store)]
    assert kinds.count("opted_out") == 1 and a.store.learner(ADA).stopped


# -- progress is derived from events --------------------------------------------------------------


def test_rebuilding_from_events_gives_the_progress_every_channel_shows(edge):
    a = edge("a")
    learn(a, ADA, 6)  # the whole course
    learn(a, BOLA, 2)
    a.say(BOLA, "NEXT", "NEXT")  # into lesson 3, then one card back (as on USSD)
    with a.store.write():
        Engine(a.store).handle(a.store.learner(BOLA), i.Back(), interactive=True)
    assert a.store.enrollment(BOLA, COURSE).card == 0
    a.say(BOLA, "LANG fr", "NAME Bola")
    live = {phone: progress(a.store, phone) for phone in (ADA, BOLA)}

    with a.store.write():
        for table in ("enrollments", "lesson_results", "answers"):
            a.store.db.execute(f"DELETE FROM {table}")
        a.store.db.execute("UPDATE learners SET current_course = NULL")
        # Only what events speak of is theirs to set: BOLA chose a language and a name.
        a.store.db.execute("UPDATE learners SET locale = 'xx', display_name = NULL "
                           "WHERE phone = ?", [BOLA])
    assert all(progress(a.store, phone) != live[phone] for phone in live)

    assert rebuild_projection(a.store, ADA) and rebuild_projection(a.store, BOLA)

    assert {phone: progress(a.store, phone) for phone in live} == live
    assert not rebuild_projection(a.store, "+2348039999999")  # no events: nothing to do
    # And the learner goes on from there: BOLA was on lesson 3's first card (in French),
    # the first of the three cards its SMS edition sends; terse: lessons 1 and 2 are done.
    assert a.say(BOLA, "NEXT").endswith("\n2/3 SUITE>")
    assert a.store.enrollment(BOLA, COURSE).position == 2


def test_a_course_taken_again_starts_with_no_scores_here_and_when_rebuilt(edge):
    """START after completing a course: its lesson scores are forgotten (each is earned
    anew), live and as every edge rebuilds the learner from the events."""
    a = edge("a")
    learn(a, ADA, 6)
    assert len(a.store.lesson_results(ADA, COURSE)) == 6
    a.say(ADA, "START")
    assert a.store.lesson_results(ADA, COURSE) == {}
    live = progress(a.store, ADA)
    with a.store.write():
        for table in ("enrollments", "lesson_results", "answers"):
            a.store.db.execute(f"DELETE FROM {table}")
    assert rebuild_projection(a.store, ADA)
    assert progress(a.store, ADA) == live and a.store.lesson_results(ADA, COURSE) == {}


def test_whole_lessons_on_pages_are_recorded_too(edge):
    a = edge("a")
    engine = Engine(a.store)
    course = a.store.course(COURSE)
    first = a.store.lesson(COURSE, course.lesson_ids[0], "en")
    right = {n: q.answer for n, q in enumerate(first.questions)}
    with a.store.write():
        ada = engine.learner(ADA, "twilio", "en")
        engine.read_lesson(ada, course, 0)
        engine.submit_quiz(ada, course, 0, {**right, 1: (right[1] + 1) % 3})
        engine.submit_quiz(ada, course, 0, right, first_try=False)
        engine.read_lesson(ada, course, 0)  # done already: nothing moves
        bola = engine.learner(BOLA, "twilio", "en")
        # Results earned anonymously on the web, kept at sign-in: the whole course.
        engine.merge_results(bola, COURSE, {lesson: (2, 3) for lesson in course.lesson_ids})
    live = {phone: progress(a.store, phone) for phone in (ADA, BOLA)}
    kinds = [e["kind"] for e in _all_events(a.store) if e["learner"] == BOLA]
    assert kinds == ["met"] + ["lesson_completed"] * 6 + ["enrolled", "card_reached",
                                                          "course_completed"]
    assert live[BOLA]["enrollments"][0][-1] == 1  # completed

    with a.store.write():
        for table in ("enrollments", "lesson_results", "answers"):
            a.store.db.execute(f"DELETE FROM {table}")
        a.store.db.execute("UPDATE learners SET current_course = NULL")
    assert rebuild_projection(a.store, ADA) and rebuild_projection(a.store, BOLA)

    assert {phone: progress(a.store, phone) for phone in live} == live
    assert len(live[ADA]["answers"]) == 6 and live[ADA]["results"][0][2:] == (2, 3)


def test_progress_stored_before_events_existed_is_written_as_events_once(tmp_path: Path):
    path = tmp_path / "old.db"
    with Store.open(path) as old:
        migrations.apply(old.db, stop_before="m008_events")
        import_courses(old)
        with old.write():
            old.db.execute("INSERT INTO learners (phone, locale, carrier_id, stopped, "
                           "current_course, display_name, created_at, updated_at) VALUES "
                           "(?, 'fr', 'twilio', 1, ?, 'Ada', 100, 900)", [ADA, COURSE])
            old.db.execute("INSERT INTO enrollments (phone, course_id, position, card, quiz, "
                           "started_at, completed_at, updated_at) VALUES (?, ?, 1, 5, ?, "
                           "110, NULL, 800)",
                           [ADA, COURSE, '{"queue": [2, 0], "requeued": [0], "right": [1]}'])
            old.db.execute("INSERT INTO lesson_results VALUES (?, ?, 'find-your-skill', "
                           "2, 3, 500)", [ADA, COURSE])
            for n, (question, correct) in enumerate([(0, 0), (1, 1), (2, 1), (0, 1)]):
                old.db.execute("INSERT INTO answers (phone, course_id, lesson_id, question, "
                               "choice, correct, first_try, at) VALUES "
                               "(?, ?, 'find-your-skill', ?, 1, ?, ?, ?)",
                               [ADA, COURSE, question, correct, int(n < 3), 400 + n])
            old.db.execute("INSERT INTO learners (phone, locale, carrier_id, created_at, "
                           "updated_at) VALUES ('erased:0123456789abcdef', 'en', 'x', 1, 1)")
        before = progress(old, ADA)

    with Store.open(path, migrate=True) as store:
        backfilled = _all_events(store)
        assert {e["learner"] for e in backfilled} == {ADA}
        assert {e["edge"] for e in backfilled} == {store.edge_id()}
        assert [e["kind"] for e in backfilled] == [
            "enrolled", "answered", "answered", "answered", "answered", "lesson_completed",
            "card_reached", "name_set", "opted_out"]
        assert rebuild_projection(store, ADA)
        assert progress(store, ADA) == before
        assert store.migrate() == []
        assert len(_all_events(store)) == len(backfilled)


# -- two edges, one learner ----------------------------------------------------------------------


def test_a_learner_goes_on_at_another_edge_and_both_end_with_the_same_progress(edge):
    a, b = edge("a"), edge("b")
    learn(a, ADA, 2)
    from_a = a.own_events()

    first = apply_remote_events(b.store, from_a)
    assert (first.applied, first.duplicates, first.rejected) == (len(from_a), 0, [])
    assert b.store.learner(ADA).current_course == COURSE
    assert b.store.lesson_results(ADA, COURSE) == a.store.lesson_results(ADA, COURSE)
    # On B the learner picks up where they were on A: lesson 3's first card.
    welcome = b.say(ADA, "START")
    assert "Welcome back" in welcome and "Lesson 3/6" in welcome and "\n1/3 NEXT>" in welcome
    assert b.store.enrollment(ADA, COURSE).position == 2
    learn(b, ADA, 1)
    from_b = b.own_events()

    merged = apply_remote_events(a.store, from_b)
    assert merged.applied == len(from_b) and merged.learners == 1

    assert progress(a.store, ADA) == progress(b.store, ADA)
    assert len(a.store.lesson_results(ADA, COURSE)) == 3
    assert a.store.enrollment(ADA, COURSE).position == 3
    # Again (a retried pull): nothing changes.
    for store, batch in ((a.store, from_b), (b.store, from_a)):
        again = apply_remote_events(store, batch)
        assert (again.applied, again.duplicates) == (0, len(batch))
    assert progress(a.store, ADA) == progress(b.store, ADA)
    # Pushing sends this edge's own events only: nothing pulled from elsewhere goes back.
    assert events.unpushed_events(a.store, 1000) == ([], events.unpushed_events(
        a.store, 1000)[1])
    assert {e["edge"] for e in from_b} == {b.store.edge_id()}

    # Two edges that never served the learner get both histories, in either order, and
    # end with the same progress as A and B.
    c, d = edge("c"), edge("d")
    apply_remote_events(c.store, from_a)
    apply_remote_events(c.store, from_b)
    apply_remote_events(d.store, from_b)
    apply_remote_events(d.store, from_a)
    apply_remote_events(d.store, from_b + from_a)
    assert progress(c.store, ADA) == progress(d.store, ADA) == progress(a.store, ADA)


def test_the_furthest_place_wins_when_a_learner_used_an_edge_that_had_not_synced(edge):
    a, b = edge("a"), edge("b")
    learn(a, ADA, 2)
    b.say(ADA, "START", "NEXT")  # B never heard of A's progress: lesson 1, card 2
    assert b.store.enrollment(ADA, COURSE).position == 0

    apply_remote_events(b.store, a.own_events())
    apply_remote_events(a.store, b.own_events())

    assert progress(a.store, ADA) == progress(b.store, ADA)
    assert b.store.enrollment(ADA, COURSE).position == 2  # A's lesson 3, not B's lesson 1
    assert len(b.store.lesson_results(ADA, COURSE)) == 2


# -- compliance travels ---------------------------------------------------------------------------


def test_an_opt_out_on_one_edge_stops_every_edge_that_knows_the_learner(
        edge, twilio_api):
    a, b, c = edge("a"), edge("b"), edge("c")
    a.say(ADA, "START")
    apply_remote_events(b.store, a.own_events())
    b.say(ADA, "START", "NEXT")
    apply_remote_events(a.store, b.own_events())
    OutboxWorker(b.db_path, load_carriers(b.carriers_file)).run(drain=True, poll_seconds=0.01)
    sent_before = len(twilio_api.bodies_to(ADA))

    a.say(ADA, "STOP")
    from_a = a.own_events()
    apply_remote_events(b.store, from_a)
    # An edge that never saw the learner keeps a stopped learner: nothing goes to them.
    apply_remote_events(c.store, [e for e in from_a if e["kind"] == "opted_out"])

    assert b.store.learner(ADA).stopped and c.store.learner(ADA).stopped
    with b.store.write():
        queued = b.store.enqueue("twilio", ADA, "Today's lesson", kind="lesson")
    OutboxWorker(b.db_path, load_carriers(b.carriers_file)).run(drain=True, poll_seconds=0.01)
    assert len(twilio_api.bodies_to(ADA)) == sent_before
    assert next(m for m in b.store.outbox(ADA) if m.id == queued).status == "cancelled"
    assert b.say(ADA, "NEXT") == ""  # B answers only START and HELP now


def test_an_opt_in_recorded_before_an_opt_out_elsewhere_does_not_undo_it(edge):
    a, b = edge("a"), edge("b")
    a.say(ADA, "START")
    apply_remote_events(b.store, a.own_events())
    b.say(ADA, "STOP", "START")  # opted out and back in on B...
    a.say(ADA, "STOP")  # ...then out on A, which had not heard of it

    apply_remote_events(a.store, b.own_events())
    apply_remote_events(b.store, a.own_events())

    assert a.store.learner(ADA).stopped and b.store.learner(ADA).stopped
    b.say(ADA, "START")  # the learner's latest word
    apply_remote_events(a.store, b.own_events())
    assert not a.store.learner(ADA).stopped


def test_an_erasure_on_one_edge_erases_the_learner_on_every_edge(edge):
    a, b, c = edge("a"), edge("b"), edge("c")
    learn(a, ADA, 1)
    a.say(ADA, "NAME Ada Obi")
    a.say(BOLA, "START")
    from_a = a.own_events()
    for other in (b, c):
        apply_remote_events(other.store, from_a)
        other.say(ADA, "START", "NEXT")
        apply_remote_events(a.store, other.own_events())
    c.say(ADA, "NEXT")  # C goes on, not yet knowing of what follows

    erasure = privacy.erase(a.store, ADA)
    notice = a.own_events()

    assert [e["kind"] for e in notice] == ["erased"] and notice[0]["learner"] == ADA
    assert notice[0]["data"] == {}
    assert holding(a.db_path, ADA) == []  # acknowledged: the notice took a pseudonym
    report = apply_remote_events(b.store, notice)
    assert report.erased == 1 and b.store.learner(ADA) is None
    assert privacy.is_erased(b.store, ADA) and holding(b.db_path, ADA) == []
    assert b.store.learner(BOLA) is not None  # nobody else
    # What C recorded for the number after the erasure, before it knew, is ignored.
    late = c.own_events()
    ignored = apply_remote_events(b.store, late)
    assert ignored.ignored == len(late) and b.store.learner(ADA) is None
    assert holding(b.db_path, ADA) == []
    # C erases too when it hears; what it had not pushed is pseudonymised with the rest.
    assert apply_remote_events(c.store, notice).erased == 1
    assert holding(c.db_path, ADA) == [] and c.own_events() == []
    # Pulled again: already known, nothing happens.
    assert apply_remote_events(b.store, notice).duplicates == 1
    assert erasure.pseudonym and b.store.learner(erasure.pseudonym) is None

    # A stray message is not answered; START makes a fresh learner, and that travels.
    assert b.say(ADA, "NEXT") == ""
    assert "Welcome to" in b.say(ADA, "START")
    fresh = b.own_events()
    assert fresh[0]["kind"] == "readmitted"
    back = apply_remote_events(a.store, fresh)
    assert back.ignored == 0 and a.store.learner(ADA) is not None
    assert progress(a.store, ADA) == progress(b.store, ADA)
    assert a.store.lesson_results(ADA, COURSE) == {}  # nothing from before the erasure
    assert not privacy.is_erased(a.store, ADA)


def erasure_pseudonym(edge: Edge) -> str:
    [found] = {row[0] for row in edge.store.db.execute(
        "SELECT phone FROM learners WHERE phone LIKE 'erased:%'")}
    return found


def test_an_erasure_reaches_an_edge_that_never_knew_the_learner(edge):
    a, b = edge("a"), edge("b")
    a.say(ADA, "START")
    privacy.erase(a.store, ADA)

    notice = a.own_events()
    report = apply_remote_events(b.store, notice)

    # The learner's START on A went out pseudonymous (blank), then the notice.
    assert [e["kind"] for e in notice] == ["met", "enrolled", "card_reached", "erased"]
    assert {e["learner"] for e in notice[:3]} == {erasure_pseudonym(a)}
    assert notice[0]["data"] == notice[1]["data"] == notice[2]["data"] == {}
    assert report.erased == 0 and report.applied == 4
    assert privacy.is_erased(b.store, ADA) and holding(b.db_path, ADA) == []
    assert b.say(ADA, "NEXT") == "" and b.store.learner(ADA) is None


# -- the sync side -------------------------------------------------------------------------------


def test_the_push_cursor_moves_forward_only_over_this_edges_events(edge):
    a, b = edge("a"), edge("b")
    a.say(ADA, "START", "NEXT")
    apply_remote_events(a.store, _pushed(b, BOLA))

    waiting = events.unpushed_count(a.store)
    assert waiting == 4  # met, enrolled, card_reached, card_reached; B's are not A's
    assert events.oldest_unpushed_at(a.store) == min(
        e["at"] for e in _all_events(a.store) if e["edge"] == a.store.edge_id())
    first, last = events.unpushed_events(a.store, 3)
    assert [e["kind"] for e in first] == ["met", "enrolled", "card_reached"]
    assert set(first[0]) == {"id", "edge", "learner", "kind", "at", "data"}
    events.mark_pushed(a.store, last)
    events.mark_pushed(a.store, last - 1)  # never backwards
    rest, end = events.unpushed_events(a.store, 10)
    assert len(rest) == 1 and events.unpushed_count(a.store) == 1
    events.mark_pushed(a.store, end + 1000)  # never past the last event stored
    assert events.unpushed_events(a.store, 10)[0] == []
    assert events.unpushed_count(a.store) == 0 and events.oldest_unpushed_at(a.store) is None
    a.say(ADA, "NEXT")
    assert [e["kind"] for e in events.unpushed_events(a.store, 10)[0]] == ["card_reached"]

    assert events.sync_value(a.store, "pull_cursor") is None
    events.set_sync_value(a.store, "pull_cursor", "42")
    assert events.sync_value(a.store, "pull_cursor") == "42"
    assert events.known_learners(a.store) == 2


def _pushed(edge: Edge, phone: str) -> list[dict]:
    edge.say(phone, "START")
    return edge.own_events()


def test_the_edge_id_comes_from_the_environment_or_is_made_once(
        edge, monkeypatch: pytest.MonkeyPatch):
    a = edge("a")
    a.say(ADA, "START")
    made = a.store.edge_id()
    with Store.open(a.db_path) as again:
        assert again.edge_id() == made

    monkeypatch.setenv("LEARNLINE_EDGE_ID", "lagos-2")
    with Store.open(a.db_path) as named:
        assert named.edge_id() == "lagos-2"
        # Events not yet pushed are this edge's still: they go under its new name.
        assert {e["edge"] for e in events.unpushed_events(named, 100)[0]} == {"lagos-2"}
    monkeypatch.setenv("LEARNLINE_EDGE_ID", "Lagos 2")
    with Store.open(a.db_path) as wrong, pytest.raises(ValueError, match="LEARNLINE_EDGE_ID"):
        wrong.edge_id()


def test_malformed_events_are_rejected_and_nothing_of_them_is_kept(edge):
    b = edge("b")
    good = {"id": "0" * 32, "edge": "edge-a", "learner": ADA, "kind": "enrolled",
            "at": START_TIME, "data": {"course": COURSE}}
    bad = [
        "not an object",
        {**good, "id": "X" * 32},
        {**good, "edge": "Edge A"},
        {**good, "learner": "08030000001"},
        {**good, "at": "yesterday"},
        {**good, "at": True},
        {**good, "at": 1e300},
        {**good, "data": []},
        {k: v for k, v in good.items() if k != "kind"},
        {**good, "kind": "card_reached", "data": {"course": COURSE, "position": -1,
                                                  "card": 0}},
        {**good, "kind": "answered", "data": {"course": COURSE, "lesson": "x",
                                              "question": 0, "choice": 1,
                                              "correct": 1, "first_try": True}},
        {**good, "kind": "card_reached", "data": {"course": COURSE, "position": 0,
                                                  "card": 0, "quiz": {"queue": [True]}}},
    ]
    report = apply_remote_events(b.store, bad)
    assert len(report.rejected) == len(bad) and report.applied == 0
    assert _all_events(b.store) == [] and b.store.learner(ADA) is None

    future = {**good, "id": "1" * 32, "kind": "badge_earned", "data": {"badge": "x"}}
    kept = apply_remote_events(b.store, [good, future])
    assert (kept.applied, kept.unknown) == (1, 1)
    assert b.store.enrollment(ADA, COURSE) is not None
    assert b.store.learner(ADA).carrier_id == "" and b.store.learner(ADA).locale == "en"


def test_a_course_this_edge_lacks_leaves_the_place_in_events_only(edge):
    b = edge("b")
    at = START_TIME
    history = [
        {"id": f"{n:032x}", "edge": "edge-a", "learner": ADA, "kind": kind, "at": at + n,
         "data": data} for n, (kind, data) in enumerate([
            ("enrolled", {"course": "no-such-course"}),
            ("card_reached", {"course": "no-such-course", "position": 0, "card": 1}),
            ("lesson_completed", {"course": "no-such-course", "lesson": "one", "score": 1,
                                  "total": 2}),
        ], 1)]

    report = apply_remote_events(b.store, history)

    assert report.applied == 3 and b.store.learner(ADA).current_course is None
    assert b.store.db.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 0
    assert b.store.lesson_results(ADA, "no-such-course") == {"one": (1, 2)}


def test_the_events_table_is_in_a_learners_export(edge):
    a = edge("a")
    a.say(ADA, "START", "NEXT")
    export = privacy.learner_export(a.store, ADA)
    assert [e["kind"] for e in export["events"]] == ["met", "enrolled", "card_reached",
                                                     "card_reached"]
    assert export["events"][1]["data"] == {"course": COURSE, "restart": False,
                                           "channel": "sms", "language": "en"}
    assert export["events"][0]["at"].endswith("Z")


def test_an_erasure_heard_after_the_number_came_back_forgets_only_what_came_before(edge):
    b = edge("b")

    def event(n: int, kind: str, at: float, **data) -> dict:
        return {"id": f"{n:032x}", "edge": "edge-a", "learner": ADA, "kind": kind,
                "at": START_TIME + at, "data": data}

    place = {"course": COURSE, "card": 0, "lesson": None, "quiz": None}
    old_life = [event(1, "enrolled", 5, course=COURSE),
                event(2, "card_reached", 6, position=1, **place),
                event(3, "lesson_completed", 7, course=COURSE, lesson="find-your-skill",
                      score=3, total=3)]
    new_life = [event(4, "readmitted", 20), event(5, "enrolled", 25, course=COURSE),
                event(6, "card_reached", 26, position=0, **place)]
    apply_remote_events(b.store, old_life)
    apply_remote_events(b.store, new_life)
    # A fresh learner since the readmission, even before the erasure is heard of.
    assert b.store.enrollment(ADA, COURSE).position == 0
    assert b.store.lesson_results(ADA, COURSE) == {}

    late = apply_remote_events(b.store, [event(7, "erased", 10)])

    assert late.erased == 0 and b.store.learner(ADA) is not None
    assert b.store.enrollment(ADA, COURSE).position == 0
    assert b.store.lesson_results(ADA, COURSE) == {}
    assert [e["kind"] for e in _all_events(b.store) if e["learner"] == ADA] == [
        "readmitted", "enrolled", "card_reached"]
    assert not privacy.is_erased(b.store, ADA)
    # Whatever else arrives from before the erasure is ignored.
    stale = apply_remote_events(b.store, [event(8, "lesson_completed", 8, course=COURSE,
                                                lesson="first-clients", score=1, total=3)])
    assert stale.ignored == 1 and b.store.lesson_results(ADA, COURSE) == {}


def test_event_ids_stay_unique_across_processes_forked_from_one_another():
    """Server processes are forked from one parent after it made ids of its own: the
    ids each makes in the same millisecond never meet, here or in the parent."""
    import os

    made = [events.new_event_id(START_TIME) for _ in range(100)]
    children = []
    for _ in range(3):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its ids, then gone without running pytest's exit
            os.close(read)
            os.write(write, " ".join(events.new_event_id(START_TIME)
                                     for _ in range(100)).encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    for pid, read in children:
        with os.fdopen(read) as pipe:
            made += pipe.read().split()
        os.waitpid(pid, 0)
    assert len(made) == 400 and len(set(made)) == 400
    assert all(events.EVENT_ID_RE.fullmatch(found) for found in made)
    assert {found[:12] for found in made} == {f"{int(START_TIME * 1000):012x}"}
