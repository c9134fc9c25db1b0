"""Liveness and readiness, as a load balancer and an operator see them."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.server.health import WORKER_STALE_SECONDS, readiness
from gateway.store import Store
from gateway.version import VERSION


def test_healthz_answers_while_the_process_can_read_its_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.text == f"ok\nversion: {VERSION}\n"


def test_readyz_waits_for_the_worker_then_is_ready(client, db_path: Path,
                                                    carriers_file: Path):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "worker: never seen: start `learnline worker`" in response.text
    assert "database: writable" in response.text and "migrations: current" in response.text

    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True)

    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == [
        "database: writable", "migrations: current", "schema: as this version expects",
        "worker: last seen 0 s ago"]
    assert response.headers["Cache-Control"] == "no-store"


def test_a_silent_worker_makes_the_gateway_unready(store: Store):
    store.beat("worker")
    ready, _ = readiness(store, now=time.time() + WORKER_STALE_SECONDS - 5)
    assert ready
    ready, lines = readiness(store, now=time.time() + WORKER_STALE_SECONDS + 5)
    assert not ready
    assert lines[-1].startswith("worker: last seen 6") and "is `learnline worker` running?" \
        in lines[-1]


def test_a_pending_migration_makes_the_gateway_unready(store: Store):
    store.beat("worker")
    store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_partial_indexes'")
    ready, lines = readiness(store)
    assert not ready
    assert "migrations: 1 pending (m006_partial_indexes): restart the gateway to apply them" \
        in lines


def test_a_write_lock_held_past_the_busy_timeout_makes_the_gateway_unready(db_path: Path):
    holding, release = threading.Event(), threading.Event()

    def long_writer() -> None:
        with Store.open(db_path) as other, other.write():
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=long_writer)
    writer.start()
    try:
        holding.wait(5)
        with Store.open(db_path, busy_timeout=0.2) as store:
            with pytest.raises(sqlite3.OperationalError, match=r"write lock busy for 0\.2 s"):
                store.beat("worker")
            started = time.monotonic()
            ready, lines = readiness(store)
            waited = time.monotonic() - started
    finally:
        release.set()
        writer.join()
    assert not ready and waited < 1.0  # it used to wait 2 s for the lock
    assert lines[0] == ("database: NOT writable (the write lock has been held for 0 s by "
                        f"process {os.getpid()}, longer than writers wait (0.2 s))")
