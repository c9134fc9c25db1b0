"""`learnline serve` keeps its outbox worker running: a worker that crashes is started
again, and a message the carrier accepted before the crash is not sent again."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.twilio_api import FakeTwilioApi
from tests.served import serve_gateway


def worker_pids(serve_pid: int) -> set[int]:
    """The `learnline worker` processes `learnline serve` (pid `serve_pid`) started."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == serve_pid and b"worker" in cmdline and stat.rsplit(")", 1)[1].split()[0] \
                != "Z":
            found.add(int(proc.name))
    return found


def wait_for(what: Callable[[], object], seconds: float, message: str) -> object:
    deadline = time.time() + seconds
    while not (found := what()):
        assert time.time() < deadline, message
        time.sleep(0.1)
    return found


def sid(n: int) -> str:
    return f"SM{n:032x}"


@pytest.mark.slow
def test_a_worker_that_crashes_after_a_send_is_restarted_and_sends_nothing_twice(
        tmp_path: Path, carriers_file: Path, twilio_api: FakeTwilioApi):
    served = serve_gateway(tmp_path, carriers_file, worker=True)
    gateway = next(served)
    try:
        first = wait_for(lambda: worker_pids(gateway.process.pid), 30, "no worker started")
        db = gateway.env["LEARNLINE_DB"]
        # Every write of the bookkeeping after a send fails, as on a full disk.
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TRIGGER disk_full BEFORE INSERT ON send_attempts BEGIN "
                         "SELECT RAISE(ABORT, 'database or disk is full'); END")
        assert gateway.sms("START", sid(1))[0] == 200
        wait_for(lambda: twilio_api.messages, 30, "the carrier got nothing")
        restarted = wait_for(lambda: worker_pids(gateway.process.pid) - first, 30,
                             "the crashed worker was not started again\n"
                             + gateway.log.read_text())
        assert restarted
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER disk_full")
        time.sleep(2)
        with sqlite3.connect(db) as conn:  # whatever lease a crashed worker held has run out
            conn.execute("UPDATE outbox SET lease_until = 0 WHERE status = 'sending'")
        assert gateway.sms("STATUS", sid(2))[0] == 200

        def all_sent() -> bool:
            with sqlite3.connect(db) as conn:
                statuses = [row[0] for row in conn.execute("SELECT status FROM outbox")]
            return len(statuses) >= 2 and set(statuses) == {"sent"}

        wait_for(all_sent, 30, "the restarted worker did not go on sending\n"
                 + gateway.log.read_text())
        time.sleep(1.5)  # a worker that were to send something again has had its chance
        with sqlite3.connect(db) as conn:
            queued = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert len(twilio_api.attempts) == queued, [a["Body"] for a in twilio_api.attempts]
    finally:
        served.close()


@pytest.mark.slow
def test_a_worker_stopped_by_a_lock_held_past_the_busy_timeout_is_restarted(
        tmp_path: Path, carriers_file: Path, twilio_api: FakeTwilioApi):
    from gateway.store.store import BUSY_TIMEOUT_SECONDS

    served = serve_gateway(tmp_path, carriers_file, worker=True)
    gateway = next(served)
    try:
        first = wait_for(lambda: worker_pids(gateway.process.pid), 30, "no worker started")
        db = gateway.env["LEARNLINE_DB"]
        holder = sqlite3.connect(db, isolation_level=None, timeout=10)
        try:
            holder.execute("BEGIN IMMEDIATE")  # e.g. an operator's sqlite3 shell
            # Long enough that a write the worker starts a few seconds in (a loaded
            # machine's scheduling, the next beat) still outwaits its busy timeout.
            time.sleep(BUSY_TIMEOUT_SECONDS + 5)
        finally:
            holder.execute("COMMIT")
            holder.close()
        wait_for(lambda: worker_pids(gateway.process.pid) - first, 30,
                 "the worker was not started again\n" + gateway.log.read_text())
        assert gateway.sms("START", sid(1))[0] == 200
        wait_for(lambda: twilio_api.messages, 30, "the restarted worker sends nothing\n"
                 + gateway.log.read_text())
    finally:
        served.close()


def test_a_process_that_keeps_ending_is_started_again_ever_more_slowly(tmp_path: Path):
    from gateway.outbox.supervisor import Supervisor

    starts = tmp_path / "starts"
    supervisor = Supervisor(
        [sys.executable, "-c", "import sys, time; "
         "open(sys.argv[1], 'a').write(f'{time.monotonic()}\\n'); sys.exit(3)", str(starts)],
        "short-lived")
    supervisor.start()
    try:
        time.sleep(5)  # started at 0 s, then after pauses of 1 and 2 s; the next in 4 s
    finally:
        supervisor.stop()
    times = [float(line) for line in starts.read_text().split()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) == 3, gaps
    for gap, pause in zip(gaps, (1, 2), strict=True):
        assert pause <= gap < pause + 1, gaps


@pytest.mark.slow
def test_ctrl_c_stops_serve_and_its_worker_without_restarting_it(
        tmp_path: Path, carriers_file: Path):
    """Ctrl-C at the terminal signals the whole foreground process group: serve stops its
    worker itself, so the worker is neither reported as ended nor started again."""
    import os
    import signal

    served = serve_gateway(tmp_path, carriers_file, worker=True, own_group=True)
    gateway = next(served)
    try:
        [worker] = wait_for(lambda: worker_pids(gateway.process.pid), 30, "no worker started")
        time.sleep(1.0)
        os.killpg(gateway.process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        gateway.process.wait(60)
        log = gateway.log.read_text()
        assert "ended after" not in log and "started again:" not in log, log
        assert not Path(f"/proc/{worker}").exists() or "Z" in (
            Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0])
    finally:
        served.close()


@pytest.mark.slow
def test_a_killed_serve_takes_its_worker_with_it(tmp_path: Path, carriers_file: Path):
    """In a process group of its own the worker escapes a signal to serve's group; it
    still ends when serve is killed outright, rather than sending on unsupervised."""
    import os
    import signal

    served = serve_gateway(tmp_path, carriers_file, worker=True)
    gateway = next(served)
    try:
        [worker] = wait_for(lambda: worker_pids(gateway.process.pid), 30, "no worker started")
        gateway.process.kill()
        gateway.process.wait(10)

        def worker_gone() -> bool:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                return True
            stat = Path(f"/proc/{worker}/stat").read_text()
            return stat.rsplit(")", 1)[1].split()[0] == "Z"

        wait_for(worker_gone, 20, "the worker outlived serve")
    finally:
        with contextlib.suppress(ProcessLookupError, NameError):
            os.kill(worker, signal.SIGKILL)
        served.close()


@pytest.mark.slow
def test_stopping_serve_lets_its_worker_record_what_the_carrier_accepted(
        tmp_path: Path, carriers_file: Path, twilio_api: FakeTwilioApi):
    """Stopped while its worker retries recording a message the carrier has accepted (the
    database refusing that write a while), serve waits for it rather than killing it after
    a few seconds, which would leave the message to be sent again."""
    served = serve_gateway(tmp_path, carriers_file, worker=True)
    gateway = next(served)
    db = gateway.env["LEARNLINE_DB"]
    try:
        wait_for(lambda: worker_pids(gateway.process.pid), 30, "no worker started")
        with sqlite3.connect(db) as conn:  # as on a full disk, for 20 s
            conn.execute("CREATE TRIGGER disk_full BEFORE UPDATE OF status ON outbox "
                         "WHEN NEW.status = 'sent' BEGIN "
                         "SELECT RAISE(ABORT, 'database or disk is full'); END")
        conn.close()
        assert gateway.sms("START", sid(1))[0] == 200
        wait_for(lambda: twilio_api.messages, 30, "the carrier got nothing")
        gateway.process.terminate()
        time.sleep(20)
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER disk_full")
        conn.close()
        gateway.process.wait(60)
    finally:
        served.close()
    with sqlite3.connect(db) as conn:
        statuses = {row[0] for row in conn.execute(
            "SELECT status FROM outbox WHERE carrier_id = 'twilio'")}
    conn.close()
    assert statuses == {"sent"}, gateway.log.read_text()
