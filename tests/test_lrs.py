"""Learning records to the school's LRS (docs/integrations.md, Learning records): a learner
takes the bundled course by SMS (signed Twilio webhooks), the outbox worker drains
(`learnline worker --drain`, a real process), and a real LRS (Ralph, on a file-system
backend, tests/lrs_server.py) holds every statement once; a stopped LRS loses nothing and
duplicates nothing; an erased learner's statements are voided, their unsent ones never
sent."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from gateway import create_app, xapi
from gateway.cli import main
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.content.model import SMS
from gateway.learning.merge import apply_remote_events
from gateway.outbox.lrs import CourseContent, LrsSettings, names
from gateway.outbox.worker import OutboxWorker
from gateway.pseudonyms import gateway_key, pseudonym
from gateway.store import Store, events, privacy
from gateway.store import lrs as lrs_store
from tests.conftest import TwilioWebhooks, carriers_toml
from tests.fakes.clock import SimulatedClock
from tests.lrs_server import PASSWORD, USERNAME, WRONG_PASSWORD, Ralph
from tests.ports import free_port

COURSE = "start-freelancing"
ADA = "+2348030000001"
BOLA = "+2348030000002"
BASE = "https://learn.example.org"
START = 1_741_082_400.0  # 4 March 2025, 10:00 UTC


@pytest.fixture(scope="module")
def ralph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ralph]:
    """One LRS for this module's tests (each test's learners are numbers of its own or
    are told apart by the test's own statement ids)."""
    server = Ralph(tmp_path_factory.mktemp("ralph")).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def carriers(tmp_path: Path, twilio_api, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course takes about 60 messages from one number: the inbound limits are lifted."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "auth-token-for-tests-0123456789")
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))
    return path


@pytest.fixture
def twilio(db_path: Path, carriers: Path, clock: SimulatedClock) -> TwilioWebhooks:
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                      "TESTING": True, "CLOCK": clock})
    return TwilioWebhooks(app.test_client())


def settings(ralph: Ralph, password: str = PASSWORD) -> LrsSettings:
    return LrsSettings(ralph.endpoint, USERNAME, password, BASE)


def say(twilio: TwilioWebhooks, store: Store, phone: str, text: str) -> str:
    before = len(store.outbox(phone))
    assert twilio.sms(phone, text).status_code == 200
    return "\n".join(m.body for m in store.outbox(phone)[before:])


def take_course(twilio: TwilioWebhooks, store: Store, phone: str, *, lessons: int = 99,
                clock: SimulatedClock | None = None) -> None:
    """START, then NEXT through every card and answer every question right, by SMS, until
    `lessons` lessons are done or the course is."""
    say(twilio, store, phone, "START")
    course = store.course(COURSE)
    done = 0
    for _ in range(400):
        if clock is not None:
            clock.now += 1
        enrollment = store.enrollment(phone, COURSE)
        if enrollment.completed or done >= lessons:
            return
        if enrollment.quiz is not None and enrollment.quiz.queue:
            lesson = store.lesson(COURSE, course.lesson_ids[enrollment.position], "en")
            question = lesson.questions[enrollment.quiz.queue[0]]
            say(twilio, store, phone, "ABCD"[question.answer])
            if store.enrollment(phone, COURSE).position != enrollment.position:
                done += 1
        else:
            say(twilio, store, phone, "NEXT")
    raise AssertionError("the course never ended")


def expected_ids(store: Store, phone: str | None = None) -> list[str]:
    """The statement ids this gateway's events of `phone` (default: every learner) make."""
    rows = store.db.execute(
        "SELECT id, kind, data, learner FROM events WHERE edge = ? ORDER BY seq",
        [store.edge_id()]).fetchall()
    ids = [sid for event_id, kind, data, learner in rows
           if phone is None or learner == phone
           for sid in xapi.statement_ids({"id": event_id, "kind": kind,
                                          "data": json.loads(data)})]
    assert ids, "no learning step made a statement"  # else comparisons below prove nothing
    return ids


def drain(db_path: Path, carriers: Path, ralph: Ralph, *,
          password: str = PASSWORD, endpoint: str | None = None) -> subprocess.CompletedProcess:
    """`learnline worker --drain`, a process of its own, pointed at the LRS (or at
    `endpoint`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env.update(LEARNLINE_DB=str(db_path), LEARNLINE_CARRIERS=str(carriers),
               LEARNLINE_LRS_ENDPOINT=endpoint or ralph.endpoint,
               LEARNLINE_LRS_USERNAME=USERNAME,
               LEARNLINE_LRS_PASSWORD=password, LEARNLINE_PUBLIC_URL=BASE)
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "worker", "--drain"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr  # never logged
    return done


def held(ralph: Ralph, ids: list[str] | set[str]) -> Counter:
    """How many times the LRS holds each of these statement ids."""
    wanted = set(ids)
    return Counter(s["id"] for s in ralph.statements() if s["id"] in wanted)


# -- the mapping, statement by statement ---------------------------------------------------

EVENT_ID = "0195a1b2c3d4" + "ab" * 10


def event(kind: str, **data) -> dict:
    return {"id": EVENT_ID, "kind": kind, "at": START + 0.25,
            "data": {"course": COURSE, "channel": "sms", "language": "fr", **data}}


@pytest.mark.parametrize(("made", "verb", "object_id", "result"), [
    (event("enrolled", restart=False), "registered", f"{BASE}/courses/{COURSE}", None),
    (event("card_reached", lesson="find-your-skill", position=0, card=2, quiz=None,
           shown="card"),
     "experienced", f"{BASE}/courses/{COURSE}/lessons/find-your-skill/cards/2", None),
    # By SMS a lesson's last card comes with its first question: the quiz is open.
    (event("card_reached", lesson="find-your-skill", position=0, card=4, shown="card",
           quiz={"queue": [0, 1, 2], "requeued": [], "right": []}),
     "experienced", f"{BASE}/courses/{COURSE}/lessons/find-your-skill/cards/4", None),
    (event("card_reached", lesson="find-your-skill", position=0, card=4, quiz=None,
           shown="lesson"),  # a whole lesson read on a page
     "experienced", f"{BASE}/courses/{COURSE}/lessons/find-your-skill", None),
    (event("answered", lesson="find-your-skill", question=1, choice=2, correct=False,
           first_try=True), "answered",
     f"{BASE}/courses/{COURSE}/lessons/find-your-skill/questions/1",
     {"success": False, "response": "C",
      "extensions": {f"{BASE}/xapi/extensions/first-try": True}}),
    (event("lesson_completed", lesson="find-your-skill", score=3, total=4), "completed",
     f"{BASE}/courses/{COURSE}/lessons/find-your-skill",
     {"completion": True, "score": {"raw": 3, "min": 0, "max": 4, "scaled": 0.75}}),
    (event("course_completed", score=13, total=19, passed=False), "failed",
     f"{BASE}/courses/{COURSE}",
     {"completion": True, "success": False,
      "score": {"raw": 13, "min": 0, "max": 19, "scaled": 0.6842}}),
])
def test_each_learning_event_is_one_statement(made, verb, object_id, result):
    [statement] = xapi.statements(made, base=BASE, learner="a" * 32)
    assert statement["id"] == xapi.statement_id(EVENT_ID)
    assert statement["verb"] == {"id": f"http://adlnet.gov/expapi/verbs/{verb}",
                                 "display": {"en-US": verb}}
    assert statement["object"]["id"] == object_id
    assert statement.get("result") == result
    assert statement["actor"] == {"objectType": "Agent",
                                  "account": {"homePage": BASE, "name": "a" * 32}}
    assert statement["timestamp"] == "2025-03-04T10:00:00.250Z"
    assert statement["context"]["language"] == "fr" and statement["version"] == "1.0.3"
    assert statement["context"]["extensions"] == {f"{BASE}/xapi/extensions/channel": "sms"}
    # Made again (a resend after a crash), it is the same statement under the same id.
    assert xapi.statements(made, base=BASE, learner="a" * 32) == [statement]


def test_activities_are_named_in_the_language_the_step_was_read_in(store: Store):
    content = CourseContent(store)
    french = names(content, event("answered", lesson="find-your-skill", question=0,
                                  choice=1, correct=True, first_try=True))
    assert french == xapi.Names(course={"fr": "Se lancer en freelance"},
                                lesson={"fr": "Trouver un savoir-faire qui paie"},
                                item={"fr": "Quel métier pour gagner vite ?"})
    [statement] = xapi.statements(event("answered", lesson="find-your-skill", question=0,
                                        choice=1, correct=True, first_try=True),
                                  base=BASE, learner="a" * 32, names=french)
    assert statement["object"]["definition"] == {
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "name": {"fr": "Quel métier pour gagner vite ?"}, "interactionType": "choice"}
    # A card: its lesson and its place there. A language the course is not in: its own.
    card = event("card_reached", lesson="find-your-skill", position=0, card=2, quiz=None,
                 shown="card", language="ha")
    assert names(content, card) == xapi.Names(
        course={"en": "Start freelancing"}, lesson={"en": "Find a skill people pay for"},
        item={"en": "Find a skill people pay for (3/5)"})
    # Recorded before events said their language: the course's; gone: no name.
    older = {"id": EVENT_ID, "kind": "enrolled", "at": START, "data": {"course": COURSE}}
    assert names(content, older).course == {"en": "Start freelancing"}
    assert names(content, event("enrolled", course="gone")) == xapi.Names()
    long = xapi.question_name("word " * 40)
    assert len(long) == xapi.NAME_LENGTH and long.endswith("…")


def test_a_passed_course_is_passed_and_earns_its_certificate():
    passed, earned = xapi.statements(event("course_completed", score=19, total=19,
                                           passed=True),
                                     base=BASE, learner="b" * 32, certified=True)
    assert passed["verb"]["id"].endswith("/passed") and passed["result"]["success"] is True
    assert earned["verb"]["id"] == "http://id.tincanapi.com/verb/earned"
    # The course's certificate, the same activity for every learner: no code, which
    # would lead to the certificate's page and its holder.
    assert earned["object"]["id"] == f"{BASE}/courses/{COURSE}/certificate"
    assert earned["id"] == xapi.statement_id(EVENT_ID, "certificate") != passed["id"]
    # A learner who does not hold it (revoked): no earned statement.
    assert xapi.statements(event("course_completed", score=19, total=19, passed=True),
                           base=BASE, learner="b" * 32) == [passed]


@pytest.mark.parametrize("made", [
    event("card_reached", lesson="find-your-skill", position=0, card=3,
          quiz={"queue": [0], "requeued": [], "right": []}),  # a step of the quiz
    # NEXT from the last card into the quiz (USSD): the card was read before.
    event("card_reached", lesson="find-your-skill", position=0, card=4,
          quiz={"queue": [0, 1, 2], "requeued": [], "right": []}),
    event("card_reached", lesson="find-your-skill", position=0, card=-1, quiz=None),
    {"id": EVENT_ID, "kind": "language_set", "at": START, "data": {"locale": "fr"}},
    {"id": EVENT_ID, "kind": "answered", "at": START, "data": {}},  # an erased learner's
])
def test_what_is_not_a_learning_step_makes_no_statement(made):
    """(Not a card shown, a language set, an erased learner's blanked event.)"""
    assert xapi.statements(made, base=BASE, learner="c" * 32) == []
    assert xapi.statement_ids(made) == []


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "named"), [
    ({"LEARNLINE_LRS_ENDPOINT": "ftp://lrs.example.org/xAPI/"}, "LEARNLINE_LRS_ENDPOINT"),
    ({"LEARNLINE_LRS_ENDPOINT": "lrs.example.org"}, "LEARNLINE_LRS_ENDPOINT"),
    ({"LEARNLINE_LRS_ENDPOINT": "https://lrs.example.org/xAPI/",
      "LEARNLINE_LRS_USERNAME": "school"}, "LEARNLINE_LRS_PASSWORD"),
    ({"LEARNLINE_LRS_USERNAME": "school", "LEARNLINE_LRS_PASSWORD": "secret-password"},
     "LEARNLINE_LRS_ENDPOINT"),
    ({"LEARNLINE_LRS_ENDPOINT": "https://lrs.example.org/xAPI/", "LEARNLINE_PUBLIC_URL": ""},
     "LEARNLINE_XAPI_BASE_IRI"),
])
def test_a_bad_lrs_setting_stops_the_worker_at_start_up_naming_it(
        env, named, db_path: Path, carriers: Path):
    env = {"LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers),
           "LEARNLINE_PUBLIC_URL": BASE, **env}
    for command in (["worker", "--drain"], ["serve", "--no-worker", "--port", "1"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert named in result.output and "Traceback" not in result.output
        assert "secret-password" not in result.output


# -- a real LRS ---------------------------------------------------------------------------


def test_a_course_taken_by_sms_reaches_the_lrs_once_valid_and_complete(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    with Store.open(db_path, clock=clock) as store:
        say(twilio, store, ADA, "NAME Adaeze Okafor")
        take_course(twilio, store, ADA, clock=clock)
        assert store.enrollment(ADA, COURSE).completed
        [certificate] = store.certificates_of(ADA)
        ids = expected_ids(store, ADA)
        name = pseudonym(gateway_key(store), ADA)
        cards = sum(len([card for card in store.lesson(COURSE, lesson, "en").edition(SMS).cards
                         if card.text]) for lesson in store.course(COURSE).lesson_ids)
        lessons = [store.lesson(COURSE, lesson, "en") for lesson in store.course(COURSE).lesson_ids]
        titles = [lesson.title for lesson in lessons]
        questions = [q.in_sms().text for lesson in lessons for q in lesson.questions]
    drained = drain(db_path, carriers, ralph)
    assert f", statements to the LRS {len(ids)}" in drained.stdout

    assert held(ralph, ids) == Counter({sid: 1 for sid in ids})
    statements = [s for s in ralph.statements() if s["id"] in set(ids)]
    verbs = Counter(s["verb"]["display"]["en-US"] for s in statements)
    assert verbs["registered"] == 1 and verbs["passed"] == 1 and verbs["earned"] == 1
    # Every card the SMS edition shows, once (answers all right: each question once).
    assert verbs == {"registered": 1, "experienced": cards, "answered": 19, "completed": 6,
                     "passed": 1, "earned": 1}
    for statement in statements:
        assert statement["actor"]["account"] == {"homePage": BASE, "name": name}
        assert ADA not in str(statement) and ADA.lstrip("+") not in str(statement)
        assert statement["context"]["language"] == "en"
        assert statement["context"]["extensions"] == {f"{BASE}/xapi/extensions/channel":
                                                      "sms"}
    # Every activity is named, in the course's language, as the LRS's reports show it.
    by_verb = {verb: [s["object"]["definition"] for s in statements
                      if s["verb"]["display"]["en-US"] == verb] for verb in verbs}
    assert by_verb["registered"] == [{"type": xapi.ACTIVITY_TYPES["course"],
                                      "name": {"en": "Start freelancing"}}]
    assert by_verb["passed"] == by_verb["registered"]
    assert [d["name"] for d in by_verb["completed"]] == [{"en": title} for title in titles]
    assert {"en": "Find a skill people pay for (1/5)"} in [d["name"] for d in
                                                           by_verb["experienced"]]
    assert sorted(d["name"]["en"] for d in by_verb["answered"]) == sorted(questions)
    assert {d["interactionType"] for d in by_verb["answered"]} == {"choice"}
    assert all(set(s["object"]["definition"]) >= {"type", "name"} for s in statements)

    earned = next(s for s in statements if s["verb"]["display"]["en-US"] == "earned")
    assert earned["object"]["id"] == f"{BASE}/courses/{COURSE}/certificate"
    # Nothing leads the LRS to the holder: no certificate code (its page shows the
    # holder), no name, anywhere in what was sent.
    assert certificate.holder == "Adaeze Okafor"
    sent = json.dumps(statements).upper()
    assert certificate.code not in sent.replace("-", "") and "/VERIFY" not in sent
    assert "ADAEZE" not in sent and "OKAFOR" not in sent
    # Ralph took them (its POST checks each), and its strict xAPI model finds nothing wrong.
    assert ralph.problems(statements) == []
    assert ralph.problems([{**statements[0], "version": "2.0"}])  # (it does find problems)

    with Store.open(db_path) as store:
        assert lrs_store.backlog(store)["events"] == 0
        # A worker that crashed after the LRS took a batch, before the cursor moved: it
        # sends the batch again, and the LRS holds each statement once still.
        events.set_sync_value(store, lrs_store.CURSOR, "0")
    drain(db_path, carriers, ralph)
    assert held(ralph, ids) == Counter({sid: 1 for sid in ids})


def test_an_lrs_stopped_for_a_while_loses_nothing_and_duplicates_nothing(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, BOLA, lessons=2, clock=clock)
        first = expected_ids(store, BOLA)
    drain(db_path, carriers, ralph)
    assert held(ralph, first) == Counter({sid: 1 for sid in first})

    ralph.stop()
    try:
        with Store.open(db_path, clock=clock) as store:
            take_course(twilio, store, BOLA, clock=clock)
            everything = expected_ids(store, BOLA)
        down = drain(db_path, carriers, ralph)
        assert "LRS" in down.stderr and "could not be reached" in down.stderr
        with Store.open(db_path) as store:
            waiting = lrs_store.backlog(store)
            assert waiting["events"] > 0 and waiting["last_error"]
    finally:
        ralph.start()
    drain(db_path, carriers, ralph)
    assert len(everything) > len(first)
    assert held(ralph, everything) == Counter({sid: 1 for sid in everything})
    with Store.open(db_path) as store:
        assert lrs_store.backlog(store)["events"] == 0


def test_wrong_credentials_send_nothing_and_lose_nothing(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    with Store.open(db_path, clock=clock) as store:
        say(twilio, store, "+2348030000003", "START")
        ids = expected_ids(store, "+2348030000003")
    refused = drain(db_path, carriers, ralph, password=WRONG_PASSWORD)
    assert "refuses the gateway's credentials" in refused.stderr
    assert held(ralph, ids) == Counter()
    drain(db_path, carriers, ralph)
    assert held(ralph, ids) == Counter({sid: 1 for sid in ids})


def test_an_erased_learners_statements_are_voided_and_unsent_ones_never_sent(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    learner = "+2348030000004"
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, learner, lessons=1, clock=clock)
        sent = expected_ids(store, learner)
    drain(db_path, carriers, ralph)
    assert held(ralph, sent) == Counter({sid: 1 for sid in sent})
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, learner, lessons=1, clock=clock)
        unsent = sorted(set(expected_ids(store, learner)) - set(sent))
        assert unsent
    env = {"LEARNLINE_DB": str(db_path)}
    erased = CliRunner().invoke(main, ["learners", "erase", "--yes", learner], env=env)
    assert erased.exit_code == 0, erased.output
    drain(db_path, carriers, ralph)

    statements = ralph.statements()
    assert not {s["id"] for s in statements} & set(unsent)
    voiding = [s for s in statements if s["verb"]["id"] == xapi.VERBS["voided"]
               and s["object"]["id"] in set(sent)]
    assert sorted(s["object"]["id"] for s in voiding) == sorted(sent)
    assert all(s["object"]["objectType"] == "StatementRef" for s in voiding)
    assert ralph.problems(voiding) == []
    # Ralph 5.1.0 (file-system backend) still answers the voided statements to a query
    # (docs/integrations.md, Erasure): an operator checking there finds them beside their
    # voiding statements, which the query by the gateway's own account lists (its query
    # by the verb `voided` finds nothing there).
    assert held(ralph, sent) == Counter({sid: 1 for sid in sent})

    def query(**params: str) -> list[dict]:
        answer = requests.get(ralph.endpoint + "statements", params=params, timeout=30,
                              auth=(USERNAME, PASSWORD),
                              headers={"X-Experience-API-Version": "1.0.3"})
        assert answer.status_code == 200, answer.text
        return answer.json()["statements"]

    gateway = json.dumps({"account": {"homePage": BASE, "name": "learnline"}})
    listed = [s for s in query(agent=gateway, limit="500") if s["object"]["id"] in set(sent)]
    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in voiding)
    assert {s["verb"]["id"] for s in query(agent=gateway, limit="500")} == {
        xapi.VERBS["voided"]}
    assert query(verb=xapi.VERBS["voided"]) == []
    with Store.open(db_path) as store:
        assert lrs_store.backlog(store)["voids"] == 0


def test_a_learner_erased_while_their_statements_travel_has_them_voided(
        db_path: Path, clock: SimulatedClock):
    """The batch left before the erasure and the LRS took it after: the cursor moves, and
    what the LRS took of the erased learner is voided."""
    learner = "+2348030000005"
    with Store.open(db_path, clock=clock) as store:
        store.record_event(learner, "enrolled", {"course": COURSE, "restart": False})
        found, through = lrs_store.unsent(store, 100)
        [sid] = xapi.statement_ids(found[-1])
        privacy.erase(store, learner)  # the learner had no row: only their events
        lrs_store.mark_sent(store, through, {found[-1]["seq"]: [sid]})
        assert [v for v, _ in lrs_store.due_voids(store, 10)] == [sid]


def test_edges_of_a_hub_each_send_their_own_events_so_each_reaches_the_lrs_once(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock,
        tmp_path: Path):
    """Edge A's learner's events reach edge B through the hub (handed over here as sync
    would); both send to the same LRS: B sends none of A's, A sends each once."""
    learner = "+2348030000006"
    with Store.open(db_path, clock=clock) as edge_a:
        take_course(twilio, edge_a, learner, lessons=1, clock=clock)
        ids = expected_ids(edge_a, learner)
        pushed, last = events.unpushed_events(edge_a, 100_000)
        events.mark_pushed(edge_a, last)
    other = tmp_path / "edge-b.db"
    with Store.open(other, migrate=True, clock=clock) as edge_b:
        import_courses(edge_b)
        apply_remote_events(edge_b, pushed)
        assert edge_b.enrollment(learner, COURSE) is not None
        assert lrs_store.backlog(edge_b)["events"] == 0
    worker_b = OutboxWorker(other, load_carriers(carriers), lrs=settings(ralph))
    worker_b.run(drain=True)
    assert held(ralph, ids) == Counter()
    drain(db_path, carriers, ralph)
    worker_b.run(drain=True)
    assert held(ralph, ids) == Counter({sid: 1 for sid in ids})


def test_lrs_status_and_doctor_show_the_backlog_and_the_lrs_answering(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    learner = "+2348030000007"
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, learner, lessons=1, clock=clock)
        waiting = len({e for e in expected_ids(store, learner)})
    env = {"LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers),
           "LEARNLINE_LRS_ENDPOINT": ralph.endpoint, "LEARNLINE_LRS_USERNAME": USERNAME,
           "LEARNLINE_LRS_PASSWORD": PASSWORD, "LEARNLINE_PUBLIC_URL": BASE}
    runner = CliRunner()
    before = runner.invoke(main, ["lrs", "status", "--check"], env=env)
    assert before.exit_code == 0, before.output
    assert f"LRS: {ralph.endpoint} as {USERNAME}" in before.output
    events_waiting = int(before.output.split("waiting: ")[1].split()[0])
    assert events_waiting >= waiting // 2 > 0  # a passed course's event makes two
    assert "the LRS answers the gateway's credentials" in before.output
    doctor = runner.invoke(main, ["doctor", "--live"], env=env)
    # Recorded on the test's clock, a year ago: late, and said so.
    assert (f"WARN LRS: {events_waiting} learning event(s) and 0 voiding statement(s) "
            "waiting, the oldest for") in doctor.output
    assert "OK   LRS: answers the gateway's credentials" in doctor.output

    drain(db_path, carriers, ralph)
    after = runner.invoke(main, ["lrs", "status"], env=env)
    assert "waiting: 0 learning event(s); 0 voiding statement(s)" in after.output
    assert "last accepted: " in after.output

    wrong = runner.invoke(main, ["lrs", "status", "--check"],
                          env={**env, "LEARNLINE_LRS_PASSWORD": WRONG_PASSWORD})
    assert wrong.exit_code == 1 and "refuses the gateway's credentials" in wrong.output
    assert WRONG_PASSWORD not in wrong.output and PASSWORD not in after.output
    doctor = runner.invoke(main, ["doctor", "--live"],
                           env={**env, "LEARNLINE_LRS_PASSWORD": WRONG_PASSWORD})
    assert "FAIL LRS: the LRS refuses the gateway's credentials" in doctor.output
    bad = runner.invoke(main, ["doctor"], env={**env, "LEARNLINE_LRS_ENDPOINT": "lrs"})
    assert "FAIL LRS: LEARNLINE_LRS_ENDPOINT='lrs'" in bad.output
    none = runner.invoke(main, ["lrs", "status"], env={"LEARNLINE_DB": str(db_path)})
    assert "LRS: none" in none.output


def test_an_lrs_out_of_reach_is_said_by_the_drain_and_by_doctor_with_its_error_and_age(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    learner = "+2348030000010"
    clock.now = time.time()  # steps taken just now: nothing waits long enough to be late
    with Store.open(db_path, clock=clock) as store:
        say(twilio, store, learner, "START")
        say(twilio, store, learner, "NEXT")
    nowhere = f"http://127.0.0.1:{free_port()}/xAPI/"  # an LRS stopped: nothing listens
    down = drain(db_path, carriers, ralph, endpoint=nowhere)  # exits 0: the messages went
    with Store.open(db_path) as store:
        waiting = lrs_store.backlog(store)
    assert waiting["events"] > 0 and waiting["voids"] == 0
    summary = down.stdout.splitlines()
    assert summary[0].startswith("sent ") and summary[0].endswith("statements to the LRS 0")
    assert summary[1] == ("LRS: the LRS could not be reached: ConnectionError; "
                          f"{waiting['events']} learning event(s) and 0 voiding statement(s) "
                          "wait for the next try")

    env = {"LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers),
           "LEARNLINE_LRS_ENDPOINT": nowhere, "LEARNLINE_LRS_USERNAME": USERNAME,
           "LEARNLINE_LRS_PASSWORD": PASSWORD, "LEARNLINE_PUBLIC_URL": BASE}
    doctor = CliRunner().invoke(main, ["doctor"], env=env)  # not --live: what it knows
    [line] = [line for line in doctor.output.splitlines()
              if line[5:].startswith("LRS: ") and "waiting" in line]
    assert line.startswith(f"WARN LRS: {waiting['events']} learning event(s) and 0 voiding "
                           "statement(s) waiting; the last try failed ")
    assert re.search(r"failed \d+ s ago: the LRS could not be reached: ConnectionError", line)
    status = CliRunner().invoke(main, ["lrs", "status"], env=env)
    assert re.search(r"last error, \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ min ago\): the LRS "
                     "could not be reached: ConnectionError", status.output), status.output

    up = drain(db_path, carriers, ralph)  # the LRS answers again: all is said to be well
    assert len(up.stdout.splitlines()) == 1 and "wait for the next try" not in up.stdout
    doctor = CliRunner().invoke(main, ["doctor"], env={**env,
                                                       "LEARNLINE_LRS_ENDPOINT": ralph.endpoint})
    assert ("OK   LRS: 0 learning event(s) and 0 voiding statement(s) waiting"
            in doctor.output.splitlines())


def test_a_place_recorded_before_events_said_what_was_shown_is_a_card_read():
    older = {"id": EVENT_ID, "kind": "card_reached", "at": START,
             "data": {"course": COURSE, "lesson": "first-clients", "position": 1, "card": 0,
                      "quiz": None}}
    [statement] = xapi.statements(older, base=BASE, learner="d" * 32)
    assert statement["object"]["id"].endswith("/lessons/first-clients/cards/0")
    assert "language" not in statement["context"]


def test_a_running_worker_sends_new_steps_within_seconds(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    learner = "+2348030000008"
    worker = OutboxWorker(db_path, load_carriers(carriers), lrs=settings(ralph))
    running = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.2})
    running.start()
    try:
        with Store.open(db_path, clock=clock) as store:
            say(twilio, store, learner, "START")
            first = expected_ids(store, learner)
            deadline = time.monotonic() + 30
            while held(ralph, first) != Counter({sid: 1 for sid in first}):
                assert time.monotonic() < deadline, "the running worker sent nothing"
                time.sleep(0.5)
            say(twilio, store, learner, "NEXT")
            more = expected_ids(store, learner)
            assert len(more) > len(first)
            while held(ralph, more) != Counter({sid: 1 for sid in more}):
                assert time.monotonic() < deadline + 15, "the next step never went"
                time.sleep(0.5)
    finally:
        worker.stop()
        running.join(timeout=60)
    assert not running.is_alive()


def test_statements_the_lrs_holds_differently_are_counted_and_the_rest_still_go(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    """The base IRI changed after the LRS took a batch whose cursor never moved: the LRS
    answers the batch 409 (it holds different statements under those ids). Sent one at a
    time, the new statement goes, the others are counted as refused, and nothing blocks."""
    learner = "+2348030000009"
    with Store.open(db_path, clock=clock) as store:
        say(twilio, store, learner, "START")
        first = expected_ids(store, learner)
        OutboxWorker(db_path, load_carriers(carriers), lrs=settings(ralph)).run(drain=True)
        assert held(ralph, first) == Counter({sid: 1 for sid in first})
        events.set_sync_value(store, lrs_store.CURSOR, "0")  # as if the worker had crashed
        say(twilio, store, learner, "NEXT")
        both = expected_ids(store, learner)
        moved = LrsSettings(ralph.endpoint, USERNAME, PASSWORD, "https://other.example.org")
        OutboxWorker(db_path, load_carriers(carriers), lrs=moved).run(drain=True)
        backlog = lrs_store.backlog(store)
    assert held(ralph, both) == Counter({sid: 1 for sid in both})
    assert backlog["events"] == 0 and backlog["refused"] == len(first)
    renamed = [s for s in ralph.statements() if s["id"] in set(both) - set(first)]
    assert renamed[0]["actor"]["account"]["homePage"] == "https://other.example.org"


def test_an_erasure_from_another_edge_voids_what_this_edge_sent(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    learner = "+2348030000010"
    with Store.open(db_path, clock=clock) as store:
        say(twilio, store, learner, "START")
        say(twilio, store, learner, "NEXT")
        sent = expected_ids(store, learner)
    drain(db_path, carriers, ralph)
    clock.now += 60
    with Store.open(db_path, clock=clock) as store:
        erasure = {"id": events.new_event_id(clock.now), "edge": "abuja-1", "learner": learner,
                   "kind": "erased", "at": clock.now, "data": {}}
        apply_remote_events(store, [erasure])  # as sync pulls it from the hub
        assert store.learner(learner) is None
    drain(db_path, carriers, ralph)
    voided = [s["object"]["id"] for s in ralph.statements()
              if s["verb"]["id"] == xapi.VERBS["voided"] and s["object"]["id"] in set(sent)]
    assert sorted(voided) == sorted(sent)


def test_a_learner_erased_while_a_batch_waits_for_the_lrs_answer_has_it_voided(
        db_path: Path, clock: SimulatedClock):
    """The batch went and its answer never came (the link broke): the LRS may hold it, so
    an erasure meanwhile voids it, and the learner's events are not sent again."""
    learner = "+2348030000011"
    with Store.open(db_path, clock=clock) as store:
        store.record_event(learner, "enrolled", {"course": COURSE, "restart": False})
        found, through = lrs_store.unsent(store, 100)
        [sid] = xapi.statement_ids(found[-1])
        lrs_store.sending(store, through)
        privacy.erase(store, learner)
        assert [v for v, _ in lrs_store.due_voids(store, 10)] == [sid]
        assert lrs_store.unsent(store, 100)[0] == []


def test_a_revoked_certificates_earned_statement_is_voided_or_never_sent(
        ralph: Ralph, twilio, db_path: Path, carriers: Path, clock: SimulatedClock):
    sent_then_revoked, revoked_first = "+2348030000005", "+2348030000006"
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, sent_then_revoked, clock=clock)
        sent = expected_ids(store, sent_then_revoked)
        [earned] = [sid for sid in sent if sid in earned_ids(store, sent_then_revoked)]
    drain(db_path, carriers, ralph)
    assert held(ralph, sent) == Counter({sid: 1 for sid in sent})

    with Store.open(db_path, clock=clock) as store:
        [first] = store.certificates_of(sent_then_revoked)
        take_course(twilio, store, revoked_first, clock=clock)
        [second] = store.certificates_of(revoked_first)
        [never] = earned_ids(store, revoked_first)
        others = [sid for sid in expected_ids(store, revoked_first) if sid != never]
    env = {"LEARNLINE_DB": str(db_path)}
    for certificate in (first, second):
        revoked = CliRunner().invoke(main, ["certificates", "revoke", certificate.code,
                                            "--reason", "Issued in error"], env=env)
        assert revoked.exit_code == 0, revoked.output
    drain(db_path, carriers, ralph)

    statements = ralph.statements()
    voiding = [s for s in statements if s["verb"]["id"] == xapi.VERBS["voided"]
               and s["object"]["id"] in set(sent) | {never}]
    # The earned statement the LRS had is voided, and only it: the course stays passed.
    assert [s["object"]["id"] for s in voiding] == [earned]
    assert ralph.problems(voiding) == []
    # The one not sent yet never goes; the learner's other statements do.
    assert never not in {s["id"] for s in statements}
    assert held(ralph, others) == Counter({sid: 1 for sid in others})
    with Store.open(db_path) as store:
        assert lrs_store.backlog(store)["voids"] == 0


def earned_ids(store: Store, phone: str) -> list[str]:
    """The ids of the earned statements of the learner's passed courses."""
    rows = store.db.execute(
        "SELECT id FROM events WHERE edge = ? AND learner = ? AND kind = 'course_completed' "
        "AND json_extract(data, '$.passed') = 1", [store.edge_id(), phone]).fetchall()
    return [xapi.statement_id(event_id, xapi.CERTIFICATE_PART) for (event_id,) in rows]


def test_a_certificate_revoked_while_its_earned_statement_is_on_its_way_is_voided(
        twilio, db_path: Path, clock: SimulatedClock):
    learner = "+2348030000007"
    with Store.open(db_path, clock=clock) as store:
        take_course(twilio, store, learner, clock=clock)
        [earned] = earned_ids(store, learner)
        # The worker made its batch while the certificate stood...
        found, through = lrs_store.unsent(store, 1000)
        mine = [e for e in found if e["learner"] == learner]
        assert lrs_store.certified(store, learner, COURSE)
        sent = {e["seq"]: xapi.statement_ids(e) for e in mine}
        assert earned in {sid for ids in sent.values() for sid in ids}
        # ...the certificate is revoked before the batch is marked as going...
        [certificate] = store.certificates_of(learner)
        store.revoke_certificate(certificate.code, "Issued in error")
        assert lrs_store.backlog(store)["voids"] == 0
        # ...and the LRS takes the batch: its earned statement is voided next.
        lrs_store.sending(store, through)
        lrs_store.mark_sent(store, through, sent)
        assert [sid for sid, _ in lrs_store.due_voids(store, 100)] == [earned]


@pytest.mark.parametrize("endpoint, warned", [
    ("http://lrs.example.org/xAPI/", True),
    ("http://10.0.0.5:8100/xAPI/", True),
    ("http://127.0.0.1:8100/xAPI/", False),  # an LRS on this machine
    ("http://localhost:8100/xAPI/", False),
    ("http://[::1]:8100/xAPI/", False),
    ("https://lrs.example.org/xAPI/", False),
])
def test_an_lrs_password_sent_in_clear_off_this_machine_is_warned_of(
        endpoint, warned, db_path: Path, carriers: Path, monkeypatch, caplog):
    env = {"LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers),
           "LEARNLINE_LRS_ENDPOINT": endpoint, "LEARNLINE_LRS_USERNAME": USERNAME,
           "LEARNLINE_LRS_PASSWORD": PASSWORD, "LEARNLINE_PUBLIC_URL": BASE}
    doctor = CliRunner().invoke(main, ["doctor"], env=env)
    clear = [line for line in doctor.output.splitlines()
             if line.startswith("WARN LRS:") and "http://" in line]
    assert len(clear) == int(warned), doctor.output
    if warned:
        assert "password" in clear[0] and "https://" in clear[0]
    assert PASSWORD not in doctor.output
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        OutboxWorker(db_path, load_carriers(carriers))  # as `learnline worker` starts
    said = [r.getMessage() for r in caplog.records if "http://" in r.getMessage()]
    assert len(said) == int(warned), said
    assert all(PASSWORD not in message for message in said)
