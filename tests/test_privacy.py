"""Learners' rights (docs/privacy.md): export everything stored about a number, erase it
keeping anonymous counts, ignore stray messages from an erased number until the person
comes back, and forget old message bodies."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from carrier_adapters import UssdRequest
from gateway.channels.sms import receive_inbound
from gateway.channels.ussd import handle_ussd
from gateway.cli.main import main
from gateway.config import Carrier, ConfigError, load_carriers
from gateway.content.model import SMS
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store, events, privacy
from tests.test_web import sign_in

LEARNER = "+2348030000000"
OTHER = "+2348031111111"
SECRET = "my secret is zebra-kilimanjaro"
OTHER_SECRET = "other learner's words: flamingo-ouagadougou"
NAME = "Adaeze Okonkwo-Zebra"
COURSE = "start-freelancing"
DAY = 86400.0


@pytest.fixture(autouse=True)
def _default_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEARNLINE_RETENTION_DAYS", raising=False)


def converse(twilio, phone: str, *texts: str) -> None:
    for text in texts:
        assert twilio.sms(phone, text).status_code == 200


def take_a_lesson_into_its_quiz(twilio, store: Store, phone: str = LEARNER) -> None:
    """START, read every card SMS sends of the first lesson, answer the first question wrong."""
    converse(twilio, phone, "START")
    lesson = store.lesson(COURSE, "find-your-skill", "en").edition(SMS)
    cards = [card for card in lesson.cards if card.text]
    converse(twilio, phone, *["NEXT"] * (len(cards) - 1))  # the last card asks Q1
    assert "\nQ1/" in store.outbox(phone)[-1].body
    wrong = "ABCD"[(lesson.questions[0].answer + 1) % len(lesson.questions[0].options)]
    converse(twilio, phone, wrong)


def drain(db_path: Path, carriers_file: Path) -> OutboxWorker:
    worker = OutboxWorker(db_path, load_carriers(carriers_file))
    worker.run(drain=True, poll_seconds=0.01)
    return worker


def everything(db_path: Path) -> list[tuple[str, str, object]]:
    """(table, column, value) for every value of every table in the database file."""
    found = []
    with sqlite3.connect(db_path) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                found.extend((table, column, value)
                             for column, value in zip(columns, row, strict=True))
    conn.close()
    return found


def holding(db_path: Path, *needles: str) -> list[tuple[str, str, object]]:
    """Every stored value that contains one of `needles` (text or bytes)."""
    hits = []
    for table, column, value in everything(db_path):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and any(needle in value for needle in needles):
            hits.append((table, column, value))
    return hits


# After an erasure the number stays in one place only, the `erased` event, until the hub
# has it: it travels once, to have the other edges erase it too (docs/privacy.md).
THE_ERASURE_NOTICE = [("events", "learner", LEARNER)]


def hub_acknowledges(store: Store) -> None:
    """What a sync does once the hub has this edge's events: the erasure notice then
    takes a pseudonym too."""
    _pending, last = events.unpushed_events(store, 1_000_000)
    events.mark_pushed(store, last)


def aggregate_counts(store: Store) -> dict[str, int]:
    one = lambda sql: store.db.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "learners": one("SELECT count(*) FROM learners"),
        "enrollments": one("SELECT count(*) FROM enrollments"),
        "completed": one("SELECT count(*) FROM enrollments WHERE completed_at IS NOT NULL"),
        "lesson_results": one("SELECT count(*) FROM lesson_results"),
        "answers": one("SELECT count(*) FROM answers"),
        "correct": one("SELECT count(*) FROM answers WHERE correct"),
        "inbound": one("SELECT count(*) FROM inbound"),
        "outbox": one("SELECT count(*) FROM outbox"),
        "segments": one("SELECT coalesce(sum(segments), 0) FROM outbox"),
        "activity": one("SELECT count(*) FROM activity"),
        "certificates": one("SELECT count(*) FROM certificates"),
    }


def give_them_everything(store: Store, phone: str = LEARNER) -> None:
    """What other features store about a learner: a name, a time zone, a review question,
    a certificate, a day of activity, a sign-in code, rate-limit events, a USSD session."""
    learner = store.learner(phone)
    learner.display_name = NAME
    learner.timezone = "Africa/Lagos"
    learner.pending_review = {"course": COURSE, "lesson": "find-your-skill", "question": 0}
    with store.write():
        store.save_learner(learner)
        store.db.execute(
            "INSERT OR IGNORE INTO reviews (phone, course_id, lesson_id, question, due_at) "
            "VALUES (?, ?, 'find-your-skill', 0, ?)", [phone, COURSE, time.time() + DAY])
        store.db.execute(
            "INSERT INTO certificates (code, phone, course_id, course_title, holder, score, "
            "total, issued_at) VALUES (?, ?, ?, 'Start freelancing', ?, 5, 6, ?)",
            [f"CERT-{phone[-4:]}", phone, COURSE, NAME, time.time()])
        store.db.execute("INSERT OR IGNORE INTO activity (day, channel, phone) "
                         "VALUES ('2024-01-02', 'web', ?)", [phone])
    store.save_signin_code(phone, "0" * 64, time.time() + 600)
    assert store.take_rate([(f"number/3600s:{phone}", 3, 3600.0)]) is None
    ussd = Carrier.of(id="console", adapter="console", country="NG")
    handle_ussd(store, ussd, UssdRequest("ussd-1", phone, "*384#", "", is_new=True,
                                         cumulative=False), phone)


# -- the schema: no table holding numbers is forgotten -------------------------------------


def test_every_table_with_a_phone_column_is_exported_and_erased(store: Store):
    tables = privacy.phone_tables(store)
    assert {"learners", "inbound", "outbox", "certificates", "activity"} <= set(tables)
    assert set(tables) <= set(privacy.PHONE_TABLES), (
        "a table holds phone numbers that learners export/erase do not know: "
        "add it to gateway/store/privacy.py")
    export = privacy.learner_export(store, LEARNER)
    assert set(tables) | set(privacy.OTHER_TABLES) <= set(export)


def test_a_new_table_holding_numbers_stops_export_and_erasure(db_path: Path, store: Store):
    with store.write():
        store.db.execute("CREATE TABLE invitations (phone TEXT, sent_at REAL)")
    with pytest.raises(privacy.UnhandledTable, match="invitations"):
        privacy.learner_export(store, LEARNER)
    with pytest.raises(privacy.UnhandledTable, match="invitations"):
        privacy.erase(store, LEARNER)


# -- export ------------------------------------------------------------------------------------


def learner_and_other_with_everything(twilio, store: Store, db_path: Path,
                                      carriers_file: Path) -> None:
    """LEARNER mid-quiz with a row in every table, their secret sent and answered; OTHER
    started too, with their own secret; every queued message sent."""
    take_a_lesson_into_its_quiz(twilio, store)
    converse(twilio, LEARNER, SECRET)
    converse(twilio, OTHER, "START", OTHER_SECRET)
    give_them_everything(store)
    drain(db_path, carriers_file)


def test_the_export_holds_the_learners_messages_and_progress_and_nobody_elses(
        twilio, store: Store, db_path: Path, carriers_file: Path):
    learner_and_other_with_everything(twilio, store, db_path, carriers_file)
    sent = next(m for m in store.outbox(LEARNER) if m.carrier_message_id)
    assert twilio.status(sent.carrier_message_id, "delivered").status_code == 200

    export = privacy.learner_export(store, LEARNER)

    text = json.dumps(export, ensure_ascii=False)
    assert OTHER not in text and OTHER_SECRET not in text
    assert export["format"] == privacy.EXPORT_FORMAT and export["phone"] == LEARNER
    assert export["erased_at"] is None
    [learner] = export["learners"]
    assert (learner["phone"], learner["display_name"], learner["stopped"]) == (
        LEARNER, NAME, False)
    assert learner["pending_review"] == {"course": COURSE, "lesson": "find-your-skill",
                                         "question": 0}
    assert [e["course_id"] for e in export["enrollments"]] == [COURSE]
    assert export["answers"] and export["answers"][0]["correct"] is False
    inbound = [m["text"] for m in export["inbound"]]
    assert inbound[0] == "START" and inbound[-1] == SECRET
    assert export["outbox"][0]["body"].startswith("Welcome to")
    delivered = next(m for m in export["outbox"] if m["id"] == sent.id)
    assert [a["outcome"] for a in delivered["send_attempts"]] == ["accepted"]
    assert [e["state"] for e in delivered["status_events"]] == ["delivered"]
    assert export["certificates"][0]["holder"] == NAME
    assert {a["channel"] for a in export["activity"]} >= {"sms", "web", "ussd"}
    assert export["ussd_sessions"][0]["view"]
    [code] = export["signin_codes"]
    assert "code_hash" not in code and "0" * 64 not in text
    assert [e["key"] for e in export["rate_events"]] == [f"number/3600s:{LEARNER}"]
    # The learner's events (docs/sync.md) are theirs too: what they did, as facts.
    assert {"enrolled", "card_reached", "answered"} <= {e["kind"] for e in export["events"]}
    enrolled = next(e for e in export["events"] if e["kind"] == "enrolled")
    assert enrolled["data"] == {"course": COURSE, "restart": False, "channel": "sms",
                                "language": "en"}
    # Times are ISO 8601 in UTC.
    for stamp in (learner["created_at"], export["inbound"][0]["received_at"],
                  delivered["send_attempts"][0]["at"], export["exported_at"]):
        assert stamp.endswith("Z") and datetime.fromisoformat(stamp).utcoffset().seconds == 0


def test_the_export_of_an_unknown_number_is_empty(store: Store):
    export = privacy.learner_export(store, LEARNER)
    assert privacy.export_is_empty(export)
    assert export["learners"] == [] and export["outbox"] == []


# -- erasure -----------------------------------------------------------------------------------


def test_erasure_removes_the_number_and_the_bodies_and_keeps_the_counts(
        twilio, store: Store, db_path: Path, carriers_file: Path):
    learner_and_other_with_everything(twilio, store, db_path, carriers_file)
    converse(twilio, LEARNER, "STATUS")  # a reply left queued
    assert holding(db_path, LEARNER, SECRET, NAME)
    before = aggregate_counts(store)

    erasure = privacy.erase(store, LEARNER)

    assert erasure.found and not erasure.already_erased and erasure.cancelled >= 1
    assert erasure.counts["learners"] == 1 and erasure.counts["answers"] >= 1
    assert erasure.counts["reviews"] >= 1 and erasure.counts["ussd_sessions"] == 1
    assert erasure.counts["signin_codes"] == erasure.counts["rate_events"] == 1
    # Not the number (in any form), not what they wrote, not their name: nowhere, but for
    # the notice of the erasure waiting for the hub; once the hub has it, nowhere at all.
    assert holding(db_path, LEARNER, LEARNER[1:], "8030000000", SECRET, NAME) == \
        THE_ERASURE_NOTICE
    hub_acknowledges(store)
    assert holding(db_path, LEARNER, LEARNER[1:], "8030000000", SECRET, NAME) == []
    # The other learner is untouched.
    assert store.learner(OTHER) is not None
    assert [m["text"] for m in store.db.query(
        "SELECT text FROM inbound WHERE phone = ?", [OTHER])] == ["START", OTHER_SECRET]
    # Anonymous counts stay: learners, progress, answers, messages, segments, activity.
    assert aggregate_counts(store) == before
    pseudonym = erasure.pseudonym
    assert pseudonym.startswith("erased:")
    # Their events stay, for the counts, under the pseudonym and with their data blanked.
    assert erasure.counts["events"] >= 5
    assert {row[0] for row in store.db.execute(
        "SELECT data FROM events WHERE learner = ?", [pseudonym])} == {"{}"}
    ghost = store.learner(pseudonym)
    assert ghost.stopped and ghost.schedule == "off" and ghost.next_check_at is None
    assert ghost.display_name is None and ghost.timezone is None
    assert ghost.pending_review is None and ghost.current_course == COURSE
    assert store.db.execute("SELECT count(*) FROM enrollments WHERE phone = ?",
                            [pseudonym]).fetchone()[0] == 1
    bodies = {row["body"] for row in store.db.query(
        "SELECT body FROM outbox WHERE phone = ?", [pseudonym])}
    assert bodies == {""}
    assert {row["text"] for row in store.db.query(
        "SELECT text FROM inbound WHERE phone = ?", [pseudonym])} == {""}
    # The queued reply was cancelled; certificates still verify, without a holder.
    statuses = [m.status for m in store.outbox(pseudonym)]
    assert "queued" not in statuses and "sending" not in statuses
    assert statuses[-1] == "cancelled"
    certificate = store.db.execute(
        "SELECT phone, holder, course_id FROM certificates WHERE code = ?",
        [f"CERT-{LEARNER[-4:]}"]).fetchone()
    assert certificate == (None, privacy.ERASED_HOLDER, COURSE)
    assert privacy.is_erased(store, LEARNER) and not privacy.is_erased(store, OTHER)
    assert privacy.export_is_empty(privacy.learner_export(store, LEARNER))


def test_erasing_an_unknown_number_changes_nothing_and_erasing_twice_is_harmless(
        twilio, store: Store, db_path: Path):
    converse(twilio, OTHER, "START")
    before = everything(db_path)

    unknown = privacy.erase(store, LEARNER)

    assert not unknown.found and not unknown.already_erased
    assert everything(db_path) == before
    assert store.db.execute("SELECT count(*) FROM settings WHERE name = 'erasure_key'"
                            ).fetchone()[0] == 0

    converse(twilio, LEARNER, "START")
    first = privacy.erase(store, LEARNER)
    after_first = everything(db_path)
    again = privacy.erase(store, LEARNER)
    assert first.found and not again.found and again.already_erased
    assert everything(db_path) == after_first


def test_a_stray_message_after_erasure_creates_no_learner_and_gets_no_reply(
        twilio, store: Store, db_path: Path, carriers_file: Path, twilio_api):
    take_a_lesson_into_its_quiz(twilio, store)
    drain(db_path, carriers_file)
    privacy.erase(store, LEARNER)
    sent_before = len(twilio_api.messages)
    outbox_before = len(store.outbox())

    converse(twilio, LEARNER, "A", "NEXT", f"{SECRET} again", "HELP", "STOP")
    drain(db_path, carriers_file)

    assert store.learner(LEARNER) is None
    assert len(store.outbox()) == outbox_before and len(twilio_api.messages) == sent_before
    strays = list(store.db.query("SELECT phone, text, status, error FROM inbound "
                                 "ORDER BY id DESC LIMIT 5"))
    assert {(m["phone"], m["text"], m["status"]) for m in strays} == {
        (privacy.STRAY_PHONE, "", "processed")}
    assert holding(db_path, LEARNER, LEARNER[1:], SECRET) == THE_ERASURE_NOTICE
    assert privacy.is_erased(store, LEARNER)


def test_a_flood_from_an_erased_number_gets_no_notice_either(twilio, store: Store,
                                                             db_path: Path, caplog):
    converse(twilio, LEARNER, "START")
    privacy.erase(store, LEARNER)
    outbox_before = len(store.outbox())

    converse(twilio, LEARNER, *["HELP"] * 25)  # over the 20 a minute limit

    assert len(store.outbox()) == outbox_before and store.learner(LEARNER) is None
    assert holding(db_path, LEARNER, LEARNER[1:]) == THE_ERASURE_NOTICE
    assert store.db.execute("SELECT count(*) FROM inbound WHERE phone = ?",
                            [privacy.STRAY_PHONE]).fetchone()[0] == 25
    assert any("throttled" in record.getMessage() for record in caplog.records)


def test_start_after_erasure_is_a_fresh_learner(twilio, store: Store, db_path: Path):
    take_a_lesson_into_its_quiz(twilio, store)
    privacy.erase(store, LEARNER)
    converse(twilio, LEARNER, "NEXT")
    assert store.learner(LEARNER) is None

    converse(twilio, LEARNER, "START")

    learner = store.learner(LEARNER)
    assert learner is not None and not learner.stopped and learner.display_name is None
    assert not privacy.is_erased(store, LEARNER)
    assert store.outbox(LEARNER)[0].body.startswith("Welcome to Start freelancing")
    assert "resum" not in store.outbox(LEARNER)[0].body.lower()
    assert store.db.execute("SELECT count(*) FROM answers WHERE phone = ?",
                            [LEARNER]).fetchone()[0] == 0
    export = privacy.learner_export(store, LEARNER)
    assert [m["text"] for m in export["inbound"]] == ["START"]  # the stray NEXT is not theirs


def test_dialling_the_ussd_menu_after_erasure_is_a_fresh_learner(twilio, store: Store):
    converse(twilio, LEARNER, "START")
    privacy.erase(store, LEARNER)
    carrier = Carrier.of(id="console", adapter="console", country="NG")

    screen = handle_ussd(store, carrier, UssdRequest("s-2", LEARNER, "*384#", "", is_new=True,
                                                     cumulative=False), LEARNER)

    assert not screen.end
    assert store.learner(LEARNER) is not None and not privacy.is_erased(store, LEARNER)


def test_signing_in_on_the_web_after_erasure_is_a_fresh_learner(
        twilio, store: Store, db_path: Path, carriers_file: Path, twilio_api):
    from gateway import create_app

    converse(twilio, LEARNER, "START")
    privacy.erase(store, LEARNER)
    web = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"}).test_client()

    sign_in(web, store, LEARNER)
    drain(db_path, carriers_file)

    assert store.learner(LEARNER) is not None and not privacy.is_erased(store, LEARNER)
    assert "Your Learnline code is" in twilio_api.bodies_to(LEARNER)[-1]


def test_an_erased_learners_queued_messages_are_never_sent(
        twilio, store: Store, db_path: Path, carriers_file: Path, twilio_api):
    converse(twilio, LEARNER, "START", "NEXT", "NEXT")
    queued = store.outbox(LEARNER)
    assert queued and {m.status for m in queued} == {"queued"}
    # One message was claimed by a worker just before the erasure.
    worker = OutboxWorker(db_path, load_carriers(carriers_file))
    in_flight = store.claim_due("twilio", 60.0)
    assert in_flight.phone == LEARNER

    erasure = privacy.erase(store, LEARNER)
    worker._deliver(store, in_flight, lease_ends=worker.clock() + 60.0)
    report = drain(db_path, carriers_file).report

    assert erasure.cancelled == len(queued)
    assert twilio_api.bodies_to(LEARNER) == [] and report.sent == 0
    assert {m.status for m in store.outbox(erasure.pseudonym)} == {"cancelled"}
    attempts = store.send_attempts(in_flight.id)
    assert [a["outcome"] for a in attempts] == ["cancelled", "cancelled"]


# -- retention ---------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_retention_blanks_only_old_finished_messages(db_path: Path):
    clock = Clock()
    carrier = Carrier.of(id="console", adapter="console", country="NG")
    with Store.open(db_path, clock=clock) as store:
        for n in range(5):
            receive_inbound(store, carrier, f"old-{n}", LEARNER, f"old words {n}")
        with store.write():
            store.db.execute("UPDATE outbox SET status = 'sent' WHERE id % 2 = 0")
        old_queued = {row[0] for row in store.db.execute(
            "SELECT id FROM outbox WHERE status = 'queued'")}
        waiting = store.record_inbound("console", "old-waiting", LEARNER, "still waiting")
        clock.now += 91 * DAY
        receive_inbound(store, carrier, "new-1", LEARNER, "new words")
        with store.write():
            store.db.execute("UPDATE outbox SET status = 'delivered'")
            store.db.execute(f"UPDATE outbox SET status = 'queued' WHERE id IN "
                             f"({','.join(map(str, old_queued))})")
            store.db.execute("UPDATE inbound SET meta = '{\"linkId\": \"x\"}'")

        blanked = privacy.forget_bodies(store, clock.now - 90 * DAY, batch=2)

        inbound = {row["carrier_message_id"]: row for row in store.db.query(
            "SELECT * FROM inbound")}
        outbox = list(store.db.query("SELECT * FROM outbox"))
    old_finished_out = [m for m in outbox if m["created_at"] < clock.now - DAY
                        and m["status"] != "queued"]
    assert blanked == 5 + len(old_finished_out)
    for n in range(5):
        assert (inbound[f"old-{n}"]["text"], inbound[f"old-{n}"]["meta"]) == ("", None)
    assert inbound["old-waiting"]["text"] == "still waiting"  # never processed: kept
    assert waiting.status == "received"
    assert inbound["new-1"]["text"] == "new words" and inbound["new-1"]["meta"]
    for message in outbox:
        old = message["created_at"] < clock.now - DAY
        finished = message["status"] != "queued"
        assert (message["body"] == "") == (old and finished), message
    assert old_queued and old_finished_out


def test_the_worker_forgets_old_bodies_at_most_hourly(db_path: Path, carriers_file: Path):
    clock, ticks = Clock(), Clock(0.0)
    carrier = Carrier.of(id="console", adapter="console", country="NG")
    worker = OutboxWorker(db_path, load_carriers(carriers_file), clock=ticks,
                          retention_days=30)
    with Store.open(db_path, clock=clock) as store:
        receive_inbound(store, carrier, "m-1", LEARNER, "first words")
        clock.now += 31 * DAY
        assert worker.apply_retention(store) == 1  # the inbound; its replies are queued
        receive_inbound(store, carrier, "m-2", LEARNER, "second words")
        clock.now += 31 * DAY
        ticks.now += 60
        assert worker.apply_retention(store) == 0  # not an hour since the last run
        ticks.now += 3600
        assert worker.apply_retention(store) == 1
        assert {row["text"] for row in store.db.query("SELECT text FROM inbound")} == {""}
    forever = OutboxWorker(db_path, load_carriers(carriers_file), retention_days=0)
    with Store.open(db_path, clock=Clock(clock.now + 1000 * DAY)) as store:
        with store.write():
            store.db.execute("UPDATE outbox SET status = 'sent'")
        assert forever.apply_retention(store, force=True) == 0
        assert "" not in {row["body"] for row in store.db.query("SELECT body FROM outbox")}


@pytest.mark.parametrize("value", ["ninety", "-1", "9.5", "100000"])
def test_a_bad_retention_setting_stops_the_worker_at_start(
        value: str, db_path: Path, carriers_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEARNLINE_RETENTION_DAYS", value)
    with pytest.raises(ConfigError, match="LEARNLINE_RETENTION_DAYS"):
        OutboxWorker(db_path, load_carriers(carriers_file))
    result = _learnline("worker", "--drain", cwd=tmp_path, LEARNLINE_DB=str(db_path),
                        LEARNLINE_RETENTION_DAYS=value)
    assert result.returncode == 1
    assert "LEARNLINE_RETENTION_DAYS" in result.stderr and "Traceback" not in result.stderr


def test_the_retention_setting_defaults_to_90_days(db_path: Path, carriers_file: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    assert OutboxWorker(db_path, load_carriers(carriers_file)).retention_days == 90
    monkeypatch.setenv("LEARNLINE_RETENTION_DAYS", "0")
    assert OutboxWorker(db_path, load_carriers(carriers_file)).retention_days == 0


# -- the commands ------------------------------------------------------------------------------


def _learnline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_sign_in_codes_are_deleted_a_day_after_they_expire(db_path: Path):
    clock = Clock()
    with Store.open(db_path, clock=clock) as store:
        store.save_signin_code(LEARNER, "1" * 64, clock.now + 600)
        clock.now += DAY  # expired 23h50 ago: kept
        store.save_signin_code("+2348030000009", "2" * 64, clock.now + 600)
        assert [row[0] for row in store.db.execute("SELECT phone FROM signin_codes")] == [
            LEARNER, "+2348030000009"]
        clock.now += 601  # now more than a day: gone at the next request, anyone's
        store.save_signin_code("+2348030000009", "3" * 64, clock.now + 600)
        assert [row[0] for row in store.db.execute(
            "SELECT code_hash FROM signin_codes ORDER BY id")] == ["2" * 64, "3" * 64]
        assert [row["code_hash"] for row in store.live_signin_codes("+2348030000009")] == [
            "3" * 64]


def test_learners_export_prints_json_or_writes_a_private_file(
        twilio, store: Store, db_path: Path, tmp_path: Path):
    converse(twilio, LEARNER, "START", "Ça va très bien, merci")
    runner = CliRunner()
    env = {"LEARNLINE_DB": str(db_path)}

    printed = runner.invoke(main, ["learners", "export", LEARNER], env=env)
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.stdout)
    assert data["learners"][0]["phone"] == LEARNER
    assert data["inbound"][1]["text"] == "Ça va très bien, merci"

    target = tmp_path / "learner.json"
    national = runner.invoke(main, ["learners", "export", "--country", "NG", "0803 000 0000",
                                    "-o", str(target)], env=env)
    assert national.exit_code == 0, national.output
    assert "Ça va très bien" in target.read_text(encoding="utf-8")
    assert json.loads(target.read_text(encoding="utf-8")) == {
        **data, "exported_at": json.loads(target.read_text())["exported_at"]}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    nobody = runner.invoke(main, ["learners", "export", OTHER], env=env)
    assert nobody.exit_code == 0 and "nothing is stored about" in nobody.stderr
    bad = runner.invoke(main, ["learners", "export", "12"], env=env)
    assert bad.exit_code == 2 and "PHONE" in bad.output
    country = runner.invoke(main, ["learners", "export", "--country", "XX", "0803 000 0000"],
                            env=env)  # the country is what is wrong, and it says so
    assert country.exit_code == 2 and "--country" in country.output
    assert "'XX' is not an ISO 3166 country code" in country.output


def test_learners_erase_asks_first_and_reports_counts(twilio, store: Store, db_path: Path,
                                                      tmp_path: Path):
    converse(twilio, LEARNER, "START", SECRET)
    runner = CliRunner()
    env = {"LEARNLINE_DB": str(db_path)}

    declined = runner.invoke(main, ["learners", "erase", LEARNER], input="n\n", env=env)
    assert declined.exit_code == 1 and store.learner(LEARNER) is not None

    result = _learnline("learners", "erase", "--yes", LEARNER, cwd=tmp_path,
                        LEARNLINE_DB=str(db_path))
    assert result.returncode == 0, result.stderr
    assert f"erased {LEARNER}" in result.stdout
    assert "1 learners" in result.stdout and "2 inbound" in result.stdout
    assert LEARNER not in result.stderr  # logs carry masked numbers only
    assert store.learner(LEARNER) is None
    # No hub configured: no erasure notice waits to carry the number anywhere.
    assert holding(db_path, LEARNER, SECRET) == []

    again = runner.invoke(main, ["learners", "erase", "--yes", LEARNER], env=env)
    assert again.exit_code == 0 and "already erased" in again.output
    unknown = runner.invoke(main, ["learners", "erase", "--yes", OTHER], env=env)
    assert unknown.exit_code == 1 and "nothing is stored about" in unknown.output
    confirmed = runner.invoke(main, ["learners", "erase", OTHER], input="y\n", env=env)
    assert confirmed.exit_code == 1


def test_learners_commands_need_an_existing_database(tmp_path: Path):
    missing = tmp_path / "missing.db"
    result = CliRunner().invoke(main, ["learners", "export", LEARNER],
                                env={"LEARNLINE_DB": str(missing)})
    assert result.exit_code == 1 and "no database" in result.output
    assert not missing.exists()


def test_an_erased_learners_question_ids_are_never_given_again(store: Store):
    """The staff audit and the tutors' figures name questions by id: after an erasure
    deletes the newest questions, the next question (asked here or copied from an edge)
    gets a new id, not the id of a question that audit rows already name."""
    from gateway.store import questions

    first = questions.add(store, "+2348030000001", "sms", "twilio", "Who pays first?")
    kept = questions.add(store, "+2348030000002", "sms", "twilio", "How much?")
    erased = [questions.add(store, "+2348030000003", "sms", "twilio", f"Q{n}?")
              for n in range(2)]
    privacy.erase(store, "+2348030000003")
    later = questions.add(store, "+2348030000004", "sms", "twilio", "When?")
    assert later > max(erased) > kept > first
    privacy.erase(store, "+2348030000004")
    privacy.erase(store, "+2348030000001")  # a lower id erased later lowers nothing
    with store.write():
        assert questions.add_copy(store, "edge-b", "0" * 26, "+2348030000005",
                                  {"text": "From the edge?"}, time.time())
    [copied] = [row[0] for row in store.db.execute(
        "SELECT id FROM questions WHERE uid = ?", ["0" * 26])]
    assert copied > later
    assert questions.add(store, "+2348030000006", "sms", "twilio", "And now?") > copied
    # On the hub, an edge's copies deleted with their learner keep their ids too.
    with store.write():
        assert questions.add_copy(store, "edge-b", "1" * 26, "+2348030000007",
                                  {"text": "Newest?"}, time.time())
        [newest] = [row[0] for row in store.db.execute(
            "SELECT id FROM questions WHERE uid = ?", ["1" * 26])]
        assert questions.delete_copies(store, ["1" * 26]) == 1
    assert questions.add(store, "+2348030000008", "sms", "twilio", "Then?") > newest
