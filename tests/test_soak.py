"""Crash soak: thousands of inbound messages through `learnline serve` (four gunicorn
workers) and `learnline worker`, while both are SIGKILLed at random and come back.

At the end: every inbound message is stored exactly once and processed; every learner's
replies and progress are what a crash-free run gives (the same messages replayed, in the
order the gateway committed them, on a fresh database); every reply was sent at least
once; duplicates only where a killed worker's send had been accepted (at most one per
kill); nothing reached a learner after they opted out but what may (the confirmation).

Size: `LEARNLINE_SOAK_MESSAGES` (default 3,000, what CI runs; `-m soak` selects this
test alone). It prints its figures.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests

from gateway.channels.sms.conversation import receive_inbound
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks
from tests.fakes.signing import twilio_signature
from tests.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.soak]

MESSAGES = int(os.environ.get("LEARNLINE_SOAK_MESSAGES", "3000"))
WEB_WORKERS = 4
LEASE_SECONDS = 2.0
SCRIPT = ["START", "NEXT", "NEXT", "NEXT", "A", "B", "STATUS", "C", "NEXT", "HELP"]
STOPPER = ["START", "NEXT", "STOP", "NEXT", "HELP", "NEXT"]


def _learners(count: int) -> list[str]:
    # Spread over many blocks of numbers, so the block limit never throttles the soak.
    return [f"+234803{(k * 7919) % 10**7:07d}" for k in range(count)]


def _plan(messages: int) -> dict[str, list[str]]:
    rng = random.Random(7)
    plan = {}
    for phone in _learners(max(1, messages // len(SCRIPT))):
        plan[phone] = list(STOPPER) if rng.random() < 0.1 else list(SCRIPT)
    return plan


class Soak:
    """The served gateway, the outbox worker and what happened to them."""

    def __init__(self, tmp_path: Path, carriers_file: Path):
        self.port = free_port()
        self.db = tmp_path / "soak.db"
        self.env = {**os.environ, "LEARNLINE_DB": str(self.db),
                    "LEARNLINE_CARRIERS": str(carriers_file), "LEARNLINE_ACCESS_LOG": ""}
        self.log = (tmp_path / "soak.log").open("w")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
             "--no-worker", "--no-simulator", "--workers", str(WEB_WORKERS)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp_path)
        self.worker: subprocess.Popen | None = None
        self.web_kills = self.worker_kills = self.retries = 0
        self.failed_answers: Counter[int] = Counter()
        self._stop = threading.Event()
        deadline = time.time() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                break
            except requests.RequestException:
                assert self.server.poll() is None, (tmp_path / "soak.log").read_text()
                assert time.time() < deadline
                time.sleep(0.1)
        self.start_worker()

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker", "--lease-seconds",
             str(LEASE_SECONDS)], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def web_pids(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.server.pid)], capture_output=True,
                               text=True).stdout.split()
        return [int(pid) for pid in found]

    def kill_at_random(self) -> None:
        rng = random.Random(11)
        while not self._stop.wait(rng.uniform(0.2, 0.7)):
            if rng.random() < 0.6:
                pids = self.web_pids()
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        self.web_kills += 1
                    except ProcessLookupError:
                        pass
            else:
                assert self.worker is not None
                self.worker.kill()
                self.worker.wait()
                self.worker_kills += 1
                self.start_worker()

    def send(self, session: requests.Session, phone: str, text: str, sid: str) -> None:
        """Deliver one message like a carrier: again, with the same id, until it gets 200."""
        params = TwilioWebhooks(None).inbound_params(phone, text, sid)
        path = "/carriers/twilio/sms"
        headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path,
                                                          params)}
        for _ in range(200):
            try:
                answer = session.post(f"http://127.0.0.1:{self.port}{path}", data=params,
                                      headers=headers, timeout=10)
                if answer.status_code == 200:
                    return
                self.failed_answers[answer.status_code] += 1
            except requests.RequestException:
                self.failed_answers[0] += 1
            self.retries += 1
            time.sleep(0.05)
        raise AssertionError(f"message {sid} never acknowledged")

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(30)
        self.server.terminate()
        self.server.wait(30)
        self.log.close()


def _drain(soak: Soak) -> None:
    """After the kills: let dead workers' leases run out, then send everything left."""
    with Store.open(soak.db) as store:
        for _ in range(30):
            time.sleep(LEASE_SECONDS + 0.5)
            result = subprocess.run([sys.executable, "-m", "gateway.cli", "worker", "--drain",
                                     "--lease-seconds", str(LEASE_SECONDS)], env=soak.env,
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr
            if not sum(store.outbox_depth().values()):
                return
    raise AssertionError("the outbox never emptied")


def test_crash_soak(tmp_path: Path, carriers_file: Path, twilio_api, capsys):
    plan = _plan(MESSAGES)
    pushed = sum(len(texts) for texts in plan.values())
    soak = Soak(tmp_path, carriers_file)
    sids = {}
    try:
        killer = threading.Thread(target=soak.kill_at_random)
        killer.start()
        queue = [(k, phone, texts) for k, (phone, texts) in enumerate(plan.items())]
        lock = threading.Lock()

        def learner_threads() -> None:
            session = requests.Session()
            while True:
                with lock:
                    if not queue:
                        return
                    k, phone, texts = queue.pop()
                for n, text in enumerate(texts):  # one learner's messages in order
                    sid = f"SM{k:028d}{n:04d}"
                    sids[(phone, n)] = sid
                    soak.send(session, phone, text, sid)

        started = time.monotonic()
        senders = [threading.Thread(target=learner_threads) for _ in range(12)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        pushing = time.monotonic() - started
        soak._stop.set()
        killer.join()
        _drain(soak)
    finally:
        soak.stop()

    with Store.open(soak.db) as store:
        rows = list(store.db.query("SELECT id, carrier_message_id, phone, text, status, error "
                                   "FROM inbound ORDER BY id"))
        outbox = list(store.db.query("SELECT id, phone, body, status, to_stopped_ok "
                                     "FROM outbox ORDER BY id"))
        stops = {row["phone"]: row["processed_at"] for row in store.db.query(
            "SELECT phone, processed_at FROM inbound WHERE text = 'STOP'")}
        enrollments = {row["phone"]: (row["position"], row["card"], row["quiz"])
                       for row in store.db.query("SELECT * FROM enrollments")}

    # Every message stored exactly once, and processed.
    assert len(rows) == pushed
    assert {row["carrier_message_id"] for row in rows} == set(sids.values())
    assert {(row["status"], row["error"]) for row in rows} == {("processed", None)}

    # Each learner's state and replies are those of a crash-free run of the same messages.
    replay_db = tmp_path / "replay.db"
    with Store.open(replay_db, migrate=True) as replay:
        import_courses(replay)
        carrier = load_carriers(carriers_file)["twilio"]
        for row in rows:
            receive_inbound(replay, carrier, row["carrier_message_id"], row["phone"],
                            row["text"])
        replayed = defaultdict(list)
        for message in replay.outbox():
            replayed[message.phone].append(message.body)
        replay_enrollments = {row["phone"]: (row["position"], row["card"], row["quiz"])
                              for row in replay.db.query("SELECT * FROM enrollments")}
    queued = defaultdict(list)
    for message in outbox:
        queued[message["phone"]].append(message["body"])
    assert queued == replayed
    assert enrollments == replay_enrollments

    # Every reply sent at least once (or cancelled: its learner opted out before it went).
    assert {m["status"] for m in outbox} <= {"sent", "cancelled"}
    assert all(m["phone"] in stops for m in outbox if m["status"] == "cancelled")
    sent = Counter((m["phone"], m["body"]) for m in outbox if m["status"] == "sent")
    at_carrier = Counter((m["To"], m["Body"]) for m in twilio_api.messages)
    assert not sent - at_carrier, "a reply marked sent never reached the carrier"
    duplicates = sum((at_carrier - sent).values())
    # A duplicate needs a worker killed after the carrier accepted and before the commit.
    assert duplicates <= soak.worker_kills

    # Nothing reached an opted-out learner after the opt-out committed, but what may.
    may_reach = {m["body"] for m in outbox if m["to_stopped_ok"]}
    late = [m for m in twilio_api.messages if m["To"] in stops
            and m["accepted_at"] > stops[m["To"]] + 0.5 and m["Body"] not in may_reach]
    assert late == []

    with capsys.disabled():
        print(f"\nsoak: {pushed} messages from {len(plan)} learners in {pushing:.1f} s; "
              f"web workers killed {soak.web_kills}, outbox worker killed "
              f"{soak.worker_kills}; carrier retries {soak.retries} "
              f"({dict(soak.failed_answers)} by status, 0 = no answer); messages lost 0; "
              f"replies {len(outbox)} ({sum(sent.values())} sent, "
              f"{sum(m['status'] == 'cancelled' for m in outbox)} cancelled after opt-out); "
              f"duplicates at the carrier {duplicates} (a worker killed between the "
              f"carrier's acceptance and its commit)")
    assert soak.web_kills > 0 and soak.worker_kills > 0
    # Under 4 web workers and the outbox worker on one file, a carrier only ever saw a
    # dropped connection (a killed worker), never an error: no "database is locked".
    assert set(soak.failed_answers) <= {0}
    assert "database is locked" not in (tmp_path / "soak.log").read_text()
