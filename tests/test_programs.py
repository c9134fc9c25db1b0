"""Programs (docs/programs.md): the programs file checked at start-up; learners join a
program by its keyword, its short code, its USSD code or its web link, and see the
courses of no program and of their programs only; messages and questions carry their
program; a tutor of one program sees and acts on that program's questions alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main as cli
from gateway.config import ConfigError, load_carriers
from gateway.content.importer import import_courses
from gateway.ops import staff
from gateway.ops.announcements import announce
from gateway.paths import lessons_dir
from gateway.programs import load_programs
from gateway.store import Store, questions
from gateway.store import programs as members
from gateway.store import staff as accounts
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml, csrf
from tests.fakes.aggregator import FakeAggregator

LEARNER = "+2348030000001"  # Nigeria, through Twilio
OTHER = "+2348030000002"
USSD_LEARNER = "+254712345678"  # Kenya, through Africa's Talking
SUN_SHORT_CODE = "+15005550111"
ORANGE_USSD = "*384*77#"
AT_TOKEN = "programs-ussd-token-0123456789"
AT_KEY = "programs-at-api-key"
TUTOR_PASSWORD = "tutor pass phrase 42"
WHOLE_PASSWORD = "whole tutor phrase 43"

PROGRAMS = f"""
[programs.orange]
name = "Orange Academy"
default_locale = "fr"
country = "NG"
monthly_budget = 100
currency = "USD"
contacts = ["0803 000 0009"]
keywords = ["JOIN ORANGE"]

[programs.orange.carriers.at]
ussd_code = "{ORANGE_USSD}"

[programs.sun]
name = "Sun School"
default_locale = "en"
keywords = ["JOIN SUN"]

[programs.sun.carriers.twilio]
short_code = "{SUN_SHORT_CODE}"
"""


def course_copy(root: Path, folder: str, code: str, program: str | None) -> None:
    """The bundled course again under another folder and code, naming `program`."""
    shutil.copytree(lessons_dir() / "start-freelancing", root / folder)
    toml = root / folder / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    if program:
        text = f'program = "{program}"\n' + text
    toml.write_text(text, encoding="utf-8")


@pytest.fixture
def courses_root(tmp_path: Path) -> Path:
    root = tmp_path / "lessons"
    root.mkdir()
    shutil.copytree(lessons_dir() / "start-freelancing", root / "start-freelancing")
    course_copy(root, "orange-course", "ORANGE1", "orange")
    course_copy(root, "sun-course", "SUN1", "sun")
    return root


@pytest.fixture
def programs_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "programs.toml"
    path.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(path))
    return path


@pytest.fixture
def aggregator():
    with FakeAggregator(AT_KEY) as api:
        yield api


@pytest.fixture
def carriers_file(tmp_path: Path, twilio_api, aggregator, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + f"""
[carriers.at]
adapter = "africastalking"
country = "KE"
locale = "en"
sender = "12345"
webhook_token = "{AT_TOKEN}"
username = "learnline"
api_key = "{AT_KEY}"
api_base_url = "{aggregator.url}"
""")
    return path


@pytest.fixture
def app(db_path, carriers_file, programs_file, courses_root):
    with Store.open(db_path) as store:
        import_courses(store, courses_root)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "programs-tests-secret-0123456789", "TESTING": True})


@pytest.fixture
def store(db_path, app):
    with Store.open(db_path) as opened:
        yield opened


def texts(store: Store, phone: str) -> list[str]:
    return [message.body for message in store.outbox(phone)]


def ussd(client, session: str, text: str, code: str) -> str:
    answer = client.post(f"/carriers/at/ussd?token={AT_TOKEN}", data={
        "sessionId": session, "phoneNumber": USSD_LEARNER, "serviceCode": code,
        "text": text, "networkCode": "63902"})
    assert answer.status_code == 200, answer.text
    return answer.text


# -- the programs file ------------------------------------------------------------------


@pytest.mark.parametrize(("table", "names"), [
    ('[programs.x]\ndefault_locale = "en"\n', "program 'x': key 'name'"),
    ('[programs.x]\nname = "X"\n', "program 'x': key 'default_locale'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "zz"\n', "program 'x': key 'default_locale'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\nmonthly_budget = 5\n',
     "program 'x': key 'currency'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\nmonthly_budget = "lots"\n',
     "program 'x': key 'monthly_budget'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\ncontacts = ["not a number"]\n',
     "program 'x': key 'contacts'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\nkeywords = "JOIN X"\n',
     "program 'x': key 'keywords'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\ncolour = "red"\n',
     "program 'x': key 'colour'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\n[programs.x.carriers.nowhere]\n'
     'short_code = "1"\n', "program 'x': key 'carriers.nowhere'"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\n[programs.x.carriers.twilio]\n'
     'ussd = "*1#"\n', "program 'x': key 'carriers.twilio.ussd'"),
    ('[programs.X]\nname = "X"\ndefault_locale = "en"\n', "program 'X': program ids"),
    ('[programs.x]\nname = "X"\ndefault_locale = "en"\nkeywords = ["JOIN"]\n'
     '[programs.y]\nname = "Y"\ndefault_locale = "en"\nkeywords = ["join"]\n',
     "program 'y': key 'keywords': 'join' already belongs to program 'x'"),
    ('[program.x]\nname = "X"\n', "unknown top-level key 'program'"),
])
def test_a_bad_programs_file_is_refused_naming_file_program_and_key(tmp_path, table, names):
    path = tmp_path / "programs.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_programs(path, carrier_ids=["twilio", "console"])
    assert f"{path}: {names}" in str(refused.value)


def test_the_gateway_does_not_start_on_a_bad_programs_file(
        db_path, carriers_file, tmp_path, monkeypatch):
    path = tmp_path / "programs.toml"
    path.write_text('[programs.x]\nname = "X"\ndefault_locale = "en"\n'
                    '[programs.x.carriers.orange]\nshort_code = "1"\n', encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(path))
    with pytest.raises(ConfigError, match=r"program 'x': key 'carriers.orange': no carrier"):
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file)})
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file)})


def test_a_read_programs_file(programs_file):
    configured = load_programs(carrier_ids=["twilio", "at", "console"])
    orange = configured.get("orange")
    assert orange.name == "Orange Academy" and orange.default_locale == "fr"
    assert orange.contacts == ("+2348030000009",)  # read as a Nigerian number
    assert orange.monthly_budget == 100.0 and orange.currency == "USD"
    assert configured.by_keyword("  join   orange ") is orange
    assert configured.by_keyword("JOIN ORANGE NOW") is None
    assert configured.by_ussd_code("at", ORANGE_USSD) is orange
    assert configured.by_ussd_code("twilio", ORANGE_USSD) is None
    assert configured.by_short_code("twilio", SUN_SHORT_CODE).id == "sun"
    assert orange.join_path == "/join/orange"


def test_lessons_check_refuses_a_course_of_a_program_not_configured(
        courses_root, programs_file, monkeypatch):
    course_copy(courses_root, "moon-course", "MOON1", "moon")
    runner = CliRunner()
    checked = runner.invoke(cli, ["lessons", "check", str(courses_root)])
    assert checked.exit_code == 1
    assert re.search(r"moon-course/course.toml:1: program 'moon' is not in the programs "
                     r"file \(have: orange, sun\)", checked.output)
    monkeypatch.delenv("LEARNLINE_PROGRAMS")  # no programs file: a course's program is free
    assert runner.invoke(cli, ["lessons", "check", str(courses_root)]).exit_code == 0


def test_lessons_check_prices_a_programs_course(courses_root, programs_file):
    """The check's simulated learners belong to the course's program, so they walk it, by
    SMS and on WhatsApp."""
    checked = CliRunner().invoke(cli, ["lessons", "check", str(courses_root)])
    assert checked.exit_code == 0, checked.output
    assert "Traceback" not in checked.output
    assert re.search(r"^  en find-your-skill: \d+ / \d+ / \d+ / \d+", checked.output, re.M)
    # The bundled course and both copies: SMS segments under each policy, and WhatsApp
    # messages right and wrong once.
    assert len(re.findall(r"^  en total: \d+ / \d+ / \d+ / \d+$", checked.output, re.M)) == 3
    assert len(re.findall(r"^  en total: [1-9]\d* / [1-9]\d*$", checked.output, re.M)) == 3


# -- joining ------------------------------------------------------------------------------


def test_texting_a_keyword_joins_the_program_in_its_language_and_starts_its_course(
        app, store):
    twilio = TwilioWebhooks(app.test_client())
    assert twilio.sms(LEARNER, "join orange").status_code == 200
    said = "\n".join(texts(store, LEARNER))
    assert "Vous avez rejoint Orange Academy." in said
    assert "Bienvenue" in said  # the course's welcome, in the program's language
    assert members.programs_of(store, LEARNER) == {"orange"}
    assert store.learner(LEARNER).current_course == "orange-course"
    assert store.learner(LEARNER).locale == "fr"
    before = len(texts(store, LEARNER))
    assert twilio.sms(LEARNER, "JOIN ORANGE").status_code == 200
    [again] = texts(store, LEARNER)[before:]  # folded to GSM-7 by the carrier's policy
    assert again.startswith("Vous") and again.endswith("dans Orange Academy.")
    assert store.db.execute("SELECT via FROM program_members").fetchall() == [("keyword",)]


def test_texting_a_programs_short_code_joins_it(app, store):
    twilio = TwilioWebhooks(app.test_client())
    params = twilio.inbound_params(LEARNER, "Hello", twilio.new_sid())
    params["To"] = SUN_SHORT_CODE
    assert twilio.post("/carriers/twilio/sms", params).status_code == 200
    assert "You have joined Sun School." in "\n".join(texts(store, LEARNER))
    assert members.programs_of(store, LEARNER) == {"sun"}
    assert store.learner(LEARNER).current_course == "sun-course"
    # A member's next message to the short code is read as any message.
    before = len(texts(store, LEARNER))
    params = twilio.inbound_params(LEARNER, "STATUS", twilio.new_sid())
    params["To"] = SUN_SHORT_CODE
    twilio.post("/carriers/twilio/sms", params)
    assert not any("Sun School" in text for text in texts(store, LEARNER)[before:])
    # The gateway's own number joins nothing.
    twilio.sms(OTHER, "Hello")
    assert members.programs_of(store, OTHER) == set()


def test_dialling_a_programs_ussd_code_joins_it(app, store):
    client = app.test_client()
    screen = ussd(client, "s1", "", ORANGE_USSD)
    assert "Vous avez rejoint Orange Academy." in screen
    assert members.programs_of(store, USSD_LEARNER) == {"orange"}
    assert store.db.execute("SELECT via FROM program_members").fetchall() == [("ussd",)]
    # The gateway's own code opens the menu, and joins nothing more.
    assert "Orange Academy" not in ussd(client, "s2", "", "*384*12#")
    assert members.programs_of(store, USSD_LEARNER) == {"orange"}


def sign_in_to_join(client, store: Store, phone: str) -> None:
    """Open the join link, sign in as it asks, and come back to it."""
    answer = client.get("/join/sun")
    assert answer.status_code == 302 and answer.location.endswith("/signin")
    client.post("/signin", data={"csrf": csrf(client), "phone": phone})
    code = re.search(r"code is (\d{6})", store.outbox(phone)[-1].body).group(1)
    answer = client.post("/signin/code", data={"csrf": csrf(client, "/signin/code"),
                                               "code": code})
    assert answer.status_code == 302 and answer.location.endswith("/join/sun")


def test_opening_a_programs_web_link_signs_in_then_joins_on_confirming(app, store):
    client = app.test_client()
    assert client.get("/join/nowhere").status_code == 404
    assert client.post("/join/sun").status_code == 400  # no CSRF token
    sign_in_to_join(client, store, LEARNER)
    page = client.get("/join/sun")
    assert page.status_code == 200 and "Join Sun School" in page.text
    assert client.post("/join/sun", data={"csrf": "forged"}).status_code == 400
    assert members.programs_of(store, LEARNER) == set()
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    joined = client.post("/join/sun", data={"csrf": token})
    assert joined.status_code == 200 and "You have joined Sun School." in joined.text
    assert "/courses/sun-course" in joined.text
    assert members.programs_of(store, LEARNER) == {"sun"}
    again = client.get("/join/sun")
    assert "You are already in Sun School." in again.text and 'action="/join/sun"' not in again.text


# -- what a learner sees ------------------------------------------------------------------


def catalogue(twilio, store: Store, phone: str) -> str:
    before = len(texts(store, phone))
    twilio.sms(phone, "COURSES")
    return "\n".join(texts(store, phone)[before:])


def test_a_learner_sees_the_courses_of_their_programs_and_of_none(app, store):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(OTHER, "Hello")
    listed = catalogue(twilio, store, OTHER)
    assert listed.count(") ") == 1  # the course of no program alone
    before = len(texts(store, OTHER))
    twilio.sms(OTHER, "START SUN1")  # another program's course is as unknown as none
    unknown = "\n".join(texts(store, OTHER)[before:])
    before = len(texts(store, OTHER))
    twilio.sms(OTHER, "START NOSUCH")
    assert unknown.replace("SUN1", "?") == "\n".join(texts(store, OTHER)[before:]).replace(
        "NOSUCH", "?")
    assert store.learner(OTHER).current_course is None

    twilio.sms(LEARNER, "JOIN SUN")
    twilio.sms(LEARNER, "JOIN ORANGE")
    assert members.programs_of(store, LEARNER) == {"orange", "sun"}
    assert catalogue(twilio, store, LEARNER).count(") ") == 3  # both programs' and none's

    web = app.test_client()
    assert web.get("/courses/sun-course").status_code == 404
    assert web.get("/courses/sun-course/find-your-skill").status_code == 404
    assert web.get("/courses/start-freelancing").status_code == 200
    assert "sun-course" not in web.get("/").text
    sign_in_to_join(web, store, LEARNER)
    assert web.get("/courses/sun-course").status_code == 200
    assert "/courses/orange-course" in web.get("/").text


def test_without_programs_every_course_is_everyones(db_path, carriers_file, courses_root,
                                                      monkeypatch):
    monkeypatch.delenv("LEARNLINE_PROGRAMS", raising=False)
    with Store.open(db_path) as store:
        import_courses(store, courses_root)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "TESTING": True})
    twilio = TwilioWebhooks(app.test_client())
    with Store.open(db_path) as store:
        assert catalogue(twilio, store, LEARNER).count(") ") == 3
        twilio.sms(LEARNER, "JOIN ORANGE")
        assert members.programs_of(store, LEARNER) == set()


# -- what belongs to a program ----------------------------------------------------------------


def test_messages_and_questions_carry_their_program(app, store, carriers_file):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(LEARNER, "JOIN ORANGE")
    twilio.sms(OTHER, "START FREELANCE")
    assert members.program_of_course(store, "orange-course") == "orange"
    assert members.program_of_course(store, "start-freelancing") == ""
    announce(store, load_carriers(carriers_file), "orange-course", "Bonjour !")
    rows = store.db.execute("SELECT phone, kind, program FROM outbox WHERE kind = "
                            "'announcement'").fetchall()
    assert rows == [(LEARNER, "announcement", "orange")]
    replies = store.db.execute("SELECT DISTINCT program FROM outbox WHERE phone = ? AND "
                               "kind = 'reply'", [OTHER]).fetchall()
    assert replies == [("",)]
    twilio.sms(LEARNER, "ASK Comment fixer mon prix ?")
    twilio.sms(OTHER, "ASK How do I set my price?")
    asked = {q.phone: q.program for q in questions.open_questions(store)}
    assert asked == {LEARNER: "orange", OTHER: ""}


# -- staff of one program ---------------------------------------------------------------------


def test_staff_may_hold_a_role_for_a_configured_program_only(app, store, db_path,
                                                             monkeypatch):
    with pytest.raises(staff.StaffError, match="no program 'moon'"):
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD,
                          program="moon")
    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    runner = CliRunner()
    refused = runner.invoke(cli, ["staff", "add", "tunde", "--name", "Tunde", "--role",
                                  "tutor", "--program", "moon", "--password-stdin"],
                            input=TUTOR_PASSWORD + "\n")
    assert refused.exit_code == 1 and "no program 'moon'" in refused.output
    added = runner.invoke(cli, ["staff", "add", "tunde", "--name", "Tunde", "--role",
                                "tutor", "--program", "sun", "--password-stdin"],
                          input=TUTOR_PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "tutor (sun)" in added.output
    assert accounts.find(store, "tunde").programs() == {"sun"}
    staff.add_account(store, "wanjiru", "Wanjiru Kamau", "tutor", WHOLE_PASSWORD)
    assert accounts.find(store, "wanjiru").programs() is None


def signed_in(app, username: str, password: str):
    client = app.test_client()
    answer = client.post("/admin/signin", data={
        "csrf": csrf(client, "/admin/signin"), "username": username, "password": password})
    assert answer.status_code == 303, answer.text
    return client


def test_a_tutor_of_one_program_sees_and_acts_on_its_questions_alone(app, store):
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(LEARNER, "JOIN ORANGE")
    twilio.sms(LEARNER, "ASK Comment fixer mon prix ?")
    twilio.sms(OTHER, "JOIN SUN")
    twilio.sms(OTHER, "ASK Where do I find clients?")
    asked = {q.program: q.id for q in questions.open_questions(store)}
    staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD, program="sun")
    staff.add_account(store, "wanjiru", "Wanjiru Kamau", "tutor", WHOLE_PASSWORD)

    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    listed = tutor.get("/admin/inbox")
    assert listed.status_code == 200
    assert "Where do I find clients?" in listed.text
    assert "Comment fixer" not in listed.text
    assert tutor.get(f"/admin/inbox/{asked['sun']}").status_code == 200
    orange = asked["orange"]
    assert tutor.get(f"/admin/inbox/{orange}").status_code == 404
    token = re.search(r'name="csrf" value="([^"]+)"',
                      tutor.get(f"/admin/inbox/{asked['sun']}").text).group(1)
    for action, form in (("claim", {}), ("answer", {"answer": "Hi", "send": "yes"}),
                         ("reassign", {"to": "wanjiru"}), ("close", {})):
        answer = tutor.post(f"/admin/inbox/{orange}/{action}", data={"csrf": token, **form})
        assert answer.status_code == 404, action
    still = questions.get(store, orange)
    assert still.status == "open" and still.claimed_by is None
    # Without signing in, or with a wrong password, nothing of either.
    anonymous = app.test_client()
    assert anonymous.get(f"/admin/inbox/{orange}").status_code in (403, 404)
    wrong = app.test_client()
    refused = wrong.post("/admin/signin", data={
        "csrf": csrf(wrong, "/admin/signin"), "username": "tunde", "password": "wrong"})
    assert refused.status_code != 303
    assert wrong.get(f"/admin/inbox/{asked['sun']}").status_code in (403, 404)
    # A tutor of the whole gateway sees both.
    whole = signed_in(app, "wanjiru", WHOLE_PASSWORD)
    everything = whole.get("/admin/inbox").text
    assert "Where do I find clients?" in everything and "Comment fixer" in everything
    assert whole.get(f"/admin/inbox/{orange}").status_code == 200


def test_a_learners_programs_are_exported_and_kept_under_the_pseudonym_on_erasure(app, store):
    from gateway.store import privacy

    TwilioWebhooks(app.test_client()).sms(LEARNER, "JOIN SUN")
    exported = privacy.learner_export(store, LEARNER)
    assert [row["program"] for row in exported["program_members"]] == ["sun"]
    erasure = privacy.erase(store, LEARNER)
    assert members.programs_of(store, LEARNER) == set()
    assert members.members(store, "sun") == [erasure.pseudonym]


def test_the_schedulers_messages_carry_the_program_of_their_course(app, store, carriers_file):
    from gateway.channels.scheduled import run_scheduled

    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(LEARNER, "JOIN ORANGE")
    twilio.sms(OTHER, "START FREELANCE")
    carriers = load_carriers(carriers_file)
    later = store.clock()
    for _ in range(6):  # days pass without a word from either: reminders come
        later += 86_400
        run_scheduled(store, carriers, now=later)
    rows = store.db.execute("SELECT phone, program FROM outbox WHERE kind != 'reply' "
                            "GROUP BY phone, program").fetchall()
    assert sorted(rows) == [(LEARNER, "orange"), (OTHER, "")]


def test_doctor_tells_a_bad_programs_file_and_a_good_one(db_path, carriers_file, programs_file,
                                                        tmp_path):
    from gateway import environment
    from gateway.ops.doctor import diagnose

    env = {**environment.snapshot(), "LEARNLINE_CARRIERS": str(carriers_file)}
    found = [str(f) for f in diagnose(db_path, env) if f.subject == "programs"]
    assert found == [f"OK   programs: {programs_file}: 2 program(s), valid"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[programs.x]\nname = "X"\n', encoding="utf-8")
    env["LEARNLINE_PROGRAMS"] = str(bad)
    found = [str(f) for f in diagnose(db_path, env) if f.subject == "programs"]
    assert found == [f"FAIL programs: {bad}: program 'x': key 'default_locale': missing; "
                     "one of: en, ar, fr, pt, sw"]


def test_serve_and_the_worker_refuse_a_bad_programs_file_naming_each_problem(
        tmp_path, db_path):
    import os
    import subprocess
    import sys

    from tests.ports import free_port

    bad = tmp_path / "bad-programs.toml"
    bad.write_text('[programs.orange]\nname = "Orange"\ndefault_locale = "xx"\n',
                   encoding="utf-8")
    env = {**os.environ, "LEARNLINE_DB": str(db_path), "LEARNLINE_PROGRAMS": str(bad)}
    env.pop("LEARNLINE_CARRIERS", None)
    serve = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(free_port())]
    for command in (serve, ["worker", "--drain"]):
        result = subprocess.run([sys.executable, "-m", "gateway.cli", *command], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert f"{bad}: program 'orange': key 'default_locale'" in result.stderr, command
        assert "Traceback" not in result.stdout + result.stderr
        assert "Listening at" not in result.stdout + result.stderr
