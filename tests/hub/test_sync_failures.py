"""An edge syncing with a hub that fails it: answers that are not the protocol's, error
pages from proxies, bad gzip, a revoked edge, events too large for one push; and the
background loop of `learnline worker` that keeps syncing through all of it. What the hub
did not acknowledge stays waiting on the edge, and the edge says why in its last error."""

from __future__ import annotations

import gzip
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.hub import routes as hub_routes
from gateway.store import Store
from gateway.store import events as edge_events
from gateway.sync import packs
from gateway.sync.client import EdgeLink, SyncError, sync_once
from gateway.sync.loop import SyncLoop
from gateway.sync.protocol import EVENTS_PATH, MAX_BODY, MAX_COMPRESSED_BODY, bearer
from tests.fakes.scripted_hub import ScriptedHub
from tests.hub.test_sync_protocol import Hub, link

LEARNER = "+254711000111"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A real hub on SQLite, served on loopback."""
    served = Hub(tmp_path, str(tmp_path / "hub.db"))
    yield served
    served.server.shutdown()
    served.server.server_close()
    hub_routes.close_pool(served.app)


@pytest.fixture
def scripted() -> Iterator[ScriptedHub]:
    with ScriptedHub() as fake:
        yield fake


@pytest.fixture
def edge_store(db_path: Path, monkeypatch) -> Iterator[Store]:
    monkeypatch.setenv("LEARNLINE_EDGE_ID", "edge-a")
    with Store.open(db_path) as store:
        yield store


def record(store: Store, count: int, data_chars: int = 8) -> None:
    """`count` events of one learner, each with `data_chars` random hex characters."""
    with store.write():
        for _ in range(count):
            edge_events.record(store, LEARNER, "name_set",
                               {"name": secrets.token_hex(data_chars // 2)})


def hub_events(hub: Hub, edge: str = "edge-a") -> int:
    with hub.store() as store:
        return next(e.events for e in store.edges() if e.edge_id == edge)


def last_error(store: Store) -> str:
    return edge_events.sync_value(store, "last_error") or ""


# -- pushing ---------------------------------------------------------------------------------


def test_events_too_large_for_one_push_go_over_in_smaller_batches(hub: Hub, edge_store: Store):
    # 200 events of 3 kB (hex: about half that compressed) are some 300 kB in one push, far
    # past the hub's 64 KiB request limit: the edge halves its batches until each fits.
    record(edge_store, 200, data_chars=3000)
    report = sync_once(edge_store, link(hub), trusted_keys=[hub.public])
    assert report.pushed == 200 and report.rejected == 0
    assert report.push_batches >= 4
    assert report.bytes_sent <= report.push_batches * MAX_COMPRESSED_BODY
    assert hub_events(hub) == 200
    assert edge_events.unpushed_count(edge_store) == 0


def test_events_the_hub_rejects_are_logged_and_not_sent_again(hub: Hub, edge_store: Store,
                                                                caplog):
    # The hub keeps at most 4 kB of data an event: one of 5 kB is rejected with its reason,
    # the others of its batch are stored, and the round goes on.
    record(edge_store, 2)
    record(edge_store, 1, data_chars=5000)
    edge = link(hub)
    with caplog.at_level(logging.ERROR, logger="gateway.sync.client"):
        report = sync_once(edge_store, edge, trusted_keys=[hub.public])
    assert (report.pushed, report.rejected) == (2, 1)
    assert "pushed 2 events (1 batches, 1 rejected)" in report.summary()
    assert any("the hub rejected event" in r.getMessage() and "4096" in r.getMessage()
               for r in caplog.records)
    assert hub_events(hub) == 2
    assert edge_events.unpushed_count(edge_store) == 0
    assert sync_once(edge_store, edge, trusted_keys=[hub.public]).push_batches == 0


def test_a_revoked_edge_keeps_its_events_and_says_why(hub: Hub, edge_store: Store):
    edge = link(hub)
    record(edge_store, 3)
    with hub.store() as store:
        store.revoke_edge("edge-a")
    with pytest.raises(SyncError, match="push: hub answered 403 unknown or revoked edge"):
        sync_once(edge_store, edge, trusted_keys=[hub.public])
    assert "403 unknown or revoked edge" in last_error(edge_store)
    assert edge_events.unpushed_count(edge_store) == 3
    assert edge_events.sync_value(edge_store, "last_success_at") is None


@pytest.mark.parametrize(("status", "body", "headers", "said"), [
    # A captive portal or a proxy answering in the hub's place.
    (200, b"<html><body>Log in to the Wi-Fi</body></html>", {"Content-Type": "text/html"},
     "push: the hub's answer is not JSON"),
    (200, b"[1, 2]", {}, "push: the hub's answer is not a JSON object"),
    # An older or another service's JSON.
    (200, b'{"ok": true}', {}, "push: the hub's answer is not the protocol's (an older hub?)"),
    (200, b'{"acknowledged": "all"}', {},
     "push: the hub's answer is not the protocol's (an older hub?)"),
    # Fewer acknowledged than sent: nothing may be marked as pushed.
    (200, b'{"acknowledged": 1, "rejected": []}', {},
     "push: the hub acknowledged 1 of 2 events"),
    (502, b"<html><h1>502 Bad Gateway</h1></html>", {"Content-Type": "text/html"},
     "push: hub answered 502 <html><h1>502 Bad Gateway</h1></html>"),
    (503, b'{"error": "down for maintenance"}', {},
     "push: hub answered 503 down for maintenance"),
    (503, b'["not", "an", "object"]', {}, 'push: hub answered 503 ["not", "an", "object"]'),
    # Says gzip, is not: the HTTP client cannot read it.
    (200, b"\x1f\x8b\x08\x00not gzip at all", {"Content-Encoding": "gzip"},
     "hub unreachable: ContentDecodingError"),
])
def test_a_push_the_hub_answers_wrongly_leaves_the_events_waiting(
        scripted: ScriptedHub, edge_store: Store, status, body, headers, said):
    record(edge_store, 2)
    scripted.answer_next(status, body, **{k.replace("-", "_"): v for k, v in headers.items()})
    edge = EdgeLink(scripted.url, "edge-a", "token")
    with pytest.raises(SyncError) as raised:
        sync_once(edge_store, edge, trusted_keys=[])
    assert str(raised.value) == said
    # The edge's own record keeps the detail an operator needs (the hub's said, or the
    # HTTP client's error in full).
    unreachable = said.startswith("hub unreachable: ")
    noted = said.removeprefix("hub unreachable: ") + ": " if unreachable else said
    assert last_error(edge_store).startswith(noted)
    assert edge_events.unpushed_count(edge_store) == 2
    assert scripted.requests == [("POST", EVENTS_PATH)]  # no pull after a failed push
    # The next round, against a hub that answers right, pushes them and clears the error.
    scripted.answer_next(200, b'{"acknowledged": 2, "rejected": []}')
    report = sync_once(edge_store, edge, trusted_keys=[])
    assert report.pushed == 2 and last_error(edge_store) == ""
    assert edge_events.unpushed_count(edge_store) == 0


@pytest.mark.parametrize(("body", "said"), [
    (b'{"events": {"id": 1}, "next": 3}', "pull: the hub's answer is not the protocol's"),
    (b'{"events": [], "next": "3"}', "pull: the hub's answer is not the protocol's"),
    (b"null", "pull: the hub's answer is not a JSON object"),
])
def test_a_pull_the_hub_answers_wrongly_moves_no_cursor(scripted: ScriptedHub,
                                                        edge_store: Store, body, said):
    scripted.answer_next(200, body)
    with pytest.raises(SyncError, match=said):
        sync_once(edge_store, EdgeLink(scripted.url, "edge-a", "token"), trusted_keys=[])
    assert edge_events.sync_value(edge_store, "pull_cursor") is None
    assert scripted.requests == [("GET", f"{EVENTS_PATH}?after=0&limit=500")]


def test_a_pack_the_hub_cannot_serve_fails_the_round_with_its_reason(scripted: ScriptedHub,
                                                                     edge_store: Store):
    scripted.answer_next(200, b'{"events": [], "next": 0, "more": false}')
    scripted.answer_next(500, b'{"error": "pack store unavailable"}')
    with pytest.raises(SyncError, match="pack: hub answered 500 pack store unavailable"):
        sync_once(edge_store, EdgeLink(scripted.url, "edge-a", "token"), trusted_keys=[])
    assert last_error(edge_store) == "pack: hub answered 500 pack store unavailable"
    assert not Path(edge_store.path + ".pack.part").exists()


def test_a_link_that_is_down_is_named_without_its_details(edge_store: Store):
    from tests.ports import free_port

    edge = EdgeLink(f"http://127.0.0.1:{free_port()}", "edge-a", "token")
    record(edge_store, 1)
    with pytest.raises(SyncError, match=r"^hub unreachable: ConnectionError$"):
        sync_once(edge_store, edge, trusted_keys=[])
    assert last_error(edge_store).startswith("ConnectionError: ")
    assert edge_events.unpushed_count(edge_store) == 1


# -- what the hub refuses from an edge --------------------------------------------------------


@pytest.mark.parametrize(("body", "encoding", "status", "said"), [
    (b"\x1f\x8bnot gzip", "gzip", 400, "the body is not valid gzip"),
    (gzip.compress(b" " * (MAX_BODY + 10), mtime=0), "gzip", 400,
     f"the body inflates past {MAX_BODY} bytes"),
    (b"{not json", None, 400, "the body is not JSON"),
    (b'{"events": [' + b"1" * 5000 + b"]}", None, 400, "the body is not JSON"),  # 5,000 digits
    (gzip.compress(b"[" * 100_000 + b"]" * 100_000, mtime=0), "gzip", 400,
     "the body is not JSON"),  # nested past Python's recursion limit
    (b'{"events": "all of them"}', None, 400, "field 'events' is missing or not a list"),
    (gzip.compress(b'{"events": [' + b",".join([b"{}"] * 1001) + b"]}", mtime=0), "gzip", 413,
     "at most 1000 events a batch"),
])
def test_the_hub_refuses_a_push_it_cannot_read_and_stores_nothing(hub: Hub, body, encoding,
                                                                  status, said):
    edge = link(hub)
    headers = {"Authorization": bearer("edge-a", edge.token),
               "Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    answer = requests.post(hub.url + EVENTS_PATH, data=body, headers=headers, timeout=10)
    assert (answer.status_code, answer.json()) == (status, {"error": said})
    assert hub_events(hub) == 0


@pytest.mark.parametrize("params", [
    {"after": "yesterday"},
    {"after": "99999999999999999999"},  # more than a stored cursor can be
    {"after": "9" * 4301},  # more digits than Python reads
    {"limit": "9" * 4301},
    {"after": "-1"},
])
def test_the_hub_refuses_a_pull_with_a_cursor_that_is_no_number(hub: Hub, params):
    edge = link(hub)
    answer = requests.get(hub.url + EVENTS_PATH, params=params,
                          headers={"Authorization": bearer("edge-a", edge.token)}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": "'after' and 'limit' are whole numbers"}


# -- the background loop ---------------------------------------------------------------------


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_the_loop_pushes_in_the_background_and_logs_what_moved(hub: Hub, db_path: Path,
                                                               edge_store: Store, caplog):
    record(edge_store, 5)
    loop = SyncLoop(db_path, link(hub), interval=0.1)
    with caplog.at_level(logging.INFO, logger="gateway.sync.loop"):
        loop.start()
        try:
            wait_for(lambda: hub_events(hub) == 5)
            record(edge_store, 2)  # recorded while the loop runs: the next round takes them
            wait_for(lambda: hub_events(hub) == 7)
        finally:
            loop.stop()
    assert loop.failures == 0
    said = [r.getMessage() for r in caplog.records if r.name == "gateway.sync.loop"]
    assert any(line.startswith("sync: pushed 5 events") for line in said)
    assert any(line.startswith("sync: pushed 2 events") for line in said)
    assert not any("pushed 0 events" in line for line in said)  # idle rounds stay quiet


def test_the_loop_counts_failures_in_a_row_and_recovers(scripted: ScriptedHub, db_path: Path,
                                                        edge_store: Store, caplog):
    record(edge_store, 1)
    scripted.answer_next(503, b'{"error": "starting"}')
    scripted.answer_next(503, b'{"error": "starting"}')
    scripted.answer_next(200, b'{"acknowledged": 1, "rejected": []}')
    loop = SyncLoop(db_path, EdgeLink(scripted.url, "edge-a", "token"), interval=0.05,
                    max_backoff=0.2)
    with caplog.at_level(logging.WARNING, logger="gateway.sync.loop"):
        loop.start()
        try:
            wait_for(lambda: edge_events.unpushed_count(edge_store) == 0)
        finally:
            loop.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[:2] == [
        f"sync with {scripted.url} failed (1 in a row): push: hub answered 503 starting",
        f"sync with {scripted.url} failed (2 in a row): push: hub answered 503 starting",
    ]
    assert loop.failures == 0


def test_a_round_that_crashes_does_not_end_syncing(scripted: ScriptedHub, db_path: Path,
                                                   edge_store: Store, caplog):
    # The edge's database refuses to keep the pull cursor (a fault, not a hub's answer):
    # the round is logged with its trace, and the loop goes on once the fault is gone.
    with edge_store.write():
        edge_store.db.conn.execute(
            "CREATE TRIGGER refuse_cursor BEFORE INSERT ON sync_state "
            "WHEN NEW.name = 'pull_cursor' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    loop = SyncLoop(db_path, EdgeLink(scripted.url, "edge-a", "token"), interval=0.05,
                    max_backoff=0.1)
    with caplog.at_level(logging.WARNING, logger="gateway.sync.loop"):
        loop.start()
        try:
            wait_for(lambda: loop.failures >= 2)
            with edge_store.write():
                edge_store.db.conn.execute("DROP TRIGGER refuse_cursor")
            wait_for(lambda: edge_events.sync_value(edge_store, "pull_cursor") == "0")
        finally:
            loop.stop()
    crashes = [r for r in caplog.records if r.getMessage() == "sync round crashed"]
    assert crashes and all(r.levelno == logging.ERROR and r.exc_info for r in crashes)
    assert "disk trouble" in str(crashes[0].exc_info[1])
    wait_for(lambda: loop.failures == 0, seconds=1)


def test_learnline_worker_syncs_with_the_configured_hub(hub: Hub, tmp_path: Path,
                                                        db_path: Path, carriers_file: Path,
                                                        edge_store: Store):
    edge = link(hub)
    record(edge_store, 4)
    env = {**os.environ, "LEARNLINE_DB": str(db_path), "LEARNLINE_CARRIERS": str(carriers_file),
           "LEARNLINE_HUB_URL": hub.url + "/", "LEARNLINE_EDGE_ID": "edge-a",
           "LEARNLINE_EDGE_TOKEN": edge.token, "LEARNLINE_SYNC_SECONDS": "5"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    said = tmp_path / "worker.log"
    try:
        # The round's line comes once it is over (pushed, pulled, asked for a pack).
        wait_for(lambda: "sync: pushed" in said.read_text() or worker.poll() is not None,
                 seconds=60)
        assert worker.poll() is None, said.read_text()
    finally:
        worker.terminate()
        worker.wait(60)
        log.close()
    assert "sync: pushed 4 events (1 batches)" in said.read_text()
    assert hub_events(hub) == 4
    assert edge_events.unpushed_count(edge_store) == 0


# -- a pack download that finished but was not installed ---------------------------------------


def test_a_whole_pack_on_disk_that_was_not_installed_is_installed_next_round(
        hub: Hub, edge_store: Store):
    # The round downloads the whole pack, then the edge's database refuses the install
    # (a fault, not a bad pack): the file stays on disk for the next round. Asking the hub
    # for the rest of a file that is already whole must not fail every round after.
    data = hub.publish(version=4)
    edge = link(hub)
    with edge_store.write():
        edge_store.db.conn.execute(
            "CREATE TRIGGER refuse_pack BEFORE INSERT ON settings WHEN NEW.name = 'pack' "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):
        sync_once(edge_store, edge, trusted_keys=[hub.public])
    partial = Path(edge_store.path + ".pack.part")
    assert partial.read_bytes() == data
    with edge_store.write():
        edge_store.db.conn.execute("DROP TRIGGER refuse_pack")
    report = sync_once(edge_store, edge, trusted_keys=[hub.public])
    assert report.pack.startswith("installed version 4")
    assert packs.installed_pack(edge_store) == (4, packs.read_pack(data).digest)
    assert not partial.exists()
    assert report.bytes_received < len(data)  # nothing of the pack came over the link again


def test_an_older_hub_keeps_no_programs_messages_and_the_round_goes_on(
        scripted: ScriptedHub, edge_store: Store, caplog):
    # Two messages of a program's course: the edge offers the hub today's figures. An
    # older hub answers as it always did (no "spends" count): nothing is marked as kept,
    # the round goes on to pull and pack, and the next round offers them again.
    from gateway.config import load_carriers
    with edge_store.write():
        for text in ("Lesson 1", "Lesson 2"):
            edge_store.enqueue("console", LEARNER, text, kind="lesson", program="orange")
    edge = EdgeLink(scripted.url, "edge-a", "token")
    with caplog.at_level(logging.INFO, logger="gateway.sync.client"):
        report = sync_once(edge_store, edge, trusted_keys=[], carriers=load_carriers(env={}))
    assert report.spends == 0 and report.pack == "none on the hub"
    assert scripted.requests == [("POST", EVENTS_PATH), ("GET", f"{EVENTS_PATH}?after=0"
                                                         "&limit=500"), ("GET", "/sync/v1/pack")]
    assert "the hub keeps no programs' messages (an older hub)" in caplog.text
    sync_once(edge_store, edge, trusted_keys=[], carriers=load_carriers(env={}))
    assert [r for r in scripted.requests if r[0] == "POST"] == [("POST", EVENTS_PATH)] * 2
