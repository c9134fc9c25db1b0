"""Research exports on a hub (`learnline export --hub`, docs/integrations.md): every edge's
events, from the hub's store on each backend, learners under the same pseudonyms as on the
edges (one key everywhere), a learner erased on the hub left out, and so is an invitation
to a number that never joined. A real hub app on loopback, real edge databases fed by
signed webhooks and synced with it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.main import main
from gateway.hub import routes as hub_routes
from gateway.ops.research_export import COLUMNS
from gateway.pseudonyms import pseudonym
from tests.hub.test_confinement import LEARNER, OTHER, Edge, hub_cli, register
from tests.hub.test_sync_protocol import Hub

GONE = "+2348031110003"
INVITED = "+2348031110004"  # invited to a cohort, never joined
KEY = "research-export-pseudonym-key-0123456789"


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
    monkeypatch.setenv("LEARNLINE_PSEUDONYM_KEY", KEY)  # the same on every edge and the hub
    return (Edge(tmp_path / "a", "edge-a", carriers_file, monkeypatch),
            Edge(tmp_path / "b", "edge-b", carriers_file, monkeypatch))


def export(database: Path, *args: str, hub: Hub | None = None) -> list[dict[str, str]]:
    env = {"LEARNLINE_DB": str(database)}
    if hub is not None:
        env["LEARNLINE_HUB_DATABASE_URL"] = hub.app.config["HUB_DATABASE_URL"]
    result = CliRunner().invoke(main, ["export", "-o", "-", *args], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == list(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def test_the_hub_exports_every_edges_events_under_the_edges_pseudonyms(hub, edges,
                                                                       tmp_path):
    a, b = edges
    link_a = register(hub, "edge-a", "--country", "NG")
    link_b = register(hub, "edge-b", "--country", "NG")
    a.sms(LEARNER, "START", "NEXT", "NEXT")
    a.sms(GONE, "START")
    b.sms(OTHER, "START", "NEXT")
    a.sync(link_a)
    b.sync(link_b)
    invitation = {"id": "0195618c5a40e3b0c4a1d2f7a9b8c6d7", "edge": "edge-b",
                  "learner": INVITED, "kind": "program_invited", "at": 1741082400.0,
                  "data": {"program": "orange", "cohort": "c" * 32, "course": "orange-1"}}
    with hub.store() as store:  # a cohort's invitation, as edge B pushes it
        assert store.ingest("edge-b", [invitation]).stored == 1
    from_a = export(a.db)  # before the erasure reaches edge A
    hub_cli(hub, "erase", "--yes", GONE)

    rows = export(tmp_path / "hub-gateway.db", "--hub", hub=hub)
    assert {r["edge"] for r in rows} == {"edge-a", "edge-b"}
    assert {r["learner"] for r in rows} == {pseudonym(KEY, LEARNER), pseudonym(KEY, OTHER)}
    assert [r for r in rows if r["edge"] == "edge-a"] == [
        r for r in from_a if r["learner"] == pseudonym(KEY, LEARNER)]
    assert {"met", "enrolled", "card_reached"} <= {r["kind"] for r in rows
                                                   if r["edge"] == "edge-b"}
    text = "\n".join(",".join(r.values()) for r in rows)
    assert "program_invited" not in {r["kind"] for r in rows}
    for phone in (LEARNER, OTHER, GONE, INVITED):
        assert phone[1:] not in text
    with hub.store() as store:
        held = sum(1 for _ in store.export_rows())
        assert held == len(rows)
        assert list(store.export_rows(page=2)) == list(store.export_rows())

    only_b = export(tmp_path / "hub-gateway.db", "--hub", "--course", "start-freelancing",
                    hub=hub)
    assert only_b and all(r["course"] == "start-freelancing" for r in only_b)


def test_without_a_hub_database_the_hub_export_says_so(tmp_path, db_path, monkeypatch):
    monkeypatch.delenv("LEARNLINE_HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("LEARNLINE_HUB_DB", str(tmp_path / "nowhere" / "hub.db"))
    result = CliRunner().invoke(main, ["export", "--hub", "-o", str(tmp_path / "x.csv")],
                                env={"LEARNLINE_DB": str(db_path)})
    assert result.exit_code == 1
    assert result.output == (f"Error: --hub: no hub database at {tmp_path}/nowhere/hub.db "
                             "(set LEARNLINE_HUB_DATABASE_URL or LEARNLINE_HUB_DB)\n")
