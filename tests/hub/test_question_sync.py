"""Learners' questions between edges and the hub (docs/sync.md, Questions): a question
asked on an edge reaches the hub's inbox, a tutor's answer on the hub is queued once on
the edge that asked, an edge cannot settle another edge's question, erasure reaches the
hub's copies, and retention blanks question texts. A real hub app on loopback, real
edge databases and the real sync client; every test on each hub backend."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main
from gateway.config import Carriers, load_carriers
from gateway.content.importer import import_courses
from gateway.hub import routes as hub_routes
from gateway.hub.confine import Region
from gateway.hub.questions import relay_answer
from gateway.outbox.answers import answer_carrier, queue_answer
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store, events, privacy, questions
from gateway.store.schema import migrations
from gateway.sync.client import EdgeLink, sync_once
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml
from tests.hub.test_sync_protocol import Hub

L1, L2 = "+2348031110001", "+2348031110002"


@dataclass
class EdgeSide:
    """One edge: its database, a store on it, its SMS webhooks and its link to the hub."""

    name: str
    store: Store
    twilio: TwilioWebhooks
    link: EdgeLink
    carriers: Carriers

    def ask(self, phone: str, text: str) -> questions.QuestionRecord:
        assert self.twilio.sms(phone, "START").status_code == 200
        assert self.twilio.sms(phone, f"ASK {text}").status_code == 200
        return questions.of_learner(self.store, phone)[-1]

    def sync(self):
        return sync_once(self.store, self.link, trusted_keys=[], carriers=self.carriers)

    def sent_to(self, phone: str) -> list[str]:
        return [m.body for m in self.store.outbox(phone)]


@dataclass
class World:
    hub: Hub
    inbox: Store  # the hub gateway's own database: what tutors on the hub see
    a: EdgeSide
    b: EdgeSide

    def copy(self, uid: str) -> questions.QuestionRecord | None:
        return questions.by_uid(self.inbox, uid)


@pytest.fixture
def world(tmp_path: Path, hub_url: str, twilio_api, monkeypatch) -> Iterator[World]:
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    carriers_path = tmp_path / "carriers.toml"
    carriers_path.write_text(carriers_toml(twilio_api.url))
    hub = Hub(tmp_path, hub_url)
    sides = []
    for name in ("edge-a", "edge-b"):
        path = tmp_path / f"{name}.db"
        with Store.open(path, migrate=True) as fresh:
            import_courses(fresh)
            with fresh.write():
                fresh.db.execute("INSERT INTO settings (name, value) VALUES ('edge_id', ?)",
                                 [name])
        with hub.store() as store:
            token = store.add_edge(name, region=Region.parse(["NG"]))
        app = create_app({"DATABASE": str(path), "CARRIERS_FILE": str(carriers_path),
                          "TESTING": True})
        sides.append(EdgeSide(name, Store.open(path), TwilioWebhooks(app.test_client()),
                              EdgeLink(hub.url, name, token), load_carriers(carriers_path)))
    inbox = Store.open(tmp_path / "hub-gateway.db")
    try:
        yield World(hub, inbox, *sides)
    finally:
        inbox.close()
        for side in sides:
            side.store.close()
        hub.server.shutdown()
        hub.server.server_close()
        hub_routes.close_pool(hub.app)


def test_a_question_asked_on_an_edge_reaches_the_hubs_inbox_with_its_context(world: World):
    asked = world.a.ask(L1, "How do I set a price for my first job?")
    assert asked.uid and asked.edge == "" and asked.locale == "en"
    assert world.copy(asked.uid) is None
    world.a.sync()
    copy = world.copy(asked.uid)
    assert copy is not None
    assert (copy.edge, copy.phone, copy.channel, copy.text, copy.status) == (
        "edge-a", L1, "sms", "How do I set a price for my first job?", "open")
    assert (copy.course_id, copy.lesson_id, copy.card, copy.locale) == (
        asked.course_id, asked.lesson_id, asked.card, "en")
    assert copy.asked_at == pytest.approx(asked.asked_at)
    assert [q.uid for q in questions.open_questions(world.inbox)] == [asked.uid]
    # Another round copies nothing twice.
    world.a.sync()
    assert len(questions.open_questions(world.inbox)) == 1


def test_a_long_question_travels_within_the_hubs_limit_and_stays_whole_here(world: World):
    long = "Pourquoi " + "\U0001F914" * 990  # 4 bytes each in UTF-8
    asked = world.a.ask(L1, long)
    assert asked.text == long[:1000]
    report = world.a.sync()
    assert report.rejected == 0
    copy = world.copy(asked.uid)
    assert copy is not None and 900 < len(copy.text) < len(asked.text)
    assert asked.text.startswith(copy.text)


def test_an_answer_on_the_hub_is_queued_once_on_the_edge_that_asked(world: World, caplog):
    caplog.set_level(logging.DEBUG)
    asked = world.a.ask(L1, "How do I find clients?")
    world.a.sync()
    before = world.a.sent_to(L1)
    answer = "Start with people who already know your work. Tutor Amina"
    with world.hub.store() as hub:
        assert relay_answer(hub, world.inbox, world.copy(asked.uid).id, answer, by=None)
        # Answering the copy again sends nothing more.
        assert not relay_answer(hub, world.inbox, world.copy(asked.uid).id, "again", None)
    assert world.copy(asked.uid).status == "answered"
    assert world.copy(asked.uid).answer == answer

    report = world.a.sync()
    assert report.answers == 1
    here = questions.by_uid(world.a.store, asked.uid)
    assert (here.status, here.answer) == ("answered", answer)
    assert world.a.sent_to(L1)[len(before):] == [answer]

    # The same pages pulled again (a cursor rewound) change nothing and send nothing.
    with world.a.store.write():
        events.set_sync_value(world.a.store, "pull_cursor", "0")
    assert world.a.sync().answers == 0
    assert world.a.sent_to(L1)[len(before):] == [answer]
    # Nothing of it reached the other edge.
    world.b.sync()
    assert world.b.store.db.execute(
        "SELECT count(*) FROM events WHERE kind LIKE 'question%'").fetchone()[0] == 0
    # Logged on every side, never in full: no text, no whole number.
    assert "relayed to edge edge-a" in caplog.text
    for secret in ("find clients", "already know your work", L1):
        assert secret not in caplog.text


def test_an_answer_given_on_the_edge_first_wins_and_the_hubs_copy_closes(world: World):
    first = world.a.ask(L1, "What is a portfolio?")
    second = world.a.ask(L1, "And a client brief?")
    world.a.sync()
    with world.hub.store() as hub:
        # The hub answers the first while the edge's own tutor answers it too.
        assert relay_answer(hub, world.inbox, world.copy(first.uid).id, "From the hub", None)
    before = world.a.sent_to(L1)
    with world.a.store.write():
        assert questions.mark_answered(world.a.store, first.id, "From the edge", by=None)
        carrier = answer_carrier(world.a.carriers, first, world.a.store.learner(L1))
        queue_answer(world.a.store, carrier, L1, "From the edge")
        assert questions.mark_closed(world.a.store, second.id, by=None)
    world.a.sync()
    assert world.a.sent_to(L1)[len(before):] == ["From the edge"]
    assert questions.by_uid(world.a.store, first.uid).answer == "From the edge"
    # The edge's close reached the hub: its copy is no longer open, and a tutor there
    # answering it now sends nothing.
    assert world.copy(second.uid).status == "closed"
    with world.hub.store() as hub:
        assert not relay_answer(hub, world.inbox, world.copy(second.uid).id, "Late", None)
    world.a.sync()
    assert world.a.sent_to(L1)[len(before):] == ["From the edge"]


def test_an_edge_cannot_answer_close_or_take_another_edges_question(world: World):
    asked = world.a.ask(L1, "Is my price too low?")
    world.a.sync()
    # Edge B, trusted for the same country, forges events about A's question.
    world.b.twilio.sms(L1, "START")
    with world.b.store.write():
        for kind in ("question_closed", "question_answered"):
            events.record(world.b.store, L1, kind, {"uid": asked.uid, "at": 1.0,
                                                    "text": "Forged answer"})
        events.record(world.b.store, L1, "question_asked", {
            "uid": asked.uid, "channel": "sms", "text": "Forged question"})
        events.record(world.b.store, L1, "question_asked", {
            "uid": asked.uid, "channel": "sms", "text": "Forged again"}, event_id=asked.uid)
    assert world.b.sync().rejected == 0
    copy = world.copy(asked.uid)
    assert (copy.edge, copy.status, copy.text) == ("edge-a", "open", "Is my price too low?")
    assert len(questions.open_questions(world.inbox)) == 1

    before = world.a.sent_to(L1)
    world.a.sync()
    assert questions.by_uid(world.a.store, asked.uid).status == "open"
    assert world.a.sent_to(L1) == before
    assert world.a.store.db.execute(
        "SELECT count(*) FROM events WHERE edge = 'edge-b' AND kind LIKE 'question%'"
    ).fetchone()[0] == 0
    # Nor does B read A's question (its text stays between A and the hub).
    assert world.b.store.db.execute(
        "SELECT count(*) FROM events WHERE edge = 'edge-a' AND kind LIKE 'question%'"
    ).fetchone()[0] == 0


def test_erasing_a_learner_removes_the_hubs_copies_of_their_questions(world: World,
                                                                      hub_url: str):
    kept = world.a.ask(L2, "Where do I start?")
    erased = world.a.ask(L1, "My name is Ada, what next?")
    world.a.sync()
    assert world.copy(erased.uid) is not None
    privacy.erase(world.a.store, L1)
    world.a.sync()
    assert world.copy(erased.uid) is None
    assert world.copy(kept.uid) is not None
    assert world.inbox.db.execute("SELECT count(*) FROM questions WHERE phone = ?",
                                  [L1]).fetchone()[0] == 0
    # An erasure issued on the hub (`learnline hub erase`) does the same, at once.
    done = CliRunner().invoke(main, ["hub", "erase", L2, "--yes"], env={
        "LEARNLINE_DB": world.inbox.path, "LEARNLINE_HUB_DATABASE_URL": hub_url})
    assert done.exit_code == 0, done.output
    assert world.copy(kept.uid) is None


def test_a_learner_outside_the_edges_region_is_answered_and_erased_on_the_hub_too(
        world: World, hub_url: str):
    outsider = "+221771234567"  # Senegal: edge A is trusted for Nigeria only
    asked = world.a.ask(outsider, "Can I ask from Dakar?")
    world.a.sync()
    with world.hub.store() as hub:
        assert relay_answer(hub, world.inbox, world.copy(asked.uid).id, "Yes you can.", None)
    world.a.sync()
    assert questions.by_uid(world.a.store, asked.uid).status == "answered"
    assert "Yes you can." in world.a.sent_to(outsider)
    privacy.erase(world.a.store, outsider)
    world.a.sync()
    assert world.copy(asked.uid) is None
    assert outsider not in _hub_everything(hub_url)
    assert "Yes you can." not in _hub_everything(hub_url)


def test_retention_blanks_settled_questions_texts_on_the_edge_and_the_hub(world: World,
                                                                          hub_url: str):
    asked = world.a.ask(L1, "A question kept too long")
    waiting = world.a.ask(L2, "Still waiting for a tutor")
    world.a.sync()
    with world.hub.store() as hub:
        relay_answer(hub, world.inbox, world.copy(asked.uid).id, "An answer kept too long",
                     None)
    world.a.sync()
    later = world.a.store.clock() + 1
    privacy.forget_bodies(world.a.store, later)
    privacy.forget_bodies(world.inbox, later)
    for store in (world.a.store, world.inbox):
        answered = questions.by_uid(store, asked.uid)
        assert (answered.text, answered.answer) == ("", "")
        assert questions.by_uid(store, waiting.uid).text == "Still waiting for a tutor"
    texts = [json.loads(row[0]).get("text") for row in world.a.store.db.execute(
        "SELECT data FROM events WHERE kind LIKE 'question%'")]
    assert texts and "A question kept too long" not in texts
    assert "An answer kept too long" not in texts
    with world.hub.store() as hub:
        assert hub.forget_question_texts(later) >= 2
        assert hub.forget_question_texts(later) == 0
    assert "kept too long" not in _hub_everything(hub_url)


def test_the_worker_on_a_hub_blanks_old_question_texts_in_the_hubs_store(
        world: World, hub_url: str, tmp_path: Path, monkeypatch):
    world.a.ask(L1, "An old question on the hub")
    world.a.sync()
    monkeypatch.setenv("LEARNLINE_ROLE", "hub")
    monkeypatch.setenv("LEARNLINE_HUB_DATABASE_URL", hub_url)
    path = tmp_path / "hub-gateway.db"
    worker = OutboxWorker(path, world.a.carriers, retention_days=1)
    with Store.open(path, clock=lambda: time.time() + 2 * 86400) as later:
        assert worker.apply_retention(later, force=True) >= 1
    assert "An old question on the hub" not in _hub_dump(world)
    # The copy, still open, keeps its text for the tutors.
    assert questions.open_questions(world.inbox)[0].text == "An old question on the hub"


def _hub_dump(world: World) -> str:
    with world.hub.store() as hub:
        page = hub.question_events(0, 1000)
    return json.dumps(page.events)


def _hub_everything(hub_url: str) -> str:
    """Every event the hub's store holds, every column, as one text."""
    query = "SELECT id, edge, learner, kind, data FROM events ORDER BY seq"
    if hub_url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(hub_url) as conn:
            return json.dumps([list(row) for row in conn.execute(query)], ensure_ascii=False)
    with sqlite3.connect(hub_url) as conn:
        return json.dumps([list(row) for row in conn.execute(query)], ensure_ascii=False)


def test_questions_asked_before_the_upgrade_get_a_uid_each_and_stay_here(tmp_path: Path):
    path = tmp_path / "old.db"
    with Store.open(path) as old:
        migrations.apply(old.db, stop_before="m028_question_sync")
        with old.write():
            for n in range(3):
                old.db.execute("INSERT INTO questions (phone, channel, text, asked_at) "
                               "VALUES (?, 'sms', ?, ?)", [L1, f"question {n}", 1000.0 + n])
    with Store.open(path, migrate=True) as store:
        kept = questions.of_learner(store, L1)
        assert [q.text for q in kept] == ["question 0", "question 1", "question 2"]
        assert all(q.edge == "" and re.fullmatch(r"[0-9a-f]{32}", q.uid) for q in kept)
        assert len({q.uid for q in kept}) == 3
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE questions SET uid = ? WHERE id = ?", [kept[0].uid,
                                                                          kept[1].id])


def test_a_tutor_answers_an_edges_question_from_the_hubs_inbox(world: World):
    """Through the pages: the hub's inbox lists the edge's question, prices the answer
    as SMS under a carrier's defaults (the edge sends it), relays it, and the edge that
    asked sends it once; the hub's own outbox stays empty."""
    from gateway.ops import staff
    from tests.conftest import csrf

    asked = world.a.ask(L1, "How much should a logo cost?")
    world.a.sync()
    staff.add_account(world.inbox, "amina", "Amina Diallo", "tutor", "tutor pass phrase 42")
    tutor = world.hub.app.test_client()
    signed = tutor.post("/admin/signin", data={
        "csrf": csrf(tutor, "/admin/signin"), "username": "amina",
        "password": "tutor pass phrase 42"})
    assert signed.status_code == 303
    copy = world.copy(asked.uid)
    listed = tutor.get("/admin/inbox").text
    assert "How much should a logo cost?" in listed
    assert "SMS on edge edge-a; +23480******01, English (en)" in listed

    page = f"/admin/inbox/{copy.id}"
    token = csrf(tutor, page)
    answer = "Ask what similar logos sell for near you, then add your hours."
    previewed = tutor.post(f"{page}/answer", data={"csrf": token, "answer": answer})
    assert previewed.status_code == 200
    assert "Your tutor answers: " + answer in previewed.text
    assert "on edge edge-a" in previewed.text

    sent = tutor.post(f"{page}/answer", data={"csrf": token, "answer": answer,
                                               "send": "yes"})
    assert sent.status_code == 303, sent.text
    assert world.copy(asked.uid).status == "answered"
    assert world.inbox.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    again = tutor.post(f"{page}/answer", data={"csrf": token, "answer": answer,
                                                "send": "yes"})
    assert again.status_code == 409

    before = world.a.sent_to(L1)
    assert world.a.sync().answers == 1
    assert world.a.sent_to(L1)[len(before):] == ["Your tutor answers: " + answer]
    assert world.a.sync().answers == 0
    # Both sides keep the tutor's words as the answer (the learner's /ask shows them).
    assert world.copy(asked.uid).answer == answer
    assert questions.by_uid(world.a.store, asked.uid).answer == answer

    # A question closed on the hub without an answer closes on the edge that asked.
    second = world.a.ask(L1, "Is this course free?")
    world.a.sync()
    page = f"/admin/inbox/{world.copy(second.uid).id}"
    closed = tutor.post(f"{page}/close", data={"csrf": csrf(tutor, page)})
    assert closed.status_code == 303, closed.text
    assert world.copy(second.uid).status == "closed"
    assert questions.by_uid(world.a.store, second.uid).status == "open"

    def status() -> str:
        world.a.twilio.sms(L1, "STATUS")
        return world.a.sent_to(L1)[-1]

    assert "1 question waits for a tutor" in status()
    sent_before = world.a.sent_to(L1)
    world.a.sync()
    assert questions.by_uid(world.a.store, second.uid).status == "closed"
    assert world.a.sent_to(L1) == sent_before
    assert "waits for a tutor" not in status()
