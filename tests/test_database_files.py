"""The database's files as an operator meets them: private, and never silently replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway import create_app
from gateway.store import Store
from tests.ports import free_port

# Starts the gateway on a new database (as `learnline serve` does: the schema, the bundled
# course, the session key kept in the database), writes once more, and reports the mode of
# each of the database's files while they are all open.
STARTS = """
import json, os, sys
from gateway import create_app
from gateway.store.per_thread import thread_store
db = sys.argv[1]
app = create_app({"DATABASE": db})
thread_store(app).beat("worker")
print(json.dumps({name: os.stat(db + name).st_mode & 0o777
                  for name in ("", "-wal", "-shm", "-writelock")}))
"""


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_database_and_its_files_are_created_owner_only_whatever_the_umask(
        tmp_path: Path, umask: int):
    db = tmp_path / "learnline.db"
    done = subprocess.run([sys.executable, "-c", STARTS, str(db)], capture_output=True,
                          text=True, timeout=120, umask=umask,
                          env={**os.environ, "LEARNLINE_SECRET_KEY": ""})
    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout.splitlines()[-1])
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, "-writelock": 0o600}, \
        {name: oct(mode) for name, mode in modes.items()}


HUB_STARTS = """
import json, os, sys
from gateway.hub.sqlite_store import SqliteHubStore
db = sys.argv[1]
hub = SqliteHubStore.open(db)
hub.migrate()
print(json.dumps({name: os.stat(db + name).st_mode & 0o777
                  for name in ("", "-wal", "-shm", "-writelock")}))
"""


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_hub_database_is_created_owner_only_whatever_the_umask(tmp_path: Path, umask: int):
    db = tmp_path / "hub.db"
    done = subprocess.run([sys.executable, "-c", HUB_STARTS, str(db)], capture_output=True,
                          text=True, timeout=120, umask=umask)
    assert done.returncode == 0, done.stderr
    modes = json.loads(done.stdout.splitlines()[-1])
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, "-writelock": 0o600}, \
        {name: oct(mode) for name, mode in modes.items()}


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_pack_signing_key_is_created_owner_only_whatever_the_umask(
        tmp_path: Path, umask: int):
    key = tmp_path / "pack-signing.pem"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "packs", "keygen", "-o",
                           str(key)], capture_output=True, text=True, timeout=60, umask=umask)
    assert done.returncode == 0, done.stderr
    assert key.stat().st_mode & 0o777 == 0o600


# -- a database deleted, replaced or made read-only under a running gateway ----------------


def _console_sms(client, sid: str):
    """One inbound SMS to the console carrier (loopback only), as a carrier would post it."""
    return client.post("/carriers/console/sms", data={"from": "+221770000000",
                                                      "text": "HELP", "id": sid})


@pytest.fixture
def running(db_path: Path):
    """A running gateway (the console carrier) that has already taken a message."""
    app = create_app({"DATABASE": str(db_path), "TESTING": True})
    client = app.test_client()
    assert _console_sms(client, "before").status_code == 200
    return client


def test_a_database_deleted_under_the_gateway_is_noticed(running, db_path: Path):
    db_path.unlink()  # an operator's `rm`, or a clean-up script: the connections stay open
    response = _console_sms(running, "after")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    ready = running.get("/readyz")
    assert ready.status_code == 503
    assert ready.text.splitlines()[0] == (
        f"database: NOT writable ({db_path} was deleted or replaced after this process "
        "opened it: put the database back (docs/operations.md, Backup and restore) and "
        "restart)")


def test_a_thread_that_opens_the_database_after_it_was_deleted_says_why_on_readyz(
        running, db_path: Path):
    """A server thread that had not yet opened the database (gunicorn has several) finds
    it gone: /readyz names the cause, as the threads that had it open do."""
    db_path.unlink()
    answers = []
    thread = threading.Thread(target=lambda: answers.append(running.get("/readyz")))
    thread.start()
    thread.join()
    [ready] = answers
    assert ready.status_code == 503
    assert ready.text.splitlines()[0].startswith(
        f"database: NOT writable (no database at {db_path}, but one was made there")
    assert "restore it from a backup" in ready.text


def test_a_database_replaced_under_the_gateway_is_noticed(running, db_path: Path,
                                                          tmp_path: Path):
    other = tmp_path / "other.db"
    with Store.open(other, migrate=True):
        pass
    os.replace(other, db_path)
    assert _console_sms(running, "after").status_code == 503
    assert running.get("/readyz").status_code == 503
    with Store.open(db_path) as store:  # refused, so in no file: the carrier retries
        assert store.db.execute("SELECT count(*) FROM inbound WHERE carrier_message_id = "
                                "'after'").fetchone()[0] == 0


# The owner of the database makes it read-only (run without root's power to write it
# anyway). Prints what a carrier, /readyz and doctor said.
READ_ONLY = """
import json, os, sys, threading
from gateway import create_app
from gateway.ops.doctor import diagnose
from pathlib import Path
db = sys.argv[1]
app = create_app({"DATABASE": db, "TESTING": True})
client = app.test_client()
sms = lambda sid: client.post("/carriers/console/sms",
                              data={"from": "+221770000000", "text": "HELP", "id": sid})
said = {"before": sms("before").status_code}
os.chmod(db, 0o444)
said["readyz"] = client.get("/readyz").text.splitlines()[0]
answers = []
thread = threading.Thread(target=lambda: answers.append(sms("after").status_code))
thread.start()  # a server thread with a connection of its own, opened now
thread.join()
said["after"] = answers[0]
said["doctor"] = [str(f) for f in diagnose(Path(db), env={}) if f.level == "fail"]
print(json.dumps(said))
"""


def _without_root_powers() -> list[str]:
    """A command prefix that runs a child without the power to write files it may not
    (root's CAP_DAC_OVERRIDE) when the tests run as root: as the gateway's own user."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_a_read_only_database_fails_readyz_and_doctor(tmp_path: Path):
    db = tmp_path / "learnline.db"
    done = subprocess.run([*_without_root_powers(), sys.executable, "-c", READ_ONLY, str(db)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.splitlines()[-1])
    assert said["before"] == 200 and said["after"] == 503
    assert said["readyz"] == f"database: NOT writable ({db} is read-only for this process)"
    assert f"FAIL database: {db} is read-only for this process" in said["doctor"][0]


# -- restarting where a database was ---------------------------------------------------------


def _learnline(*args: str, db: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(LEARNLINE_DB=str(db), LEARNLINE_METRICS_DIR=str(db.parent / "metrics"))
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=db.parent,
                          env=environ, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [("worker", "--drain"), ("serve", "--port", "PORT"),
                                     ("lessons", "import")])
def test_a_restart_never_makes_an_empty_database_where_one_was(db_path: Path,
                                                               command: tuple[str, ...]):
    started = _learnline("worker", "--drain", db=db_path)  # the gateway ran here
    assert started.returncode == 0, started.stderr
    db_path.unlink()
    for name in ("-wal", "-shm"):
        Path(f"{db_path}{name}").unlink(missing_ok=True)
    done = _learnline(*(str(free_port()) if arg == "PORT" else arg for arg in command),
                      db=db_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (  # after `lessons import`'s progress
        f"Error: no database at {db_path}, but one was made there (the marker "
        f"{db_path}-created says so): restore it from a backup (docs/operations.md, Backup "
        f"and restore), or, to start with an empty database, remove {db_path}-created")
    assert not db_path.exists()


def test_a_first_start_makes_the_database(tmp_path: Path):
    db = tmp_path / "fresh" / "learnline.db"
    db.parent.mkdir()
    done = _learnline("worker", "--drain", db=db)
    assert done.returncode == 0, done.stderr
    with Store.open(db) as store:
        assert store.course_count() >= 1
    assert Path(f"{db}-created").exists()
