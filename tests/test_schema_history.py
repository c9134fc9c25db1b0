"""Databases made by every past version of the schema upgrade to today's.

The databases come from tests/data/schemas/ (made from git history by
tests/tools/schema_history.py, so no history is needed here): one fresh database per
commit that changed gateway/store/schema.py, and one from the project's first commit
holding a learner halfway through the course with replies still queued.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import create_app
from gateway.config import load_carriers
from gateway.content.model import SMS
from gateway.outbox.worker import OutboxWorker
from gateway.server.health import readiness
from gateway.store import SchemaError, Store
from gateway.store.schema_check import known_migrations
from gateway.version import VERSION
from tests.conftest import AUTH_TOKEN, TwilioWebhooks

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"
PAST = sorted(SCHEMAS.glob("[0-9][0-9]-*.sql"))
PHONE = "+2348030000000"


def load(fixture: Path, into: Path) -> Path:
    """A database file holding what `fixture` (an SQL dump) describes."""
    conn = sqlite3.connect(into, isolation_level=None)
    conn.executescript(fixture.read_text(encoding="utf-8"))
    conn.close()
    return into


def shape(path: Path) -> dict[str, object]:
    """What a database's schema is, read straight from SQLite: each table's columns
    (name, type, not null, default, primary key), each index's definition, each trigger."""
    conn = sqlite3.connect(path)
    found: dict[str, object] = {}
    for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            " AND tbl_name != '_sqlite_migrations'"):
        if kind == "table":
            found[f"table {name}"] = sorted(
                (c[1], c[2].upper(), c[3], c[4], c[5])
                for c in conn.execute(f'PRAGMA table_info("{name}")'))
        elif sql:
            found[f"{kind} {name}"] = (table, re.sub(r"\s+", " ", sql).strip())
    conn.close()
    return found


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The schema a new database gets today."""
    path = tmp_path_factory.mktemp("fresh") / "fresh.db"
    Store.open(path, migrate=True).close()
    return shape(path)


def test_every_past_schema_is_stored():
    assert len(PAST) >= 11  # one per change to gateway/store/schema.py since the first


@pytest.mark.parametrize("fixture", PAST, ids=[p.stem for p in PAST])
def test_a_database_made_at_every_past_schema_upgrades_to_todays(
        fixture: Path, tmp_path: Path, current: dict[str, object]):
    path = load(fixture, tmp_path / "old.db")
    with Store.open(path, migrate=True) as store:
        assert store.pending_migrations() == [] and store.schema_problems() == []
    upgraded = shape(path)  # read here, not by the code under test
    assert sorted(set(current) ^ set(upgraded)) == []
    assert [k for k in current if upgraded[k] != current[k]] == []


def test_a_database_from_the_first_commit_upgrades_and_its_learner_carries_on(
        tmp_path: Path, carriers_file: Path, twilio_api):
    """Made by the project's first commit: a learner in lesson 4 of 6, two replies queued.
    Under today's code the queued replies go out once each, the learner goes on from where
    they were, and nothing is sent twice however often the worker runs."""
    path = load(SCHEMAS / "first-commit-learner.sql", tmp_path / "learnline.db")
    with Store.open(path) as old:
        queued = [m.body for m in old.outbox(PHONE) if m.status == "queued"]
        sent_before = max(m.id for m in old.outbox(PHONE) if m.status == "sent")
        place = old.enrollment(PHONE, "start-freelancing")
    assert len(queued) == 2 and (place.position, place.card) == (3, 1)
    # one learner's whole course at test speed: past the inbound limits
    carriers_file.write_text(carriers_file.read_text().replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))

    app = create_app({"DATABASE": str(path), "CARRIERS_FILE": str(carriers_file),
                      "TESTING": True})
    carriers = load_carriers(carriers_file)
    for _ in range(2):
        OutboxWorker(path, carriers).run(drain=True, poll_seconds=0.01)
    assert twilio_api.bodies_to(PHONE) == queued

    assert TwilioWebhooks(app.test_client()).sms(PHONE, "NEXT").status_code == 200
    for _ in range(2):
        OutboxWorker(path, carriers).run(drain=True, poll_seconds=0.01)
    with Store.open(path) as store:
        now = store.enrollment(PHONE, "start-freelancing")
        assert (now.position, now.card) == (3, 2)
        lesson = store.lesson("start-freelancing", "agree-the-job", "en").edition(SMS)
        sent = twilio_api.bodies_to(PHONE)
        assert sent[:2] == queued and len(sent) == 3
        assert sent[2].startswith(lesson.cards[2].text[:40])  # its SMS form
        assert {m.status for m in store.outbox(PHONE)} == {"sent"}
        unstamped = store.db.conn.execute(
            "SELECT count(*) FROM outbox WHERE status = 'sent' AND sent_at IS NULL").fetchone()
        assert unstamped == (0,)  # sent before the upgrade: stamped from its accepted attempt

    # ... and on to the end of the course, answering every question right
    webhooks = TwilioWebhooks(app.test_client())
    for _ in range(80):
        with Store.open(path) as store:
            place = store.enrollment(PHONE, "start-freelancing")
            if place.completed:
                break
            lesson_id = store.course("start-freelancing").lesson_ids[place.position]
            lesson = store.lesson("start-freelancing", lesson_id, "en")
        text = (chr(ord("A") + lesson.questions[place.quiz.queue[0]].answer)
                if place.quiz else "NEXT")
        assert webhooks.sms(PHONE, text).status_code == 200
        OutboxWorker(path, carriers).run(drain=True, poll_seconds=0.01)
    with Store.open(path) as store:
        assert store.enrollment(PHONE, "start-freelancing").completed
        results = store.db.conn.execute(
            "SELECT count(*) FROM lesson_results WHERE phone = ?", [PHONE]).fetchone()
        assert results == (6,)  # three lessons before the upgrade, three after
        sent_rows = store.db.conn.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND carrier_message_id IS NOT NULL "
            "AND id > ?", [PHONE, sent_before]).fetchone()[0]
    # every message after the upgrade reached the carrier exactly once
    assert len(twilio_api.bodies_to(PHONE)) == sent_rows


# -- what start-up, /readyz and doctor say of a schema this version cannot use ----------


def learnline(*args: str, db: Path, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess on the database `db`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(env, LEARNLINE_DB=str(db))
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=db.parent,
                          env=environ, capture_output=True, text=True, timeout=120)


def _without_sent_at(db_path: Path) -> None:
    """What a database made between the two texts of m007 looked like, with every
    migration recorded as applied: the outbox lacks sent_at and its index."""
    with Store.open(db_path) as store:
        store.db.execute("DROP INDEX outbox_unsolicited")
        store.db.execute("ALTER TABLE outbox DROP COLUMN sent_at")
        store.enqueue("twilio", PHONE, "queued before the upgrade")
        store.beat("worker")


def test_a_schema_unlike_its_migrations_is_named_and_nothing_starts_on_it(
        db_path: Path, carriers_file: Path, twilio_api):
    _without_sent_at(db_path)
    missing = "column outbox.sent_at missing; index outbox_unsolicited on outbox missing"
    with Store.open(db_path) as store:
        assert store.pending_migrations() == []
        ready, lines = readiness(store)
    assert not ready and f"schema: {missing}" in lines

    doctor = learnline("doctor", db=db_path, LEARNLINE_CARRIERS=str(carriers_file),
                       TEST_TWILIO_AUTH_TOKEN="token")
    assert doctor.returncode == 1
    assert "OK   migrations: current" in doctor.stdout
    assert f"FAIL schema: {missing}: " in doctor.stdout

    for command in (("worker", "--drain"), ("serve", "--port", "1")):
        started = learnline(*command, db=db_path, LEARNLINE_CARRIERS=str(carriers_file),
                            TEST_TWILIO_AUTH_TOKEN=AUTH_TOKEN)
        assert started.returncode == 1, started.stdout + started.stderr
        [line] = started.stderr.strip().splitlines()
        assert line.startswith(f"Error: {db_path}: the schema is not what its migrations "
                               f"make ({missing})")
    with pytest.raises(SchemaError):
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file)})
    assert twilio_api.messages == []  # nothing sent by a worker that would crash after it


def test_a_database_from_a_newer_learnline_is_refused_in_one_line(
        db_path: Path, carriers_file: Path, twilio_api):
    with Store.open(db_path) as store:
        store.db.execute("ALTER TABLE outbox ADD COLUMN priority INTEGER")
        store.db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                         "VALUES ('learnline', 'm099_outbox_priority', '2027-01-01')")
        store.enqueue("twilio", PHONE, "queued by the newer version")
        store.beat("worker")
        before = store.db.conn.execute("SELECT * FROM _sqlite_migrations").fetchall()
        ready, lines = readiness(store)
    assert not ready and ("schema: made by a newer Learnline (migration "
                          "m099_outbox_priority is unknown here)") in lines

    started = learnline("worker", "--drain", db=db_path, LEARNLINE_CARRIERS=str(carriers_file),
                        TEST_TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    assert started.returncode == 1
    [line] = started.stderr.strip().splitlines()
    assert line == (f"Error: {db_path} was upgraded by a newer Learnline (it has migration "
                    f"m099_outbox_priority, unknown to Learnline {VERSION}): install that "
                    "version again, or restore a backup taken before the upgrade "
                    "(docs/operations.md, Upgrade)")
    doctor = learnline("doctor", db=db_path, LEARNLINE_CARRIERS=str(carriers_file))
    assert doctor.returncode == 1
    assert "FAIL schema: made by a newer Learnline (migration m099_outbox_priority" \
        in doctor.stdout
    with Store.open(db_path) as store:
        assert store.db.conn.execute("SELECT * FROM _sqlite_migrations").fetchall() == before
    assert twilio_api.messages == []


def test_a_migration_record_in_the_older_layout_of_sqlite_utils_is_read(
        tmp_path: Path, current: dict[str, object]):
    """Earlier sqlite-utils (and sqlite-migrate) kept applied migrations keyed by
    (migration_set, name), without an id: such a database upgrades all the same."""
    path = load(PAST[0], tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """CREATE TABLE old_record (migration_set TEXT, name TEXT, applied_at TEXT,
                                        PRIMARY KEY (migration_set, name));
               INSERT INTO old_record SELECT migration_set, name, applied_at
                 FROM _sqlite_migrations;
               DROP TABLE _sqlite_migrations;
               ALTER TABLE old_record RENAME TO _sqlite_migrations;""")
    conn.close()
    with Store.open(path, migrate=True) as store:
        assert store.pending_migrations() == [] and store.schema_problems() == []
    assert shape(path) == current


def test_no_landed_migration_has_changed():
    """A database that applied a migration never applies it again, so an edit to one
    reaches new databases only: change the schema with a new migration at the end."""
    from tests.tools.schema_history import migration_digests

    now = migration_digests((ROOT / "gateway" / "store" / "schema.py").read_text("utf-8"))
    landed = [line.split() for line in (SCHEMAS / "landed-migrations.txt").read_text(
        "utf-8").splitlines() if line and not line.startswith("#")]
    assert len(landed) >= 10
    changed = [name for name, digest in landed if now.get(name) != digest]
    assert changed == [], f"edited or removed after landing: {changed}"


def test_after_an_upgrade_start_up_and_doctor_say_the_bundled_course_is_behind(
        tmp_path: Path, carriers_file: Path):
    """The first commit's database holds the course as it was bundled then (English and
    French); this version bundles more. Start-up says so and names the command that brings
    it up to date; after it, nothing more is said, and the learner's place is kept."""
    path = load(SCHEMAS / "first-commit-learner.sql", tmp_path / "learnline.db")
    env = {"LEARNLINE_CARRIERS": str(carriers_file), "TEST_TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    started = learnline("worker", "--drain", db=path, **env)
    assert started.returncode == 0, started.stderr
    behind = ("bundled course start-freelancing: the database holds another version "
              "(")
    assert behind in started.stderr
    assert "run `learnline lessons import` to bring it up to date" in started.stderr
    doctor = learnline("doctor", db=path, **env)
    assert "WARN courses: bundled course start-freelancing: the database holds another " \
        "version" in doctor.stdout

    imported = learnline("lessons", "import", db=path, **env)
    assert imported.returncode == 0, imported.stderr
    again = learnline("worker", "--drain", db=path, **env)
    assert again.returncode == 0 and "bundled course" not in again.stderr
    assert "WARN courses" not in learnline("doctor", db=path, **env).stdout
    with Store.open(path) as store:
        place = store.enrollment(PHONE, "start-freelancing")
        assert (place.position, place.card) == (3, 1)
        assert store.lesson("start-freelancing", "agree-the-job", "sw") is not None


def test_a_database_with_learnlines_tables_but_no_migration_record_is_refused(
        db_path: Path, carriers_file: Path):
    with Store.open(db_path) as store:
        store.db.execute("DROP TABLE _sqlite_migrations")
        before = store.row_counts()
    started = learnline("worker", "--drain", db=db_path, LEARNLINE_CARRIERS=str(carriers_file))
    assert started.returncode == 1
    [line] = started.stderr.strip().splitlines()
    assert line.startswith(f"Error: {db_path} has Learnline's tables (")
    assert "but no record of the migrations that made them (_sqlite_migrations)" in line
    with Store.open(db_path) as store:
        assert store.row_counts() == before


def test_every_migration_since_the_first_release_is_in_the_changelog():
    """A migration changes what a database holds: the release that brings it says so
    (CHANGELOG.md, under its version), so operators know which upgrade changes the file."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first_release = changelog.index("\n## 0.1.0")
    unnamed = [name for name in known_migrations()[9:]  # 0.1.0 had m001-m009
               if f"`{name}`" not in changelog[:first_release]]
    assert unnamed == []
