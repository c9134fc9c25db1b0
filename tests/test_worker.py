"""The outbox worker against a real loopback Twilio API, including a killed worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker, RetryPolicy
from gateway.store import Store
from tests.fakes.twilio_api import FakeTwilioApi

PHONE = "+2348030000000"


@pytest.fixture
def carriers(carriers_file: Path):
    return load_carriers(carriers_file)


def queue(store: Store, *bodies: str, phone: str = PHONE, to_stopped_ok: bool = False) -> list[int]:
    with store.write():
        if store.learner(phone) is None:
            from gateway.store import LearnerRecord

            store.save_learner(LearnerRecord(phone=phone, locale="en", carrier_id="twilio"))
        return [store.enqueue("twilio", phone, body, to_stopped_ok=to_stopped_ok)
                for body in bodies]


def drain(db_path: Path, carriers, **kwargs) -> OutboxWorker:
    worker = OutboxWorker(db_path, carriers, **kwargs)
    worker.run(drain=True, poll_seconds=0.01)
    return worker


def test_sends_what_is_due_and_records_each_attempt(db_path, store, carriers, twilio_api):
    ids = queue(store, "one", "two")
    worker = drain(db_path, carriers)
    assert worker.report.sent == 2
    assert twilio_api.bodies_to(PHONE) == ["one", "two"]
    sent = {m.id: m for m in store.outbox()}
    for message_id, api_message in zip(ids, twilio_api.messages, strict=True):
        assert sent[message_id].status == "sent"
        assert sent[message_id].carrier_message_id == api_message["sid"]
        assert [a["outcome"] for a in store.send_attempts(message_id)] == ["accepted"]
    assert twilio_api.messages[0]["From"] == "+15005550006"
    assert twilio_api.messages[0]["StatusCallback"] == (
        "https://learnline.example.org/carriers/twilio/status")


def test_transient_failures_back_off_then_succeed(db_path, store, carriers, twilio_api):
    [message_id] = queue(store, "hello")
    twilio_api.fail_next(503, 20503, "Service unavailable")
    twilio_api.fail_next(429, 20429, "Too many requests")
    start = time.time()
    drain(db_path, carriers, retry=RetryPolicy(base_delay=30))
    message = store.outbox()[0]
    assert message.status == "queued" and message.attempts == 1
    due = store.db.execute("SELECT due_at FROM outbox").fetchone()[0]
    assert start + 15 <= due <= time.time() + 30  # jittered within [base/2, base]
    assert twilio_api.messages == []
    # With a short backoff the worker keeps going until it gets through.
    worker = OutboxWorker(db_path, carriers, retry=RetryPolicy(base_delay=0.05))
    deadline = time.time() + 10
    store.db.execute("UPDATE outbox SET due_at = 0")
    while store.outbox()[0].status != "sent" and time.time() < deadline:
        worker.run(drain=True, poll_seconds=0.01)
        time.sleep(0.05)
    outcomes = [a["outcome"] for a in store.send_attempts(message_id)]
    assert outcomes == ["retry", "retry", "accepted"]
    assert twilio_api.bodies_to(PHONE) == ["hello"]


def test_gives_up_after_max_attempts(db_path, store, carriers, twilio_api):
    [message_id] = queue(store, "hello")
    twilio_api.fail_next(500, 20500, "Internal error", times=3)
    worker = OutboxWorker(db_path, carriers, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    deadline = time.time() + 10
    while store.outbox()[0].status == "queued" or store.outbox()[0].status == "sending":
        assert time.time() < deadline
        worker.run(drain=True, poll_seconds=0.01)
        time.sleep(0.03)
    assert store.outbox()[0].status == "failed"
    assert [a["outcome"] for a in store.send_attempts(message_id)] == ["retry", "retry", "failed"]


@pytest.mark.parametrize("code", [21211, 21614, 21408])
def test_permanent_errors_fail_at_once(db_path, store, carriers, twilio_api, code):
    [message_id] = queue(store, "hello")
    twilio_api.fail_next(400, code, "Invalid")
    drain(db_path, carriers)
    message = store.outbox()[0]
    assert message.status == "failed" and str(code) in message.error
    assert len(store.send_attempts(message_id)) == 1
    assert not store.learner(PHONE).stopped


@pytest.mark.parametrize("status, code", [(400, 21211), (503, 20503)])
def test_a_carrier_error_naming_the_number_is_logged_with_the_number_masked(
        db_path, store, carriers, twilio_api, caplog, status, code):
    """docs/privacy.md: logs never carry a full number, not even inside the words of a
    carrier's own error (Twilio's 21211 names the number it refused)."""
    queue(store, "hello")
    twilio_api.fail_next(status, code, f"The 'To' number {PHONE} is not a valid phone "
                                       f"number (tel:{PHONE}, {PHONE[1:]}).")
    caplog.set_level("WARNING", logger="gateway.outbox")
    drain(db_path, carriers, retry=RetryPolicy(base_delay=30))
    logged = [r.getMessage() for r in caplog.records if str(code) in r.getMessage()]
    assert logged, caplog.text
    for line in logged:
        assert PHONE[1:] not in line, line
        assert "+2348*******00" in line and "2348*******00," in line, line
    # The outbox keeps the carrier's words for the operator, as before.
    assert PHONE in store.db.execute("SELECT error FROM outbox").fetchone()[0]


def test_a_carriers_error_text_cannot_write_to_the_operators_terminal(
        db_path, store, carriers, twilio_api):
    """`learnline outbox failed` prints the carrier's reason with its control characters
    as escapes: an escape sequence or a carriage return in it cannot retitle the window,
    clear the screen or forge a line."""
    from click.testing import CliRunner

    from gateway.cli.main import main as cli

    queue(store, "hello")
    twilio_api.fail_next(400, 21211, "\x1b]0;owned\x07\x1b[2JRED\r\nfake line")
    drain(db_path, carriers)
    listed = CliRunner().invoke(cli, ["outbox", "failed"], env={"LEARNLINE_DB": str(db_path)})
    assert listed.exit_code == 0, listed.output
    [line, total] = listed.output.splitlines()
    assert "\x1b" not in listed.output and "\r" not in listed.output and "\x07" not in line
    assert line.endswith("\\x1b]0;owned\\x07\\x1b[2JRED\\r\\nfake line"), line
    assert total == "1 failed in the last 7 day(s)"


def test_carrier_opt_out_stops_the_learner_and_cancels_the_rest(
        db_path, store, carriers, twilio_api):
    queue(store, "first", "second", "third")
    twilio_api.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    worker = drain(db_path, carriers)
    assert store.learner(PHONE).stopped
    assert [m.status for m in store.outbox()] == ["failed", "cancelled", "cancelled"]
    assert worker.report.cancelled == 2
    assert len(twilio_api.attempts) == 1


def test_never_sends_to_a_stopped_learner_except_what_may_reach_them(
        db_path, store, carriers, twilio_api):
    queue(store, "lesson card")
    queue(store, "You will get no more messages.", to_stopped_ok=True)
    store.set_stopped(PHONE, True)
    drain(db_path, carriers)
    assert twilio_api.bodies_to(PHONE) == ["You will get no more messages."]
    assert [m.status for m in store.outbox()] == ["cancelled", "sent"]


def test_keeps_to_the_carrier_rate(db_path, store, carriers_file, twilio_api, tmp_path):
    text = carriers_file.read_text().replace("tps = 200", "tps = 20")
    slow = tmp_path / "slow.toml"
    slow.write_text(text)
    queue(store, *[f"m{n}" for n in range(11)])
    start = time.monotonic()
    drain(db_path, load_carriers(slow))
    elapsed = time.monotonic() - start
    assert len(twilio_api.messages) == 11
    assert elapsed >= 10 / 20 * 0.95  # 11 sends at 20 per second need at least 0.5 s


def test_processes_inbound_that_was_stored_but_never_handled(
        db_path, store, carriers, twilio_api):
    """The web process died after storing a message: the worker answers it."""
    store.record_inbound("twilio", "SM-orphan", PHONE, "START")
    worker = drain(db_path, carriers)
    assert worker.report.recovered_inbound == 1
    assert twilio_api.bodies_to(PHONE)[0].startswith("Welcome to Start freelancing")
    assert store.db.execute("SELECT status FROM inbound").fetchone()[0] == "processed"


def test_a_drain_answers_every_stored_message_however_many_wait(
        db_path, store, carriers, twilio_api):
    """More messages stored unanswered than the worker takes at a time (the web process
    died under load): one `learnline worker --drain` answers them all."""
    phones = [f"+23480300{n:05d}" for n in range(130)]
    with store.write():
        for n, phone in enumerate(phones):
            store.record_inbound("twilio", f"SM-orphan-{n}", phone, "START")
    worker = drain(db_path, carriers)
    assert worker.report.recovered_inbound == 130
    assert store.db.execute(
        "SELECT count(*) FROM inbound WHERE status = 'received'").fetchone()[0] == 0
    assert {m["To"] for m in twilio_api.messages} == set(phones)


def _worker_process(db_path: Path, carriers_file: Path, *args: str,
                    capture: bool = False) -> subprocess.Popen:
    env = {**os.environ, "LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers_file)}
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", *args], env=env,
                            stdout=output, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_a_message_in_flight_when_the_worker_is_killed_is_sent_later(
        db_path, store, carriers_file, twilio_api: FakeTwilioApi):
    [message_id] = queue(store, "in flight")
    twilio_api.delay_next(20)  # the carrier takes the request and stalls
    process = _worker_process(db_path, carriers_file, "--lease-seconds", "1")
    try:
        assert twilio_api.received.wait(20), "the worker never reached the carrier"
        assert store.outbox()[0].status == "sending"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    time.sleep(1.1)  # the dead worker's lease runs out
    drained = _worker_process(db_path, carriers_file, "--drain", capture=True)
    output, _ = drained.communicate(timeout=30)
    assert drained.returncode == 0, output
    message = store.outbox()[0]
    assert message.status == "sent" and message.attempts == 2
    assert [a["outcome"] for a in store.send_attempts(message_id)] == ["accepted"]
    # The carrier saw it twice: its first answer was lost with the worker.
    assert [a["Body"] for a in twilio_api.attempts] == ["in flight", "in flight"]


@pytest.mark.slow
def test_killing_the_worker_mid_queue_loses_nothing(db_path, store, carriers_file, twilio_api,
                                                     tmp_path):
    text = carriers_file.read_text().replace("tps = 200", "tps = 25")
    slow = tmp_path / "slow.toml"
    slow.write_text(text)
    bodies = [f"message {n}" for n in range(40)]
    queue(store, *bodies)
    process = _worker_process(db_path, slow, "--lease-seconds", "1")
    deadline = time.time() + 20
    while len(twilio_api.messages) < 10 and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert 10 <= len(twilio_api.messages) < 40
    time.sleep(1.1)
    drained = _worker_process(db_path, slow, "--drain", capture=True)
    output, _ = drained.communicate(timeout=60)
    assert drained.returncode == 0, output
    assert {m.status for m in store.outbox()} == {"sent"}
    delivered = twilio_api.bodies_to(PHONE)
    assert set(delivered) == set(bodies)
    assert len(delivered) - len(bodies) <= 1  # at most the one in flight at the kill


def test_a_hung_carrier_api_does_not_hold_up_another_carriers_replies(
        db_path, store, carriers_file, twilio_api, tmp_path):
    """Carrier `stuck` comes first in the file and its API hangs on every request; the
    replies of carrier `twilio` still go at once."""
    from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as hung:
        hung.delay_next(4, times=10)
        stuck = carriers_file.read_text().replace("[carriers.twilio]", "[carriers.stuck]")
        stuck = stuck[:stuck.index("[carriers.console]")].replace(twilio_api.url, hung.url)
        both = tmp_path / "both.toml"
        both.write_text(stuck + carriers_file.read_text())
        worker = OutboxWorker(db_path, load_carriers(both))
        running = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.05})
        running.start()
        try:
            time.sleep(0.5)  # the worker is up and idle
            with store.write():
                from gateway.store import LearnerRecord

                store.save_learner(LearnerRecord(phone=PHONE, locale="en",
                                                 carrier_id="twilio"))
                for n in range(3):
                    store.enqueue("stuck", "+2348030000001", f"stuck {n}")
                queued_at = time.time()
                for n in range(5):
                    store.enqueue("twilio", PHONE, f"reply {n}")
            deadline = time.time() + 30
            while len(twilio_api.messages) < 5 and time.time() < deadline:
                time.sleep(0.02)
        finally:
            worker.stop()
            running.join(30)
    assert hung.attempts, "the hung carrier was tried"
    assert twilio_api.bodies_to(PHONE) == [f"reply {n}" for n in range(5)]
    delays = [m["accepted_at"] - queued_at for m in twilio_api.messages]
    assert max(delays) < 1.5, delays


def _run_until(worker: OutboxWorker, done, seconds: float) -> None:
    running = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.05})
    running.start()
    try:
        deadline = time.time() + seconds
        while not done() and time.time() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        running.join(30)


def test_replies_queued_before_the_clock_went_back_are_sent_at_once(
        db_path, carriers, twilio_api):
    """The clock was an hour fast when these were queued, then was set right: their
    times lie an hour ahead. The reply goes now, and the retry after its own backoff,
    not an hour later."""
    from tests.fakes.clock import SimulatedClock

    ahead = SimulatedClock(time.time() + 3600)
    with Store.open(db_path, clock=ahead) as before_the_step:
        [retried] = queue(before_the_step, "failed once an hour ahead")
        assert before_the_step.claim_due("twilio", 60.0).id == retried
        before_the_step.finish_send(retried, "retry", detail="HTTP 503",
                                    retry_at=ahead.now + 1.0)
        queue(before_the_step, "queued an hour ahead")
    started = time.time()
    worker = OutboxWorker(db_path, carriers)
    _run_until(worker, lambda: len(twilio_api.messages) == 2, 10)
    assert sorted(twilio_api.bodies_to(PHONE)) == ["failed once an hour ahead",
                                                   "queued an hour ahead"]
    assert max(m["accepted_at"] for m in twilio_api.messages) - started < 4


def test_a_worker_whose_clock_goes_back_keeps_sending_and_beating(
        db_path, store, carriers, twilio_api):
    class SteppedClock:
        offset = 0.0

        def __call__(self) -> float:
            return time.monotonic() + self.offset

    clock = SteppedClock()
    worker = OutboxWorker(db_path, carriers, clock=clock)
    running = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.05})
    running.start()
    try:
        queue(store, "before the step")
        deadline = time.time() + 10
        while len(twilio_api.messages) < 1 and time.time() < deadline:
            time.sleep(0.02)
        clock.offset = -3600.0  # the clock goes back an hour
        time.sleep(0.2)
        beat = store.last_beat("worker")
        queue(store, "after the step")
        queued_at = time.time()
        deadline = time.time() + 10
        while len(twilio_api.messages) < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert twilio_api.bodies_to(PHONE) == ["before the step", "after the step"]
        assert twilio_api.messages[1]["accepted_at"] - queued_at < 1.5
        while store.last_beat("worker") == beat and time.time() < deadline:
            time.sleep(0.1)
        assert store.last_beat("worker") > beat, "the worker stopped beating"
    finally:
        worker.stop()
        running.join(30)


def test_a_running_worker_whose_wall_clock_goes_back_sends_a_retry_after_its_own_backoff(
        db_path, carriers, twilio_api):
    class WallClock:
        offset = 3600.0  # an hour fast, then set right

        def __call__(self) -> float:
            return time.time() + self.offset

    wall = WallClock()
    worker = OutboxWorker(db_path, carriers, wall_clock=wall)
    running = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.05})
    running.start()
    try:
        time.sleep(0.3)  # the worker is up
        with Store.open(db_path, clock=wall) as store, store.write():
            # It failed once: it is due again in 3 s.
            message_id = store.enqueue("twilio", PHONE, "retried", due_at=wall() + 3)
            store.db.execute("UPDATE outbox SET attempts = 1, error = 'HTTP 503' "
                             "WHERE id = ?", [message_id])
        wall.offset = 0.0
        stepped = time.time()
        deadline = stepped + 15
        while not twilio_api.messages and time.time() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        running.join(30)
    assert twilio_api.bodies_to(PHONE) == ["retried"]
    assert 3 <= twilio_api.messages[0]["accepted_at"] - stepped < 10


def test_a_heartbeat_from_before_the_clock_went_back_reads_as_fresh(client, store):
    with store.write():  # the worker beat, then the clock went back an hour
        store.db.execute("INSERT INTO settings (name, value) VALUES ('heartbeat:worker', ?)",
                         [repr(time.time() + 3600)])
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "worker: last seen 0 s ago" in ready.text
    [age] = [line for line in client.get("/metrics").text.splitlines()
             if line.startswith("learnline_worker_heartbeat_age_seconds ")]
    assert float(age.split()[1]) == 0.0


def test_a_sender_stops_recording_an_accepted_send_before_its_lease_runs_out(
        db_path, store, carriers, twilio_api, caplog):
    """Once its lease has run out another worker may claim the message and send it again:
    the sender that the carrier answered stops trying to record it before then (it says
    the message may be sent again), so two workers never hold one message at once."""
    import logging

    from gateway.store.store import BUSY_TIMEOUT_SECONDS

    lease = BUSY_TIMEOUT_SECONDS + 4.0  # each try may wait the busy timeout
    queue(store, "one")
    # Recording that the carrier accepted it fails, as on a full disk.
    store.db.execute("CREATE TRIGGER disk_full BEFORE UPDATE OF status ON outbox "
                     "WHEN NEW.status = 'sent' BEGIN "
                     "SELECT RAISE(ABORT, 'database or disk is full'); END")
    worker = OutboxWorker(db_path, carriers, lease_seconds=lease)

    def run() -> None:
        with contextlib.suppress(Exception):
            worker.run(poll_seconds=0.05)

    def gave_up() -> bool:
        return any("could not be recorded: it may be sent again" in r.getMessage()
                   for r in caplog.records)

    caplog.set_level(logging.WARNING, logger="gateway.outbox.worker")
    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not twilio_api.messages:  # claimed, and the carrier has it
            assert time.monotonic() < deadline, "nothing was sent"
            time.sleep(0.01)
        lease_ends = time.monotonic() + lease - 0.5
        while not gave_up() and time.monotonic() < lease_ends:
            time.sleep(0.05)
        gave_up_in_time = gave_up()
    finally:
        worker.stop()
        thread.join(timeout=30)
    assert gave_up_in_time, "still trying to record after its lease ran out"
    [message] = store.outbox()
    assert message.status == "sending"  # not recorded: the next claim sends it

