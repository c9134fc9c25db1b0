"""Programs travel between edges: a pack keeps a course's program; joining a program is a
`program_joined` event, merged on every edge that knows the learner (union, the earliest
joined_at wins), erased with the learner, kept from edges confined for the number; the
hub counts each program's members per edge (`learnline hub programs`). A real hub app on
loopback, real edge databases fed by signed webhooks, on each hub backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.content.importer import import_courses
from gateway.hub import routes as hub_routes
from gateway.learning.merge import apply_remote_events
from gateway.store import Store, events
from gateway.store import programs as members
from gateway.sync import packs
from tests.hub.test_confinement import (
    LEARNER,
    OTHER,
    Edge,
    forged,
    hub_cli,
    pull_raw,
    push_raw,
    register,
)
from tests.hub.test_sync_protocol import Hub
from tests.test_privacy import holding
from tests.test_programs import course_copy


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


def join(edge: Edge, phone: str, program: str = "orange", via: str = "keyword") -> None:
    with Store.open(edge.db) as store:
        assert members.join(store, program, phone, via)


def membership(edge: Edge, phone: str) -> list[tuple]:
    with Store.open(edge.db) as store:
        return store.db.execute(
            "SELECT program, joined_at FROM program_members WHERE phone = ? ORDER BY 1",
            [phone]).fetchall()


def test_a_pack_keeps_the_program_its_courses_name(tmp_path: Path):
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange-course", "ORANGE1", "orange")
    key = packs.generate_key()
    data = packs.build_pack(root, key, version=3)
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        packs.install_pack(store, data, [packs.public_key_bytes(key)])
        assert store.course("orange-course").program == "orange"
        assert members.program_of_course(store, "orange-course") == "orange"


def test_a_learner_who_joined_on_one_edge_is_a_member_where_they_move(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a.sms(LEARNER, "START")
    join(a, LEARNER)
    a.sync(link_a)

    b.sms(LEARNER, "STATUS")  # the learner walks into edge B
    b.sync(link_b)
    assert membership(b, LEARNER) == membership(a, LEARNER)
    assert [program for program, _ in membership(b, LEARNER)] == ["orange"]

    # Joining again on B changes nothing and records nothing; a pull again neither.
    with Store.open(b.db) as store:
        assert not members.join(store, "orange", LEARNER, "web")
    b.sync(link_b)
    assert membership(b, LEARNER) == membership(a, LEARNER)


def courses_listed(edge: Edge, phone: str) -> str:
    """What `COURSES` answers `phone` on `edge`."""
    with Store.open(edge.db) as store:
        before = len(store.outbox(phone))
    edge.sms(phone, "COURSES")
    with Store.open(edge.db) as store:
        return "\n".join(message.body for message in store.outbox(phone)[before:])


def test_a_member_who_moves_sees_the_programs_courses_on_the_new_edge(hub, edges,
                                                                      tmp_path, monkeypatch):
    a, b = edges
    programs = tmp_path / "programs.toml"
    programs.write_text('[programs.orange]\nname = "Orange Academy"\n'
                        'default_locale = "en"\nkeywords = ["JOIN ORANGE"]\n',
                        encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs))
    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange-course", "ORANGE1", "orange")
    for edge in (a, b):
        with Store.open(edge.db) as store:
            import_courses(store, root)
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a.sms(LEARNER, "JOIN ORANGE")
    a.sync(link_a)

    assert courses_listed(a, LEARNER).count(") ") == 2  # the program's and no program's
    b.sms(LEARNER, "STATUS")  # the learner walks into edge B
    assert courses_listed(b, LEARNER).count(") ") == 1
    b.sync(link_b)
    assert courses_listed(b, LEARNER).count(") ") == 2
    assert courses_listed(b, OTHER).count(") ") == 1  # nobody else's


def test_the_earliest_join_wins_whichever_edge_hears_first(tmp_path: Path, monkeypatch):
    stores = []
    for name in ("a", "b"):
        monkeypatch.setenv("LEARNLINE_EDGE_ID", f"edge-{name}")
        stores.append(Store.open(tmp_path / f"{name}.db", migrate=True))
    a, b = stores
    try:
        a.clock = lambda: 1000.0
        b.clock = lambda: 2000.0
        assert members.join(a, "orange", LEARNER, "keyword")
        assert members.join(b, "orange", LEARNER, "web")
        from_a, _ = events.unpushed_events(a, 10)
        from_b, _ = events.unpushed_events(b, 10)
        assert [e["kind"] for e in from_a] == ["program_joined"]
        assert from_a[0]["data"] == {"program": "orange", "via": "keyword"}
        apply_remote_events(b, from_a)
        apply_remote_events(a, from_b)
        for store in (a, b):
            assert store.db.execute(
                "SELECT joined_at FROM program_members WHERE phone = ?",
                [LEARNER]).fetchall() == [(1000.0,)]
    finally:
        for store in stores:
            store.close()


def test_an_erasure_removes_the_membership_on_every_edge_and_the_hub(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a.sms(LEARNER, "START")
    join(a, LEARNER)
    a.sync(link_a)
    b.sms(LEARNER, "STATUS")
    b.sync(link_b)
    assert membership(b, LEARNER)

    assert "erased" in hub_cli(hub, "erase", LEARNER, "--yes")
    a.sync(link_a)
    b.sync(link_b)
    for edge in (a, b):
        assert membership(edge, LEARNER) == []
        assert holding(edge.db, LEARNER) == []
    with hub.store() as store:
        assert store.program_figures() == []


def test_an_edge_confined_for_a_number_gets_none_of_its_programs(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")
    a.sms(LEARNER, "START")
    join(a, LEARNER)
    a.sync(link_a)

    push_raw(link_b, [forged("edge-b", LEARNER, "met")])
    assert [e for e in pull_raw(link_b) if e["kind"] == "program_joined"] == []
    b.sms(LEARNER, "STATUS")
    b.sync(link_b)
    assert membership(b, LEARNER) == []


def test_the_hub_counts_each_programs_members_per_edge(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    assert hub_cli(hub, "programs").strip() == "no program members yet"
    for phone in (LEARNER, OTHER):
        a.sms(phone, "START")
        join(a, phone)
    join(a, LEARNER, "sun")
    b.sms("+2348031110003", "START")
    join(b, "+2348031110003")
    a.sync(link_a)
    b.sync(link_b)

    with hub.store() as store:
        figures = [(f.program, f.edge_id, f.members, f.joined_recently)
                   for f in store.program_figures()]
        assert figures == [("orange", "edge-a", 2, 2), ("orange", "edge-b", 1, 1),
                           ("sun", "edge-a", 1, 1)]
        assert [f.edge_id for f in store.program_figures("sun")] == ["edge-a"]
        store.clock = lambda: 10**10  # long after: members still, none joined lately
        assert [(f.members, f.joined_recently) for f in store.program_figures("sun")] \
            == [(1, 0)]
    lines = hub_cli(hub, "programs").strip().splitlines()
    assert lines == ["orange\tedge-a\tmembers 2\tjoined in 7 days 2",
                     "orange\tedge-b\tmembers 1\tjoined in 7 days 1",
                     "sun\tedge-a\tmembers 1\tjoined in 7 days 1"]
    assert hub_cli(hub, "programs", "--program", "sun").strip().splitlines() == lines[2:]


def test_doctor_warns_of_a_programs_course_the_edge_has_no_program_for(tmp_path: Path,
                                                                       monkeypatch):
    from gateway import environment
    from gateway.ops.doctor import diagnose

    root = tmp_path / "lessons"
    root.mkdir()
    course_copy(root, "orange-course", "ORANGE1", "orange")
    key = packs.generate_key()
    db = tmp_path / "edge.db"
    with Store.open(db, migrate=True) as store:
        packs.install_pack(store, packs.build_pack(root, key, version=3),
                           [packs.public_key_bytes(key)])
    monkeypatch.delenv("LEARNLINE_PROGRAMS", raising=False)
    found = [str(f) for f in diagnose(db, environment.snapshot()) if f.subject == "programs"]
    assert found == ["WARN programs: course 'orange-course' names program 'orange' and "
                     "LEARNLINE_PROGRAMS is not set: every learner here sees it; install "
                     "the programs file the other edges have (docs/programs.md)"]

    other = tmp_path / "programs.toml"
    other.write_text('[programs.sun]\nname = "Sun"\ndefault_locale = "en"\n',
                     encoding="utf-8")
    found = [str(f) for f in diagnose(db, {**environment.snapshot(),
                                           "LEARNLINE_PROGRAMS": str(other)})
             if f.subject == "programs"]
    assert found[1:] == [f"WARN programs: course 'orange-course' names program 'orange' "
                         f"that {other} lacks: nobody can join it here, only its members "
                         "from other edges see it (docs/programs.md)"]


def test_the_hubs_dashboard_shows_each_programs_members_per_edge(hub, edges):
    a, _ = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    hub.app.config["ADMIN_TOKEN"] = "hub-admin-token-0123456789"
    client = hub.app.test_client()
    assert client.get("/admin").status_code == 403
    assert "orange" not in client.get("/admin", headers={
        "Authorization": "Bearer wrong-token-0123456789012"}).get_data(as_text=True)
    a.sms(LEARNER, "START")
    join(a, LEARNER)
    a.sync(link_a)
    page = client.get("/admin", headers={"Authorization": "Bearer hub-admin-token-0123456789"})
    assert page.status_code == 200
    assert "orange on edge-a: 1 members, 1 joined in the last 7 days" in \
        page.get_data(as_text=True)


def test_a_malformed_program_joined_is_refused_and_changes_nothing(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as store:
        bad = {**forged("edge-z", LEARNER, "program_joined"), "data": {"program": 5}}
        report = apply_remote_events(store, [bad])
        assert report.rejected == [(bad["id"], "data.program: not a str")]
        assert members.programs_of(store, LEARNER) == set()
