"""WAL checkpoints on a background thread, so that commits do not have to."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from gateway.store import LearnerRecord, Store
from gateway.store.checkpointer import Checkpointer
from gateway.store.store import WAL_CHECKPOINT_PAGES


def _write(store: Store, commits: int) -> None:
    """Small commits, as webhooks make them (well below the safety net's threshold)."""
    for n in range(commits):
        with store.write():
            store.save_learner(LearnerRecord(f"+23480{n:08d}", "en", "twilio"))
            store.enqueue("twilio", f"+23480{n:08d}", "x" * 300)


def _learners_in_database_file(path: Path, tmp_path: Path) -> int:
    """Learners in the main database file alone, as if its WAL were not there."""
    copy = tmp_path / f"copy-of-{path.name}"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        return conn.execute("SELECT count(*) FROM learners").fetchone()[0]


def test_commits_checkpoint_only_as_a_safety_net(db_path: Path):
    with Store.open(db_path) as store:
        assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            WAL_CHECKPOINT_PAGES)


def test_a_checkpointer_copies_commits_into_the_database_file(tmp_path: Path):
    alone, helped = tmp_path / "alone.db", tmp_path / "helped.db"
    for path in (alone, helped):
        Store.open(path, migrate=True).close()

    with Store.open(alone) as store:
        _write(store, 500)
        # below the safety net's threshold nothing was copied: it is all in the WAL
        assert _learners_in_database_file(alone, tmp_path) == 0

    checkpointer = Checkpointer(helped, interval=0.02).start()
    try:
        with Store.open(helped) as store:
            _write(store, 500)
            time.sleep(0.1)  # a few more rounds after the last commit
            assert _learners_in_database_file(helped, tmp_path) == 500
    finally:
        checkpointer.stop()
