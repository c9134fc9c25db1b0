"""The hub operator's commands where the other tests do not go: listing no edges,
revoking an edge (and one that does not exist), erasing a number the hub never held,
publishing a pack that is damaged or not newer; and `learnline sync` on an edge with no
hub configured."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.main import main
from gateway.hub.store import open_hub_store
from gateway.paths import lessons_dir
from gateway.sync import packs


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LEARNLINE_HUB_DATABASE_URL": str(tmp_path / "hub.db"),
            "LEARNLINE_DB": str(tmp_path / "gateway.db")}


def hub(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["hub", *args], env=env)


def test_edges_on_a_new_hub_says_how_to_add_one(env):
    done = hub(env, "edges")
    assert (done.exit_code, done.output) == (0, "no edges: add one with `learnline hub "
                                                 "add-edge ID`\n")


def test_revoke_edge_stops_its_token_and_names_an_unknown_edge(env):
    assert hub(env, "add-edge", "lagos-1", "--country", "NG").exit_code == 0
    done = hub(env, "revoke-edge", "lagos-1")
    assert (done.exit_code, done.output) == (0, "revoked lagos-1\n")
    assert "lagos-1\trevoked\t" in hub(env, "edges").output
    missing = hub(env, "revoke-edge", "abuja-2")
    assert missing.exit_code == 1
    assert "no edge 'abuja-2' (see `learnline hub edges`)" in missing.output


def test_erase_of_a_number_the_hub_never_held_says_edges_still_erase_it(env):
    done = hub(env, "erase", "+2348030000009", "--yes")
    assert done.exit_code == 0
    assert done.output == ("erased +2348030000009: the hub held no events of it; an edge "
                           "that knows the number erases it on its next sync\n")
    bad = hub(env, "erase", "not a number", "--yes")
    assert bad.exit_code == 2 and "PHONE" in bad.output


def test_set_edge_will_not_both_confine_and_give_a_region(env):
    assert hub(env, "add-edge", "lagos-1", "--country", "NG").exit_code == 0
    done = hub(env, "set-edge", "lagos-1", "--confine", "--country", "NG")
    assert done.exit_code == 2
    assert "--confine with --country or --prefix: choose one" in done.output


def test_publish_refuses_a_damaged_pack_and_one_not_newer(env, tmp_path: Path):
    key = packs.generate_key()
    env = {**env, packs.TRUSTED_KEYS_ENV: base64.b64encode(packs.public_key_bytes(key)).decode()}
    newer = tmp_path / "v5.llpack"
    newer.write_bytes(packs.build_pack(lessons_dir(), key, version=5))
    assert hub(env, "publish", str(newer)).exit_code == 0
    older = tmp_path / "v4.llpack"
    older.write_bytes(packs.build_pack(lessons_dir(), key, version=4))
    done = hub(env, "publish", str(older))
    assert done.exit_code == 1
    assert f"{older}: version 4 is not newer than the published version 5" in done.output
    damaged = tmp_path / "cut.llpack"
    damaged.write_bytes(newer.read_bytes()[:-100])
    done = hub(env, "publish", str(damaged))
    assert done.exit_code == 1
    assert f"{damaged}: tampered: the payload does not match the digest" in done.output
    with open_hub_store(env["LEARNLINE_HUB_DATABASE_URL"]) as store:
        assert store.latest_pack().version == 5


def test_sync_without_a_hub_says_what_to_set(env):
    done = CliRunner().invoke(main, ["sync"], env={**env, "LEARNLINE_HUB_URL": ""})
    assert done.exit_code == 1
    assert ("no hub configured: set LEARNLINE_HUB_URL, LEARNLINE_EDGE_ID and "
            "LEARNLINE_EDGE_TOKEN") in done.output
    half = CliRunner().invoke(main, ["sync"], env={**env, "LEARNLINE_HUB_URL": "http://h",
                                                    "LEARNLINE_EDGE_ID": "lagos-1",
                                                    "LEARNLINE_EDGE_TOKEN": ""})
    assert half.exit_code == 1
    assert "LEARNLINE_HUB_URL is set but LEARNLINE_EDGE_TOKEN is not" in half.output


def test_hub_backup_copies_the_edges_and_their_tokens_and_refuses_what_it_cannot(
        env, tmp_path: Path):
    """The gateway's `backup` leaves the hub's store out: `hub backup` copies it whole (an
    edge's token still works against the copy), owner-only, and never over the live
    files; a hub on PostgreSQL is told to use pg_dump."""
    assert hub(env, "add-edge", "lagos-1", "--country", "NG").exit_code == 0
    with open_hub_store(env["LEARNLINE_HUB_DATABASE_URL"]) as live:
        live.migrate()
        token = live.add_edge("abuja-2")
    target = tmp_path / "hub-backup.db"
    done = hub(env, "backup", str(target))
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"hub backup: {target} (") and "integrity ok" in done.output
    assert "2 edges" in done.output
    assert target.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("hub-backup.db.partial*"))
    with open_hub_store(str(target)) as copy:
        assert {edge.edge_id for edge in copy.edges()} == {"lagos-1", "abuja-2"}
        assert copy.authenticate("abuja-2", token)
    for live_file in ("hub.db", "hub.db-wal"):
        refused = hub(env, "backup", str(tmp_path / live_file))
        assert refused.exit_code == 1 and "one of the live database's files" in refused.output
    missing = hub({**env, "LEARNLINE_HUB_DATABASE_URL": str(tmp_path / "nope.db")},
                  "backup", str(tmp_path / "b.db"))
    assert missing.exit_code == 1 and "nope.db: no such database" in missing.output
    assert not (tmp_path / "nope.db").exists()
    postgres = hub({**env, "LEARNLINE_HUB_DATABASE_URL": "postgresql://u:secret@db/hub"},
                   "backup", str(tmp_path / "b.db"))
    assert postgres.exit_code == 1 and "pg_dump" in postgres.output
    assert "secret" not in postgres.output


def test_a_hub_command_on_a_gateway_that_is_no_hub_makes_no_hub_store(tmp_path: Path):
    """Run on an edge by mistake, `hub edges` says this is no hub instead of making an
    empty hub.db beside the edge's database; on the hub (LEARNLINE_ROLE=hub) it works."""
    edge = {"LEARNLINE_DB": str(tmp_path / "gateway.db"), "LEARNLINE_ROLE": "edge"}
    done = hub(edge, "edges")
    assert done.exit_code == 1
    assert "this gateway is not a hub" in done.output and "LEARNLINE_ROLE=hub" in done.output
    assert not (tmp_path / "hub.db").exists()
    on_hub = hub({**edge, "LEARNLINE_ROLE": "hub"}, "edges")
    assert on_hub.exit_code == 0 and "no edges" in on_hub.output
    assert (tmp_path / "hub.db").exists()
    assert hub(edge, "edges").exit_code == 0  # a hub store made here is this gateway's
