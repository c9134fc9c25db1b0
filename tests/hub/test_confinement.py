"""Edges are confined: a real hub app on loopback, real edge databases fed by signed
webhooks, edges registered with `learnline hub add-edge`. An edge's token reads another
edge's learner only when the number is in the edge's registered region, at most
--roam-limit new learners an hour, each crossing recorded on the hub; an edge's erasure
or other record of a number outside its region stays its own; an erasure on the hub
reaches every edge. Run on each hub backend (tests/hub/conftest.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main
from gateway.content.importer import import_courses
from gateway.hub import routes as hub_routes
from gateway.store import Store
from gateway.sync.client import EdgeLink, sync_once
from gateway.sync.protocol import EVENTS_PATH, bearer, decode, encode
from tests.conftest import TwilioWebhooks
from tests.hub.test_sync_protocol import Hub
from tests.test_privacy import holding

LEARNER = "+2348031110001"  # a Nigerian number: edge A's learner
OTHER = "+2348031110002"


@pytest.fixture
def hub(tmp_path: Path, hub_url: str) -> Iterator[Hub]:
    served = Hub(tmp_path, hub_url)
    yield served
    served.server.shutdown()
    served.server.server_close()
    hub_routes.close_pool(served.app)


def hub_cli(hub: Hub, *args: str) -> str:
    """`learnline hub ...` on the hub's databases, as an operator runs it there: its store
    and its own gateway's (the tutors' inbox), never a `learnline.db` where the tests run."""
    result = CliRunner().invoke(main, ["hub", *args], env={
        "LEARNLINE_HUB_DATABASE_URL": hub.app.config["HUB_DATABASE_URL"],
        "LEARNLINE_DB": hub.app.config["DATABASE"]})
    assert result.exit_code == 0, result.output
    return result.output


def register(hub: Hub, edge_id: str, *options: str) -> EdgeLink:
    """Register an edge on the hub with the CLI; its link (the token printed once)."""
    token = hub_cli(hub, "add-edge", edge_id, *options).strip().splitlines()[-1]
    return EdgeLink(hub.url, edge_id, token)


class Edge:
    """An edge's own database, fed by signed Twilio webhooks, synced with the hub."""

    def __init__(self, folder: Path, edge_id: str, carriers_file: Path, monkeypatch):
        folder.mkdir()
        self.db = folder / "learnline.db"
        with Store.open(self.db, migrate=True) as store:
            import_courses(store)
            with monkeypatch.context() as env:  # the edge id is kept in its settings
                env.setenv("LEARNLINE_EDGE_ID", edge_id)
                assert store.edge_id() == edge_id
        self.app = create_app({"DATABASE": str(self.db), "CARRIERS_FILE": str(carriers_file),
                               "TESTING": True})
        self.hooks = TwilioWebhooks(self.app.test_client())

    def sms(self, phone: str, *texts: str) -> None:
        for text in texts:
            assert self.hooks.sms(phone, text).status_code == 200

    def sync(self, link: EdgeLink) -> None:
        with Store.open(self.db) as store:
            sync_once(store, link)

    def progress(self, phone: str) -> tuple:
        """Stopped, place and lesson results here; () when the learner is not here."""
        with Store.open(self.db) as store:
            learner = store.learner(phone)
            if learner is None:
                return ()
            places = store.db.execute(
                "SELECT course_id, position, card FROM enrollments WHERE phone = ?",
                [phone]).fetchall()
            results = store.db.execute(
                "SELECT lesson_id, score FROM lesson_results WHERE phone = ?",
                [phone]).fetchall()
        return (learner.stopped, places, results)


@pytest.fixture
def edges(tmp_path: Path, carriers_file: Path, monkeypatch) -> tuple[Edge, Edge]:
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)
    monkeypatch.delenv("LEARNLINE_HUB_URL", raising=False)
    return (Edge(tmp_path / "a", "edge-a", carriers_file, monkeypatch),
            Edge(tmp_path / "b", "edge-b", carriers_file, monkeypatch))


def forged(edge_id: str, learner: str, kind: str) -> dict:
    """An event an edge's token can push naming any number it likes."""
    millis = int(time.time() * 1000)
    return {"id": f"{millis:012x}{os.urandom(10).hex()}", "edge": edge_id,
            "learner": learner, "kind": kind, "at": time.time(), "data": {}}


def push_raw(link: EdgeLink, events: list[dict]) -> dict:
    response = requests.post(link.hub_url + EVENTS_PATH, data=encode({"events": events}),
                             headers={"Authorization": bearer(link.edge_id, link.token),
                                      "Content-Encoding": "gzip"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def pull_raw(link: EdgeLink) -> list[dict]:
    got, after = [], 0
    while True:
        response = requests.get(link.hub_url + EVENTS_PATH, params={"after": after},
                                headers={"Authorization": bearer(link.edge_id, link.token)},
                                timeout=30)
        assert response.status_code == 200, response.text
        page = decode(response.content, None)
        got += page["events"]
        after = page["next"]
        if not page["more"]:
            return got


def audit(hub: Hub) -> list[tuple[str, str, str]]:
    """(edge, learner, action) of every row of the hub's audit, oldest first."""
    with hub.store() as store:
        return [(row.edge, row.learner, row.action) for row in store.audit()]


def a_learner_of_edge_a(a: Edge, link_a: EdgeLink, phone: str = LEARNER) -> tuple:
    a.sms(phone, "START", "NEXT")  # on card 2 of the 3 the first lesson sends by SMS
    a.sync(link_a)
    assert a.progress(phone)[1]
    return a.progress(phone)


def test_an_edge_naming_a_number_outside_its_region_gets_none_of_its_history(hub, edges):
    a, _ = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")
    a_learner_of_edge_a(a, link_a)

    answer = push_raw(link_b, [forged("edge-b", LEARNER, "met")])
    assert answer["acknowledged"] == 1  # kept as edge B's own record, nothing more
    pulled = pull_raw(link_b)
    assert [e for e in pulled if e["edge"] == "edge-a"] == []
    assert ("edge-b", LEARNER, "confined") in audit(hub)


def test_an_edge_cannot_erase_or_stop_a_learner_it_never_served(hub, edges):
    a, _ = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")
    before = a_learner_of_edge_a(a, link_a)

    push_raw(link_b, [forged("edge-b", LEARNER, "opted_out"),
                      forged("edge-b", LEARNER, "erased")])
    a.sync(link_a)
    assert a.progress(LEARNER) == before  # still there, not stopped, progress kept
    # The hub kept A's history under the number: an edge of the learner's region gets it.
    link_c = register(hub, "edge-c", "--country", "NG")
    push_raw(link_c, [forged("edge-c", LEARNER, "met")])
    assert {e["kind"] for e in pull_raw(link_c) if e["edge"] == "edge-a"} >= \
        {"enrolled", "card_reached"}
    # B's attempt is on record, without the number it tried to erase.
    assert [(learner == LEARNER, action) for edge, learner, action in audit(hub)
            if edge == "edge-b"] == [(False, "confined"), (False, "erasure_scoped")]


def test_a_learner_roaming_into_an_edges_region_brings_their_progress_audited(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--prefix", "+23480311", "--roam-limit", "1")
    on_a = a_learner_of_edge_a(a, link_a)
    a_learner_of_edge_a(a, link_a, OTHER)

    b.sms(LEARNER, "STATUS")  # the learner walks into edge B
    b.sync(link_b)
    assert b.progress(LEARNER)[1:] == on_a[1:]
    assert audit(hub) == [("edge-b", LEARNER, "roamed")]
    output = hub_cli(hub, "audit")
    assert "edge-b" in output and LEARNER in output and "roamed" in output
    assert "from edge-a" in output
    assert hub_cli(hub, "audit", "--edge", "edge-a").strip() == "nothing audited yet"

    # A second roaming learner within the hour is over edge B's limit: not yet.
    b.sms(OTHER, "STATUS")
    b.sync(link_b)
    assert b.progress(OTHER)[1] != a.progress(OTHER)[1]
    assert audit(hub)[-1] == ("edge-b", OTHER, "roam_refused")


def test_an_erasure_on_the_hub_reaches_every_edge(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")  # served the number on its own
    a_learner_of_edge_a(a, link_a)
    b.sms(LEARNER, "START")
    b.sync(link_b)

    output = hub_cli(hub, "erase", LEARNER, "--yes")
    assert "erased" in output
    a.sync(link_a)
    b.sync(link_b)
    for edge in (a, b):
        assert edge.progress(LEARNER) == ()
        assert holding(edge.db, LEARNER) == []


def test_narrowing_an_edges_region_confines_the_learners_outside_it(hub, edges):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a_learner_of_edge_a(a, link_a)
    b.sms(LEARNER, "STATUS")
    b.sync(link_b)
    on_b = b.progress(LEARNER)
    assert on_b[1:] == a.progress(LEARNER)[1:]

    output = hub_cli(hub, "set-edge", "edge-b", "--country", "GH")
    assert "region GH" in output and "1 learners outside the region confined now" in output
    assert "region GH, roam limit 60/h" in hub_cli(hub, "edges")
    a.sms(LEARNER, "NEXT", "NEXT")
    a.sync(link_a)
    b.sync(link_b)
    assert a.progress(LEARNER)[1] != on_b[1]
    assert b.progress(LEARNER) == on_b  # A's new steps no longer reach B


def test_registering_an_edge_says_what_is_wrong_with_its_region(hub):
    runner = CliRunner()
    env = {"LEARNLINE_HUB_DATABASE_URL": hub.app.config["HUB_DATABASE_URL"]}
    for args, expected in [
        (["add-edge", "edge-x", "--country", "XX"], "country 'XX'"),
        (["add-edge", "edge-x", "--prefix", "234"], "prefix '234'"),
        (["add-edge", "edge-x", "--roam-limit", "-1"], "--roam-limit"),
        (["add-edge", "hub"], "not 'hub'"),
        (["set-edge", "edge-x"], "nothing to change"),
    ]:
        result = runner.invoke(main, ["hub", *args], env=env)
        assert result.exit_code == 2 and expected in result.output, (args, result.output)
    result = runner.invoke(main, ["hub", "set-edge", "nowhere", "--country", "NG"], env=env)
    assert result.exit_code == 1 and "no edge 'nowhere'" in result.output
    with hub.store() as store:
        assert store.edges() == []

    # Without a region an edge may sync, confined, and is told so.
    result = runner.invoke(main, ["hub", "add-edge", "edge-x"], env=env)
    assert result.exit_code == 0 and "confined for every learner" in result.output
    token = result.output.strip().splitlines()[-1]
    push_raw(EdgeLink(hub.url, "edge-x", token), [forged("edge-x", LEARNER, "met")])


def test_a_hub_starting_with_edges_without_a_region_says_so(hub, tmp_path, caplog):
    """After an upgrade from a hub before regions (or an edge added without one), every
    learner is confined on those edges: the hub says so at start-up, naming them and
    the command that sets a region, instead of sync quietly sharing nothing new."""
    register(hub, "edge-ng", "--country", "NG")
    register(hub, "edge-bare")
    with caplog.at_level(logging.WARNING, logger="gateway"):
        create_app({"DATABASE": str(tmp_path / "again.db"), "ROLE": "hub",
                    "HUB_DATABASE_URL": hub.app.config["HUB_DATABASE_URL"],
                    "SECRET_KEY": "hub-secret"})
    warned = [r.getMessage() for r in caplog.records if "region" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "edge-bare" in warned[0] and "edge-ng" not in warned[0]
    assert "learnline hub set-edge" in warned[0]
    assert "confined for every learner (those they knew before the hub had regions " \
        "included)" in warned[0]


def pull_after(link: EdgeLink, after: int) -> tuple[list[dict], int]:
    """Every event waiting for the edge after its pull cursor, and the new cursor."""
    got = []
    while True:
        response = requests.get(link.hub_url + EVENTS_PATH, params={"after": after},
                                headers={"Authorization": bearer(link.edge_id, link.token)},
                                timeout=30)
        assert response.status_code == 200, response.text
        page = decode(response.content, None)
        got += page["events"]
        after = page["next"]
        if not page["more"]:
            return got, after


def test_an_edge_of_the_same_region_cannot_erase_a_learner_it_never_served(hub):
    abuja = register(hub, "abuja-1", "--country", "NG")
    lagos = register(hub, "lagos-1", "--country", "NG")
    served = [forged("abuja-1", LEARNER, "enrolled"), forged("abuja-1", LEARNER, "answered")]
    push_raw(abuja, served)

    push_raw(lagos, [forged("lagos-1", LEARNER, "erased")])  # never pushed the number
    assert [e for e in pull_raw(abuja) if e["kind"] == "erased"] == []
    with hub.store() as store:
        assert [row.action for row in store.audit("lagos-1")][-1] == "erasure_scoped"
        assert store.pull("lagos-1", 0).events  # it roamed in: a read, audited
    # abuja-1 still holds its history on the hub: a third edge of the region gets it.
    kano = register(hub, "kano-1", "--country", "NG")
    push_raw(kano, [forged("kano-1", LEARNER, "met")])
    assert {e["id"] for e in pull_raw(kano) if e["edge"] == "abuja-1"} == \
        {e["id"] for e in served}

    # The edge that served the learner erases them everywhere.
    push_raw(abuja, [forged("abuja-1", LEARNER, "erased")])
    assert [e["edge"] for e in pull_raw(lagos) if e["kind"] == "erased"] == ["abuja-1"]


def test_a_roam_granted_later_passes_on_what_the_edge_recorded_while_refused(hub):
    abuja = register(hub, "abuja-1", "--country", "NG")
    kano = register(hub, "kano-1", "--country", "NG", "--roam-limit", "0")
    push_raw(abuja, [forged("abuja-1", LEARNER, "enrolled")])
    refused = forged("kano-1", LEARNER, "lesson_completed")
    push_raw(kano, [refused])  # over kano-1's limit: kept, passed on to nobody yet
    assert audit(hub)[-1] == ("kano-1", LEARNER, "roam_refused")
    got, cursor = pull_after(abuja, 0)
    assert got == []  # abuja-1's cursor is now past kano-1's first event

    hub_cli(hub, "set-edge", "kano-1", "--roam-limit", "5")
    later = forged("kano-1", LEARNER, "answered")
    push_raw(kano, [later])
    assert audit(hub)[-1] == ("kano-1", LEARNER, "roamed")
    got, _ = pull_after(abuja, cursor)
    assert sorted(e["id"] for e in got) == sorted([refused["id"], later["id"]])


def invitation(edge_id: str, learner: str) -> dict:
    """A cohort's invitation of a number, as an edge's token can push it for any number."""
    event = forged(edge_id, learner, "program_invited")
    event["data"] = {"program": "orange", "cohort": "0" * 32, "cohort_name": "Intake",
                     "course": "start-freelancing"}
    return event


def test_an_edge_inviting_a_learner_outside_its_region_is_on_the_audit(hub, edges):
    """An invitation of a number held elsewhere, outside the edge's region, is the edge
    reaching for another region's learner: on the audit once, whatever it pushes next."""
    a, _ = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")
    a_learner_of_edge_a(a, link_a)

    push_raw(link_b, [invitation("edge-b", LEARNER)])
    assert [row for row in audit(hub) if row[0] == "edge-b"] == \
        [("edge-b", LEARNER, "confined")]
    with hub.store() as store:
        assert "held by edge-a" in store.audit("edge-b")[0].detail
    push_raw(link_b, [forged("edge-b", LEARNER, "met")])
    assert [row for row in audit(hub) if row[0] == "edge-b"] == \
        [("edge-b", LEARNER, "confined")]
    assert [e for e in pull_raw(link_b) if e["edge"] == "edge-a"] == []


def test_an_edge_that_invited_a_number_before_its_learner_came_elsewhere_is_audited(
        hub, edges):
    """Invited while nobody held the number, then served on another edge: the inviting
    edge's next event of the learner, outside its region, goes on the audit."""
    a, _ = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "GH")
    push_raw(link_b, [invitation("edge-b", LEARNER)])
    assert [row for row in audit(hub) if row[0] == "edge-b"] == []  # nobody held it
    a_learner_of_edge_a(a, link_a)

    push_raw(link_b, [forged("edge-b", LEARNER, "met")])
    assert [row for row in audit(hub) if row[0] == "edge-b"] == \
        [("edge-b", LEARNER, "confined")]
    push_raw(link_b, [forged("edge-b", LEARNER, "met")])
    assert len([row for row in audit(hub) if row[0] == "edge-b"]) == 1
    assert [e for e in pull_raw(link_b) if e["edge"] == "edge-a"] == []
