"""Cohorts (docs/programs.md, Cohorts): a program's administrator imports numbers from a
CSV file, checked line by line with nothing imported on any problem; each number is
invited once, paced, out of quiet hours, never after STOP; a reply joins and enrols in
the cohort's course; a weekly report goes to the cohort's contacts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.channels.invitations import run_invitations, run_reports
from gateway.cli.main import main as cli
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.ops.cohorts import CohortError, create_cohort, read_csv
from gateway.paths import lessons_dir
from gateway.programs import current
from gateway.store import Store, staff
from gateway.store import cohorts as stored
from gateway.store import programs as members
from tests.conftest import TwilioWebhooks
from tests.fakes.graph_api import FakeGraphApi
from tests.test_channel_choice import PHONE as WHATSAPP_PHONE
from tests.test_channel_choice import whatsapp
from tests.test_whatsapp_channel import ACCESS_TOKEN, PHONE_NUMBER_ID, whatsapp_carrier

PROGRAMS = """
[programs.orange]
name = "Orange Academy"
default_locale = "fr"
country = "NG"
keywords = ["JOIN ORANGE"]
invitations_per_minute = 2

[programs.sun]
name = "Sun School"
default_locale = "en"
keywords = ["JOIN SUN"]
"""


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def course_copy(root: Path, folder: str, code: str, program: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / folder)
    toml = root / folder / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


@pytest.fixture
def programs_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "programs.toml"
    path.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(path))
    return path


@pytest.fixture
def clock():
    return [at("2026-12-07T10:00:00")]


@pytest.fixture
def store(db_path, programs_file, tmp_path, clock):
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange-a", "ORANGEA", "orange")
    course_copy(root, "orange-b", "ORANGEB", "orange")
    course_copy(root, "sun-a", "SUNA", "sun")
    with Store.open(db_path, clock=lambda: clock[0]) as opened:
        import_courses(opened, root)
        yield opened


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


@pytest.fixture
def carriers(carriers_file):
    return load_carriers(carriers_file)


def cohort_course(store: Store) -> str:
    """A course of orange that is not its first: joining by the cohort starts this one."""
    first = next(c.id for c in store.courses() if c.program == "orange")
    return next(c.id for c in store.courses() if c.program == "orange" and c.id != first)


def new_cohort(store, carriers, data: bytes, **kwargs) -> stored.Cohort:
    options = {"name": "Lagos intake", "course_id": cohort_course(store),
               "starts_on": "2026-12-07", "actor": "amina"} | kwargs
    return create_cohort(store, carriers, current().get("orange"), data=data, **options)


def invitations(store: Store) -> list:
    return [m for m in store.db.execute(
        "SELECT phone, body, due_at, program FROM outbox WHERE kind = 'invitation' "
        "ORDER BY id").fetchall()]


# -- the CSV file -----------------------------------------------------------------------


def test_a_malformed_csv_is_refused_naming_its_lines_and_nothing_is_imported(
        store, carriers):
    data = (b"phone,name\n"
            b"+2348030000001,Ada\n"
            b"not a number,Bola\n"
            b"+2348030000002,Bola,Lagos\n"
            b"0803 000 0001,Ada again\n"
            b"+2348030000003,Chidi\n")
    with pytest.raises(CohortError) as refused:
        new_cohort(store, carriers, data)
    assert refused.value.problems == [
        "line 3: 'not a number' is not a phone number (read for NG)",
        "line 4: 3 fields; the header names 2 columns",
        "line 5: +2348030000001 is already on line 2",
    ]
    assert stored.of_program(store, "orange") == []
    assert store.db.execute("SELECT count(*) FROM cohort_members").fetchone()[0] == 0


def test_a_line_without_its_optional_name_is_read_with_no_name(store, carriers):
    """The name is optional on each line: a number alone under `phone,name` has none; a
    line lacking its number (`name,phone`, a name alone) is told in plain words."""
    cohort = new_cohort(store, carriers, b"phone,name\n0803 000 0011,Ada\n0803 000 0012\n")
    assert [(phone, name) for phone, name, *_ in stored.member_rows(store, cohort.id)] == [
        ("+2348030000011", "Ada"), ("+2348030000012", "")]
    with pytest.raises(CohortError) as refused:
        read_csv(b"name,phone\nAda\nBola,0803 000 0012,x\n", "NG")
    assert refused.value.problems == ["line 2: 1 field; the header names 2 columns",
                                      "line 3: 3 fields; the header names 2 columns"]
    with pytest.raises(CohortError) as refused:
        read_csv(b"phone\n0803 000 0011,Ada\n", "NG")
    assert refused.value.problems == ["line 2: 2 fields; the header names 1 column"]


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "the file is empty"),
    (b"number,name\n+2348030000001,Ada\n", "line 1: the first line names the columns"),
    (b"phone,name,age\n+2348030000001,Ada,30\n", "line 1: the first line names the columns"),
    (b"phone\n", "the file has no numbers"),
    (b"\xff\xfephone\n", "the file is not UTF-8 text"),
])
def test_a_csv_without_its_header_or_numbers_is_refused(data, problem):
    with pytest.raises(CohortError) as refused:
        read_csv(data, "NG")
    assert refused.value.problems[0].startswith(problem)


def test_a_file_over_the_size_limit_is_refused(monkeypatch):
    from gateway.ops import cohorts as ops
    monkeypatch.setattr(ops, "MAX_ROWS", 2)
    data = b"phone\n+2348030000001\n+2348030000002\n+2348030000003\n"
    with pytest.raises(CohortError) as refused:
        read_csv(data, "NG")
    assert refused.value.problems == ["line 4: more than 2 numbers in one file"]


def test_national_numbers_are_read_for_the_programs_country(store, carriers):
    cohort = new_cohort(store, carriers, b"Phone,Name\n0803 000 0011, Ada  Obi \n"
                                         b"08030000012,\n")
    assert stored.member_rows(store, cohort.id) == [
        ("+2348030000011", "Ada Obi", "waiting", None, None),
        ("+2348030000012", "", "waiting", None, None)]
    assert [(row.action, row.actor) for row in staff.audit_rows(store)] == [
        ("cohort imported 2 numbers", "amina"), ("cohort created", "amina")]


def test_a_course_of_another_program_or_a_bad_date_is_refused(store, carriers):
    sun = next(c.id for c in store.courses() if c.program == "sun")
    with pytest.raises(CohortError) as refused:
        new_cohort(store, carriers, b"phone\n+2348030000001\n", course_id=sun,
                   starts_on="2026-02-30")
    assert refused.value.problems == [
        f"course: {sun!r} is not a course of program 'orange'",
        "start date: '2026-02-30' is not a date"]
    assert stored.of_program(store, "orange") == []


def test_the_cli_imports_a_cohort_or_tells_every_bad_line(
        store, carriers_file, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    bad = tmp_path / "bad.csv"
    bad.write_text("phone\n0803 000 0001\n12\n0803 000 0001\n", encoding="utf-8")
    runner = CliRunner()
    course = cohort_course(store)
    refused = runner.invoke(cli, ["cohorts", "import", "orange", "Intake", str(bad),
                                  "--course", course])
    assert refused.exit_code == 1
    assert f"{bad}: line 3: '12' is not a phone number" in refused.output
    assert f"{bad}: line 4: +2348030000001 is already on line 2" in refused.output
    assert "nothing imported" in refused.output
    assert stored.of_program(store, "orange") == []
    good = tmp_path / "good.csv"
    good.write_text("phone,name\n0803 000 0001,Ada\n0803 000 0002,Bola\n0803 000 0003\n",
                    encoding="utf-8")  # a number without its (optional) name
    done = runner.invoke(cli, ["cohorts", "import", "orange", "Intake", str(good),
                               "--course", course, "--starts-on", "2026-12-08"])
    assert done.exit_code == 0, done.output
    assert "3 numbers imported; invitations go from 2026-12-08" in done.output
    [cohort] = stored.of_program(store, "orange")
    assert (cohort.name, cohort.course_id, cohort.created_by) == ("Intake", course, "terminal")
    listed = runner.invoke(cli, ["cohorts", "list", "orange"])
    header, row = listed.output.splitlines()
    assert header == "cohort\tname\tcourse\tstarts on\tfunnel"
    assert row.startswith(f"{cohort.id}\tIntake\t{course}\t2026-12-08\t")
    assert "numbers 3, invited 0, joined 0" in row
    assert runner.invoke(cli, ["cohorts", "list", "sun"]).output.splitlines() == [header]
    assert runner.invoke(cli, ["cohorts", "list", "moon"]).exit_code == 1


# -- invitations --------------------------------------------------------------------------


FIVE = b"phone\n" + b"".join(b"+23480300001%02d\n" % n for n in range(5))


def test_invitations_are_paced_over_rounds_and_go_once(store, carriers, clock):
    cohort = new_cohort(store, carriers, FIVE)
    assert run_invitations(store, carriers) == 2  # orange: 2 a minute
    assert run_invitations(store, carriers) == 0
    clock[0] += 61
    assert run_invitations(store, carriers) == 2
    clock[0] += 61
    assert run_invitations(store, carriers) == 1
    clock[0] += 61
    assert run_invitations(store, carriers) == 0
    sent = invitations(store)
    assert sorted(phone for phone, *_ in sent) == [f"+23480300001{n:02d}" for n in range(5)]
    assert {program for *_, program in sent} == {"orange"}
    rows = stored.member_rows(store, cohort.id)
    assert {status for _, _, status, _, _ in rows} == {"invited"}
    outbox_ids = store.db.execute(
        "SELECT outbox_id FROM cohort_members WHERE cohort_id = ?", [cohort.id]).fetchall()
    assert len({row[0] for row in outbox_ids}) == 5 and None not in {r[0] for r in outbox_ids}


def test_a_program_at_its_budget_keeps_its_numbers_waiting(store, carriers, clock):
    """Invitations of a program the worker found at its monthly budget are not queued (the
    senders would cancel them, and a number is invited once): they wait for the stop to
    lift."""
    cohort = new_cohort(store, carriers, FIVE)
    assert run_invitations(store, carriers, stopped_programs=frozenset({"orange"})) == 0
    assert invitations(store) == []
    assert {row[2] for row in stored.member_rows(store, cohort.id)} == {"waiting"}
    assert run_invitations(store, carriers) == 2  # a new month: they go at the pace


def test_the_invitation_names_the_program_and_how_to_join_in_its_language(store, carriers):
    new_cohort(store, carriers, b"phone\n+2348030000100\n")
    run_invitations(store, carriers)
    [(_phone, body, _, _)] = invitations(store)
    assert body == ("Orange Academy vous invite à apprendre par SMS. Pour rejoindre, "
                    "répondez OUI, ou ouvrez https://learnline.example.org/join/orange. "
                    "Répondez STOP pour ne plus recevoir de messages.")


def test_invitations_wait_for_the_start_date(store, carriers, clock):
    new_cohort(store, carriers, b"phone\n+2348030000100\n", starts_on="2026-12-09")
    assert run_invitations(store, carriers) == 0
    clock[0] = at("2026-12-09T09:00:00")
    assert run_invitations(store, carriers) == 1


def test_no_invitation_goes_in_quiet_hours(store, carriers, clock):
    clock[0] = at("2026-12-07T22:30:00")  # 23:30 in Lagos: quiet until 08:00
    new_cohort(store, carriers, b"phone\n+2348030000100\n")
    assert run_invitations(store, carriers) == 1
    [(_, _, due_at, _)] = invitations(store)
    assert due_at == at("2026-12-08T07:00:00")  # 08:00 in Lagos


def test_a_number_that_sent_stop_is_never_invited(store, carriers, twilio):
    stopped = "+2348030000100"
    twilio.sms(stopped, "STOP")
    assert store.learner(stopped).stopped
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n+2348030000101\n")
    assert run_invitations(store, carriers) == 1
    assert [phone for phone, *_ in invitations(store)] == ["+2348030000101"]
    assert stored.member_rows(store, cohort.id)[0][2] == "stopped"


@pytest.fixture
def twilio(db_path, carriers_file, programs_file, store):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "cohorts-tests-secret-0123456789", "TESTING": True})
    return TwilioWebhooks(app.test_client())


def test_a_reply_joins_the_program_and_enrols_in_the_cohorts_course(
        store, carriers, twilio):
    invited = "+2348030000100"
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n+2348030000101\n")
    run_invitations(store, carriers)  # 2 a minute: both invited
    assert not members.is_member(store, "orange", invited)  # nobody without consent
    assert store.places().get(invited, cohort.course_id) is None
    twilio.sms(invited, "join orange")
    row = store.db.execute("SELECT via, cohort_id FROM program_members WHERE phone = ?",
                           [invited]).fetchone()
    assert tuple(row) == ("invitation", cohort.id)
    assert store.places().get(invited, cohort.course_id) is not None
    assert store.learner(invited).current_course == cohort.course_id
    statuses = {phone: status for phone, _, status, _, _ in
                stored.member_rows(store, cohort.id)}
    assert statuses == {invited: "joined", "+2348030000101": "invited"}
    assert stored.funnel(store, cohort, 4).joined == 1


@pytest.mark.parametrize("answer", ["oui", "YES!", "Sim", "نعم"])
def test_a_yes_in_any_language_accepts_the_invitation(store, carriers, twilio, answer):
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n")
    run_invitations(store, carriers)
    twilio.sms("+2348030000100", answer)
    row = store.db.execute("SELECT via, cohort_id FROM program_members WHERE phone = ?",
                           ["+2348030000100"]).fetchone()
    assert tuple(row) == ("invitation", cohort.id)
    assert store.places().get("+2348030000100", cohort.course_id) is not None


def test_a_yes_on_whatsapp_accepts_the_invitation_sent_by_sms(
        store, db_path, carriers_file, graph_api):
    """The invitation comes by SMS; the learner answers from WhatsApp on the same number."""
    carriers_file.write_text(carriers_file.read_text() + whatsapp_carrier(graph_api.url))
    carriers = load_carriers(carriers_file)
    cohort = new_cohort(store, carriers, f"phone\n{WHATSAPP_PHONE}\n".encode())
    run_invitations(store, carriers)
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                         "TESTING": True}).test_client()
    whatsapp(client, "Oui !")
    row = store.db.execute("SELECT via, cohort_id FROM program_members WHERE phone = ?",
                           [WHATSAPP_PHONE]).fetchone()
    assert tuple(row) == ("invitation", cohort.id)
    assert store.learner(WHATSAPP_PHONE).current_course == cohort.course_id
    [answered] = [m for m in store.outbox(WHATSAPP_PHONE) if m.carrier_id == "wa"]
    assert answered.body.startswith("Vous avez rejoint Orange Academy.\n")


def test_a_yes_from_a_number_not_invited_joins_nothing(store, carriers, twilio):
    new_cohort(store, carriers, b"phone\n+2348030000100\n")  # not invited yet
    twilio.sms("+2348030000100", "YES")
    twilio.sms("+2348030000300", "YES")
    assert members.members(store, "orange") == []


def test_a_number_not_invited_joins_by_keyword_as_before(store, carriers, twilio):
    twilio.sms("+2348030000200", "JOIN ORANGE")
    row = store.db.execute("SELECT via, cohort_id FROM program_members WHERE phone = ?",
                           ["+2348030000200"]).fetchone()
    assert tuple(row) == ("keyword", None)


# -- the weekly report ---------------------------------------------------------------------


def test_the_weekly_report_goes_to_the_cohorts_contacts_once_a_week(
        store, carriers, twilio, clock):
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n+2348030000101\n",
                        contacts=["0803 000 0999"])
    assert cohort.contacts == ("+2348030000999",)
    run_invitations(store, carriers)
    twilio.sms("+2348030000100", "JOIN ORANGE")
    assert run_reports(store, carriers) == 0  # a week after the start
    clock[0] = at("2026-12-14T10:00:00")
    assert run_reports(store, carriers) == 1
    assert run_reports(store, carriers) == 0
    [(body, program)] = store.db.execute(
        "SELECT body, program FROM outbox WHERE kind = 'report'").fetchall()
    assert program == "orange"
    assert body == ("Orange Academy: Lagos intake\n"
                    "Inscrits : 1 sur 2\n"
                    "Actifs cette semaine : 0\n"
                    "Lecons terminées cette semaine : 0\n"  # ç folded for GSM

                    "Certificats : 0")
    clock[0] = at("2026-12-21T10:00:01")
    assert run_reports(store, carriers) == 1


# -- the dashboard's cohort pages ------------------------------------------------------------


PASSWORD = "cohort pass phrase 1234"


@pytest.fixture
def web(db_path, carriers_file, programs_file, store):
    from gateway.ops import staff as people

    people.add_account(store, "oa", "Orange Admin", "admin", PASSWORD, program="orange")
    people.add_account(store, "sa", "Sun Admin", "admin", PASSWORD, program="sun")
    people.add_account(store, "tt", "Tutor", "tutor", PASSWORD)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "cohorts-tests-secret-0123456789"})


def token(client, path: str) -> str:
    import re
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def signed_in(app, username: str):
    client = app.test_client()
    answer = client.post("/admin/signin", data={
        "csrf": token(client, "/admin/signin"), "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def upload(client, path: str, data: bytes, course: str, csrf: str | None = None, **extra):
    import io
    form = {"name": "Lagos intake", "course": course, "starts_on": "2026-12-07",
            "numbers": (io.BytesIO(data), "numbers.csv")} | extra
    if csrf is not None:
        form["csrf"] = csrf
    return client.post(path, data=form, content_type="multipart/form-data")


def test_a_program_administrator_creates_a_cohort_by_upload_and_sees_its_funnel(
        web, store):
    client = signed_in(web, "oa")
    path = "/admin/programs/orange/cohorts"
    course = cohort_course(store)
    refused = upload(client, path, b"phone\n0803 000 0001\nnope\n", course,
                     token(client, path))
    assert refused.status_code == 400
    assert "line 3: &#39;nope&#39; is not a phone number" in refused.text
    assert stored.of_program(store, "orange") == []
    page = client.get(path).text
    assert "<code>phone,name</code> (name optional)" in page
    done = upload(client, path, b"phone,name\n0803 000 0001,Ada\n0803 000 0002,Bola\n"
                  b"0803 000 0003\n", course, token(client, path), contacts="0803 000 0999")
    assert done.status_code == 303, done.text  # the last number without its name
    [cohort] = stored.of_program(store, "orange")
    assert cohort.created_by == "oa" and cohort.contacts == ("+2348030000999",)
    page = client.get(path).text
    assert "Lagos intake" in page
    assert f'href="{path}">Orange Academy</a>' in client.get("/admin/account").text
    funnel = client.get(f"{path}/{cohort.id}")
    assert funnel.status_code == 200 and "Numbers imported</td><td>3" in funnel.text
    assert client.get(f"{path}/{cohort.id}.csv").text.splitlines() == [
        "program,cohort,stage,count", "orange,Lagos intake,members,3",
        "orange,Lagos intake,invited,0", "orange,Lagos intake,joined,0",
        "orange,Lagos intake,started,0", "orange,Lagos intake,half,0",
        "orange,Lagos intake,certificate,0"]


def test_a_cohorts_funnel_csv_runs_no_formula_its_name_holds(web, store, carriers):
    """A cohort's name is an administrator's text: a spreadsheet opening the funnel must
    not run it, as no staff CSV runs a cell."""
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n",
                        name='=HYPERLINK("http://x.example","open")')
    rows = signed_in(web, "oa").get(
        f"/admin/programs/orange/cohorts/{cohort.id}.csv").text.splitlines()
    assert rows[1] == "orange,\"'=HYPERLINK(\"\"http://x.example\"\",\"\"open\"\")\",members,1"


def test_another_programs_administrator_sees_and_creates_nothing_of_its_cohorts(
        web, store, carriers):
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n")
    base = "/admin/programs/orange/cohorts"
    pages = (base, f"{base}/{cohort.id}", f"{base}/{cohort.id}.csv")
    sun = signed_in(web, "sa")
    for path in pages:
        answer = sun.get(path)  # not their program: refused, whether it exists or not
        assert answer.status_code == 403, path
        assert "Lagos intake" not in answer.text and "+234" not in answer.text
    # Sun's own pages do not show orange's cohort either, nor open it by its id.
    assert "Lagos intake" not in sun.get("/admin/programs/sun/cohorts").text
    assert sun.get(f"/admin/programs/sun/cohorts/{cohort.id}").status_code == 404
    assert sun.get(f"/admin/programs/sun/cohorts/{cohort.id}.csv").status_code == 404
    posted = upload(sun, base, b"phone\n+2348030000200\n", cohort.course_id,
                    token(sun, "/admin/programs/sun/cohorts"))
    assert posted.status_code == 403
    assert "Orange Academy" not in sun.get("/admin/account").text
    tutor = signed_in(web, "tt")
    for path in pages:
        assert tutor.get(path).status_code == 403, path
    nobody = web.test_client()
    for path in pages:
        assert nobody.get(path).status_code == 403, path
    orange = signed_in(web, "oa")
    assert upload(orange, base, b"phone\n+2348030000200\n", cohort.course_id).status_code == 400
    assert upload(orange, base, b"phone\n+2348030000200\n", cohort.course_id,
                  "x" * 32).status_code == 400  # a wrong CSRF token
    assert [c.id for c in stored.all_cohorts(store)] == [cohort.id]
    assert orange.get(f"{base}/{cohort.id}").status_code == 200
    assert orange.get("/admin/programs/moon/cohorts").status_code == 403


def test_an_erased_member_keeps_counting_under_the_pseudonym_without_a_name(
        store, carriers, twilio):
    from gateway.store import privacy

    cohort = new_cohort(store, carriers, b"phone,name\n+2348030000100,Ada Obi\n")
    run_invitations(store, carriers)
    twilio.sms("+2348030000100", "JOIN ORANGE")
    exported = privacy.learner_export(store, "+2348030000100")
    assert [row["name"] for row in exported["cohort_members"]] == ["Ada Obi"]
    erasure = privacy.erase(store, "+2348030000100")
    assert stored.member_rows(store, cohort.id)[0][:3] == (erasure.pseudonym, "", "joined")
    assert stored.funnel(store, cohort, 4).joined == 1


def test_a_bad_invitation_pace_is_refused_naming_file_program_and_key(tmp_path):
    from gateway.config import ConfigError
    from gateway.programs import load_programs

    path = tmp_path / "programs.toml"
    path.write_text('[programs.x]\nname = "X"\ndefault_locale = "en"\n'
                    'invitations_per_minute = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: program 'x': key "
                                          r"'invitations_per_minute': a whole number"):
        load_programs(path)


def test_the_outbox_worker_queues_invitations_on_its_round(store, carriers, db_path,
                                                            twilio_api, clock):
    from gateway.outbox.worker import OutboxWorker

    clock[0] = datetime.now(UTC).timestamp()  # the worker runs on the real time
    new_cohort(store, carriers, FIVE, starts_on="2000-01-01")
    worker = OutboxWorker(db_path, carriers)
    worker.run(drain=True, poll_seconds=0.01)
    assert worker.report.invited == 2  # orange's pace: 2 a minute
    assert len(invitations(store)) == 2


def test_the_funnel_and_the_week_follow_a_member_through_the_course(
        store, carriers, db_path, carriers_file, clock):
    import re

    from tests.conftest import csrf, right_answers

    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "cohorts-tests-secret-0123456789", "TESTING": True})
    learner = "+2348030000100"
    cohort = new_cohort(store, carriers, b"phone\n+2348030000100\n+2348030000101\n",
                        contacts=["0803 000 0999"])
    run_invitations(store, carriers)
    TwilioWebhooks(app.test_client()).sms(learner, "OUI")
    lessons = store.course(cohort.course_id).lesson_ids
    web = app.test_client()
    assert web.post("/signin", data={"csrf": csrf(web), "phone": learner}).status_code == 302
    code = re.search(r"\b(\d{6})\b", store.outbox(learner)[-1].body).group(1)
    assert web.post("/signin/code", data={"csrf": csrf(web, "/signin/code"),
                                          "code": code}).status_code == 302
    figures = []
    for lesson_id in lessons:
        path = f"/courses/{cohort.course_id}/{lesson_id}/quiz"
        answered = web.post(path, data={"csrf": csrf(web, path),
                                        **right_answers(store, lesson_id)})
        assert answered.status_code in (200, 303), answered.text
        f = stored.funnel(store, cohort, len(lessons))
        figures.append((f.started, f.half, f.certificate))
    half = -(-len(lessons) // 2)
    assert figures[0] == (1, int(half == 1), int(len(lessons) == 1))
    assert figures[half - 1][1] == 1 and figures[-1] == (1, 1, 1)
    week = stored.week(store, cohort, datetime.now(UTC).timestamp() - 3600)  # the app's time
    assert (week.joined, week.active, week.lessons, week.certificates) == (
        1, 1, len(lessons), 1)


# -- large uploads on the dashboard ----------------------------------------------------------


def numbers_csv(count: int) -> bytes:
    """`count` national numbers of NG, each with a name: about 30 bytes a line."""
    return ("phone,name\n" + "".join(f"0803 {n:07d},Learner {n}\n" for n in range(count))
            ).encode()


class CountedInput:
    """A request body that counts the bytes the application reads of it."""

    def __init__(self, data: bytes):
        import io
        self.stream, self.read_bytes = io.BytesIO(data), 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        chunk = self.stream.readline(size)
        self.read_bytes += len(chunk)
        return chunk


def multipart(fields: dict[str, str], data: bytes) -> bytes:
    """A cohort form as a browser sends it, boundary `XyZ`, the file `data` last."""
    parts = b"".join(b'--XyZ\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                     % (name.encode(), value.encode()) for name, value in fields.items())
    return (parts + b'--XyZ\r\nContent-Disposition: form-data; name="numbers"; '
            b'filename="numbers.csv"\r\nContent-Type: text/csv\r\n\r\n' + data
            + b"\r\n--XyZ--\r\n")


def test_a_cohort_of_20000_numbers_uploads_on_the_dashboard(web, store):
    client = signed_in(web, "oa")
    path = "/admin/programs/orange/cohorts"
    data = numbers_csv(20_000)
    assert len(data) > 8 * 64 * 1024  # many times the limit of every other route
    body = multipart({"csrf": token(client, path), "name": "Lagos intake",
                      "course": cohort_course(store), "starts_on": "2026-12-07"}, data)
    done = client.post(path, data=body, content_type="multipart/form-data; boundary=XyZ")
    assert done.status_code == 303, done.text[:500]
    [cohort] = stored.of_program(store, "orange")
    assert stored.funnel(store, cohort, 4).members == 20_000
    page = client.get(path).text  # the form says how large a file it takes
    assert "Files of up to 8 MB here" in page and "learnline cohorts import orange" in page


def test_a_file_over_the_upload_limit_gets_a_page_saying_its_size_the_limit_and_the_command(
        web, store):
    client = signed_in(web, "oa")
    path = "/admin/programs/orange/cohorts"
    csrf = token(client, path)
    size = 19 * 512 * 1024  # 9.5 MB
    counted = CountedInput(b"x" * size)
    answer = client.post(path, data=b"", content_type="multipart/form-data; boundary=XyZ",
                         environ_overrides={"wsgi.input": counted,
                                            "CONTENT_LENGTH": str(size)})
    assert answer.status_code == 413
    page = answer.text
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "Learnline</b>" in page and "Orange Academy" in page  # the dashboard's layout
    assert "This upload is 9.5 MB" in page and "up to 8 MB" in page
    assert "learnline cohorts import orange" in page and csrf not in page
    assert counted.read_bytes == 0  # refused from its declared length, unread
    assert stored.of_program(store, "orange") == []


def test_only_the_programs_administrators_may_send_a_large_upload(web, store):
    """Walked without credentials, with a wrong bearer token, as a tutor and as another
    program's administrator: a body over the gateway's 64 KiB is refused (413), read no
    further than that, and nothing is created; the program's own administrator's goes."""
    path = "/admin/programs/orange/cohorts"
    form = multipart({}, numbers_csv(10_000))

    def post(client, **headers):
        counted = CountedInput(form)
        answer = client.post(path, data=b"", headers=headers,
                             content_type="multipart/form-data; boundary=XyZ",
                             environ_overrides={"wsgi.input": counted,
                                                "CONTENT_LENGTH": str(len(form))})
        return answer, counted.read_bytes

    askers = {"nobody": (web.test_client(), {}),
              "wrong token": (web.test_client(), {"Authorization": "Bearer " + "w" * 40}),
              "tutor": (signed_in(web, "tt"), {}),
              "sun's administrator": (signed_in(web, "sa"), {})}
    for who, (client, headers) in askers.items():
        answer, read = post(client, **headers)
        assert answer.status_code == 413, who
        assert read <= 64 * 1024, (who, read)
    assert stored.of_program(store, "orange") == []
    answer, read = post(signed_in(web, "oa"))  # no CSRF token in this form: read, then 400
    assert answer.status_code == 400 and read == len(form)


def test_erasing_a_number_imported_but_never_seen_removes_it_from_its_cohort(
        store, carriers, twilio, db_path, carriers_file, monkeypatch):
    """A number only imported (and invited, never answering) leaves its cohort on
    erasure: nothing of it stays, not even under a pseudonym; a member who joined keeps
    counting under the pseudonym."""
    cohort = new_cohort(store, carriers, b"phone,name\n+2348030000100,Ada Obi\n"
                                         b"+2348030000101,Bola Ade\n+2348030000102,Chi\n")
    run_invitations(store, carriers)  # two a minute: the first two are invited
    twilio.sms("+2348030000100", "OUI")  # joins
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    runner = CliRunner()
    for never_seen in ("+2348030000101", "+2348030000102"):  # invited; waiting
        erased = runner.invoke(cli, ["learners", "erase", "--yes", never_seen])
        assert erased.exit_code == 0, erased.output
        assert "deleted: 0 reviews" in erased.output and ", 1 cohort_members\n" in erased.output
    rows = stored.member_rows(store, cohort.id)
    assert [row[:3] for row in rows] == [("+2348030000100", "Ada Obi", "joined")]
    assert stored.funnel(store, cohort, 4).members == 1
    joined = runner.invoke(cli, ["learners", "erase", "--yes", "+2348030000100"])
    assert joined.exit_code == 0, joined.output
    kept = joined.output.split("kept without the number: ")[1].splitlines()[0]
    assert "1 cohort_members" in kept
    [row] = stored.member_rows(store, cohort.id)
    assert row[0].startswith("erased:") and row[1:3] == ("", "joined")
    assert stored.funnel(store, cohort, 4).joined == 1


def test_a_programs_cohorts_page_is_linked_from_its_page_and_the_programs_list(
        web, store):
    """A program's administrator lands on the program's page after signing in; its
    cohorts page (the upload form, the list) is a link away, and so it is from the list
    of programs a whole-gateway administrator reads."""
    import re

    from gateway.ops import staff as people

    client = web.test_client()
    landed = client.post("/admin/signin", data={
        "csrf": token(client, "/admin/signin"), "username": "oa", "password": PASSWORD},
        follow_redirects=True)
    assert landed.request.path == "/admin/programs/orange"
    links = re.findall(r'href="([^"]+)"', landed.text)
    assert "/admin/programs/orange/cohorts" in links
    assert "/admin/programs/sun/cohorts" not in links
    cohorts_page = client.get("/admin/programs/orange/cohorts")
    assert cohorts_page.status_code == 200 and 'name="numbers"' in cohorts_page.text
    people.add_account(store, "ga", "Gateway Admin", "admin", PASSWORD)
    admin = signed_in(web, "ga")
    listed = re.findall(r'href="([^"]+)"', admin.get("/admin/programs").text)
    assert {"/admin/programs/orange/cohorts", "/admin/programs/sun/cohorts"} <= set(listed)
    program_page = re.findall(r'href="([^"]+)"', admin.get("/admin/programs/sun").text)
    assert "/admin/programs/sun/cohorts" in program_page


def test_a_hub_refuses_to_import_a_cohort_from_its_terminal(store, db_path, carriers_file,
                                                          tmp_path, monkeypatch):
    """A hub sends no cohort's invitations through the edges' carriers, and the edges
    would never hear of a cohort made there: `learnline cohorts import` on a hub says
    to import it on an edge, and imports nothing."""
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("phone\n+2348030000100\n", encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers_file))
    result = CliRunner().invoke(cli, ["cohorts", "import", "orange", "Lagos intake",
                                      str(numbers), "--course", cohort_course(store)])
    assert result.exit_code == 0, result.output  # on an edge: imported
    monkeypatch.setenv("LEARNLINE_ROLE", "hub")
    result = CliRunner().invoke(cli, ["cohorts", "import", "orange", "Hub intake",
                                      str(numbers), "--course", cohort_course(store)])
    assert result.exit_code == 1, result.output
    assert "on an edge" in result.output and "hub" in result.output
    assert [c.name for c in stored.of_program(store, "orange")] == ["Lagos intake"]
