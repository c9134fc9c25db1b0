"""A program's monthly budget (docs/programs.md, Budget): once its learners' messages cost
it, the program's unsolicited messages stop while replies continue, its contacts are told
once, and a new month lifts the stop; and a programs file that turns bad keeps the last
valid one in force."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import budgets, create_app
from gateway.cli.main import main as cli
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.ops import staff
from gateway.ops.announcements import announce
from gateway.outbox.queue import queue_text
from gateway.outbox.worker import OutboxWorker
from gateway.paths import lessons_dir
from gateway.store import Store
from gateway.store import programs as members
from gateway.store import staff as accounts
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml, csrf

ORANGE_LEARNER = "+2348030000001"
SUN_LEARNER = "+2348030000002"
FREE_LEARNER = "+2348030000003"  # in no program
CONTACT = "+2348030000009"
ADMIN_TOKEN = "budget-admin-token-0123456789abcdef"
PASSWORD = "program admin phrase 42"

PROGRAMS = """
[programs.orange]
name = "Orange Academy"
default_locale = "fr"
country = "NG"
monthly_budget = 2
currency = "USD"
contacts = ["0803 000 0009"]
keywords = ["JOIN ORANGE"]

[programs.sun]
name = "Sun School"
default_locale = "en"
monthly_budget = 1000
currency = "USD"
keywords = ["JOIN SUN"]
"""


def course_copy(root: Path, folder: str, code: str, program: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / folder)
    toml = root / folder / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


@pytest.fixture
def programs_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "programs.toml"
    path.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(path))
    return path


@pytest.fixture
def carriers_file(tmp_path: Path, twilio_api, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Twilio billing 1 USD a segment."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", 'tps = 200\nprice_per_segment = 1.0\ncurrency = "USD"\n'))
    return path


@pytest.fixture
def app(db_path, carriers_file, programs_file, tmp_path, monkeypatch):
    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", ADMIN_TOKEN)
    root = tmp_path / "lessons"
    root.mkdir()
    shutil.copytree(lessons_dir() / "start-freelancing", root / "start-freelancing")
    course_copy(root, "orange-course", "ORANGE1", "orange")
    course_copy(root, "sun-course", "SUN1", "sun")
    with Store.open(db_path) as store:
        import_courses(store, root)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "budget-tests-secret-0123456789", "TESTING": True})


@pytest.fixture
def store(db_path, app):
    with Store.open(db_path) as opened:
        yield opened


def drain(db_path: Path, carriers_file: Path, now: float | None = None) -> None:
    """One `learnline worker --drain`: its scheduling round, then every due message."""
    clock = time.time if now is None else (lambda: now)
    OutboxWorker(db_path, load_carriers(carriers_file), wall_clock=clock).run(
        drain=True, poll_seconds=0.01)


def days_pass(store: Store, *phones: str, now: float) -> None:
    """Six days without a word from these learners: a reminder is due for each."""
    for phone in phones:
        learner = store.learner(phone)
        learner.last_seen_at = now - 6 * 86_400
        learner.next_check_at = now - 1
        with store.write():
            store.save_learner(learner)


def unsolicited(store: Store, phone: str) -> list[tuple[str, str, str]]:
    return store.db.execute(
        "SELECT kind, status, coalesce(error, '') FROM outbox WHERE phone = ? AND kind "
        "NOT IN ('reply', 'report') ORDER BY id", [phone]).fetchall()


def sent_replies(store: Store, phone: str) -> int:
    return store.db.execute("SELECT count(*) FROM outbox WHERE phone = ? AND kind = 'reply' "
                            "AND status = 'sent'", [phone]).fetchone()[0]


def test_programs_budgets_cost_no_read_of_the_months_messages(
        programs_file, carriers_file, db_path):
    """The worker's round prices the month only for programs with a budget, from the
    month's counts the outbox's triggers keep: it reads no message, whatever the outbox
    holds, with a budget or without; with one, that program's spend is counted."""
    programs_file.write_text(PROGRAMS.replace("monthly_budget = 2\n", "").replace(
        "monthly_budget = 1000\n", ""), encoding="utf-8")
    carriers = load_carriers(carriers_file)
    with Store.open(db_path, migrate=True) as store:
        with store.write():
            message = store.enqueue("twilio", ORANGE_LEARNER, "A lesson", kind="lesson",
                                    program="orange", segments=3)
            store.db.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", [message])

        def outbox_reads(check) -> tuple[object, int]:
            statements: list[str] = []
            store.db.conn.set_trace_callback(statements.append)
            try:
                found = check()
            finally:
                store.db.conn.set_trace_callback(None)
            return found, sum("FROM outbox" in sql for sql in statements)

        assert outbox_reads(lambda: budgets.check(store, carriers)) == (frozenset(), 0)
        assert outbox_reads(lambda: budgets.stopped(store, carriers)) == (frozenset(), 0)
        programs_file.write_text(PROGRAMS, encoding="utf-8")  # orange: 2 USD
        # With a budget, the month's counts are read (a few rows), still not the messages.
        stopped, reads = outbox_reads(lambda: budgets.check(store, carriers))
        assert stopped == {"orange"} and reads == 0  # 3 segments at 1 USD: over 2


def test_a_program_at_its_budget_stops_its_unsolicited_messages_while_replies_continue(
        app, store, db_path, carriers_file, twilio_api):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    twilio.sms(SUN_LEARNER, "JOIN SUN")
    twilio.sms(FREE_LEARNER, "START FREELANCE")
    drain(db_path, carriers_file)  # the replies go: orange's cost it its 2 USD budget
    carriers = load_carriers(carriers_file)
    spends = budgets.spends(store, carriers)
    assert spends["orange"].reached and spends["orange"].spent >= 2
    assert not spends["sun"].reached and spends["sun"].spent > 0
    # A lesson queued before the budget was reached is not sent.
    with store.write():
        queue_text(store, carriers["twilio"], ORANGE_LEARNER, "Leçon du jour",
                   kind="lesson", program="orange")
    queued = store.db.execute("SELECT max(id) FROM outbox").fetchone()[0]
    now = store.clock()
    days_pass(store, ORANGE_LEARNER, SUN_LEARNER, FREE_LEARNER, now=now)
    drain(db_path, carriers_file)
    row = store.db.execute("SELECT status, error FROM outbox WHERE id = ?", [queued]).fetchone()
    assert tuple(row) == ("cancelled", "program budget reached")
    assert [kind for kind, _, _ in unsolicited(store, ORANGE_LEARNER)] == ["lesson"]
    assert [kind for kind, _, _ in unsolicited(store, SUN_LEARNER)] == ["reminder"]
    assert [kind for kind, _, _ in unsolicited(store, FREE_LEARNER)] == ["reminder"]
    # Announcements of the program are refused; another program's go.
    with pytest.raises(ValueError, match=r"orange.*monthly budget"):
        announce(store, carriers, "orange-course", "Bonjour !")
    assert announce(store, carriers, "sun-course", "Hello!").learners == 1
    # Replies to the same learner continue.
    before = sent_replies(store, ORANGE_LEARNER)
    twilio.sms(ORANGE_LEARNER, "AIDE")
    drain(db_path, carriers_file)
    assert sent_replies(store, ORANGE_LEARNER) > before


def test_the_programs_contacts_are_told_once_and_a_new_month_resumes(
        app, store, db_path, carriers_file, twilio_api):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    drain(db_path, carriers_file)
    drain(db_path, carriers_file)
    drain(db_path, carriers_file)
    told = store.db.execute("SELECT body, status FROM outbox WHERE phone = ? AND kind = "
                            "'report'", [CONTACT]).fetchall()
    assert len(told) == 1 and told[0][1] == "sent"
    assert "Orange Academy" in told[0][0] and "2.00" in told[0][0]
    assert [m["To"] for m in twilio_api.messages].count(CONTACT) == 1
    audit = [(row.action, row.subject) for row in accounts.audit_rows(store)]
    month = budgets.month_of(store.clock())[2]
    assert audit.count(("program budget 100%", f"orange {month}")) == 1
    # A new month: the stop lifts by itself, and a reminder is queued again.
    next_month = budgets.month_of(store.clock())[1] + 86_400
    days_pass(store, ORANGE_LEARNER, now=next_month)
    drain(db_path, carriers_file, now=next_month)
    assert [(kind, error) for kind, _, error in unsolicited(store, ORANGE_LEARNER)] \
        == [("reminder", "")]
    assert not budgets.spends(store, load_carriers(carriers_file), now=next_month)[
        "orange"].reached


def test_programs_list_tells_members_spend_and_stop(app, store, db_path, carriers_file,
                                                    monkeypatch):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    drain(db_path, carriers_file)
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    result = CliRunner().invoke(cli, ["programs", "list"])
    assert result.exit_code == 0, result.output
    orange, sun = result.output.splitlines()
    assert orange.startswith("orange\tOrange Academy\t1 member(s)\t")
    assert "/ 2.00 USD  STOPPED: budget reached" in orange
    assert sun.endswith("0.00 / 1000.00 USD") and "\t0 member(s)\t" in sun


def test_the_dashboard_shows_the_budget_banner_to_the_programs_administrators(
        app, store, db_path, carriers_file):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    drain(db_path, carriers_file)
    client = app.test_client()
    page = client.get("/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert page.status_code == 200
    assert "Orange Academy (orange) has reached its monthly budget" in page.text
    assert "Sun School" not in page.text.split("<main>")[1].split("</p>")[0]
    for username, program in (("ama", "orange"), ("sol", "sun")):
        staff.add_account(store, username, username.title(), "admin", PASSWORD,
                          program=program)
    page = signed_in(app, "ama").get("/admin/account").text
    assert "Orange Academy (orange) has reached its monthly budget" in page
    page = signed_in(app, "sol").get("/admin/account").text
    assert 'role="alert"' not in page  # another program's budget is not theirs


def signed_in(app, username: str):
    client = app.test_client()
    answer = client.post("/admin/signin", data={
        "csrf": csrf(client, "/admin/signin"), "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def test_the_contacts_are_told_at_80_percent_once_and_nothing_stops(
        app, store, db_path, carriers_file, programs_file):
    # Whatever the hour the suite runs at, the reminder goes at once.
    carriers_file.write_text(carriers_file.read_text().replace(
        "tps = 200\n", 'tps = 200\nquiet_hours = "0-0"\n'))
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    set_budget(programs_file, 1000)
    days_pass(store, ORANGE_LEARNER, now=store.clock())
    drain(db_path, carriers_file)  # the reminder goes, far below the budget
    spent = budgets.spends(store, load_carriers(carriers_file))["orange"].spent
    set_budget(programs_file, spent / 0.85)  # now at 85% of it
    drain(db_path, carriers_file)
    drain(db_path, carriers_file)
    told = store.db.execute("SELECT body FROM outbox WHERE phone = ? AND kind = 'report'",
                            [CONTACT]).fetchall()
    assert len(told) == 1 and "Orange Academy a dépensé" in told[0][0]
    assert [(kind, status) for kind, status, _ in unsolicited(store, ORANGE_LEARNER)] == [
        ("reminder", "sent")]


def set_budget(programs_file: Path, budget: float) -> None:
    """Orange's budget changed in the programs file, which the gateway reads again (its
    time moved on past the last change's, however quick the test)."""
    before = programs_file.stat().st_mtime
    programs_file.write_text(PROGRAMS.replace("monthly_budget = 2\n",
                                              f"monthly_budget = {budget}\n"))
    later = max(before, programs_file.stat().st_mtime) + 10
    os.utime(programs_file, (later, later))


# -- a programs file that turns bad ----------------------------------------------------------


def test_a_programs_file_turned_invalid_keeps_the_last_valid_one_and_says_so(
        app, store, db_path, carriers_file, programs_file, caplog):
    twilio = TwilioWebhooks(app.test_client())
    bad = PROGRAMS.replace('default_locale = "en"', 'default_locale = "xx"')
    programs_file.write_text(bad, encoding="utf-8")
    later = programs_file.stat().st_mtime + 10
    os.utime(programs_file, (later, later))
    with caplog.at_level(logging.ERROR, logger="gateway.programs"):
        twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
        twilio.sms(SUN_LEARNER, "JOIN SUN")
    assert members.programs_of(store, ORANGE_LEARNER) == {"orange"}
    assert members.programs_of(store, SUN_LEARNER) == {"sun"}
    replies = [m.body for m in store.outbox(ORANGE_LEARNER)]
    assert not any("went wrong" in body for body in replies)
    told = [r.getMessage() for r in caplog.records if r.name == "gateway.programs"]
    assert len(told) == 1
    assert f"{programs_file}: program 'sun': key 'default_locale'" in told[0]
    health = app.test_client().get("/healthz").text
    assert f"programs: INVALID, the last valid reading is in force: {programs_file}: " \
           "program 'sun': key 'default_locale'" in health
    from gateway import environment
    from gateway.ops.doctor import diagnose

    env = {**environment.snapshot(), "LEARNLINE_CARRIERS": str(carriers_file)}
    found = [str(f) for f in diagnose(db_path, env) if f.subject == "programs"]
    assert found and found[0].startswith(f"FAIL programs: {programs_file}: program 'sun'")
    programs_file.write_text(PROGRAMS, encoding="utf-8")  # put right: said no more
    os.utime(programs_file, (later + 10, later + 10))
    assert "programs:" not in app.test_client().get("/healthz").text


# -- cohorts' invitations ---------------------------------------------------------------------


def test_an_invitation_cancelled_at_the_budget_goes_once_the_stop_lifts(
        app, db_path, carriers_file, twilio_api):
    """An invitation queued in quiet hours, then due while its program is at its budget,
    is cancelled unsent: its number waits, and is invited once the stop lifts (it never
    had the invitation), rather than counting as invited for good."""
    from datetime import UTC, datetime

    from gateway.ops.cohorts import create_cohort
    from gateway.programs import current
    from gateway.store import cohorts
    from tests.fakes.clock import SimulatedClock

    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    clock = SimulatedClock(at("2026-03-02T22:30:00"))  # 23:30 in Lagos: quiet until 08:00
    invitee = "+2348030000500"
    served = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                         "SECRET_KEY": "budget-tests-secret-0123456789", "TESTING": True,
                         "CLOCK": clock})
    carriers = load_carriers(carriers_file)
    with Store.open(db_path, clock=clock) as store:
        cohort = create_cohort(store, carriers, current().get("orange"), name="Intake",
                               course_id="orange-course", starts_on="2026-03-01",
                               data=f"phone\n{invitee}\n".encode(), actor="amina")
        drain(db_path, carriers_file, now=clock.now)  # queued for 08:00 in Lagos
        assert twilio_api.bodies_to(invitee) == []
        TwilioWebhooks(served.test_client()).sms(ORANGE_LEARNER, "JOIN ORANGE")
        drain(db_path, carriers_file, now=clock.now)  # the replies cost orange its budget
        clock.now = at("2026-03-03T08:00:00")
        drain(db_path, carriers_file, now=clock.now)
        assert twilio_api.bodies_to(invitee) == []  # at its budget: not sent
        assert cohorts.funnel(store, cohort, 0).invited == 0
        clock.now = at("2026-04-01T09:00:00")  # a new month lifts the stop
        drain(db_path, carriers_file, now=clock.now)
        [invitation] = twilio_api.bodies_to(invitee)
        assert invitation.startswith("Orange Academy vous invite")
        assert cohorts.funnel(store, cohort, 0).invited == 1


def test_a_cohort_imported_at_the_budget_warns_its_invitations_wait(
        app, store, db_path, carriers_file, tmp_path, monkeypatch):
    """From the terminal and on the dashboard, a cohort imported while its program is
    stopped by its budget is created, and the administrator is told its invitations
    wait until the budget allows; another program's import says nothing of it."""
    TwilioWebhooks(app.test_client()).sms(ORANGE_LEARNER, "JOIN ORANGE")
    drain(db_path, carriers_file)  # the replies cost orange its budget
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("phone\n+2348030000101\n+2348030000102\n", encoding="utf-8")
    wait = ("Orange Academy has reached its monthly budget: this cohort's invitations "
            "wait until the budget allows")
    done = CliRunner().invoke(cli, ["cohorts", "import", "orange", "Intake", str(numbers),
                                    "--course", "orange-course"])
    assert done.exit_code == 0, done.output
    assert "2 numbers imported" in done.output and wait in done.output
    done = CliRunner().invoke(cli, ["cohorts", "import", "sun", "Intake", str(numbers),
                                    "--course", "sun-course"])
    assert done.exit_code == 0 and "budget" not in done.output, done.output
    import html
    import io
    import re

    staff.add_account(store, "ama", "Ama", "admin", PASSWORD, program="orange")
    client = signed_in(app, "ama")
    path = "/admin/programs/orange/cohorts"
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)
    posted = client.post(path, content_type="multipart/form-data", data={
        "csrf": token, "name": "Second", "course": "orange-course", "starts_on": "2026-12-07",
        "numbers": (io.BytesIO(b"phone\n0803 000 0103\n"), "numbers.csv")})
    assert posted.status_code == 303
    page = html.unescape(client.get(posted.headers["Location"]).text)
    assert "created" in page and wait in page
    assert wait not in html.unescape(client.get(path).text)  # told when importing


def test_costs_the_budget_and_the_hubs_spends_count_only_what_was_sent(
        app, store, db_path, carriers_file, twilio_api, monkeypatch):
    """A program's messages, segments and cost agree: each counts what the carrier
    accepted. A lesson cancelled at the budget and a reply still queued are shown apart
    (queued, not sent), never as messages sent, on the program's costs table, in what
    the edge pushes the hub and in the budget's spend."""
    from datetime import UTC, datetime

    from gateway.sync import spends as pushed

    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    drain(db_path, carriers_file)  # the replies go: orange reaches its budget
    carriers = load_carriers(carriers_file)
    with store.write():
        queue_text(store, carriers["twilio"], ORANGE_LEARNER, "Leçon du jour",
                   kind="lesson", program="orange")
    drain(db_path, carriers_file)  # cancelled: program budget reached
    with store.write():
        queue_text(store, carriers["twilio"], ORANGE_LEARNER, "Demain", kind="reply",
                   program="orange", due_at=store.clock() + 86_400)
    sent, segments = store.db.execute(
        "SELECT count(*), sum(segments) FROM outbox WHERE program = 'orange' AND status = "
        "'sent'").fetchone()
    statuses = [s for (s,) in store.db.execute(
        "SELECT status FROM outbox WHERE program = 'orange' AND status != 'sent'")]
    assert sorted(statuses) == ["cancelled", "queued"]
    spent = budgets.spends(store, carriers)["orange"].spent
    assert sent >= 1 and spent == segments * 1.0
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    result = CliRunner().invoke(cli, ["stats", "--program", "orange", "--csv", "costs"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "currency,messages,segments,cost,lessons completed,cost per lesson,queued,not sent",
        f"USD,{sent},{segments},{spent:.2f},0,,1,1"]
    today = datetime.fromtimestamp(store.clock(), UTC).date().isoformat()
    assert pushed.summary(store, carriers)[("orange", today)] == [
        {"day": today, "program": "orange", "currency": "USD", "messages": sent,
         "segments": segments, "cost": spent}]


# -- the month's counts, kept by the outbox's triggers -------------------------------------

# The budget's rule (docs/programs.md, Budget), read from the messages themselves: what the
# outbox's triggers must always agree with. Each message's month is budgets.month_of's.
EACH_MESSAGE = """
    SELECT created_at, program, carrier_id,
           CASE WHEN status IN ('sent', 'delivered', 'undelivered')
                     OR (status = 'failed' AND carrier_message_id IS NOT NULL)
                THEN segments ELSE 0 END,
           status = 'delivered' AND category = 'service',
           status = 'delivered' AND category = 'utility',
           status = 'delivered' AND category = 'marketing'
    FROM (SELECT *, coalesce(json_extract(payload, '$.template.category'), 'service')
                    AS category FROM outbox)
    WHERE program != ''"""


def by_the_messages(store: Store) -> list[tuple]:
    totals: dict[tuple[str, str, str], list[int]] = {}
    for created_at, program, carrier_id, *counts in store.db.execute(EACH_MESSAGE):
        key = (budgets.month_of(created_at)[2], program, carrier_id)
        totals[key] = [a + b for a, b in zip(totals.get(key, [0] * 4), counts, strict=True)]
    return sorted((*key, *counts) for key, counts in totals.items() if any(counts))


def kept_counts(store: Store) -> list[tuple]:
    return [tuple(row) for row in store.db.execute(
        "SELECT month, program, carrier_id, segments, service, utility, marketing "
        "FROM program_month_counts WHERE segments OR service OR utility OR marketing "
        "ORDER BY 1, 2, 3")]


def test_the_months_counts_follow_every_message_through_its_life(db_path):
    """Messages of two programs, two carriers and two months, SMS and WhatsApp of each
    category, taken through queued, sending, sent, delivered, undelivered, failed (before
    and after the carrier took them), cancelled, moved to another carrier or program, and
    deleted: after each step the kept counts are what the messages say, each counted in
    the month budgets.month_of gives it, even in the month's last millisecond."""
    import json
    import random
    from datetime import UTC, datetime

    december = datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp()
    # November's last 0.3 ms: still November (strftime alone would round it to December).
    november = datetime(2026, 12, 1, tzinfo=UTC).timestamp() - 0.0003
    templates = [None, json.dumps({"template": {"name": "n", "category": "utility"}}),
                 json.dumps({"template": {"name": "n", "category": "marketing"}}),
                 json.dumps({"buttons": [{"id": "NEXT"}]})]
    rng = random.Random(17)
    with Store.open(db_path, migrate=True) as store:
        ids = []
        for n in range(60):
            now = november if n % 4 == 0 else december
            with store.write():
                ids.append(store.enqueue(
                    rng.choice(["twilio", "wa"]), f"+23480300{n:05d}", "Hello",
                    kind=rng.choice(["lesson", "reply"]), segments=rng.randint(1, 3),
                    payload=rng.choice(templates), program=rng.choice(["orange", "sun", ""]),
                    due_at=now))
                store.db.execute("UPDATE outbox SET created_at = ? WHERE id = ?",
                                 [now, ids[-1]])
        assert kept_counts(store) == []  # queued: nothing billed yet
        steps = [
            "UPDATE outbox SET status = 'sending' WHERE id = ?",
            "UPDATE outbox SET status = 'sent', carrier_message_id = 'SM' || id WHERE id = ?",
            "UPDATE outbox SET status = 'delivered' WHERE id = ?",
            "UPDATE outbox SET status = 'undelivered' WHERE id = ?",
            "UPDATE outbox SET status = 'failed' WHERE id = ?",
            "UPDATE outbox SET status = 'failed', carrier_message_id = NULL WHERE id = ?",
            "UPDATE outbox SET status = 'cancelled' WHERE id = ?",
            "UPDATE outbox SET segments = segments + 1 WHERE id = ?",
            "UPDATE outbox SET carrier_id = 'wa' WHERE id = ?",
            "UPDATE outbox SET program = 'sun' WHERE id = ?",
            "UPDATE outbox SET program = '' WHERE id = ?",
            "UPDATE outbox SET created_at = created_at - 86400 * 10 WHERE id = ?",
            "DELETE FROM outbox WHERE id = ?",
        ]
        seen_billed = False
        for _ in range(400):
            with store.write():
                store.db.execute(rng.choice(steps), [rng.choice(ids)])
            expected = by_the_messages(store)
            assert kept_counts(store) == expected
            seen_billed = seen_billed or any(row[3] and row[4:] != (0, 0, 0)
                                             for row in expected)
        assert seen_billed
        assert {row[0] for row in kept_counts(store)} == {"2026-11", "2026-12"}


def test_an_upgrade_counts_the_messages_already_stored(tmp_path):
    """A database from before the counts (its schema as stored in tests/data/schemas)
    holding a month of a program's messages gets them counted by the upgrade."""
    import sqlite3

    from tests.test_schema_history import SCHEMAS, load

    path = load(SCHEMAS / "32-cf2aac7.sql", tmp_path / "old.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for n, (status, segments, program) in enumerate([
            ("sent", 2, "orange"), ("delivered", 3, "orange"), ("queued", 5, "orange"),
            ("cancelled", 7, "orange"), ("sent", 11, "sun"), ("sent", 13, "")]):
        conn.execute(
            "INSERT INTO outbox (carrier_id, phone, body, status, due_at, created_at, "
            "updated_at, segments, program, carrier_message_id) "
            "VALUES ('twilio', ?, 'Hi', ?, 1796640000, 1796640000, 1796640000, ?, ?, ?)",
            [f"+2348030000{n:03d}", status, segments, program, f"SM{n}"])
    conn.close()
    with Store.open(path, migrate=True) as store:
        # Segments accepted: 2 + 3 of orange, 11 of sun; one delivered without a template
        # (priced at the carrier's price_per_whatsapp_service, none for an SMS carrier).
        assert kept_counts(store) == [("2026-12", "orange", "twilio", 5, 1, 0, 0),
                                      ("2026-12", "sun", "twilio", 11, 0, 0, 0)]
        assert members.month_counts(store, "2026-12") == [
            ("orange", "twilio", 5, 1, 0, 0), ("sun", "twilio", 11, 0, 0, 0)]


# -- currencies ----------------------------------------------------------------------------------


def test_doctor_warns_when_a_budget_and_a_carriers_prices_are_in_different_currencies(
        db_path, carriers_file, programs_file):
    """A budget adds up carriers' prices as if they were in its currency: a carrier priced
    in another one is named, with the program, both files and both currencies."""
    from gateway import environment
    from gateway.ops.doctor import diagnose

    Store.open(db_path, migrate=True).close()
    env = {**environment.snapshot(), "LEARNLINE_CARRIERS": str(carriers_file)}

    def warned() -> list[str]:
        return [str(f) for f in diagnose(db_path, env)
                if f.subject == "programs" and f.level == "warn"]

    assert warned() == []  # the budgets and Twilio's prices are all in USD
    programs_file.write_text(PROGRAMS.replace('monthly_budget = 2\ncurrency = "USD"',
                                              'monthly_budget = 2\ncurrency = "XOF"'),
                             encoding="utf-8")
    assert warned() == [
        f"WARN programs: {programs_file}: program 'orange' counts its monthly_budget in XOF, "
        f"but {carriers_file}: carrier 'twilio' prices its messages in USD: its spend would "
        "add USD to XOF. Give the carrier's prices in XOF, or the budget in USD"]
    # A carrier without prices adds nothing to any budget, whatever its currency.
    carriers_file.write_text(carriers_file.read_text().replace("price_per_segment = 1.0\n",
                                                               ""))
    assert warned() == []
