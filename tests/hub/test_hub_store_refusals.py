"""What the hub's store refuses, with a message saying what is wanted, before anything
is written: the hub's own id for an edge, a roam limit that is no count, a learner that
is no number, a pull cursor or limit of the wrong kind, a pack that is no pack, a range
before the start, a database URL it cannot open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.hub.store import HubStore, open_hub_store

DIGEST = "ab" * 32


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubStore]:
    store = open_hub_store(str(tmp_path / "hub.db"))
    store.migrate()
    yield store
    store.close()


def test_an_edge_cannot_take_the_hubs_own_id(hub: HubStore):
    with pytest.raises(ValueError, match="edge id 'hub' is the hub's own"):
        hub.add_edge("hub")
    assert hub.edges() == []


@pytest.mark.parametrize("limit", [-1, True, 2.5, "10"])
def test_a_roam_limit_must_be_a_count(hub: HubStore, limit):
    hub.add_edge("edge-a")
    with pytest.raises(ValueError, match=r"^roam_limit: a whole number, 0 or more$"):
        hub.set_edge("edge-a", roam_limit=limit)


@pytest.mark.parametrize("learner", ["2348030000000", "+", "+234 803", "erased:0123"])
def test_the_hub_erases_only_a_phone_number(hub: HubStore, learner):
    with pytest.raises(ValueError, match=r"^learner: an E\.164 number"):
        hub.erase(learner)


def test_a_pull_needs_a_whole_number_cursor_and_a_positive_limit(hub: HubStore):
    hub.add_edge("edge-a")
    with pytest.raises(TypeError, match="after: an int cursor"):
        hub.pull("edge-a", "0")
    with pytest.raises(TypeError, match="after: an int cursor"):
        hub.pull("edge-a", True)
    with pytest.raises((TypeError, ValueError), match="limit"):
        hub.pull("edge-a", 0, limit=0)


@pytest.mark.parametrize(("data", "version", "digest", "error", "message"), [
    ("not bytes", 1, DIGEST, TypeError, "data: bytes"),
    (b"pack", -1, DIGEST, ValueError, "version: a non-negative int"),
    (b"pack", True, DIGEST, ValueError, "version: a non-negative int"),
    (b"pack", 1, "a/b", ValueError, "digest: 1 to 128 of"),
    (b"pack", 1, "", ValueError, "digest: 1 to 128 of"),
])
def test_a_pack_that_is_no_pack_is_not_published(hub: HubStore, data, version, digest, error,
                                                  message):
    with pytest.raises(error, match=message):
        hub.put_pack(data, version, digest)
    assert hub.latest_pack() is None


def test_a_pack_range_before_the_start_is_refused(hub: HubStore):
    hub.put_pack(b"0123456789", 1, DIGEST)
    assert hub.read_pack(DIGEST, 2, 5) == b"234"
    with pytest.raises(ValueError, match="start and end: offsets from 0"):
        hub.read_pack(DIGEST, -1)
    with pytest.raises(ValueError, match="start and end: offsets from 0"):
        hub.read_pack(DIGEST, 0, -3)


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite://hub.db", "a SQLite URL is sqlite:///relative/path or sqlite:////abs/path"),
    ("sqlite:///", "a SQLite URL is sqlite:///relative/path or sqlite:////abs/path"),
    ("mysql://hub", "hub database URL scheme 'mysql': use postgresql://, sqlite:/// or a "
                    "file path"),
])
def test_a_hub_database_url_it_cannot_open_says_what_it_takes(url, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_hub_store(url)


def test_a_sqlite_url_opens_the_file_it_names(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_hub_store("sqlite:///relative-hub.db")
    try:
        store.migrate()
        store.add_edge("edge-a")
    finally:
        store.close()
    assert (tmp_path / "relative-hub.db").exists()
