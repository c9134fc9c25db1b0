"""Backup and restore where an operator can get them wrong, on real files: backing up a
database that is not there, restoring a SQLite file that is not Learnline's or into a
folder that is not there, and restoring onto a new machine where no database exists yet."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.ops.backup import BackupError, backup
from gateway.ops.restore import RestoreError, restore
from gateway.store import Store


def test_backing_up_a_database_that_is_not_there_says_so(tmp_path: Path):
    missing = tmp_path / "learnline.db"
    with pytest.raises(BackupError, match=rf"^{missing}: no such database$"):
        backup(missing, tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_a_sqlite_file_that_is_not_learnlines_is_not_restored(tmp_path: Path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    db_path = tmp_path / "learnline.db"
    with pytest.raises(RestoreError, match=r"is not a Learnline database \(no outbox, "
                       r"learners or migration record\)$"):
        restore(other, db_path)
    assert not db_path.exists()


def test_restoring_into_a_folder_that_is_not_there_names_it(tmp_path: Path):
    saved = tmp_path / "saved.db"
    Store.open(saved, migrate=True).close()
    target = tmp_path / "nowhere" / "learnline.db"
    with pytest.raises(RestoreError, match=rf"^{target.parent}: no such folder "
                       r"\(LEARNLINE_DB\)$"):
        restore(saved, target)


def test_a_backup_restored_on_a_new_machine_sets_nothing_aside(tmp_path: Path):
    live = tmp_path / "live.db"
    with Store.open(live, migrate=True) as store, store.write():
        store.enqueue("console", "+2348030000001", "Hello")
    saved = tmp_path / "saved.db"
    backup(live, saved)
    new_machine = tmp_path / "new" / "learnline.db"
    new_machine.parent.mkdir()
    report = restore(saved, new_machine)
    assert report.kept is None
    assert report.held == 1  # its unsent reply waits for an operator, as after any restore
    with Store.open(new_machine) as store:
        assert [m.body for m in store.outbox()] == ["Hello"]
