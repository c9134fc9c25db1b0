"""The database's files as an operator meets them: private, and never silently replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Starts the gateway on a new database (as `learnline serve` does: the schema, the bundled
# course, the session key kept in the database), writes once more, and reports the mode of
# each of the database's files while they are all open.
STARTS = """
import json, os, sys
from gateway import create_app
from gateway.app import thread_store
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
