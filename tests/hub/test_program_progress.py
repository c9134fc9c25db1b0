"""A program's figures across edges (docs/sync.md, Programs): the hub counts each
program's funnel (invited, joined, each course from enrolled to completed), each
lesson's completions, its quiz questions, and each cohort's, from the events the edges
pushed, with the course's program from the pack it published; on its program page, as
CSV and with `learnline hub programs --figures`, each program's administrators seeing
their program alone. Invitations travel as `program_invited` events: counted on the
hub, passed on to no edge, and an edge that only invited a number is given nothing of
the learner's. A real hub app on loopback, real edge databases, on each hub backend."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.channels.invitations import run_invitations
from gateway.config import load_carriers
from gateway.content.importer import import_courses
from gateway.hub import routes as hub_routes
from gateway.learning.merge import apply_remote_events
from gateway.ops import staff
from gateway.paths import lessons_dir
from gateway.store import Store, cohorts, privacy
from gateway.sync import packs
from tests.hub.test_confinement import (
    LEARNER,
    OTHER,
    Edge,
    forged,
    hub_cli,
    push_raw,
    register,
)
from tests.hub.test_sync_protocol import Hub

THIRD = "+2348031110003"
FOURTH = "+2348031110004"
SUNNY = "+2348031110005"
PASSWORD = "progress pass phrase 46"
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
INTAKE = "Lagos drivers intake"
SUN_COHORT = "Kano solar class"
LESSONS = ("find-your-skill", "first-clients", "set-your-price", "agree-the-job",
           "get-paid-safely", "keep-clients-and-money")


def course_copy(root: Path, program: str, code: str) -> None:
    shutil.copytree(lessons_dir() / "start-freelancing", root / f"{program}-course")
    toml = root / f"{program}-course" / "course.toml"
    text = toml.read_text(encoding="utf-8").replace('code = "FREELANCE"', f'code = "{code}"')
    text = text.replace('en = "Start freelancing"', f'en = "{TITLES[program]}"')
    toml.write_text(f'program = "{program}"\n' + text, encoding="utf-8")


@pytest.fixture
def courses(tmp_path: Path) -> Path:
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange", "ORANGE1")
    course_copy(root, "sun", "SUN1")
    return root


@pytest.fixture
def hub(tmp_path: Path, hub_url: str, courses: Path, monkeypatch) -> Iterator[Hub]:
    served = Hub(tmp_path, hub_url)
    # The edges install the pack the hub publishes.
    monkeypatch.setenv(packs.TRUSTED_KEYS_ENV, base64.b64encode(served.public).decode())
    yield served
    served.server.shutdown()
    served.server.server_close()
    hub_routes.close_pool(served.app)


def publish(hub: Hub, courses: Path, version: int = 1) -> None:
    data = packs.build_pack(courses, hub.key, version=version)
    with hub.store() as store:
        store.put_pack(data, version, packs.read_pack(data).digest)


@pytest.fixture
def edges(tmp_path: Path, carriers_file: Path, courses: Path, monkeypatch
          ) -> tuple[Edge, Edge]:
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)
    monkeypatch.delenv("LEARNLINE_HUB_URL", raising=False)
    programs = tmp_path / "programs.toml"
    programs.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs))
    made = (Edge(tmp_path / "a", "edge-a", carriers_file, monkeypatch),
            Edge(tmp_path / "b", "edge-b", carriers_file, monkeypatch))
    for edge in made:
        with Store.open(edge.db) as store:
            import_courses(store, courses)
    return made


def invite(edge: Edge, carriers_file: Path, name: str, phones: list[str],
           program: str = "orange") -> cohorts.Cohort:
    """A cohort of `program` on `edge`, its numbers invited now."""
    with Store.open(edge.db) as store:
        made = cohorts.create(store, program=program, name=name,
                              course_id=f"{program}-course", starts_on="2026-01-05",
                              carrier_id="twilio", created_by="amina",
                              members=[(phone, "") for phone in phones])
        assert run_invitations(store, load_carriers(carriers_file)) == len(phones)
    return made


def event(edge_id: str, learner: str, kind: str, **data) -> dict:
    made = forged(edge_id, learner, kind)
    made["data"] = data
    return made


def answers_on(edge: Edge, phone: str) -> list[tuple]:
    with Store.open(edge.db) as store:
        return store.db.execute(
            "SELECT lesson_id, question, correct FROM answers WHERE phone = ? "
            "AND first_try = 1", [phone]).fetchall()


def across(hub: Hub, courses: Path, a: Edge, b: Edge, carriers_file: Path
           ) -> cohorts.Cohort:
    """Orange's cohort on edge A invites three numbers; one joins there by answering and
    answers a quiz question; one joins it on edge B, which pushes half the course and
    an answer; the first also does a lesson on B. Sun has a learner and a cohort of its
    own on B. A fourth orange learner on B is erased."""
    publish(hub, courses)
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    intake = invite(a, carriers_file, INTAKE, [LEARNER, OTHER, THIRD])
    a.sms(LEARNER, "YES", "NEXT", "NEXT", "A")  # joins, then the first quiz question
    a.sync(link_a)
    cohort = {"cohort": intake.uid, "cohort_name": INTAKE}
    sun = "0123456789abcdef0123456789abcdef"
    pushed = [
        event("edge-b", OTHER, "program_joined", program="orange", via="invitation",
              **cohort),
        event("edge-b", OTHER, "enrolled", course="orange-course", restart=False),
        *[event("edge-b", OTHER, "lesson_completed", course="orange-course", lesson=lesson,
                score=3, total=3) for lesson in LESSONS[:3]],
        event("edge-b", OTHER, "answered", course="orange-course", lesson=LESSONS[0],
              question=1, choice=0, correct=True, first_try=True),
        event("edge-b", LEARNER, "enrolled", course="orange-course", restart=False),
        event("edge-b", LEARNER, "lesson_completed", course="orange-course",
              lesson=LESSONS[0], score=2, total=3),
        event("edge-b", FOURTH, "program_joined", program="orange", via="keyword"),
        event("edge-b", FOURTH, "enrolled", course="orange-course", restart=False),
        event("edge-b", SUNNY, "program_invited", program="sun", cohort=sun,
              cohort_name=SUN_COHORT, course="sun-course"),
        event("edge-b", SUNNY, "program_joined", program="sun", via="invitation",
              cohort=sun, cohort_name=SUN_COHORT),
        event("edge-b", SUNNY, "enrolled", course="sun-course", restart=False),
        event("edge-b", SUNNY, "course_completed", course="sun-course", score=18,
              total=18, passed=True),
        event("edge-b", SUNNY, "answered", course="sun-course", lesson=LESSONS[0],
              question=0, choice=1, correct=False, first_try=True),
    ]
    assert push_raw(link_b, pushed)["rejected"] == []
    with hub.store() as store:
        store.erase(FOURTH)
    return intake


def test_the_hub_counts_each_programs_funnel_lessons_and_quiz_across_edges(
        hub, edges, courses, carriers_file):
    a, b = edges
    intake = across(hub, courses, a, b, carriers_file)
    [(lesson, question, correct)] = answers_on(a, LEARNER)
    with hub.store() as store:
        orange = hub_program(store, "orange")
    assert (orange.invited, orange.joined) == (3, 2)
    [course] = orange.courses
    # LEARNER (edge A, and a lesson on B) counts once; FOURTH was erased.
    assert (course.course_id, course.title) == ("orange-course", TITLES["orange"])
    assert (course.steps.enrolled, course.steps.started, course.steps.half,
            course.steps.completed) == (2, 2, 1, 0)
    assert [count for _, _, count in course.lessons] == [2, 1, 1, 0, 0, 0]
    assert sorted((q[1], q[2], q[4], q[5]) for q in orange.quiz) == sorted(
        [(lesson, question + 1, 1, int(correct)), (LESSONS[0], 2, 1, 1)]
        if (lesson, question) != (LESSONS[0], 1) else [(LESSONS[0], 2, 2, 1 + correct)])
    [cohort] = orange.cohorts
    assert (cohort.uid, cohort.name, cohort.course_id) == (intake.uid, INTAKE,
                                                           "orange-course")
    assert (cohort.invited, cohort.joined, cohort.started, cohort.half,
            cohort.certificate) == (3, 2, 2, 1, 0)
    assert cohort.lessons[0][2] == 2 and sum(q[3] for q in cohort.quiz) == 2
    with hub.store() as store:
        sun = hub_program(store, "sun")
    assert (sun.invited, sun.joined) == (1, 1)
    assert [(c.course_id, c.steps.enrolled, c.steps.completed) for c in sun.courses] == [
        ("sun-course", 1, 1)]
    assert [(c.name, c.invited, c.joined, c.certificate) for c in sun.cohorts] == [
        (SUN_COHORT, 1, 1, 1)]
    assert [(q[0], q[4], q[5]) for q in sun.quiz] == [("sun-course", 1, 0)]


def hub_program(store, program: str):
    from gateway.hub import progress
    return progress.build(store, program, 0.0, float("inf"))


def test_without_a_pack_the_hub_knows_no_courses_program(hub, edges, carriers_file):
    a, _b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    invite(a, carriers_file, INTAKE, [LEARNER, OTHER])
    a.sms(LEARNER, "YES")
    a.sync(link_a)
    with hub.store() as store:
        orange = hub_program(store, "orange")
    assert (orange.pack_version, orange.invited, orange.joined, orange.courses) == (
        None, 2, 1, ())
    assert [(c.invited, c.joined, c.started) for c in orange.cohorts] == [(2, 1, 0)]
    text = hub_cli(hub, "programs", "--program", "orange", "--figures")
    assert "no course pack published" in text
    assert "amounts in different currencies are never added" in text


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/signin").text).group(1)
    answer = client.post("/admin/signin", data={"csrf": token, "username": username,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def test_the_hubs_program_page_cli_and_csv_show_its_figures_across_edges(
        hub, edges, courses, carriers_file):
    from gateway.ops import hub_program_reports
    a, b = edges
    intake = across(hub, courses, a, b, carriers_file)
    with Store.open(hub.app.config["DATABASE"]) as store:
        for program in ("orange", "sun"):
            staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD,
                              program=program)
            staff.add_account(store, f"{program}-tutor", "Tutor", "tutor", PASSWORD,
                              program=program)
    orange = signed_in(hub.app, "orange-admin")
    page = orange.get("/admin/programs/orange")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "Funnel across edges" in text
    assert "Invited by a cohort 3" in text and "Joined the program 2" in text
    assert f"{TITLES['orange']} Finished half the course 1 50.0" in text
    assert f"{INTAKE} orange-course 2026-01-05 3 2 2 1 0 66.7 edge-a {intake.uid}" in text
    assert "Messages and cost across edges" in text
    assert TITLES["sun"] not in text and SUN_COHORT not in text
    funnel = orange.get("/admin/programs/orange/edges/funnel.csv")
    assert funnel.status_code == 200
    lines = funnel.text.splitlines()
    assert lines[:3] == ["course,step,learners,enrolled (%)", ",Invited by a cohort,3,",
                         ",Joined the program,2,"]
    assert f"{TITLES['orange']},Enrolled,2,100.0" in lines
    cohorts_csv = orange.get("/admin/programs/orange/edges/cohorts.csv").text
    assert cohorts_csv.splitlines()[1] == (f"{INTAKE},orange-course,2026-01-05,3,2,2,1,0,"
                                           f"66.7,edge-a,{intake.uid}")
    # The CLI gives the same CSV, and every table as text.
    assert hub_cli(hub, "programs", "--program", "orange", "--csv", "cohorts"
                   ).splitlines() == cohorts_csv.splitlines()
    printed = hub_cli(hub, "programs", "--program", "orange", "--figures")
    assert "Invited by a cohort" in printed and INTAKE in printed
    assert TITLES["sun"] not in printed
    assert orange.get("/admin/programs/orange/edges/nothing.csv").status_code == 404
    # Another program's administrator and tutors, and nobody, see none of it.
    secrets = (INTAKE, TITLES["orange"], intake.uid, "Invited by a cohort")
    for who in (signed_in(hub.app, "sun-admin"), signed_in(hub.app, "sun-tutor"),
                signed_in(hub.app, "orange-tutor"), hub.app.test_client()):
        for name in hub_program_reports.TABLES:
            refused = who.get(f"/admin/programs/orange/edges/{name}.csv")
            assert refused.status_code == 403, name
            assert not any(secret in refused.text for secret in secrets)
        assert who.get("/admin/programs/orange").status_code == 403
    sun = signed_in(hub.app, "sun-admin").get("/admin/programs/sun/edges/cohorts.csv")
    assert SUN_COHORT in sun.text and INTAKE not in sun.text


def test_the_hubs_program_page_leads_with_the_figures_across_edges(
        hub, edges, courses, carriers_file):
    """On a hub the program's page opens with its figures across edges; the hub's own
    figures (its own learners, usually none) are left out while empty, and shown after,
    under their own heading, once it has some."""
    from gateway.store import programs as members
    a, b = edges
    across(hub, courses, a, b, carriers_file)
    with Store.open(hub.app.config["DATABASE"]) as store:
        staff.add_account(store, "orange-admin", "Admin", "admin", PASSWORD,
                          program="orange")
    orange = signed_in(hub.app, "orange-admin")

    def shown() -> str:
        page = orange.get("/admin/programs/orange")
        assert page.status_code == 200
        return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))

    text = shown()
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", orange.get("/admin/programs/orange").text)
    assert headings[0] == "Across edges", headings
    assert "Joined the program 2" in text and "Joined the program 0" not in text
    assert "This hub's own learners" not in text
    assert "Joined, then each course to completion" not in text  # the local funnel
    assert "Questions to tutors" not in text
    with Store.open(hub.app.config["DATABASE"]) as store:
        assert members.join(store, "orange", "+2348039990001", "keyword")
    text = shown()
    assert "This hub's own learners" in text
    own = text.index("This hub's own learners")
    assert text.index("Funnel across edges") < own
    assert text.index("Joined the program 1", own) > own


def test_the_hubs_cohorts_page_lists_the_cohorts_of_every_edge(
        hub, edges, courses, carriers_file):
    """On a hub the program's cohorts page lists the cohorts the edges made (their edge,
    course, start date, numbers invited and members joined across edges) and says
    cohorts are made and invited on an edge: it offers no upload, and refuses one."""
    import io
    a, b = edges
    intake = across(hub, courses, a, b, carriers_file)
    with Store.open(hub.app.config["DATABASE"]) as store:
        for program in ("orange", "sun"):
            staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD,
                              program=program)
    orange = signed_in(hub.app, "orange-admin")
    page = orange.get("/admin/programs/orange/cohorts")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "No cohort yet." not in text
    assert f"{INTAKE} orange-course 2026-01-05 3 2 2 1 0 66.7 edge-a {intake.uid}" in text
    assert f"{INTAKE} edge-a 1 {INTAKE} edge-b 1 {INTAKE} Total 2" in text
    assert "created, and their numbers invited, on an edge" in text
    assert 'name="numbers"' not in page.text and "Create and invite" not in text
    assert SUN_COHORT not in text
    token = re.search(r'name="csrf" value="([^"]+)"', orange.get("/admin/account").text)
    refused = orange.post("/admin/programs/orange/cohorts", data={
        "csrf": token.group(1), "name": "Hub intake", "course": "orange-course",
        "starts_on": "2026-12-07", "numbers": (io.BytesIO(b"phone\n+2348030000200\n"),
                                               "numbers.csv")},
        content_type="multipart/form-data")
    assert refused.status_code == 409
    assert "on an edge" in refused.text
    # A hub takes no cohort, so nobody may send it a cohort file over the gateway's
    # request limit: refused on its size, unread, not read and then refused.
    large = b"phone\n" + b"".join(b"+23480300%05d\n" % n for n in range(6000))
    assert len(large) > 64 * 1024
    too_large = orange.post("/admin/programs/orange/cohorts", data={
        "csrf": token.group(1), "name": "Hub intake", "course": "orange-course",
        "starts_on": "2026-12-07", "numbers": (io.BytesIO(large), "numbers.csv")},
        content_type="multipart/form-data")
    assert too_large.status_code == 413
    with Store.open(hub.app.config["DATABASE"]) as store:
        assert cohorts.all_cohorts(store) == []
    sun = signed_in(hub.app, "sun-admin")
    assert sun.get("/admin/programs/orange/cohorts").status_code == 403
    assert INTAKE not in sun.get("/admin/programs/sun/cohorts").text


def test_invitations_are_events_counted_on_the_hub_and_passed_on_to_no_edge(
        hub, edges, courses, carriers_file):
    a, b = edges
    publish(hub, courses)
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    intake = invite(a, carriers_file, INTAKE, [LEARNER])
    with Store.open(a.db) as store:
        [(data,)] = store.db.execute(
            "SELECT data FROM events WHERE kind = 'program_invited' AND learner = ?",
            [LEARNER]).fetchall()
    assert json.loads(data) == {"program": "orange", "cohort": intake.uid,
                                "cohort_name": INTAKE, "course": "orange-course"}
    a.sms(LEARNER, "YES")
    a.sync(link_a)
    b.sms(LEARNER, "STATUS")  # the learner walks into edge B: B gets their history
    b.sync(link_b)
    with Store.open(b.db) as store:
        kinds = {row[0] for row in store.db.execute(
            "SELECT kind FROM events WHERE learner = ? AND edge = 'edge-a'", [LEARNER])}
    assert "program_joined" in kinds and "program_invited" not in kinds
    # An older hub's invitation changes nothing on an edge; a bad one is refused.
    with Store.open(b.db) as store:
        old = event("edge-c", OTHER, "program_invited", program="orange",
                    cohort=intake.uid, cohort_name=INTAKE, course="orange-course")
        bad = event("edge-c", OTHER, "program_invited", program="orange", cohort="7")
        report = apply_remote_events(store, [old, bad])
        assert report.rejected == [(bad["id"], "data.cohort: not a cohort's uid")]
        assert store.learner(OTHER) is None
        assert store.db.execute("SELECT count(*) FROM program_members WHERE phone = ?",
                                [OTHER]).fetchone()[0] == 0


def test_an_edge_that_only_invited_a_number_gets_nothing_of_the_learners(
        hub, edges, courses, carriers_file):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a.sms(LEARNER, "START", "NAME Amina Bello")
    a.sync(link_a)
    invite(b, carriers_file, INTAKE, [LEARNER])  # B imported the number, invited it
    b.sync(link_b)
    with Store.open(b.db) as store:
        assert store.learner(LEARNER) is None
        assert store.db.execute("SELECT count(*) FROM events WHERE edge = 'edge-a'"
                                ).fetchone()[0] == 0
    with hub.store() as store:
        assert [e.action for e in store.audit("edge-b")] == []
    # The hub's erasure of the number reaches B, which invited it.
    with hub.store() as store:
        store.erase(LEARNER)
    a.sync(link_a)
    b.sync(link_b)
    assert a.progress(LEARNER) == ()
    with Store.open(b.db) as store:
        assert privacy.is_erased(store, LEARNER)


def test_the_hub_dashboard_counts_no_invited_number_as_a_learner(
        hub, edges, carriers_file):
    """An edge's cohort invites numbers; until one answers it is no learner: the hub's
    dashboard counts each edge's learners without the numbers it only invited, and says
    those apart."""
    a, _b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    invite(a, carriers_file, INTAKE, [LEARNER, OTHER, THIRD])
    a.sms(LEARNER, "YES")  # joins; the two others are only invited
    a.sync(link_a)
    with Store.open(hub.app.config["DATABASE"]) as store:
        staff.add_account(store, "gateway-admin", "Admin", "admin", PASSWORD)
    page = signed_in(hub.app, "gateway-admin").get("/admin")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert re.search(r"edge-a: \d+ events, 1 learners, 2 numbers only invited", text), text


def test_no_event_an_edge_pushes_makes_the_figures_fail(hub, courses):
    publish(hub, courses)
    link_b = register(hub, "edge-b", "--country", "NG")
    odd = [event("edge-b", OTHER, "answered", course="orange-course", lesson="l\u0000",
                 question="x", correct="yes", first_try=True),
           event("edge-b", OTHER, "answered", course="orange-course\u0000", lesson=5,
                 question=1.5, first_try=True),
           event("edge-b", OTHER, "answered", course="orange-course", lesson=LESSONS[0],
                 question=10 ** 30, first_try="true"),
           event("edge-b", OTHER, "card_reached", course="orange-course", card="x",
                 position=[1]),
           event("edge-b", OTHER, "lesson_completed", course="orange-course",
                 lesson={"a": 1}),
           event("edge-b", OTHER, "enrolled", course=["orange-course"]),
           event("edge-b", OTHER, "program_joined", program="orange\u0000", cohort={}),
           event("edge-b", OTHER, "program_invited", program="orange", cohort=5, course=7,
                 cohort_name=None)]
    assert push_raw(link_b, odd)["rejected"] == []
    with hub.store() as store:
        orange = hub_program(store, "orange")
    assert (orange.invited, orange.joined, orange.quiz, orange.cohorts) == (1, 0, (), ())
    [course] = orange.courses
    # A lesson completed, whatever its id: started; no lesson of the course counts.
    assert (course.steps.enrolled, course.steps.started, course.steps.half) == (1, 1, 0)
    assert [count for _, _, count in course.lessons] == [0] * 6


def test_a_cohort_is_known_to_the_hub_before_anyone_joined(hub, edges, courses):
    from gateway.sync.client import sync_once
    a, _b = edges
    publish(hub, courses)
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    with Store.open(a.db) as store:
        later = cohorts.create(store, program="orange", name=INTAKE,
                               course_id="orange-course", starts_on="2100-01-01",
                               carrier_id="twilio", created_by="amina",
                               members=[(LEARNER, "Amina")])
        assert sync_once(store, link_a).cohorts == 1
        assert sync_once(store, link_a).cohorts == 0  # once is enough
    with hub.store() as store:
        assert [(c.uid, c.edge_id, c.program, c.name, c.course, c.starts_on)
                for c in store.cohort_definitions()] == [
            (later.uid, "edge-a", "orange", INTAKE, "orange-course", "2100-01-01")]
        assert store.cohort_definitions("sun") == []
        [listed] = hub_program(store, "orange").cohorts
    assert (listed.name, listed.course_id, listed.starts_on, listed.edge_id,
            listed.invited, listed.joined) == (INTAKE, "orange-course", "2100-01-01",
                                               "edge-a", 0, 0)
    # Another edge cannot rename it; a malformed cohort is refused with its reason.
    answer = push_raw(link_b, [])
    assert "cohorts" in answer
    stolen = {"uid": later.uid, "program": "orange", "name": "Renamed",
              "course": "orange-course", "starts_on": "2100-01-01"}
    bad = dict(stolen, uid="0" * 32, starts_on="soon")
    impossible = dict(stolen, uid="1" * 32, starts_on="9999-99-99")  # the shape, no date
    answer = push_cohorts(link_b, [stolen, bad, impossible])
    assert answer["cohorts"] == 1
    assert answer["cohorts_rejected"] == [["0" * 32, "starts_on: not a date (YYYY-MM-DD)"],
                                          ["1" * 32, "starts_on: not a date (YYYY-MM-DD)"]]
    with hub.store() as store:
        assert [(c.name, c.edge_id) for c in store.cohort_definitions()] == [
            (INTAKE, "edge-a")]
    assert push_cohorts(link_b, "x", status=400)["error"] == "field 'cohorts' is not a list"
    assert push_cohorts(link_b, [stolen] * 101, status=413)["error"] == (
        "at most 100 cohorts a batch")
    text = hub_cli(hub, "programs", "--program", "orange", "--csv", "cohorts")
    assert text.splitlines()[1] == (f"{INTAKE},orange-course,2100-01-01,0,0,0,0,0,,edge-a,"
                                    f"{later.uid}")


def push_cohorts(link, cohorts_pushed, status: int = 200) -> dict:
    import requests

    from gateway.sync.protocol import EVENTS_PATH, bearer, encode
    response = requests.post(link.hub_url + EVENTS_PATH,
                             data=encode({"events": [], "cohorts": cohorts_pushed}),
                             headers={"Authorization": bearer(link.edge_id, link.token),
                                      "Content-Encoding": "gzip"}, timeout=30)
    assert response.status_code == status, response.text
    return response.json()


def test_the_figures_command_refuses_what_it_cannot_show(hub):
    from click.testing import CliRunner

    from gateway.cli.main import main
    env = {"LEARNLINE_HUB_DATABASE_URL": hub.app.config["HUB_DATABASE_URL"]}
    for args, said in ((["--figures"], "the figures are a program's: add --program ID"),
                       (["--program", "orange", "--csv", "members"],
                        "no table 'members' across edges: one of funnel, completion")):
        result = CliRunner().invoke(main, ["hub", "programs", *args], env=env)
        assert result.exit_code == 1 and said in result.output, result.output


def test_the_hub_command_refuses_a_program_it_knows_nothing_of(hub, courses, tmp_path):
    """`learnline hub programs --program ID` names a program the hub knows: in its
    programs file, or in anything the edges pushed or the hub published (an event, a
    cohort, a day's messages, a course of its pack). Anything else is refused in one
    line naming it, with no figures."""
    from click.testing import CliRunner

    from gateway.cli.main import main
    env = {"LEARNLINE_HUB_DATABASE_URL": hub.app.config["HUB_DATABASE_URL"],
           "LEARNLINE_PROGRAMS": ""}

    def run(*args: str, **more: str):
        return CliRunner().invoke(main, ["hub", "programs", *args], env=env | more)

    for args in (["--figures"], ["--csv", "funnel"], ["--cohorts"], []):
        result = run("--program", "nope", *args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "no program 'nope'" in lines[0], result.output
        assert "Joined the program" not in result.output
    assert run("--program", "orange", "--figures").exit_code == 1  # nothing of it yet
    # A hub that knows no program yet (no programs file, no pack) takes any edge's cohort.
    link_b = register(hub, "edge-b", "--country", "NG")
    push_cohorts(link_b, [{"uid": "1" * 32, "program": "star", "name": "Star intake",
                           "course": "star-course", "starts_on": "2026-01-05"}])
    assert run("--program", "star", "--cohorts").exit_code == 0
    publish(hub, courses)  # the pack's courses name orange and sun
    assert run("--program", "orange", "--figures").exit_code == 0
    push_raw(link_b, [event("edge-b", OTHER, "program_joined", program="moon",
                            via="keyword")])
    moon = run("--program", "moon")
    assert moon.exit_code == 0 and "moon\tedge-b\tmembers 1" in moon.output
    configured = tmp_path / "hub-programs.toml"
    configured.write_text(PROGRAMS + '\n[programs.planet]\nname = "Planet"\n'
                          'default_locale = "en"\n', encoding="utf-8")
    planet = run("--program", "planet", "--figures", LEARNLINE_PROGRAMS=str(configured))
    assert planet.exit_code == 0, planet.output
    assert run("--program", "nope", LEARNLINE_PROGRAMS=str(configured)).exit_code == 1


def test_a_pack_the_hub_cannot_read_leaves_the_figures_without_courses(hub, caplog):
    with hub.store() as store:
        # A digest of its own: the hub parses a pack once, kept by digest.
        store.put_pack(b"not a pack at all", 1, os.urandom(8).hex())
        orange = hub_program(store, "orange")
    assert (orange.pack_version, orange.courses, orange.joined) == (1, (), 0)
    assert "its courses cannot be read here" in caplog.text


def push_spends(link, rows, status: int = 200, events: list | None = None) -> dict:
    import requests

    from gateway.sync.protocol import EVENTS_PATH, bearer, encode
    response = requests.post(link.hub_url + EVENTS_PATH,
                             data=encode({"events": events or [], "spends": rows}),
                             headers={"Authorization": bearer(link.edge_id, link.token),
                                      "Content-Encoding": "gzip"}, timeout=30)
    assert response.status_code == status, response.text
    return response.json()


def priced_carriers(carriers_file: Path, price: str = "2.5", currency: str = "NGN"):
    """The edges' carriers with Twilio's SMS priced, in a file of their own."""
    path = carriers_file.with_name(f"priced-{currency}.toml")
    path.write_text(carriers_file.read_text(encoding="utf-8").replace(
        "[carriers.twilio]\n",
        f'[carriers.twilio]\nprice_per_segment = {price}\ncurrency = "{currency}"\n'),
        encoding="utf-8")
    return load_carriers(path)


def spend(day: str, program: str = "orange", currency: str = "NGN", messages: int = 4,
          segments: int = 6, cost: float | None = 15.0) -> dict:
    return {"day": day, "program": program, "currency": currency, "messages": messages,
            "segments": segments, "cost": cost}


def today_and_last_month() -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta
    now = datetime.now(UTC)
    return (now.date().isoformat(),
            (now.replace(day=1) - timedelta(days=1)).date().isoformat())


def test_each_edge_pushes_what_it_sent_for_each_program_and_the_hub_shows_its_cost(
        hub, edges, courses, carriers_file):
    from gateway import budgets
    from gateway.hub import costs
    from gateway.outbox.worker import OutboxWorker
    from gateway.sync.client import sync_once
    a, _b = edges
    publish(hub, courses)
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    # Edge A invites two numbers to orange's cohort, one joins; everything is sent, at
    # whatever hour the test runs (its carrier keeps no quiet hours).
    anytime = carriers_file.with_name("no-quiet-hours.toml")
    anytime.write_text(carriers_file.read_text(encoding="utf-8").replace(
        "[carriers.twilio]\n", '[carriers.twilio]\nquiet_hours = "0-0"\n'), encoding="utf-8")
    priced = priced_carriers(anytime)
    invite(a, anytime, INTAKE, [LEARNER, OTHER])
    a.sms(LEARNER, "YES")
    OutboxWorker(a.db, priced).run(drain=True, poll_seconds=0.01)
    with Store.open(a.db) as store:
        sent, segments = store.db.execute(
            "SELECT count(*), sum(segments) FROM outbox WHERE program = 'orange'"
            ).fetchone()
        spent = budgets.spends(store, priced)["orange"].spent
        assert sent >= 3 and spent == segments * 2.5  # every segment accepted
        report = sync_once(store, link_a, carriers=priced)
        assert report.spends == 1  # today, orange, NGN
        assert sync_once(store, link_a, carriers=priced).spends == 0  # nothing changed
    # Edge B pushes its own days: today in two currencies, sun's, and last month's.
    today, last_month = today_and_last_month()
    answer = push_spends(link_b, [spend(today), spend(today, currency="USD", messages=1,
                                                      segments=1, cost=0.5),
                                  spend(today, program="sun", messages=777, cost=9.0),
                                  spend(last_month, messages=50, segments=50, cost=99.0)])
    assert answer["spends"] == 4
    # Lessons completed this month across edges: OTHER's two on B (one pushed twice).
    done = [event("edge-b", OTHER, "lesson_completed", course="orange-course",
                  lesson=lesson, score=3, total=3)
            for lesson in (LESSONS[0], LESSONS[1], LESSONS[0])]
    assert push_raw(link_b, done)["rejected"] == []
    with hub.store() as store:
        found = costs.build(store, "orange")
    assert [(s.edge_id, s.currency, s.messages, s.segments, s.cost) for s in found.edges] == [
        ("edge-a", "NGN", sent, segments, spent), ("edge-b", "NGN", 4, 6, 15.0),
        ("edge-b", "USD", 1, 1, 0.5)]
    assert [(s.currency, s.messages, s.cost) for s in found.totals] == [
        ("NGN", sent + 4, spent + 15.0), ("USD", 1, 0.5)]
    assert found.lessons_completed == 2
    # B's newer figures for today replace its own rows of the day (USD gone), not A's.
    assert push_spends(link_b, [spend(today, messages=5, cost=20.0)])["spends"] == 1
    with hub.store() as store:
        found = costs.build(store, "orange")
    assert [(s.edge_id, s.currency, s.messages, s.cost) for s in found.edges] == [
        ("edge-a", "NGN", sent, spent), ("edge-b", "NGN", 5, 20.0)]
    [total] = found.totals
    assert found.per_lesson(total) == (spent + 20.0) / 2
    # The page, its CSV and the CLI show them to orange's administrator alone.
    with Store.open(hub.app.config["DATABASE"]) as store:
        for program in ("orange", "sun"):
            staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD,
                              program=program)
    orange = signed_in(hub.app, "orange-admin")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", orange.get(
        "/admin/programs/orange").text))
    money = f"{spent + 20.0:.2f}"
    assert f"edge-a NGN {sent} {segments} {spent:.2f} - -" in text
    assert f"all edges NGN {sent + 5} {segments + 6} {money} 2 " \
           f"{(spent + 20.0) / 2:.2f}" in text
    assert "costs are per edge" not in text and "shown per edge" not in text
    answer = orange.get("/admin/programs/orange/edges/costs.csv")
    assert f'filename="learnline-orange-edges-costs-{today[:7]}.csv"' in answer.headers[
        "Content-Disposition"]
    lines = answer.text.splitlines()
    assert lines == ["edge,currency,messages,segments,cost,lessons completed,"
                     "cost per lesson",
                     f"edge-a,NGN,{sent},{segments},{spent:.2f},,",
                     "edge-b,NGN,5,6,20.00,,",
                     f"all edges,NGN,{sent + 5},{segments + 6},{money},2,"
                     f"{(spent + 20.0) / 2:.2f}"]
    assert hub_cli(hub, "programs", "--program", "orange", "--csv", "costs"
                   ).splitlines() == lines
    assert "Messages and their cost across edges" in hub_cli(
        hub, "programs", "--program", "orange", "--figures")
    sun = signed_in(hub.app, "sun-admin")
    assert sun.get("/admin/programs/orange/edges/costs.csv").status_code == 403
    sun_lines = sun.get("/admin/programs/sun/edges/costs.csv").text.splitlines()
    assert sun_lines[1] == "edge-b,NGN,777,6,9.00,,"
    assert not any("edge-a" in line for line in sun_lines)


def test_the_hub_refuses_a_malformed_spend_naming_the_row_and_field(hub):
    from gateway.hub import costs
    link = register(hub, "edge-b", "--country", "NG")
    today, _ = today_and_last_month()
    good = spend(today)
    for bad, error in [
            ("x", "field 'spends' is not a list"),
            ([good, "x"], "spends[1]: not a JSON object"),
            ([dict(good, phone="+2348030000000")],
             "spends[0]: fields: not cost, currency, day, messages, program, segments"),
            ([dict(good, day="2026-02-30")], "spends[0].day: not a date (YYYY-MM-DD)"),
            ([dict(good, day=20260105)], "spends[0].day: not a date (YYYY-MM-DD)"),
            ([dict(good, program="Orange Academy")],
             "spends[0].program: not a program id ([a-z0-9_-], 1 to 40)"),
            ([dict(good, currency="NAIRA-NGN")],
             "spends[0].currency: not at most 8 printable characters"),
            ([dict(good, messages=-1)], "spends[0].messages: not a whole number, 0 or more"),
            ([dict(good, segments=1.5)], "spends[0].segments: not a whole number, 0 or more"),
            ([dict(good, messages=True)], "spends[0].messages: not a whole number, 0 or more"),
            ([dict(good, cost=-2)], "spends[0].cost: not a number, 0 or more, or null"),
            ([dict(good, cost="15")], "spends[0].cost: not a number, 0 or more, or null"),
            ([good, dict(good, messages=9)],
             "spends[1]: the same day, program and currency as spends[0]")]:
        # Nothing of a refused push is kept, its events neither: the edge sends them again.
        answer = push_spends(link, bad, status=400,
                             events=[event("edge-b", OTHER, "met")])
        assert answer["error"] == error
    assert push_spends(link, [good] * 401, status=413)["error"] == (
        "at most 400 spends a batch")
    with hub.store() as store:
        assert costs.build(store, "orange").edges == ()
        assert store.stats().events == 0
    # A cost the edge has no price for is null; a zero is a zero.
    assert push_spends(link, [dict(good, cost=None, currency=""),
                              dict(good, cost=0)])["spends"] == 2
    with hub.store() as store:
        found = costs.build(store, "orange")
    assert [(s.currency, s.messages, s.cost) for s in found.totals] == [
        ("", 4, None), ("NGN", 4, 0.0)]


def test_an_edge_whose_days_the_hub_refuses_goes_on_with_its_round(
        hub, edges, courses, carriers_file, caplog):
    from gateway.sync.client import sync_once
    a, _b = edges
    publish(hub, courses)
    link_a = register(hub, "edge-a", "--country", "NG")
    odd = priced_carriers(carriers_file, currency="N\\u0007")  # a currency no one reads
    invite(a, carriers_file, INTAKE, [LEARNER])
    with Store.open(a.db) as store:
        report = sync_once(store, link_a, carriers=odd)
        assert report.spends == 0 and report.pushed > 0
        assert report.pack.startswith("installed")  # the round went on to the pack
    assert "the hub refused this edge's programs' messages: spends[0].currency" in caplog.text
    with hub.store() as store:
        assert store.program_spends("orange", "2000-01-01", "2999-12-31") == []
    # Put right, the same days go at the next round.
    with Store.open(a.db) as store:
        assert sync_once(store, link_a, carriers=priced_carriers(carriers_file)).spends == 1


def test_an_edge_writes_figures_only_for_programs_the_hub_knows(
        hub, courses, tmp_path, monkeypatch):
    """Once the hub knows its programs (its programs file, the courses of its pack), an
    edge's cohorts, days of messages and invitations name one of them, and a cohort's
    course is of its program when the pack has the course: anything else is refused
    naming the field, and none of it reaches the program's figures."""
    monkeypatch.delenv("LEARNLINE_PROGRAMS", raising=False)
    publish(hub, courses)  # orange-course of orange, sun-course of sun
    link = register(hub, "edge-b", "--country", "NG")
    today, _ = today_and_last_month()
    unknown = "'moon' is not a program of this hub (its programs file, its course pack)"

    def cohort(uid: str, program: str, course: str) -> dict:
        return {"uid": uid * 32, "program": program, "name": "Intake", "course": course,
                "starts_on": "2026-01-05"}

    answer = push_cohorts(link, [cohort("1", "moon", "moon-course"),
                                 cohort("2", "orange", "sun-course"),
                                 cohort("3", "orange", "orange-course"),
                                 cohort("4", "orange", "made-on-the-edge")])
    assert answer["cohorts_rejected"] == [
        ["1" * 32, f"program: {unknown}"],
        ["2" * 32, "course: 'sun-course' is a course of program 'sun' in the hub's "
                   "course pack"]]
    assert answer["cohorts"] == 2
    assert push_spends(link, [spend(today), spend(today, program="moon")],
                       status=400)["error"] == f"spends[1].program: {unknown}"
    assert push_spends(link, [spend(today)])["spends"] == 1

    def invitation(program: str, course: str, learner: str = OTHER) -> dict:
        return event("edge-b", learner, "program_invited", program=program,
                     cohort="3" * 32, cohort_name="Intake", course=course)

    pushed = [invitation("moon", "moon-course"), invitation("orange", "sun-course"),
              invitation("orange", "orange-course")]
    answer = push_raw(link, pushed)
    assert answer["rejected"] == [[pushed[0]["id"], f"data.program: {unknown}"],
                                  [pushed[1]["id"], "data.course: 'sun-course' is a course "
                                                    "of program 'sun' in the hub's course pack"]]
    assert (answer["acknowledged"], answer["stored"]) == (1, 1)
    with hub.store() as store:
        assert sorted(c.uid[0] for c in store.cohort_definitions()) == ["3", "4"]
        assert store.program_spends("moon", "0000-01-01", "9999-12-31") == []
        assert [data["program"] for _e, _l, data, _at
                in store.program_events("program_invited")] == ["orange"]

    # A program of the hub's programs file is known even with no course in the pack.
    configured = tmp_path / "hub-programs.toml"
    configured.write_text(PROGRAMS + '\n[programs.moon]\nname = "Moon"\n'
                          'default_locale = "en"\n', encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(configured))
    assert push_cohorts(link, [cohort("1", "moon", "moon-course")])["cohorts"] == 1
    assert push_spends(link, [spend(today, program="moon")])["spends"] == 1
    assert push_raw(link, [invitation("moon", "moon-course")])["stored"] == 1
