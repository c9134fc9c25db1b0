"""Each program's own figures (docs/programs.md, Scoped figures): a program's page and
CSV files show its funnel, quiz, messages and cost per completed lesson and its questions
to tutors, from its rows alone; its administrators land on it and see nothing else of the
gateway's figures; `learnline stats --program` prints the same tables. And the isolation
walk: every staff route and CSV, walked as each role of one program with the other
program's ids, is refused and shows nothing of the other program."""

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
from gateway.phones import masked
from gateway.store import Store, cohorts, questions, saved_replies
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml

ORANGE_LEARNER = "+2348030000001"
SUN_LEARNER = "+2348030000002"
BOTH = "+2348030000003"  # in both programs
PASSWORD = "program pass phrase 44"
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
TITLES = {"orange": "Tailoring for beginners", "sun": "Solar panel repairs"}
NAMES = {"orange": "Orange Academy", "sun": "Sun School"}
SAVED = {"orange": "Measure twice, cut once.", "sun": "Switch the panel off first."}
COHORT_NAMES = {"orange": "Lagos drivers intake", "sun": "Kano solar class"}
COHORT_MEMBERS = {"orange": "+2348037770001", "sun": "+2348037770002"}
ASKED = {"orange": "How do I hem a skirt?", "sun": "Which fuse do I change?"}
# Every URL variable of a staff route, by the program whose ids fill it in. A new route
# with a variable not named here fails the walk until it is added.
VARIABLES = ("program", "program_id", "table", "question_id", "reply_id", "cohort_id")


OPEN = {"admin.sign_in", "admin.sign_out"}  # the sign-in form and signing out: anyone


def course_copy(root: Path, program: str, code: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / f"{program}-course")
    toml = root / f"{program}-course" / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    text = text.replace('en = "Start freelancing"', f'en = "{TITLES[program]}"')
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
    course_copy(root, "orange", "ORANGE1")
    course_copy(root, "sun", "SUN1")
    with Store.open(db_path) as store:
        import_courses(store, root)
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "SECRET_KEY": "program-figures-secret-0123456789", "TESTING": True})


@pytest.fixture
def store(db_path, app):
    with Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def two_programs(app, store):
    """Learners, progress, messages and questions in both programs, and every role."""
    twilio = TwilioWebhooks(app.test_client())
    twilio.sms(ORANGE_LEARNER, "JOIN ORANGE")
    for text in ("NEXT", "NEXT", "A"):  # to orange's first quiz question, answered
        twilio.sms(ORANGE_LEARNER, text)
    twilio.sms(ORANGE_LEARNER, f"ASK {ASKED['orange']}")
    twilio.sms(SUN_LEARNER, "JOIN SUN")
    twilio.sms(SUN_LEARNER, f"ASK {ASKED['sun']}")
    twilio.sms(BOTH, "JOIN SUN")
    twilio.sms(BOTH, "JOIN ORANGE")
    with store.write():  # three of six lessons of sun's course: half of it
        for lesson in ("find-your-skill", "first-clients", "set-your-price"):
            store.save_lesson_result(BOTH, "sun-course", lesson, 3, 3)
    for program in ("orange", "sun"):
        staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD, program=program)
        staff.add_account(store, f"{program}-tutor", "Tutor", "tutor", PASSWORD, program=program)
    staff.add_account(store, "whole", "Whole Gateway", "admin", PASSWORD)
    return {q.program: q.id for q in questions.open_questions(store)}


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/signin").text).group(1)
    answer = client.post("/admin/signin", data={"csrf": token, "username": username,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    client.landing = answer.headers["Location"]
    return client


def test_a_programs_administrator_sees_its_own_figures_alone(app, store, two_programs):
    admin = signed_in(app, "orange-admin")
    assert admin.landing == "/admin/programs/orange"
    page = admin.get("/admin/programs/orange")
    assert page.status_code == 200
    text = page.text
    assert "Orange Academy" in text and TITLES["orange"] in text
    assert 'href="/admin/programs/orange"' in admin.get("/admin/inbox").text
    assert TITLES["sun"] not in text and "Sun School" not in text
    funnel = admin.get("/admin/programs/orange/funnel.csv").text.splitlines()
    # Two members; both enrolled in orange's course and started it; none half way.
    assert funnel[1] == ",Joined the program,2,"
    assert f"{TITLES['orange']},Enrolled,2,100.0" in funnel
    assert f"{TITLES['orange']},Finished half the course,0,0.0" in funnel
    # The learner of both programs counts in sun's funnel by sun's course alone.
    sun = signed_in(app, "sun-admin").get("/admin/programs/sun/funnel.csv").text.splitlines()
    assert sun[1] == ",Joined the program,2,"
    assert f"{TITLES['sun']},Finished half the course,1,50.0" in sun
    quiz = admin.get("/admin/programs/orange/quiz.csv").text.splitlines()
    assert len(quiz) == 2 and quiz[1].startswith("orange-course,find-your-skill,1,1,")
    # Nothing sent yet (no worker ran): orange's replies are queued, and cost nothing.
    queued = store.db.execute("SELECT count(*) FROM outbox WHERE program = 'orange' AND "
                              "status = 'queued'").fetchone()[0]
    costs = admin.get("/admin/programs/orange/costs.csv").text.splitlines()
    assert queued > 0 and costs[1] == f"USD,0,0,0.00,0,,{queued},0"
    asked = admin.get("/admin/programs/orange/asked.csv").text
    assert "Questions asked,1" in asked and "Still open,1" in asked
    # Not the gateway's dashboard, not the list of programs, not sun's page.
    assert admin.get("/admin").status_code == 403
    assert admin.get("/admin/programs").status_code == 403
    assert admin.get("/admin/programs/sun").status_code == 403
    assert admin.get("/admin/programs/moon").status_code == 403
    # A whole-gateway administrator opens the list and every program's page.
    whole = signed_in(app, "whole")
    assert whole.landing == "/admin"
    listed = whole.get("/admin/programs").text
    assert "/admin/programs/orange" in listed and "/admin/programs/sun" in listed
    assert whole.get("/admin/programs/sun").status_code == 200
    assert whole.get("/admin/programs/moon").status_code == 404
    assert whole.get("/admin/programs/sun/nothing.csv").status_code == 404


def test_learnline_stats_prints_one_programs_tables(app, store, two_programs):
    runner = CliRunner()
    printed = runner.invoke(cli, ["stats", "--program", "orange"])
    assert printed.exit_code == 0, printed.output
    assert "Orange Academy" in printed.output and "Joined the program" in printed.output
    assert TITLES["orange"] in printed.output and TITLES["sun"] not in printed.output
    as_csv = runner.invoke(cli, ["stats", "--program", "orange", "--csv", "funnel"])
    assert as_csv.output.splitlines() == signed_in(app, "orange-admin").get(
        "/admin/programs/orange/funnel.csv").text.splitlines()
    unknown = runner.invoke(cli, ["stats", "--program", "moon"])
    assert unknown.exit_code != 0 and "no program 'moon'" in unknown.output
    whole = runner.invoke(cli, ["stats", "--csv", "quiz"])
    assert whole.exit_code == 1 and "add --program ID" in whole.output
    other = runner.invoke(cli, ["stats", "--program", "orange", "--csv", "carriers"])
    assert other.exit_code == 1 and "a program has no table 'carriers'" in other.output


def _routes(app, ids: dict[str, str]) -> list[tuple[str, str, str, bool]]:
    """(endpoint, URL, method, names the other program) of every staff route, its URL
    variables filled with the other program's `ids`."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        unknown = set(rule.arguments) - set(VARIABLES)
        assert not unknown, f"{rule.rule}: add {unknown} to the isolation walk"
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{name}>", ids[name], url)
        for method in sorted(rule.methods & {"GET", "POST"}):
            routes.append((rule.endpoint, url, method, bool(set(rule.arguments) - {"table"})))
    return routes


def _csv_urls(app, program: str, cohort_id: str) -> list[str]:
    from gateway.ops import cohort_reports, hub_program_reports, program_reports, reports
    return ([f"/admin/programs/{program}/{t}.csv" for t in program_reports.TABLES]
            + [f"/admin/programs/{program}/edges/{t}.csv"
               for t in hub_program_reports.TABLES]
            + [f"/admin/programs/{program}/cohorts/{cohort_id}.csv"]
            + [f"/admin/programs/{program}/cohorts/{cohort_id}/{t}.csv"
               for t in cohort_reports.TABLES]
            + [f"/admin/{t}.csv" for t in reports.TABLES])


def test_a_tutor_sees_nothing_of_another_programs_questions_of_a_learner_in_both(
        app, store, two_programs):
    """A learner in both programs asks in each: a tutor of one program, on their own
    program's question, sees neither the other program's question and its answer nor the
    learner's quiz answers in the other program's course; nor can they insert the other
    program's saved reply."""
    twilio = TwilioWebhooks(app.test_client())
    for text in ("START SUN1", "NEXT", "NEXT", "A", "ASK Which fuse for the roof panel?"):
        twilio.sms(BOTH, text)  # a quiz answer and a question, in sun's course
    twilio.sms(BOTH, "START ORANGE1")
    twilio.sms(BOTH, "ASK Which needle for denim?")
    asked = {q.program: q.id for q in questions.of_learner(store, BOTH)}
    sun_tutor = signed_in(app, "sun-tutor")
    page = sun_tutor.get(f"/admin/inbox/{asked['sun']}").text
    assert "Latest quiz answers" in page  # the sun tutor sees their course's answer
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert sun_tutor.post(f"/admin/inbox/{asked['sun']}/answer", data={
        "csrf": token, "answer": "Sun-only answer: the blue fuse.", "send": "yes"}
    ).status_code == 303
    sun_reply = saved_replies.add(store, "sun-course", "find-your-skill", "Sun secret",
                                  "Sun-only saved reply text", None)

    orange_tutor = signed_in(app, "orange-tutor")
    page = orange_tutor.get(f"/admin/inbox/{asked['orange']}").text
    assert "Which needle for denim?" in page
    for secret in ("Which fuse for the roof panel?", "Sun-only answer", "Latest quiz answers"):
        assert secret not in page, secret
    assert "No quiz answers yet." in page
    assert "Which fuse for the roof panel?" not in orange_tutor.get("/admin/inbox").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    inserted = orange_tutor.post(f"/admin/inbox/{asked['orange']}/answer", data={
        "csrf": token, "answer": "", "insert": str(sun_reply)})
    assert inserted.status_code == 422
    assert "Sun-only saved reply text" not in inserted.text
    assert "That saved reply is gone" in inserted.text
    # An administrator of the whole gateway still sees the learner whole.
    page = signed_in(app, "whole").get(f"/admin/inbox/{asked['orange']}").text
    assert "Which fuse for the roof panel?" in page and "Sun-only answer" in page


def test_the_isolation_walk(app, store, two_programs, capsys):
    asked = two_programs
    replies = {program: str(saved_replies.add(store, f"{program}-course", "find-your-skill",
                                              "Saved", SAVED[program], None))
               for program in ("orange", "sun")}
    cohort_ids = {program: str(cohorts.create(
        store, program=program, name=COHORT_NAMES[program], course_id=f"{program}-course",
        starts_on="2100-01-01", carrier_id="twilio", created_by="whole",
        members=[(COHORT_MEMBERS[program], "Member")]).id) for program in ("orange", "sun")}
    ids = {program: {"program": program, "program_id": program, "table": "funnel",
                     "question_id": str(asked[program]), "reply_id": replies[program],
                     "cohort_id": cohort_ids[program]} for program in ("orange", "sun")}
    walked = 0
    for mine, other in (("orange", "sun"), ("sun", "orange")):
        learner = ORANGE_LEARNER if other == "orange" else SUN_LEARNER
        secrets_of_other = (TITLES[other], ASKED[other], SAVED[other], NAMES[other], learner,
                            masked(learner), COHORT_NAMES[other], COHORT_MEMBERS[other],
                            masked(COHORT_MEMBERS[other]))
        routes = _routes(app, ids[other])
        clients = {"admin": signed_in(app, f"{mine}-admin"),
                   "tutor": signed_in(app, f"{mine}-tutor"), "nobody": app.test_client()}
        for who, client in clients.items():
            token = re.search(r'name="csrf" value="([^"]+)"',
                              client.get("/admin/signin").text).group(1)
            for endpoint, url, method, names_other in routes:
                walked += 1
                if method == "GET":
                    answer = client.get(url)
                    if names_other or (who == "nobody" and endpoint not in OPEN):
                        assert answer.status_code in (403, 404), (who, url, answer.status_code)
                else:
                    # Across CSRF: refused before anything is done.
                    assert client.post(url, data={}).status_code == 400, (who, url)
                    assert client.post(url, data={"csrf": "x" * 32}).status_code == 400, (
                        who, url)
                    if endpoint == "admin.sign_out":  # would sign the walker out
                        continue
                    answer = client.post(url, data={"csrf": token})
                    if names_other:
                        assert answer.status_code in (403, 404), (who, url, answer.status_code)
                body = answer.get_data(as_text=True)
                for secret in secrets_of_other:
                    assert secret not in body, (who, method, url, secret)
            # Still signed in as they were: the walk was theirs to the end.
            assert client.get("/admin/account").status_code == (
                403 if who == "nobody" else 200), who
            for url in _csv_urls(app, other, cohort_ids[other]):
                answer = client.get(url)
                assert answer.status_code in (403, 404), (who, url)
                for secret in secrets_of_other:
                    assert secret not in answer.get_data(as_text=True), (who, url, secret)
                walked += 1
    # The other program's question is untouched by every post above.
    for program in ("orange", "sun"):
        still = questions.get(store, asked[program])
        assert still.status == "open" and still.claimed_by is None
    routes_per_walk = len(_routes(app, ids["sun"]))
    print(f"isolation walk: {routes_per_walk} staff routes, {walked} requests walked")
    assert routes_per_walk >= 20
    assert walked == 2 * 3 * (routes_per_walk + len(_csv_urls(app, "sun", "1")))
