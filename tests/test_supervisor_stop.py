"""Stopping a supervised process that will not stop: `serve` shutting down ends its
outbox worker with SIGKILL once SIGTERM has had its time, and starts nothing again."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from gateway.outbox.supervisor import Supervisor

STUBBORN = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(120)")


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path):
    ready = tmp_path / "ignoring-sigterm"
    supervisor = Supervisor([sys.executable, "-c", STUBBORN, str(ready)], "stubborn")
    supervisor.start()
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    started = time.monotonic()
    supervisor.stop(timeout=1.0)
    took = time.monotonic() - started
    assert supervisor.process.returncode == -signal.SIGKILL
    assert 1.0 <= took < 15
    assert supervisor.restarts == 0
