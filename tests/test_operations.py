"""Operators' commands on real files: `learnline backup` under traffic, and `learnline doctor`."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway import create_app
from gateway.store import LearnerRecord, Store
from tests.conftest import TwilioWebhooks


def learnline(*args: str, cwd: Path, stdin: str | None = None,
              **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, with `env` over a clean LEARNLINE_* environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120, input=stdin)


NO_DATABASE = ("Error: no database at {path} yet: start the gateway once (learnline serve) "
               "or run learnline lessons import to make it, or set LEARNLINE_DB to the "
               "gateway's database")


def _numbers(n: int) -> list[str]:
    """Learners in different blocks of numbers (a block is throttled as one sender)."""
    return [f"+234803{k:03d}{k:04d}" for k in range(n)]


# -- backup -------------------------------------------------------------------------------


def test_a_backup_taken_under_traffic_restores_everything_committed_before_it(
        app, db_path: Path, tmp_path: Path):
    webhooks = TwilioWebhooks(app.test_client())
    for phone in _numbers(40):  # committed before the backup: all must be in it
        assert webhooks.sms(phone, "START").status_code == 200
    before = Store.open(db_path).row_counts()

    stop = threading.Event()
    during: list[int] = []

    def traffic() -> None:
        client = TwilioWebhooks(app.test_client())
        phones = _numbers(400)  # few enough messages each to stay under the inbound limits
        while not stop.is_set():
            during.append(client.sms(phones[len(during) % 400], "NEXT").status_code)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        result = learnline("backup", str(tmp_path / "backup.db"), cwd=tmp_path,
                           LEARNLINE_DB=str(db_path))
    finally:
        stop.set()
        sender.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backup: {tmp_path / 'backup.db'} (")
    assert result.stdout.rstrip().endswith("integrity ok")
    assert during and set(during) == {200}  # the gateway kept answering

    restored = tmp_path / "restored.db"
    shutil.copyfile(tmp_path / "backup.db", restored)
    assert not Path(f"{tmp_path / 'backup.db'}-wal").exists()  # one self-contained file
    with Store.open(restored) as store:
        assert store.integrity_problems(full=True) == []
        counts = store.row_counts()
        assert all(counts[table] >= before[table] for table in before)
        # a snapshot: every processed message has the replies it queued, and no more
        orphans = store.db.conn.execute(
            """SELECT count(*) FROM inbound WHERE status = 'processed' AND NOT EXISTS
                 (SELECT 1 FROM outbox WHERE outbox.inbound_id = inbound.id)""").fetchone()[0]
        assert orphans == 0
    # the restored database serves the same learners, progress and all
    served = create_app({"DATABASE": str(restored), "CARRIERS_FILE": app.config[
        "CARRIERS_FILE"], "TESTING": True})
    webhooks = TwilioWebhooks(served.test_client())
    assert webhooks.sms(_numbers(1)[0], "STATUS").status_code == 200
    with Store.open(restored) as store:
        assert "Start freelancing" in store.outbox(_numbers(1)[0])[-1].body


def test_backup_refuses_to_overwrite_the_live_database_or_write_nowhere(db_path: Path,
                                                                          tmp_path: Path):
    same = learnline("backup", str(db_path), cwd=tmp_path, LEARNLINE_DB=str(db_path))
    assert same.returncode == 1 and "one of the live database's files" in same.stderr
    nowhere = learnline("backup", str(tmp_path / "missing" / "b.db"), cwd=tmp_path,
                        LEARNLINE_DB=str(db_path))
    assert nowhere.returncode == 1 and "no such folder" in nowhere.stderr
    assert "Traceback" not in same.stderr + nowhere.stderr


@pytest.mark.parametrize("target", ["{db}", "{db}-wal", "{db}-shm", "{db}-writelock",
                                    "{db}-journal", "{db}/inside.db", "{db}-wal/x",
                                    "{stem}", "link-to-db"])
def test_backup_refuses_every_file_of_the_live_database(db_path: Path, tmp_path: Path,
                                                        target: str):
    """The live database, its -wal, -shm and write-lock files, anything inside one of them,
    another name for one of them, or a target whose scratch copy would be one of them:
    one line, exit 1, and the live database is intact and still serves."""
    with Store.open(db_path) as store:
        store.beat("worker")  # the WAL and -shm exist while it is open
        before = store.row_counts()
        courses = store.course_count()
        wal_and_lock = [p for p in (Path(f"{db_path}-wal"), Path(f"{db_path}-writelock"))
                        if p.exists()]
        (tmp_path / "link-to-db").symlink_to(db_path)
        # the copy is written at TARGET.partial: a database named like one must survive
        live = tmp_path / "named.partial"
        shutil.copyfile(db_path, live)
        path = target.format(db=db_path, stem=tmp_path / "named")
        env_db = live if target == "{stem}" else db_path
        done = learnline("backup", path, cwd=tmp_path, LEARNLINE_DB=str(env_db))
        assert done.returncode == 1, done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "live database" in done.stderr
        assert all(p.exists() for p in wal_and_lock)
        assert store.integrity_problems(full=True) == []
        assert store.row_counts() == before and store.course_count() == courses
        with Store.open(live) as named:
            assert named.integrity_problems(full=True) == [] and named.course_count() == courses


@pytest.mark.parametrize("command", [("backup", "copy.db"), ("stats",),
                                     ("learners", "export", "+2348030000000")])
def test_a_mistyped_database_path_is_said_and_no_empty_database_is_made(tmp_path: Path,
                                                                        command):
    """A cron job's LEARNLINE_DB with a typo: one line naming the path, exit 1, and no empty
    database left there (stats used to print zeros, backup a traceback)."""
    typo = tmp_path / "learnlin.db"
    done = learnline(*command, cwd=tmp_path, LEARNLINE_DB=str(typo))
    assert done.returncode == 1, done.stdout
    assert done.stderr.strip() == NO_DATABASE.format(path=typo)
    assert not typo.exists() and not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("command", [("backup", "copy.db"), ("stats",), ("staff", "list"),
                                     ("outbox", "held")])
def test_a_database_gone_from_where_it_was_made_is_said_to_be_restored(db_path: Path,
                                                                       tmp_path: Path, command):
    """The database moved away or deleted while its marker stays: every command that reads
    it says to restore it, as start-up and `doctor` do, not to make a new one (which
    start-up would then refuse)."""
    Store.open(db_path).close()
    db_path.rename(tmp_path / "aside.db")
    done = learnline(*command, cwd=tmp_path, LEARNLINE_DB=str(db_path))
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(f"Error: no database at {db_path}, but one was made there")
    assert "restore it from a backup" in done.stderr and "learnline serve" not in done.stderr
    assert not db_path.exists()


def test_a_staff_account_added_before_the_first_start_says_how_to_make_the_database(
        tmp_path: Path):
    """`learnline staff add` on a new server, LEARNLINE_DB set, before the gateway ever
    started: the database does not exist yet. The answer says so and how to make it;
    doing as it says, the account is added."""
    db = tmp_path / "gw.db"
    add = ("staff", "add", "amina", "--name", "Amina", "--role", "admin", "--password-stdin")
    done = learnline(*add, cwd=tmp_path, stdin="a long pass phrase 42\n", LEARNLINE_DB=str(db))
    assert done.returncode == 1, done.stdout
    assert done.stderr.strip() == NO_DATABASE.format(path=db)
    assert not db.exists()
    made = learnline("lessons", "import", cwd=tmp_path, LEARNLINE_DB=str(db))
    assert made.returncode == 0, made.stderr
    done = learnline(*add, cwd=tmp_path, stdin="a long pass phrase 42\n", LEARNLINE_DB=str(db))
    assert done.returncode == 0, done.stderr


def test_a_backup_is_readable_by_its_owner_only(db_path: Path, tmp_path: Path):
    """It holds learners' numbers and progress, whatever the umask of the cron job."""
    target = tmp_path / "nightly.db"
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from gateway.cli.main import main;"
         " sys.argv = ['learnline', 'backup', sys.argv[1]]; main()", str(target)],
        cwd=tmp_path, env={**os.environ, "LEARNLINE_DB": str(db_path)},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert target.stat().st_mode & 0o777 == 0o600


# -- doctor -------------------------------------------------------------------------------


def _doctor(tmp_path: Path, db: Path, carriers: Path | None, **env: str):
    if carriers is not None:
        env["LEARNLINE_CARRIERS"] = str(carriers)
    return learnline("doctor", cwd=tmp_path, LEARNLINE_DB=str(db), **env)


def test_doctor_on_a_healthy_gateway(db_path: Path, carriers_file: Path, tmp_path: Path):
    with Store.open(db_path) as store:
        store.beat("worker")
    result = _doctor(tmp_path, db_path, carriers_file, LEARNLINE_SECRET_KEY="k" * 40,
                     TEST_TWILIO_AUTH_TOKEN="token")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"OK   configuration: {carriers_file}: 2 carrier(s), valid" in lines
    assert f"OK   database: {db_path}: quick_check ok" in lines
    assert "OK   migrations: current" in lines and "OK   courses: 1 loaded" in lines
    assert any(line.startswith("OK   schema: as this version expects") for line in lines)
    assert any(line.startswith("OK   worker: last seen") for line in lines)
    assert "OK   carrier twilio: twilio, webhooks authenticated" in lines
    assert not any(line.startswith("FAIL") for line in lines)


def test_doctor_reminds_that_a_rotated_secret_is_still_accepted(db_path: Path,
                                                                  carriers_file: Path,
                                                                  tmp_path: Path):
    """docs/operations.md, Rotate a carrier secret, step 5: a previous_<key> left in place
    keeps a retired secret working; doctor says so until it is removed."""
    rotating = tmp_path / "rotating.toml"
    rotating.write_text(carriers_file.read_text().replace(
        'auth_token = "${TEST_TWILIO_AUTH_TOKEN}"\n',
        'auth_token = "${TEST_TWILIO_AUTH_TOKEN}"\n'
        'previous_auth_token = "${TEST_TWILIO_AUTH_TOKEN_BEFORE}"\n', 1))
    assert "previous_auth_token" in rotating.read_text()
    env = {"LEARNLINE_SECRET_KEY": "k" * 40, "TEST_TWILIO_AUTH_TOKEN": "token",
           "TEST_TWILIO_AUTH_TOKEN_BEFORE": "the-token-before"}
    result = _doctor(tmp_path, db_path, rotating, **env)
    assert ("WARN carrier twilio: previous_auth_token is still set: requests signed with the "
            "retired secret are accepted") in result.stdout
    assert "the-token-before" not in result.stdout + result.stderr
    done = _doctor(tmp_path, db_path, carriers_file, **env)
    assert "previous_" not in done.stdout


def test_doctor_says_what_to_fix(db_path: Path, carriers_file: Path, tmp_path: Path):
    with Store.open(db_path) as store:
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_partial_indexes'")
    broken = tmp_path / "broken.toml"
    broken.write_text(carriers_file.read_text().replace('adapter = "twilio"',
                                                        'adapter = "twilo"'))
    result = _doctor(tmp_path, db_path, broken)
    assert result.returncode == 1
    out = result.stdout
    assert f"FAIL configuration: {broken}" in out and "twilo" in out
    assert "WARN secrets: LEARNLINE_SECRET_KEY is not set" in out
    assert ("FAIL migrations: 1 pending (m006_partial_indexes): restart `learnline serve`"
            in out)
    assert "WARN worker: never seen" in out
    assert "Traceback" not in result.stderr
    short = _doctor(tmp_path, db_path, broken, LEARNLINE_SECRET_KEY="abc")
    assert "WARN secrets: LEARNLINE_SECRET_KEY has 3 characters: a short key can be guessed" \
        in short.stdout


def test_doctor_tells_every_configuration_mistake_in_one_run(db_path: Path, tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[carriers.tw]\nadapter = "twilio"\naccount_sid = "AC1"\n'
                      'auth_token = "${TW_TOKEN}"\nsendr = "+15005550006"\n\n'
                      '[carriers.console]\nadapter = "console"\ncountry = "XX"\n')
    result = _doctor(tmp_path, db_path, broken, LEARNLINE_RETENTION_DAYS="ninety")
    assert result.returncode == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL config")]
    assert fails == [
        f"FAIL configuration: {broken}: carrier 'tw': key 'auth_token': environment variable "
        "TW_TOKEN is not set",
        f"FAIL configuration: {broken}: carrier 'tw': key 'sendr': unknown key for adapter "
        "'twilio'; did you mean 'sender'? (allowed: " + fails[1].split("(allowed: ")[-1],
        f"FAIL configuration: {broken}: carrier 'console': key 'country': 'XX' is not an ISO "
        '3166 country code such as "SN"',
        "FAIL configuration: LEARNLINE_RETENTION_DAYS='ninety': a whole number of days from 0 "
        "(keep message bodies forever) to 36500; the default is 90",
    ]
    assert "OK   migrations: current" in result.stdout  # and the other checks still ran


@pytest.mark.parametrize(("value", "mode", "warned"), [
    ('"tw-token-0123456789abcdef"', 0o644, True),
    ('"${TW_TOKEN}"', 0o644, False),
    ('"tw-token-0123456789abcdef"', 0o640, False),
])
def test_doctor_warns_of_a_secret_written_in_a_carriers_file_anyone_can_read(
        db_path: Path, tmp_path: Path, value: str, mode: int, warned: bool):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(f'[carriers.tw]\nadapter = "twilio"\naccount_sid = "AC1"\n'
                        f'auth_token = {value}\n\n[carriers.console]\nadapter = "console"\n'
                        'webhook_token = "${CONSOLE_TOKEN}"\n')
    carriers.chmod(mode)
    result = _doctor(tmp_path, db_path, carriers, TW_TOKEN="tw-token-0123456789abcdef",
                     CONSOLE_TOKEN="console-token-0123456789")
    warning = (f"WARN secrets: {carriers} is readable by every user of this machine and has "
               "a secret written in it (carrier 'tw', key 'auth_token'): put ${VARIABLE} in "
               "the file and the value in the environment (docs/operations.md), or make the "
               f"file readable by the gateway only (chmod 640 {carriers})")
    assert (warning in result.stdout.splitlines()) is warned, result.stdout
    assert "tw-token-0123456789abcdef" not in result.stdout


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_doctor_on_a_missing_or_damaged_database(db_path: Path, tmp_path: Path, damage: str):
    target = tmp_path / "damaged.db"
    if damage == "garbage":
        shutil.copyfile(db_path, target)
        with target.open("r+b") as raw:  # overwrite 16 KiB in the middle of the file
            raw.seek(target.stat().st_size // 2 // 4096 * 4096)
            raw.write(b"\xde\xad\xbe\xef" * 4096)
    result = _doctor(tmp_path, target, None)
    assert result.returncode == 1
    if damage == "missing":
        assert f"FAIL database: {target}: no such file" in result.stdout
    else:
        assert "FAIL database" in result.stdout
        assert "restore the latest backup" in result.stdout or "cannot open" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_command_on_a_damaged_database_says_so_in_one_line(db_path: Path, tmp_path: Path):
    """An operator's command on a file SQLite cannot read gets a plain error that points
    at doctor and the restore steps, not a traceback."""
    with db_path.open("r+b") as raw:
        raw.write(b"not a database!!")
    result = learnline("stats", cwd=tmp_path, LEARNLINE_DB=str(db_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "the database is damaged: file is not a database" in result.stderr
    assert "learnline doctor" in result.stderr


@pytest.mark.parametrize("damage, says", [
    ("header", "cannot read the live database"),  # SQLite cannot open it at all
    ("rows", "integrity check"),  # it opens; the copy fails its check
])
def test_a_corrupt_backup_is_never_kept(db_path: Path, tmp_path: Path, damage: str,
                                        says: str):
    """The live file is damaged: the backup says how and leaves nothing behind."""
    damaged = tmp_path / "damaged.db"
    shutil.copyfile(db_path, damaged)
    with damaged.open("r+b") as raw:
        if damage == "header":
            raw.write(b"not a database!!")
        else:  # a leaf page of lessons' rows, whatever else the schema holds
            with sqlite3.connect(db_path) as conn:
                size = conn.execute("PRAGMA page_size").fetchone()[0]
                page = conn.execute("SELECT max(pageno) FROM dbstat WHERE name = 'lessons' "
                                    "AND pagetype = 'leaf'").fetchone()[0]
            raw.seek((page - 1) * size + 16)
            raw.write(b"\xde\xad\xbe\xef" * ((size - 32) // 4))
    result = learnline("backup", str(tmp_path / "b.db"), cwd=tmp_path,
                       LEARNLINE_DB=str(damaged))
    assert result.returncode == 1
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "b.db.partial").exists()
    assert "Traceback" not in result.stderr
    assert says in result.stderr
    [line] = result.stderr.splitlines()  # one readable line, not a Python list
    assert "['" not in line
    assert sqlite3.connect(db_path).execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_doctor_warns_when_web_sign_in_can_send_no_code(db_path: Path, tmp_path: Path):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.tw]\nadapter = "twilio"\naccount_sid = "AC1"\n'
                        'auth_token = "${TW_TOKEN}"\nlanguages = { DZ = "fr" }\n')
    carriers.chmod(0o640)
    result = _doctor(tmp_path, db_path, carriers, TW_TOKEN="tw-token-0123456789abcdef")
    warning = ("WARN web sign-in: no SMS carrier names its country (`country` in "
               f"{carriers}): sign-in codes go to no number, so web sign-in is off")
    assert warning in result.stdout.splitlines(), result.stdout
    carriers.write_text(carriers.read_text() + 'country = "DZ"\n')
    result = _doctor(tmp_path, db_path, carriers, TW_TOKEN="tw-token-0123456789abcdef")
    assert "web sign-in" not in result.stdout


def test_the_log_level_setting_is_the_gateways_as_well_as_gunicorns(db_path: Path,
                                                                    tmp_path: Path):
    """docs/operations.md, Logs: LEARNLINE_LOG_LEVEL sets how much the gateway's own lines
    say (it was read by gunicorn alone); a value that is no level is said, and info kept."""
    said = {}
    for number, level in enumerate(("", "warning", "loud")):
        phone = f"+23480300000{number:02d}"
        with Store.open(db_path) as store, store.write():
            store.save_learner(LearnerRecord(phone, "en", "twilio"), new=True)
        done = learnline("learners", "erase", "--yes", phone, cwd=tmp_path,
                         LEARNLINE_DB=str(db_path), LEARNLINE_LOG_LEVEL=level)
        assert done.returncode == 0, done.stderr
        said[level] = done.stderr
    assert "INFO gateway.cli.learners: erased learner" in said[""]
    assert "erased learner" not in said["warning"]
    assert "erased learner" in said["loud"]
    assert "LEARNLINE_LOG_LEVEL=loud is no log level (debug, info, warning, error): info" \
        in said["loud"]


def test_stats_for_a_program_without_a_programs_file_says_there_is_none(db_path: Path,
                                                                          tmp_path: Path):
    Store.open(db_path).close()
    done = learnline("stats", "--program", "orange", cwd=tmp_path, LEARNLINE_DB=str(db_path))
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: no program 'orange': LEARNLINE_PROGRAMS names no "
                                   "programs file, so this gateway has no programs "
                                   "(docs/programs.md)")
