"""`learnline restore BACKUP`: the backup in place of the database, and the messages that
were waiting to be sent when it was taken held for the operator's decision (`learnline
outbox held|release|drop`), never sent again on their own."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

from gateway import create_app
from gateway.config import load_carriers
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, TwilioWebhooks
from tests.test_operations import learnline

PHONES = [f"+234803{k:03d}{k:04d}" for k in range(5)]


def _drain(db_path: Path, carriers_file: Path) -> None:
    OutboxWorker(db_path, load_carriers(carriers_file)).run(drain=True, poll_seconds=0.01)


def _run(*args: str, db: Path, carriers_file: Path):
    return learnline(*args, cwd=db.parent, LEARNLINE_DB=str(db),
                     LEARNLINE_CARRIERS=str(carriers_file), TEST_TWILIO_AUTH_TOKEN=AUTH_TOKEN)


def _held_ids(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT outbox_id FROM held_messages ORDER BY 1")]
    conn.close()
    return ids


def test_a_restore_holds_what_was_waiting_and_sends_only_what_the_operator_releases(
        app, db_path: Path, carriers_file: Path, twilio_api, tmp_path: Path):
    webhooks = TwilioWebhooks(app.test_client())
    for phone in PHONES:
        assert webhooks.sms(phone, "START").status_code == 200
    with Store.open(db_path) as store:
        waiting = [m for m in store.outbox() if m.status == "queued"]
    assert len(waiting) >= len(PHONES)
    backup = tmp_path / "nightly.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    _drain(db_path, carriers_file)  # after the backup, every reply went out
    sent = len(twilio_api.messages)
    assert sent == len(waiting)
    app.extensions["learnline.connections"].store.close()  # the gateway stopped

    restored = _run("restore", str(backup), db=db_path, carriers_file=carriers_file)
    assert restored.returncode == 0, restored.stderr
    assert f"{len(waiting)} message(s) that were waiting to be sent when the backup was " \
        "taken are held" in restored.stdout
    [kept] = tmp_path.glob("learnline.db.replaced-*[0-9]Z")
    assert str(kept) in restored.stdout
    assert list(tmp_path.glob("learnline.db.restoring*")) == []  # nothing left behind
    with Store.open(kept) as before:  # the database it replaced, kept whole
        assert {m.status for m in before.outbox()} == {"sent"}

    _drain(db_path, carriers_file)
    assert len(twilio_api.messages) == sent  # nothing sent again on its own
    listed = _run("outbox", "held", db=db_path, carriers_file=carriers_file)
    assert listed.returncode == 0
    assert len([line for line in listed.stdout.splitlines() if "  twilio  " in line]) \
        == len(waiting)
    assert f"{len(waiting)} held: " in listed.stdout
    assert "+234803" not in listed.stdout  # numbers masked

    first = waiting[0]
    released = _run("outbox", "release", str(first.id), db=db_path,
                    carriers_file=carriers_file)
    assert released.returncode == 0 and "released 1" in released.stdout
    _drain(db_path, carriers_file)
    assert len(twilio_api.messages) == sent + 1
    assert twilio_api.messages[-1]["Body"] == first.body

    dropped = _run("outbox", "drop", "--all", db=db_path, carriers_file=carriers_file)
    assert dropped.returncode == 0 and f"dropped {len(waiting) - 1}" in dropped.stdout
    assert _held_ids(db_path) == []
    _drain(db_path, carriers_file)
    assert len(twilio_api.messages) == sent + 1

    # the restored database serves its learners as the backup had them
    served = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                         "TESTING": True})
    assert TwilioWebhooks(served.test_client()).sms(PHONES[1], "NEXT").status_code == 200
    _drain(db_path, carriers_file)
    assert len(twilio_api.messages) == sent + 2


def test_doctor_says_messages_are_held(db_path: Path, carriers_file: Path, tmp_path: Path,
                                       app):
    TwilioWebhooks(app.test_client()).sms(PHONES[0], "START")
    app.extensions["learnline.connections"].store.close()
    backup = tmp_path / "b.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    assert _run("restore", str(backup), db=db_path, carriers_file=carriers_file
                ).returncode == 0
    doctor = _run("doctor", db=db_path, carriers_file=carriers_file)
    assert "WARN outbox: 1 message(s) held since a restore: `learnline outbox held`" \
        in doctor.stdout


def test_restore_refuses_while_a_process_has_the_database_open_and_what_is_no_backup(
        db_path: Path, carriers_file: Path, tmp_path: Path):
    with Store.open(db_path) as store:
        before = store.row_counts()
    backup = tmp_path / "b.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    with Store.open(db_path) as running_gateway:  # this test's process stands for it
        running_gateway.beat("worker")
        running = _run("restore", str(backup), db=db_path, carriers_file=carriers_file)
    assert running.returncode == 1
    [line] = running.stderr.strip().splitlines()
    found = re.match(rf"Error: the database is open in process {os.getpid()} \((.*)\): stop "
                     r"the gateway and the worker first \(systemctl stop learnline-web "
                     r"learnline-worker\)$", line)
    assert found, line
    # The program by its name, as a person knows it, not cut inside its folder's path.
    program = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert found.group(1).split(" ")[0] == Path(program).name, line
    with Store.open(db_path) as store:  # a recent heartbeat alone is no reason to refuse
        store.beat("worker")
    assert _run("restore", str(backup), db=db_path, carriers_file=carriers_file
                ).returncode == 0
    for kept in tmp_path.glob("*.replaced-*"):
        kept.unlink()

    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    for target, said in ((tmp_path / "notes.txt", "is not a Learnline database"),
                         (tmp_path / "missing.db", "no such file"),
                         (db_path, "that is the live database")):
        refused = _run("restore", str(target), db=db_path, carriers_file=carriers_file)
        assert refused.returncode == 1, refused.stdout
        [line] = refused.stderr.strip().splitlines()
        assert said in line, line
    assert not list(tmp_path.glob("*.replaced-*")) and not list(tmp_path.glob("*.restoring"))
    with Store.open(db_path) as store:
        assert store.row_counts() == before and store.integrity_problems() == []


def test_a_backup_put_in_place_by_hand_holds_what_it_had_waiting_at_start_up(
        app, db_path: Path, carriers_file: Path, twilio_api, tmp_path: Path):
    """The restore of earlier docs (stop, copy the file in place, start) sent every reply
    the backup had queued again. A backup knows it is one: the first start on it holds
    them, says so, and sends only what comes after."""
    webhooks = TwilioWebhooks(app.test_client())
    for phone in PHONES:
        webhooks.sms(phone, "START")
    app.extensions["learnline.connections"].store.close()
    backup = tmp_path / "nightly.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    _drain(db_path, carriers_file)
    sent = len(twilio_api.messages)
    assert sent >= len(PHONES)

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, db_path)
    started = _run("worker", "--drain", db=db_path, carriers_file=carriers_file)
    assert started.returncode == 0, started.stderr
    assert "this database is a backup taken at " in started.stderr
    assert f": {sent} message(s) that were waiting to be sent then are held" in started.stderr
    assert len(twilio_api.messages) == sent  # no duplicates
    assert len(_held_ids(db_path)) == sent
    again = _run("worker", "--drain", db=db_path, carriers_file=carriers_file)
    assert "backup taken at" not in again.stderr  # said once: the marker is gone
    with Store.open(backup) as untouched:  # the backup file itself is never changed by it
        assert {m.status for m in untouched.outbox()} == {"queued"}


def test_held_messages_are_listed_without_the_control_characters_they_carry(
        db_path: Path, carriers_file: Path, tmp_path: Path):
    """A reply may carry what a learner typed (WhatsApp keeps escape characters): listed on
    the operator's terminal, it cannot clear the screen or retitle the window."""
    with Store.open(db_path) as store, store.write():
        store.enqueue("twilio", PHONES[0], "\x1b]0;title\x07\x1b[2J\x1b[H is not a code\u202e")
    backup = tmp_path / "b.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    assert _run("restore", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    listed = _run("outbox", "held", db=db_path, carriers_file=carriers_file)
    assert listed.returncode == 0, listed.stderr
    assert not any(c in listed.stdout for c in "\x1b\x07\u202e"), repr(listed.stdout)
    assert "\\x1b]0;title\\x07\\x1b[2J\\x1b[H is not a code\\u202e" in listed.stdout


def test_held_messages_are_listed_in_columns(db_path: Path, carriers_file: Path,
                                             tmp_path: Path):
    """Carriers with ids of different lengths, ids of different widths: each column
    starts where the one above it does."""
    with Store.open(db_path) as store, store.write():
        for n in range(11):
            store.enqueue("twilio" if n % 2 else "console", PHONES[n % 5], f"Reply {n}")
    backup = tmp_path / "b.db"
    assert _run("backup", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    assert _run("restore", str(backup), db=db_path, carriers_file=carriers_file).returncode == 0
    listed = _run("outbox", "held", db=db_path, carriers_file=carriers_file)
    rows = [line for line in listed.stdout.splitlines() if "queued" in line]
    assert len(rows) == 11
    assert len({row.index("queued") for row in rows}) == 1, rows
    assert len({row.index("Reply") for row in rows}) == 1, rows
