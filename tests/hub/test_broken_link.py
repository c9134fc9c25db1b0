"""A hub and two edges as real `learnline serve` processes, with a proxy between the edges
and the hub that is down at times, cuts connections mid-request and mid-answer, and
delays others. Learners learn on both edges and roam between them; at the end every
event is on the hub exactly once, both edges agree on each learner's progress, compliance
travelled, and the pack published on the hub is installed on both edges. Run against
each hub backend (tests/hub/conftest.py)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner

from gateway.cli.main import main
from gateway.ops import staff
from gateway.store import Store, questions
from gateway.sync import packs
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, carriers_toml
from tests.fakes.flaky_proxy import FlakyProxy
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi
from tests.ports import free_port
from tests.test_privacy import holding

ROOT = Path(__file__).resolve().parents[2]
L1, L2, L3, L4, L5 = (f"+23480311100{n:02d}" for n in range(1, 6))
LETTERS = "ABCD"
HUB_CARRIERS = """
[carriers.console]
adapter = "console"
sender = "Learnline"
"""


class Gateway:
    """One `learnline serve --no-worker` with its own database and environment."""

    def __init__(self, folder: Path, env: dict[str, str]):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.db = folder / "learnline.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LEARNLINE_DB": str(self.db), "LEARNLINE_ACCESS_LOG": "",
                    "LEARNLINE_METRICS_DIR": str(folder / "metrics"), **env}
        self.process: subprocess.Popen | None = None
        self.twilio: FakeTwilioApi | None = None  # the carrier API an edge sends through

    def learnline(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, cwd=self.folder)
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def sync_round(self) -> subprocess.CompletedProcess:
        """`learnline sync` with this edge's environment, run in this process (the test
        starts some 80 rounds; a process for each would be most of its time). The command
        is the real one: the same code, environment, database and hub link."""
        result = CliRunner().invoke(main, ["sync"], env=self.env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(["learnline", "sync"], result.exit_code,
                                           result.stdout, result.stderr)

    def start(self) -> Gateway:
        with (self.folder / "serve.log").open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--no-worker", "--port",
                 str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.folder)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return self
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise AssertionError((self.folder / "serve.log").read_text()) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)

    def sms(self, phone: str, text: str) -> None:
        params = {"MessageSid": f"SM{os.urandom(16).hex()}", "AccountSid": ACCOUNT_SID,
                  "From": phone, "To": "+15005550006", "Body": text, "NumMedia": "0"}
        path = "/carriers/twilio/sms"
        response = requests.post(self.url + path, data=urlencode(params), timeout=30,
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "X-Twilio-Signature": twilio_signature(
                                              AUTH_TOKEN, PUBLIC_URL + path, params)})
        assert response.status_code == 200, response.text

    def sync(self) -> bool:
        """One `learnline sync` round; whether it succeeded (the link may be down)."""
        return self.sync_round().returncode == 0

    def take_lesson(self, phone: str) -> None:
        """Go through the learner's current lesson by SMS, answering right."""
        with Store.open(self.db) as store:
            learner = store.learner(phone)
            course = store.course(learner.current_course)
            start = store.enrollment(phone, course.id).position
        for _ in range(40):
            with Store.open(self.db) as store:
                enrollment = store.enrollment(phone, course.id)
                lesson = store.lesson(course.id, course.lesson_ids[start], "en")
            if enrollment.position != start or (enrollment.completed
                                                and enrollment.quiz is None):
                return
            if enrollment.quiz is None or not enrollment.quiz.queue:
                self.sms(phone, "NEXT")
            else:
                self.sms(phone, LETTERS[lesson.questions[enrollment.quiz.queue[0]].answer])
        raise AssertionError(f"{phone} never finished the lesson on {self.folder.name}")

    def progress(self, phone: str) -> tuple:
        """What the learner's progress is here: place, results, answers, opt-out."""
        with Store.open(self.db) as store:
            learner = store.learner(phone)
            if learner is None:
                return ()
            enrollments = store.db.execute(
                "SELECT course_id, position, card, completed_at IS NOT NULL FROM enrollments "
                "WHERE phone = ? ORDER BY course_id", [phone]).fetchall()
            results = store.db.execute(
                "SELECT course_id, lesson_id, score, total FROM lesson_results "
                "WHERE phone = ? ORDER BY course_id, lesson_id", [phone]).fetchall()
            answers = store.db.execute("SELECT count(*) FROM answers WHERE phone = ?",
                                       [phone]).fetchone()[0]
        return (learner.stopped, enrollments, results, answers)

    def own_event_ids(self) -> set[str]:
        with sqlite3.connect(self.db) as conn:
            edge = conn.execute("SELECT value FROM settings WHERE name = 'edge_id'").fetchone()
            mine = os.environ.get("LEARNLINE_EDGE_ID") or self.env.get("LEARNLINE_EDGE_ID")
            edge_id = mine or (edge[0] if edge else "")
            return {row[0] for row in conn.execute("SELECT id FROM events WHERE edge = ?",
                                                   [edge_id])}


def hub_event_ids(hub_url: str) -> list[str]:
    """Every event id the hub holds (duplicates would show twice)."""
    if hub_url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(hub_url) as conn:
            return [row[0] for row in conn.execute("SELECT id FROM events")]
    with sqlite3.connect(hub_url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM events")]


def until_quiet(*edges: Gateway, rounds: int = 6) -> None:
    """Sync the edges in turn until a whole pass moves nothing new."""
    for _ in range(rounds):
        before = [edge.sync_round() for edge in edges]
        if all(done.returncode == 0 and "pushed 0 events" in done.stdout
               and "pulled 0" in done.stdout for done in before):
            return
    raise AssertionError([done.stdout + done.stderr for done in before])


@pytest.fixture
def network(tmp_path: Path, hub_url: str, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    key = packs.generate_key()
    public = base64.b64encode(packs.public_key_bytes(key)).decode()
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "carriers.toml").write_text(HUB_CARRIERS)
    hub = Gateway(tmp_path / "hub", {
        "LEARNLINE_ROLE": "hub", "LEARNLINE_HUB_DATABASE_URL": hub_url,
        "LEARNLINE_CARRIERS": str(tmp_path / "hub" / "carriers.toml"),
        "LEARNLINE_TRUSTED_PACK_KEYS": public}).start()
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as twilio, \
            FlakyProxy(hub.port, seed=9) as proxy:
        edges = []
        for name in ("edge-a", "edge-b"):
            token = hub.learnline("hub", "add-edge", name, "--country", "NG"
                                  ).stdout.strip().splitlines()[-1]
            folder = tmp_path / name
            folder.mkdir()
            (folder / "carriers.toml").write_text(carriers_toml(twilio.url).replace(
                "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\n"))
            edges.append(Gateway(folder, {
                "LEARNLINE_CARRIERS": str(folder / "carriers.toml"),
                "TEST_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "LEARNLINE_HUB_URL": proxy.url,
                "LEARNLINE_EDGE_ID": name, "LEARNLINE_EDGE_TOKEN": token,
                "LEARNLINE_TRUSTED_PACK_KEYS": public}).start())
            edges[-1].twilio = twilio
        try:
            yield hub, edges[0], edges[1], proxy, key
        finally:
            for gateway in (*edges, hub):
                gateway.stop()


def test_a_hub_and_two_edges_over_a_broken_link(network, hub_url, tmp_path):
    hub, a, b, proxy, key = network

    # Learners start on their own edge; the link is fine.
    for phone in (L1, L2, L3):
        a.sms(phone, "START")
        a.take_lesson(phone)
    for phone in (L4, L5):
        b.sms(phone, "START")
        b.take_lesson(phone)
    assert a.sync() and b.sync()

    # The link turns bad: half the connections cut mid-way, others delayed.
    proxy.cut_rate, proxy.max_delay = 0.5, 0.2
    # L1 travels to edge B, L4 to edge A: first contact, then a sync brings their history.
    b.sms(L1, "STATUS")
    a.sms(L4, "STATUS")
    for _ in range(12):
        a.sync()
        b.sync()
    assert b.progress(L1)[1:] == a.progress(L1)[1:]  # B knows where L1 stands
    b.take_lesson(L1)  # lesson 2 on edge B
    a.take_lesson(L4)

    # A new course pack is published while the link is bad.
    lessons = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons", lessons)
    pack_file = tmp_path / "course.llpack"
    pack_file.write_bytes(packs.build_pack(lessons, key, version=int(time.time())))
    hub.learnline("hub", "publish", str(pack_file))

    # The link goes down: learning goes on, syncs fail.
    proxy.up = False
    a.take_lesson(L2)
    b.take_lesson(L5)
    b.sms(L1, "STOP")  # L1 opts out on edge B
    assert not a.sync() and not b.sync()

    # Up again, still flaky; then an erasure on edge A of L4 (who also learned on B).
    proxy.up = True
    for _ in range(10):
        a.sync()
        b.sync()
    a.learnline("learners", "erase", L4, "--yes")
    proxy.cut_rate = 0.3
    for _ in range(10):
        a.sync()
        b.sync()

    # Healthy link: both edges converge.
    proxy.cut_rate, proxy.max_delay = 0.0, 0.0
    until_quiet(a, b)
    assert proxy.cuts > 5 and proxy.refused > 0  # the link really was broken

    # Every event is on the hub exactly once.
    on_hub = hub_event_ids(hub_url)
    assert len(on_hub) == len(set(on_hub))
    assert set(on_hub) == a.own_event_ids() | b.own_event_ids()

    # Both edges agree on every learner they both know; compliance travelled.
    for phone in (L1, L2, L3, L5):
        if a.progress(phone) and b.progress(phone):
            assert a.progress(phone) == b.progress(phone), phone
    assert a.progress(L1)[0] is True and b.progress(L1)[0] is True  # opted out on B
    assert a.progress(L1)[2] == b.progress(L1)[2] and len(a.progress(L1)[2]) == 2
    for edge in (a, b):
        assert edge.progress(L4) == ()  # erased on A, and so on B
        assert holding(edge.db, L4) == [], edge.folder.name  # the number is nowhere

    # The pack published on the hub is installed on both edges.
    published = packs.read_pack(pack_file.read_bytes()).digest
    for edge in (a, b):
        with Store.open(edge.db) as store:
            assert packs.installed_pack(store)[1] == published


def test_a_question_asked_on_an_edge_is_answered_on_the_hub_and_delivered_once(
        network, hub_url):
    """The Done-when of asking a tutor across edges: asked by SMS on edge A, answered by a
    tutor on the hub, the link cut mid-pull and resumed, the learner gets the answer once
    through `learnline worker --drain` to the carrier's API."""
    hub, a, b, proxy, _key = network
    a.sms(L1, "START")
    a.sms(L1, "ASK How much should I charge for a logo?")
    assert a.sync()

    # A tutor signed in on the hub (its served process) sees it in the hub's own inbox,
    # and answers.
    assert "  hub: edges sync at " in (hub.folder / "serve.log").read_text()
    with Store.open(hub.db) as inbox:
        [copy] = questions.open_questions(inbox)
        assert (copy.edge, copy.phone, copy.text) == (
            "edge-a", L1, "How much should I charge for a logo?")
        staff.add_account(inbox, "ama", "Ama Mensah", "tutor", "tutor pass phrase 42")
    tutor = requests.Session()

    def form_token(path: str) -> str:
        page = tutor.get(hub.url + path, timeout=30).text
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    signed = tutor.post(hub.url + "/admin/signin", timeout=30, allow_redirects=False, data={
        "csrf": form_token("/admin/signin"), "username": "ama",
        "password": "tutor pass phrase 42"})
    assert signed.status_code == 303, signed.text
    page = f"/admin/inbox/{copy.id}"
    assert "How much should I charge for a logo?" in tutor.get(hub.url + "/admin/inbox",
                                                                timeout=30).text
    written = "Start near what local designers ask, then raise it with each client."
    sent = tutor.post(hub.url + page + "/answer", timeout=30, allow_redirects=False, data={
        "csrf": form_token(page), "answer": written, "send": "yes"})
    assert sent.status_code == 303, sent.text
    answer = "Your tutor answers: " + written

    # The link breaks mid-pull: every answer from the hub is cut after 120 bytes.
    proxy.cut_rate, proxy.cut_direction, proxy.cut_after = 1.0, "down", 120
    cuts = proxy.cuts
    for _ in range(3):
        assert not a.sync()
    assert proxy.cuts >= cuts + 3
    with Store.open(a.db) as store:
        assert questions.of_learner(store, L1)[0].status == "open"
        assert answer not in [m.body for m in store.outbox(L1)]

    # Then flaky; then healthy: the answer arrives, and pulling again sends nothing more.
    proxy.cut_rate, proxy.cut_direction, proxy.cut_after, proxy.max_delay = \
        0.5, None, None, 0.2
    for _ in range(6):
        a.sync()
    proxy.cut_rate, proxy.max_delay = 0.0, 0.0
    assert a.sync()
    with sqlite3.connect(a.db) as conn:  # the same pages, pulled once more
        conn.execute("UPDATE sync_state SET value = '0' WHERE name = 'pull_cursor'")
    assert a.sync() and a.sync()
    drained = a.learnline("worker", "--drain")
    a.learnline("worker", "--drain")
    assert a.twilio.messages, (drained.stdout, drained.stderr)
    assert a.twilio.bodies_to(L1).count(answer) == 1
    with Store.open(a.db) as store:
        [asked] = questions.of_learner(store, L1)
        assert (asked.status, asked.answer) == ("answered", written)
    # Nothing of the question or its answer reached the other edge.
    b.sync()
    with sqlite3.connect(b.db) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE kind LIKE 'question%'"
                            ).fetchone()[0] == 0
