"""`learnline announce`: one message to every learner of a course, through the outbox."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway import create_app
from gateway.config import load_carriers
from gateway.ops.announcements import announce
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml

LEARNERS = ["+2348031110001", "+2348031110002", "+2348031110003"]
LAGOS = ZoneInfo("Africa/Lagos")


@pytest.fixture
def priced_carriers(tmp_path: Path, twilio_api, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", 'tps = 200\nprice_per_segment = 4.5\ncurrency = "NGN"\n'
                       'quiet_hours = "0-0"\n'))
    return path


@pytest.fixture
def enrolled(db_path: Path, priced_carriers: Path) -> Path:
    """Three learners of the bundled course; the last one opted out."""
    hooks = TwilioWebhooks(create_app({"DATABASE": str(db_path),
                                       "CARRIERS_FILE": str(priced_carriers),
                                       "TESTING": True}).test_client())
    for phone in LEARNERS:
        assert hooks.sms(phone, "START").status_code == 200
    assert hooks.sms(LEARNERS[-1], "STOP").status_code == 200
    return db_path


def learnline(db_path: Path, carriers: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def announcements(db_path: Path) -> list[tuple[str, str, str]]:
    with Store.open(db_path) as store:
        return [tuple(row) for row in store.db.execute(
            "SELECT phone, body, status FROM outbox WHERE kind = 'announcement' ORDER BY phone")]


def test_dry_run_counts_and_prices_without_queueing(enrolled, priced_carriers):
    done = learnline(enrolled, priced_carriers, "announce", "FREELANCE", "--dry-run",
                     "--text", "Lesson 7 is out: reply NEXT.")
    assert done.returncode == 0, done.stderr
    assert "2 learners (1 opted out, left out)" in done.stdout
    assert "twilio: 2 messages, 2 segments, NGN 9.00" in done.stdout
    assert "dry run: nothing queued" in done.stdout
    assert announcements(enrolled) == []


def test_one_learner_is_counted_as_one(db_path: Path, priced_carriers: Path):
    """'1 learner', '1 message', '1 segment': not '1 messages'."""
    hooks = TwilioWebhooks(create_app({"DATABASE": str(db_path),
                                       "CARRIERS_FILE": str(priced_carriers),
                                       "TESTING": True}).test_client())
    assert hooks.sms(LEARNERS[0], "START").status_code == 200
    done = learnline(db_path, priced_carriers, "announce", "FREELANCE", "--dry-run",
                     "--text", "Lesson 7 is out.")
    assert done.returncode == 0, done.stderr
    assert "FREELANCE (start-freelancing): 1 learner\n" in done.stdout
    assert "twilio: 1 message, 1 segment, NGN 4.50" in done.stdout


def test_announcement_reaches_every_learner_but_the_opted_out(enrolled, priced_carriers,
                                                              twilio_api):
    with Store.open(enrolled) as store:  # one learner reads French
        learner = store.learner(LEARNERS[1])
        learner.locale = "fr"
        store.save_learner(learner)
    done = learnline(enrolled, priced_carriers, "announce", "start-freelancing", "--yes",
                     "--text", "Lesson 7 is out: reply NEXT.",  # a language as ISO 639-2:
                     "--text-for", "fra", "La leçon 7 est là : répondez SUITE.")
    assert done.returncode == 0, done.stderr
    assert "queued for 2 learners (" in done.stdout
    assert [row[:2] for row in announcements(enrolled)] == [
        (LEARNERS[0], "Lesson 7 is out: reply NEXT."),
        # the carriers' default policy writes ç as c, so the message goes as GSM-7
        (LEARNERS[1], "La lecon 7 est là : répondez SUITE.")]
    worker = OutboxWorker(enrolled, load_carriers(priced_carriers))
    worker.run(drain=True, poll_seconds=0.01)
    assert [row[2] for row in announcements(enrolled)] == ["sent", "sent"]
    assert "Lesson 7 is out: reply NEXT." in twilio_api.bodies_to(LEARNERS[0])
    assert not any("Lesson 7" in body for body in twilio_api.bodies_to(LEARNERS[2]))


def test_bad_course_and_empty_text_are_refused_plainly(enrolled, priced_carriers):
    done = learnline(enrolled, priced_carriers, "announce", "NOPE", "--text", "Hi")
    assert done.returncode == 1 and "no course 'NOPE' (courses: FREELANCE)" in done.stderr
    done = learnline(enrolled, priced_carriers, "announce", "freelance", "--yes", "--text", " ")
    assert done.returncode == 1 and "the announcement text is empty" in done.stderr
    assert "Traceback" not in done.stderr
    # A language with no catalog (a typo) would send its learners the default text.
    done = learnline(enrolled, priced_carriers, "announce", "freelance", "--yes", "--text",
                     "Hello", "--text-for", "fe", "Bonjour")
    assert done.returncode == 1
    assert "--text-for 'fe': no such language here (have: en, " in done.stderr
    assert announcements(enrolled) == []


def test_an_announcement_made_at_night_waits_for_the_morning(enrolled, priced_carriers,
                                                             tmp_path):
    night = datetime(2026, 12, 7, 23, 0, tzinfo=LAGOS).timestamp()
    carriers = tmp_path / "quiet.toml"
    carriers.write_text(priced_carriers.read_text().replace('quiet_hours = "0-0"',
                                                            'quiet_hours = "21:00-08:00"'))
    with Store.open(enrolled, clock=lambda: night) as store:
        plan = announce(store, load_carriers(carriers), "start-freelancing", "Good morning!")
        due = [row[0] for row in store.db.execute(
            "SELECT due_at FROM outbox WHERE kind = 'announcement'")]
    assert plan.learners == 2 and plan.queued
    assert [datetime.fromtimestamp(at, LAGOS).strftime("%a %H:%M") for at in due] == [
        "Tue 08:00", "Tue 08:00"]
