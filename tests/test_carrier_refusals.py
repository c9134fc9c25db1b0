"""What an operator sees when a carrier refuses to send: a carrier that refuses the
gateway's credentials shows on /readyz, in `learnline doctor` and in /metrics, and the lag
alert counts the age of the oldest message waiting, however often it was retried."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import load_carriers
from gateway.outbox.worker import REFUSED_PROBE_SECONDS, OutboxWorker, RetryPolicy
from gateway.store import LearnerRecord, Store
from tests.conftest import AUTH_TOKEN
from tests.fakes.clock import SimulatedClock
from tests.fakes.twilio_api import FakeTwilioApi

PHONE = "+2348030000000"


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def _queue(store: Store, body: str) -> int:
    with store.write():
        if store.learner(PHONE) is None:
            store.save_learner(LearnerRecord(phone=PHONE, locale="en", carrier_id="twilio"))
        return store.enqueue("twilio", PHONE, body)


def _doctor(db_path: Path, carriers_file: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "doctor"],
                          env={**os.environ, "LEARNLINE_DB": str(db_path),
                               "LEARNLINE_CARRIERS": str(carriers_file),
                               "TEST_TWILIO_AUTH_TOKEN": AUTH_TOKEN},
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_a_carrier_refusing_the_credentials_shows_on_readyz_doctor_and_metrics(
        client, db_path: Path, store: Store, carriers_file: Path, twilio_api: FakeTwilioApi):
    carriers = load_carriers(carriers_file)
    _queue(store, "hello")
    twilio_api.fail_next(401, 20003, "Authenticate")
    OutboxWorker(db_path, carriers).run(drain=True, poll_seconds=0.01)
    assert store.outbox()[0].status == "queued"  # it is retried later

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text  # inbound messages are still answered
    [line] = [line for line in ready.text.splitlines() if line.startswith("carrier twilio")]
    assert line.startswith("carrier twilio: DEGRADED: its API refuses the gateway's "
                           "credentials (HTTP 401 code 20003: "), line
    assert _metric(client.get("/metrics").text, "learnline_carrier_credentials_refused",
                   carrier="twilio") == 1
    report = _doctor(db_path, carriers_file)
    assert ("FAIL carrier twilio: its API refused the gateway's credentials when sending "
            in report), report

    # Put right: the next send goes through, and every sign clears.
    with store.write():
        store.db.execute("UPDATE outbox SET due_at = 0")
    OutboxWorker(db_path, carriers).run(drain=True, poll_seconds=0.01)
    assert store.outbox()[0].status == "sent"
    ready = client.get("/readyz")
    assert "DEGRADED" not in ready.text and "carrier twilio" not in ready.text
    assert _metric(client.get("/metrics").text, "learnline_carrier_credentials_refused",
                   carrier="twilio") == 0
    assert "refused" not in _doctor(db_path, carriers_file)


def test_the_lag_is_the_age_of_the_oldest_message_waiting_however_often_retried(
        client, db_path: Path, store: Store, carriers_file: Path, twilio_api: FakeTwilioApi):
    four_minutes_ago = SimulatedClock(time.time() - 240)
    with Store.open(db_path, clock=four_minutes_ago) as then:
        _queue(then, "hello")
    twilio_api.fail_next(503, 20503, "Service unavailable", times=5)
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
    message = store.outbox()[0]
    assert message.status == "queued" and message.attempts == 1  # due again in a few s
    lag = _metric(client.get("/metrics").text, "learnline_worker_lag_seconds")
    assert 240 <= lag < 300, lag


def test_a_refusal_by_a_carrier_no_longer_configured_is_forgotten(
        client, db_path: Path, store: Store, carriers_file: Path):
    store.record_refusal("retired", "HTTP 401: bad key")
    assert "carrier retired: DEGRADED" in client.get("/readyz").text
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)
    assert "carrier retired" not in client.get("/readyz").text


def test_refused_credentials_pause_the_carrier_and_keep_its_messages(
        db_path: Path, store: Store, carriers_file: Path, twilio_api: FakeTwilioApi,
        caplog: pytest.LogCaptureFixture):
    """A revoked key: one request finds it out, one error says so, every message waits
    (however often it is tried), and all go once the key is put right."""
    carriers = load_carriers(carriers_file)
    for n in range(30):
        _queue(store, f"lesson {n}")
    twilio_api.auth_token = "revoked"  # every request is now refused: HTTP 401, 20003
    caplog.set_level(logging.INFO, logger="gateway.outbox.worker")
    for _ in range(4):
        OutboxWorker(db_path, carriers, retry=RetryPolicy(max_attempts=2)).run(
            drain=True, poll_seconds=0.01)
    assert len(twilio_api.attempts) == 4  # one request a run, not one a message
    assert [m.status for m in store.outbox()] == ["queued"] * 30  # none given up
    refusals = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(refusals) == 4 and all("sending paused" in text for text in refusals), refusals

    twilio_api.auth_token = AUTH_TOKEN  # the operator renews the key
    OutboxWorker(db_path, carriers).run(drain=True, poll_seconds=0.01)
    assert sorted(twilio_api.bodies_to(PHONE)) == sorted(f"lesson {n}" for n in range(30))
    assert {m.status for m in store.outbox()} == {"sent"}


def test_a_running_worker_tries_a_refusing_carrier_again_only_now_and_then(
        db_path: Path, store: Store, carriers_file: Path, twilio_api: FakeTwilioApi):
    carriers = load_carriers(carriers_file)
    for n in range(5):
        _queue(store, f"lesson {n}")
    twilio_api.auth_token = "revoked"
    now = [1000.0]
    worker = OutboxWorker(db_path, carriers, clock=lambda: now[0])
    thread = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.01}, daemon=True)
    thread.start()
    try:
        assert twilio_api.received.wait(10)
        time.sleep(0.5)
        assert len(twilio_api.attempts) == 1  # paused: no storm while the key is refused
        twilio_api.auth_token = AUTH_TOKEN
        now[0] += REFUSED_PROBE_SECONDS + 1
        deadline = time.monotonic() + 10
        while len(twilio_api.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(10)
    assert twilio_api.bodies_to(PHONE) == [f"lesson {n}" for n in range(5)]
