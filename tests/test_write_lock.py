"""The write lock as webhooks and health checks meet it while another process holds it:
writers wait at most the busy timeout, then the carrier is asked to retry; health checks
never wait."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway import create_app
from gateway.store import Store
from tests.conftest import TwilioWebhooks

BUSY_TIMEOUT = 0.5
PHONE = "+2348030000000"

# Another Learnline process (a worker, an import) that takes the write lock and keeps it.
HOLDER = """
import sys, time
from gateway.store import Store
with Store.open(sys.argv[1]) as store, store.write():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def app(db_path: Path, carriers_file: Path):
    """The gateway app, its writers waiting at most BUSY_TIMEOUT."""
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "TESTING": True, "BUSY_TIMEOUT": BUSY_TIMEOUT})


# An operator's sqlite3 shell in a write transaction: SQLite's own lock, no writelock.
SHELL = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def _holding(script: str, db_path: Path) -> Iterator[subprocess.Popen]:
    holder = subprocess.Popen([sys.executable, "-c", script, str(db_path), "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        yield holder
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()


@pytest.fixture(params=["learnline", "sqlite3 shell"])
def held_lock(request, app, db_path: Path) -> Iterator[subprocess.Popen]:
    """A second process holding the database's write lock (for up to a minute), once
    the app has started: another Learnline process, or a sqlite3 shell."""
    with _holding(HOLDER if request.param == "learnline" else SHELL, db_path) as holder:
        yield holder


@pytest.fixture
def held_by_learnline(app, db_path: Path) -> Iterator[subprocess.Popen]:
    """Another Learnline process holding the write lock, once the app has started."""
    with _holding(HOLDER, db_path) as holder:
        yield holder


def _timed(call, bound: float) -> tuple[float, object]:
    """(seconds taken, result) of `call()`, or (inf, None) if it had not returned within
    `bound` seconds (it keeps running on its thread)."""
    outcome: list = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(bound)
    return (time.monotonic() - started, outcome[0]) if outcome else (float("inf"), None)


def test_a_webhook_gets_503_after_the_busy_timeout_while_another_process_writes(
        app, db_path: Path, held_lock: subprocess.Popen):
    twilio = TwilioWebhooks(app.test_client())
    waited, response = _timed(lambda: twilio.sms(PHONE, "START", "SM" + "a" * 32), 10)
    assert waited < BUSY_TIMEOUT + 1.5, f"the webhook waited {waited:.1f} s"
    assert waited >= BUSY_TIMEOUT * 0.9
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    held_lock.kill()
    held_lock.wait(10)
    with Store.open(db_path) as store:
        assert store.row_counts()["inbound"] == 0  # refused, so not stored: the carrier retries
    assert twilio.sms(PHONE, "START", "SM" + "a" * 32).status_code == 200


def test_several_webhooks_of_one_process_each_wait_at_most_the_busy_timeout(
        app, db_path: Path, held_lock: subprocess.Popen):
    results: list[tuple[float, int]] = []

    def one(n: int) -> None:
        started = time.monotonic()
        response = TwilioWebhooks(app.test_client()).sms(PHONE, "HELP", f"SM{n:032x}")
        results.append((time.monotonic() - started, response.status_code))

    threads = []
    for n in range(4):
        threads.append(threading.Thread(target=one, args=(n,), daemon=True))
        threads[-1].start()
        time.sleep(BUSY_TIMEOUT / 4)
    for thread in threads:
        thread.join(10)
    assert len(results) == 4
    assert all(status == 503 for _, status in results)
    assert max(waited for waited, _ in results) < BUSY_TIMEOUT + 1.0


def test_health_checks_never_wait_on_the_write_lock(
        app, db_path: Path, held_by_learnline: subprocess.Popen):
    client = app.test_client()
    for path in ("/healthz", "/readyz"):
        waited, response = _timed(lambda path=path: client.get(path), 10)
        assert waited < 1.0, f"{path} waited {waited:.2f} s"  # it used to wait 2 s
        assert response.status_code in (200, 503)
    # Held for longer than writers wait: /readyz says so, naming the holder.
    time.sleep(BUSY_TIMEOUT)
    response = client.get("/readyz")
    assert response.status_code == 503
    first = response.text.splitlines()[0]
    assert first.startswith("database: NOT writable (the write lock has been held for ")
    assert f"by process {held_by_learnline.pid}" in first


def test_a_lookup_past_its_limit_is_refused_without_waiting_for_the_lock(app, db_path: Path):
    """A flood of certificate lookups past their limit must not queue behind the writers
    (each refused one took the write lock, and failed with 503 while it was held): the
    limit is read first, and a request already over it is answered 429 at once."""
    client = app.test_client()
    for n in range(30):
        assert client.get(f"/verify/7KQM-2XHD-{n % 10}P").status_code == 404
    with _holding(HOLDER, db_path):
        refused = client.get("/verify/7KQM-2XHD-0P")
        assert refused.status_code == 429, refused.status_code
        other = client.get("/verify/7KQM-2XHD-0P", environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert other.status_code == 503  # a lookup within its limit waits, as a writer
