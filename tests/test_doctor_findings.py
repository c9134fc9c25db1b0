"""`learnline doctor`'s findings on a gateway that is running badly: no courses loaded, a
worker that stopped beating, replies waiting past five minutes. Each says what to do."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from gateway.ops.doctor import Finding, diagnose
from gateway.store import Store


def findings(db_path: Path, subject: str) -> list[Finding]:
    return [f for f in diagnose(db_path, env={}) if f.subject == subject]


def test_a_gateway_without_courses_is_told_to_import_them(db_path: Path):
    Store.open(db_path, migrate=True).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM lessons")
        conn.execute("DELETE FROM courses")
    assert findings(db_path, "courses") == [
        Finding("fail", "courses", "none loaded: run `learnline lessons import`")]


def test_a_worker_that_stopped_beating_is_a_failure_saying_how_to_restart_it(db_path: Path):
    with Store.open(db_path, migrate=True) as store:
        store.beat("worker")
    with sqlite3.connect(db_path) as conn:  # the worker's last beat was ten minutes ago
        conn.execute("UPDATE settings SET value = ? WHERE name = 'heartbeat:worker'",
                     [repr(time.time() - 600)])
    [worker] = findings(db_path, "worker")
    assert worker.level == "fail"
    assert worker.message.startswith("last seen 6")  # 600 s, give or take the test's run
    assert worker.message.endswith(" s ago: start or restart `learnline worker` (systemctl "
                                   "restart learnline-worker)")


def test_replies_waiting_for_long_are_a_warning(db_path: Path):
    with Store.open(db_path, migrate=True, clock=lambda: time.time() - 1200) as store, \
            store.write():
        store.enqueue("console", "+2348030000001", "A reply")
        store.enqueue("console", "+2348030000002", "Another")
    [outbox] = findings(db_path, "outbox")
    assert outbox.level == "warn"
    assert outbox.message == ("2 message(s) waiting, the oldest for 20 min: is the worker "
                              "running, and is a carrier refusing sends? (its log says)")


def test_secrets_too_short_for_serve_or_export_are_failures(db_path: Path):
    """A dashboard token `serve` refuses and a pseudonym key exports refuse fail here
    first, with the same words; the right lengths pass."""
    Store.open(db_path, migrate=True).close()
    found = [f for f in diagnose(db_path, env={"LEARNLINE_ADMIN_TOKEN": "short",
                                               "LEARNLINE_PSEUDONYM_KEY": "short"})
             if f.level == "fail"]
    assert [f.subject for f in found] == ["secrets", "secrets"]
    assert found[0].message.startswith("LEARNLINE_ADMIN_TOKEN has 5 characters: at least 24 "
                                       "are needed")
    assert found[1].message.startswith("LEARNLINE_PSEUDONYM_KEY has 5 characters: use at "
                                       "least 32")
    right = diagnose(db_path, env={"LEARNLINE_ADMIN_TOKEN": "t" * 24,
                                   "LEARNLINE_PSEUDONYM_KEY": "k" * 32})
    assert not [f for f in right if f.subject == "secrets" and f.level == "fail"]


def test_without_a_carriers_file_the_sign_in_warning_says_so(db_path: Path):
    Store.open(db_path, migrate=True).close()
    [warning] = findings(db_path, "web sign-in")
    assert warning.message.startswith("no SMS carrier names its country (`country` in the "
                                      "carriers file, which is not set (LEARNLINE_CARRIERS))")
