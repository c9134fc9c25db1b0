"""`learnline worker` stops on SIGTERM however the signals come: a second SIGTERM that
arrives while the first one is being handled (systemd and `serve` stopping it at once,
a shutdown under load) must not leave it hung, holding its lease on the outbox, until
it is killed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gateway.store import Store

# The worker, started as `learnline worker` starts it; a second SIGTERM is raised at the
# moment the first one's handling is inside a threading.Event's lock (a tracer makes that
# moment certain instead of rare); then the worker runs as it would have.
SCRIPT = """
import linecache, signal, sys, threading, time
from pathlib import Path
from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker

worker = OutboxWorker(Path(sys.argv[1]), load_carriers(None, env={}))
worker.install_signal_handlers()
raised = []

def inside_set(frame, event, arg):
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    if event == "line" and "_flag = True" in line and not raised:
        raised.append(1)
        signal.raise_signal(signal.SIGTERM)
    return inside_set

def calls(frame, event, arg):
    if frame.f_code.co_name == "set" and frame.f_code.co_filename == threading.__file__:
        return inside_set
    return None

sys.settrace(calls)
signal.raise_signal(signal.SIGTERM)
time.sleep(0.01)  # the handlers run here, in the main thread, as a signal's do
sys.settrace(None)
started = time.monotonic()
worker.run()
print(f"stopped after {time.monotonic() - started:.1f} s", flush=True)
"""


def test_a_second_sigterm_during_the_first_does_not_hang_the_worker(tmp_path: Path):
    db_path = tmp_path / "worker.db"
    Store.open(db_path, migrate=True).close()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(db_path)], capture_output=True,
                          text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("stopped after ")
    assert float(done.stdout.split()[2]) < 5  # run() returns at once: it was asked to stop
    assert time.monotonic() - started < 30
