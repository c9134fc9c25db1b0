"""A cohort's figures beyond its funnel (docs/programs.md, Cohorts): lessons completed by
its joined members in its course, its quiz questions' right first answers worst first,
and its messages' cost per completed lesson, on its page, as CSV files and from
`learnline cohorts show`; counted by its members and its course alone, and refused to
another program's administrator."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main as cli
from gateway.content.importer import import_courses
from gateway.ops import staff
from gateway.paths import lessons_dir
from gateway.store import Store
from gateway.store import cohorts as stored
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml

PROGRAMS = """
[programs.orange]
name = "Orange Academy"
default_locale = "en"
keywords = ["JOIN ORANGE"]

[programs.sun]
name = "Sun School"
default_locale = "en"
keywords = ["JOIN SUN"]
"""
PASSWORD = "cohort figures pass phrase 9"
ADA, BOLA, CHIDI = "+2348030000100", "+2348030000101", "+2348030000102"
DAYO = "+2348030000200"  # of the program's other cohort


def course_copy(root: Path, folder: str, code: str, program: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / folder)
    toml = root / folder / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


@pytest.fixture
def app(db_path, tmp_path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        "[carriers.twilio]\n", '[carriers.twilio]\nprice_per_segment = 0.5\ncurrency = "USD"\n'))
    programs = tmp_path / "programs.toml"
    programs.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers))
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange-a", "ORANGEA", "orange")
    course_copy(root, "orange-b", "ORANGEB", "orange")
    course_copy(root, "sun-a", "SUNA", "sun")
    with Store.open(db_path) as store:
        import_courses(store, root)
        for program in ("orange", "sun"):
            staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD,
                              program=program)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "SECRET_KEY": "cohort-figures-secret-0123456789", "TESTING": True})


@pytest.fixture
def store(db_path, app):
    with Store.open(db_path) as opened:
        yield opened


def sent(store: Store, phone: str, program: str, segments: int, *, accepted: bool = True,
         kind: str = "lesson") -> None:
    outbox_id = store.enqueue("twilio", phone, "A message", kind=kind, segments=segments,
                              program=program)
    while accepted:  # sent as the worker sends: claimed, then accepted by the carrier
        claimed = store.claim_due("twilio", 60, phone=phone)
        if claimed.id == outbox_id:
            store.finish_send(outbox_id, "accepted", carrier_message_id=f"SM{outbox_id:032d}")
            return
        store.finish_send(claimed.id, "cancelled")  # a reply to joining, before the cohorts


def cancelled(store: Store, phone: str, program: str, kind: str = "invitation") -> None:
    """A message cancelled unsent, as the worker cancels one at its program's budget."""
    outbox_id = store.enqueue("twilio", phone, "A message", kind=kind, program=program)
    claimed = store.claim_due("twilio", 60, phone=phone)
    assert claimed.id == outbox_id
    store.finish_send(outbox_id, "cancelled", detail="program budget reached")


@pytest.fixture
def seeded(app, store):
    """Two cohorts of orange in its course orange-b: Lagos (Ada and Bola joined, Chidi
    invited only) and Abuja (Dayo joined); Bola is also in sun and in orange-a."""
    twilio = TwilioWebhooks(app.test_client())
    for phone in (ADA, BOLA, CHIDI, DAYO):
        twilio.sms(phone, "JOIN ORANGE")  # learners before the cohorts: their replies
    twilio.sms(BOLA, "JOIN SUN")          # are not the cohorts' messages
    lagos = stored.create(store, program="orange", name="Lagos intake", course_id="orange-b",
                          starts_on="2026-12-01", carrier_id="twilio", created_by="oa",
                          members=[(ADA, "Ada"), (BOLA, "Bola"), (CHIDI, "Chidi")])
    abuja = stored.create(store, program="orange", name="Abuja intake", course_id="orange-b",
                          starts_on="2026-12-01", carrier_id="twilio", created_by="oa",
                          members=[(DAYO, "Dayo")])
    lessons = store.course("orange-b").lesson_ids
    with store.write():
        for phone in (ADA, BOLA, CHIDI, DAYO):
            stored.mark_invited(store, abuja.id if phone == DAYO else lagos.id, phone)
        for phone in (ADA, BOLA):
            stored.mark_joined(store, lagos.id, phone)
        stored.mark_joined(store, abuja.id, DAYO)
        done = {ADA: [("orange-b", lessons[0]), ("orange-b", lessons[1])],
                BOLA: [("orange-b", lessons[0]), ("orange-a", lessons[0]),
                       ("orange-a", lessons[1]), ("orange-a", lessons[2]),
                       ("sun-a", lessons[0])],
                CHIDI: [("orange-b", lessons[0])],  # not joined by the cohort
                DAYO: [("orange-b", lessons[0]), ("orange-b", lessons[1]),
                       ("orange-b", lessons[2])]}
        for phone, results in done.items():
            for course, lesson in results:
                store.save_lesson_result(phone, course, lesson, 3, 3)
        for phone, course, question, correct, first in (
                (ADA, "orange-b", 0, True, True), (ADA, "orange-b", 1, False, True),
                (ADA, "orange-b", 1, True, False),  # a second try: not counted
                (BOLA, "orange-b", 0, False, True), (BOLA, "orange-b", 1, False, True),
                (BOLA, "sun-a", 0, True, True), (BOLA, "orange-a", 1, True, True),
                (DAYO, "orange-b", 1, True, True)):
            store.record_answer(phone, course, lessons[0], question, 0, correct, first)
    sent(store, ADA, "orange", 2)
    sent(store, ADA, "orange", 1, accepted=False)  # queued: not sent, no cost yet
    sent(store, BOLA, "orange", 1)
    sent(store, BOLA, "sun", 3)  # sun's message: not orange's cohort's
    sent(store, CHIDI, "orange", 1, kind="invitation")
    cancelled(store, CHIDI, "orange")  # at the budget: not sent, no cost
    sent(store, DAYO, "orange", 1)  # the other cohort's
    return lagos, abuja


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/signin").text).group(1)
    answer = client.post("/admin/signin", data={"csrf": token, "username": username,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def test_a_cohorts_completion_quiz_and_cost_per_lesson_count_its_members_in_its_course(
        app, store, seeded):
    lagos, abuja = seeded
    lessons = store.course("orange-b").lesson_ids
    first = store.lesson("orange-b", lessons[0], "en")
    admin = signed_in(app, "orange-admin")
    base = f"/admin/programs/orange/cohorts/{lagos.id}"
    completion = admin.get(f"{base}/completion.csv")
    assert completion.status_code == 200
    assert completion.headers["Content-Type"].startswith("text/csv")
    rows = completion.text.splitlines()
    assert rows[0] == "lesson,id,title,completed,of joined (%)"
    assert rows[1].startswith(f"1,{lessons[0]},") and rows[1].endswith(",2,100.0")
    assert rows[2].startswith(f"2,{lessons[1]},") and rows[2].endswith(",1,50.0")
    assert [row.rsplit(",", 2)[1:] for row in rows[3:]] == [["0", "0.0"]] * (len(lessons) - 2)
    quiz = admin.get(f"{base}/quiz.csv").text.splitlines()
    assert quiz == ["lesson,question,first answers,right,right (%),text",
                    f"{lessons[0]},2,2,0,0.0,{first.questions[1].text}",
                    f"{lessons[0]},1,2,1,50.0,{first.questions[0].text}"]
    # Sent: Ada's 2 segments, Bola's 1, Chidi's invitation 1: 3 messages, 4 segments at
    # 0.5; apart, Ada's message queued and Chidi's second invitation cancelled unsent;
    # 3 lessons completed.
    costs = admin.get(f"{base}/costs.csv").text.splitlines()
    assert costs == ["currency,messages,segments,cost,lessons completed,cost per lesson,"
                     "queued,not sent",
                     "USD,3,4,2.00,3,0.6667,1,1"]
    other = admin.get(f"/admin/programs/orange/cohorts/{abuja.id}/costs.csv").text
    assert other.splitlines()[1] == "USD,1,1,0.50,3,0.1667,0,0"
    page = admin.get(base).text
    assert "Lessons completed by the cohort&#39;s members" in page
    assert "<td>0.6667</td>" in page and first.questions[1].text in page
    assert f'href="{base}/costs.csv"' in page
    assert admin.get(f"{base}/nothing.csv").status_code == 404
    shown = CliRunner().invoke(cli, ["cohorts", "show", "orange", str(lagos.id)])
    assert shown.exit_code == 0, shown.output
    assert "Lagos intake" in shown.output and "0.6667" in shown.output
    assert re.search(rf"1\s+{lessons[0]}\s.*\s2\s+100\.0", shown.output)
    assert CliRunner().invoke(cli, ["cohorts", "show", "sun", str(lagos.id)]).exit_code != 0
    huge = CliRunner().invoke(cli, ["cohorts", "show", "orange", "99999999999999999999"])
    assert huge.exit_code == 2, huge.output  # a usage error in one line, no traceback
    assert "is not in the range" in huge.output


def test_another_programs_administrator_gets_none_of_a_cohorts_tables(app, store, seeded):
    lagos, _ = seeded
    sun = signed_in(app, "sun-admin")
    for table in ("completion", "quiz", "costs"):
        answer = sun.get(f"/admin/programs/orange/cohorts/{lagos.id}/{table}.csv")
        assert answer.status_code == 403 and "Lagos" not in answer.text
        assert sun.get(f"/admin/programs/sun/cohorts/{lagos.id}/{table}.csv").status_code == 404
        assert app.test_client().get(
            f"/admin/programs/orange/cohorts/{lagos.id}/{table}.csv").status_code == 403
