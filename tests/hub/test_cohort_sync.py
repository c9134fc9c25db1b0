"""Cohorts travel between edges: each cohort has a globally unique uid; joining through
one is a `program_joined` event naming its uid and name; another edge keeps that uid on
the membership (an older event's numeric cohort id still merges); the hub counts each
cohort's members per edge and in all (`learnline hub programs --cohorts`, the program's
page "Across edges"). A real hub app on loopback, real edge databases, on each hub
backend."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.hub import routes as hub_routes
from gateway.learning.merge import apply_remote_events
from gateway.ops import staff
from gateway.store import Store, cohorts
from gateway.store import programs as members
from gateway.store.schema import migrations
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
PASSWORD = "cohort pass phrase 45"
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


@pytest.fixture
def hub(tmp_path: Path, hub_url: str) -> Iterator[Hub]:
    served = Hub(tmp_path, hub_url)
    yield served
    served.server.shutdown()
    served.server.server_close()
    hub_routes.close_pool(served.app)


@pytest.fixture
def edges(tmp_path: Path, carriers_file: Path, monkeypatch) -> tuple[Edge, Edge]:
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)
    monkeypatch.delenv("LEARNLINE_HUB_URL", raising=False)
    return (Edge(tmp_path / "a", "edge-a", carriers_file, monkeypatch),
            Edge(tmp_path / "b", "edge-b", carriers_file, monkeypatch))


def make_cohort(edge: Edge, name: str, program: str = "orange") -> cohorts.Cohort:
    with Store.open(edge.db) as store:
        return cohorts.create(store, program=program, name=name,
                              course_id="start-freelancing", starts_on="2026-01-05",
                              carrier_id="twilio", created_by="amina", members=[])


def join_cohort(edge: Edge, phone: str, cohort: cohorts.Cohort) -> None:
    edge.sms(phone, "START")
    with Store.open(edge.db) as store:
        assert members.join(store, cohort.program, phone, "invitation", cohort_id=cohort.id)


def cohort_of(edge: Edge, phone: str) -> tuple:
    with Store.open(edge.db) as store:
        return store.db.execute(
            "SELECT cohort_id, cohort_uid FROM program_members WHERE phone = ?",
            [phone]).fetchone()


def joined_event(uid: str, name: str, edge_id: str = "edge-b",
                 learner: str = THIRD) -> dict:
    event = forged(edge_id, learner, "program_joined")
    event["data"] = {"program": "orange", "via": "invitation", "cohort": uid,
                     "cohort_name": name}
    return event


def test_a_cohort_gets_a_uid_and_joining_names_it_and_its_name(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        made = [cohorts.create(store, program="orange", name=f"Intake {n}",
                               course_id="start-freelancing", starts_on="2026-01-05",
                               carrier_id="twilio", created_by="amina", members=[])
                for n in range(2)]
        assert all(re.fullmatch(r"[0-9a-f]{32}", c.uid) for c in made)
        assert made[0].uid != made[1].uid
        assert members.join(store, "orange", LEARNER, "invitation", cohort_id=made[1].id)
        data = json.loads(store.db.execute(
            "SELECT data FROM events WHERE kind = 'program_joined'").fetchone()[0])
        assert data == {"program": "orange", "via": "invitation", "cohort": made[1].uid,
                        "cohort_name": "Intake 1"}


def test_a_long_cohort_name_keeps_the_event_within_its_size(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        made = cohorts.create(store, program="orange", name="ب" * 3000,
                              course_id="start-freelancing", starts_on="2026-01-05",
                              carrier_id="twilio", created_by="amina", members=[])
        assert members.join(store, "orange", LEARNER, "invitation", cohort_id=made.id)
        data = store.db.execute(
            "SELECT data FROM events WHERE kind = 'program_joined'").fetchone()[0]
        assert len(json.dumps(json.loads(data), ensure_ascii=False,
                              separators=(",", ":")).encode()) <= 4096
        assert json.loads(data)["cohort_name"] == "ب" * 200


def test_cohorts_made_before_the_upgrade_get_a_uid_each(tmp_path: Path):
    path = tmp_path / "old.db"
    with Store.open(path) as old:
        migrations.apply(old.db, stop_before="m032_cohort_uid")
        with old.write():
            for n in (1, 2):
                old.db.execute(
                    "INSERT INTO cohorts (id, program, name, course_id, starts_on, carrier_id,"
                    " created_by, created_at) VALUES (?, 'orange', ?, 'c', '2026-01-05', "
                    "'twilio', 'amina', 1000)", [n, f"Intake {n}"])
            old.db.execute("INSERT INTO program_members VALUES "
                           "('orange', ?, 1000, 'invitation', 2)", [LEARNER])
    with Store.open(path, migrate=True) as store:
        kept = cohorts.all_cohorts(store)
        assert [c.name for c in kept] == ["Intake 1", "Intake 2"]
        assert all(re.fullmatch(r"[0-9a-f]{32}", c.uid) for c in kept)
        assert kept[0].uid != kept[1].uid
        assert store.db.execute("SELECT cohort_id, cohort_uid FROM program_members"
                                ).fetchone() == (2, kept[1].uid)
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE cohorts SET uid = ? WHERE id = 1", [kept[1].uid])


def test_another_edge_keeps_the_members_cohort_by_its_uid(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    intake = make_cohort(a, "Lagos drivers intake")
    join_cohort(a, LEARNER, intake)
    a.sync(link_a)
    b.sms(LEARNER, "STATUS")  # the learner walks into edge B
    b.sync(link_b)
    assert cohort_of(b, LEARNER) == (None, intake.uid)
    assert cohort_of(a, LEARNER) == (intake.id, intake.uid)


def test_a_known_cohorts_uid_resolves_to_the_cohort_here(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        here = cohorts.create(store, program="orange", name="Intake",
                              course_id="start-freelancing", starts_on="2026-01-05",
                              carrier_id="twilio", created_by="amina", members=[])
        report = apply_remote_events(store, [joined_event(here.uid, "Intake")])
        assert report.rejected == []
        assert store.db.execute("SELECT cohort_id, cohort_uid FROM program_members "
                                "WHERE phone = ?", [THIRD]).fetchone() == (here.id, here.uid)


def test_an_older_edges_numeric_cohort_still_merges(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        old = forged("edge-z", LEARNER, "program_joined")
        old["data"] = {"program": "orange", "via": "invitation", "cohort": 3}
        report = apply_remote_events(store, [old])
        assert report.rejected == []
        assert members.programs_of(store, LEARNER) == {"orange"}
        assert store.db.execute("SELECT cohort_id, cohort_uid FROM program_members"
                                ).fetchone() == (None, None)
        bad = joined_event("not a uid", "Intake", learner=OTHER)
        assert apply_remote_events(store, [bad]).rejected == [
            (bad["id"], "data.cohort: not a cohort's uid")]
        assert members.programs_of(store, OTHER) == set()


def across_edges(hub: Hub, a: Edge, b: Edge) -> cohorts.Cohort:
    """Edge A's cohort with two members there and one on edge B; one member of orange
    and one of sun with no cohort; a numeric cohort from an older edge."""
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    intake = make_cohort(a, "Lagos drivers intake")
    sun = make_cohort(a, "Kano solar class", program="sun")
    for phone in (LEARNER, OTHER):
        join_cohort(a, phone, intake)
    join_cohort(a, "+2348031110004", sun)
    a.sms("+2348031110005", "START")
    with Store.open(a.db) as store:
        assert members.join(store, "orange", "+2348031110005", "keyword")
    a.sync(link_a)
    old = forged("edge-b", "+2348031110006", "program_joined")
    old["data"] = {"program": "orange", "via": "invitation", "cohort": 7}
    push_raw(link_b, [joined_event(intake.uid, "Lagos drivers intake"), old])
    return intake


def test_the_hub_counts_each_cohorts_members_per_edge_and_in_all(hub, edges):
    a, b = edges
    assert hub_cli(hub, "programs", "--cohorts").strip() == "no cohort members yet"
    intake = across_edges(hub, a, b)
    with hub.store() as store:
        figures = [(f.program, f.cohort, f.name, f.edges, f.members)
                   for f in store.cohort_figures()]
        sun = store.cohort_figures("sun")
        assert figures == [
            ("orange", intake.uid, "Lagos drivers intake", (("edge-a", 2), ("edge-b", 1)), 3),
            ("sun", sun[0].cohort, "Kano solar class", (("edge-a", 1),), 1)]
        assert [f.program for f in store.cohort_figures("orange")] == ["orange"]
    lines = hub_cli(hub, "programs", "--cohorts").strip().splitlines()
    assert lines == [
        f"orange\tLagos drivers intake ({intake.uid})\tedge-a 2, edge-b 1\ttotal 3",
        f"sun\tKano solar class ({sun[0].cohort})\tedge-a 1\ttotal 1"]
    assert hub_cli(hub, "programs", "--cohorts", "--program", "sun").strip() == lines[1]


def test_an_edges_cohort_name_cannot_write_to_the_operators_terminal(hub, edges):
    """A name with a window-title sequence, a screen clear and a forged line, pushed by an
    edge inside an event: `hub programs --cohorts` shows its control characters as
    escapes, on one line."""
    link_b = register(hub, "edge-b", "--country", "NG")
    hostile = "\x1b]0;owned\x07\x1b[2JEVIL\r\nfake line\u202e"
    push_raw(link_b, [joined_event("a" * 32, hostile)])
    lines = hub_cli(hub, "programs", "--cohorts").strip().splitlines()
    assert lines == [f"orange\t{hostile.encode('unicode_escape').decode()} ({'a' * 32})\t"
                     "edge-b 1\ttotal 1"]
    assert "\x1b" not in "".join(lines) and "\r" not in "".join(lines)


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/signin").text).group(1)
    answer = client.post("/admin/signin", data={"csrf": token, "username": username,
                                                "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def test_the_hubs_program_page_shows_its_members_across_edges(hub, edges, tmp_path,
                                                              monkeypatch):
    a, b = edges
    programs = tmp_path / "programs.toml"
    programs.write_text(PROGRAMS, encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs))
    across_edges(hub, a, b)
    with Store.open(hub.app.config["DATABASE"]) as store:
        for program in ("orange", "sun"):
            staff.add_account(store, f"{program}-admin", "Admin", "admin", PASSWORD,
                              program=program)
    orange = signed_in(hub.app, "orange-admin")
    page = orange.get("/admin/programs/orange")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", " ", page.text)
    text = re.sub(r"\s+", " ", text)
    assert "Across edges" in text
    assert "Members per edge where they joined Edge Members edge-a 3 edge-b 2" in text
    assert ("Members per cohort Cohort Edge Members Lagos drivers intake edge-a 2 "
            "Lagos drivers intake edge-b 1 Lagos drivers intake Total 3") in text
    assert "Kano solar class" not in text
    sun = signed_in(hub.app, "sun-admin")
    refused = sun.get("/admin/programs/orange")
    assert refused.status_code == 403
    assert "Lagos drivers intake" not in refused.text
    assert "Kano solar class" in sun.get("/admin/programs/sun").text
    assert orange.get("/admin/programs/sun").status_code == 403
