"""The sync protocol between an edge and a real hub app served on loopback: credentials
and revocation, resuming a cut pack download with Range, the sync lag on /healthz, and
the worker's backoff."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from gateway import create_app
from gateway.hub import routes as hub_routes
from gateway.store import Store
from gateway.sync import packs
from gateway.sync.client import EdgeLink, SyncError, sync_once
from gateway.sync.loop import SyncLoop
from gateway.sync.protocol import EVENTS_PATH, PACK_PATH, bearer
from tests.conftest import TwilioWebhooks
from tests.fakes.flaky_proxy import FlakyProxy

ROOT = Path(__file__).resolve().parents[2]


class Hub:
    """The hub app (LEARNLINE_ROLE=hub) on a real loopback server in a thread, noting
    the Range header of every pack request it serves."""

    def __init__(self, folder: Path, hub_url: str):
        self.key = packs.generate_key()
        self.public = packs.public_key_bytes(self.key)
        self.app = create_app({"DATABASE": str(folder / "hub-gateway.db"),
                               "ROLE": "hub", "HUB_DATABASE_URL": hub_url,
                               "SECRET_KEY": "hub-secret"})
        self.ranges: list[str | None] = []
        inner = self.app.wsgi_app

        def noting(environ, start_response):
            if environ.get("PATH_INFO") == PACK_PATH:
                self.ranges.append(environ.get("HTTP_RANGE"))
            return inner(environ, start_response)

        self.app.wsgi_app = noting
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # shutdown waits for the next poll

    def store(self):
        from gateway.hub.store import open_hub_store

        hub = open_hub_store(self.app.config["HUB_DATABASE_URL"])
        hub.migrate()
        return hub

    def publish(self, version: int) -> bytes:
        data = packs.build_pack(ROOT / "lessons", self.key, version=version)
        with self.store() as hub:
            hub.put_pack(data, version, packs.read_pack(data).digest)
        return data


@pytest.fixture
def hub(tmp_path: Path, hub_url: str) -> Iterator[Hub]:
    served = Hub(tmp_path, hub_url)
    yield served
    served.server.shutdown()
    served.server.server_close()
    hub_routes.close_pool(served.app)


@pytest.fixture
def edge_store(db_path: Path, monkeypatch) -> Iterator[Store]:
    monkeypatch.setenv("LEARNLINE_EDGE_ID", "edge-a")
    with Store.open(db_path) as store:
        yield store


def link(hub: Hub, url: str | None = None, edge: str = "edge-a") -> EdgeLink:
    with hub.store() as store:
        token = store.add_edge(edge)
    return EdgeLink(url or hub.url, edge, token)


def test_every_call_needs_the_edges_own_valid_token(hub: Hub, edge_store: Store):
    edge = link(hub)
    assert requests.get(hub.url + EVENTS_PATH, timeout=10).status_code == 401
    wrong = {"Authorization": bearer("edge-a", "not-the-token")}
    assert requests.get(hub.url + EVENTS_PATH, headers=wrong, timeout=10).status_code == 403
    assert requests.get(hub.url + PACK_PATH, headers=wrong, timeout=10).status_code == 403
    right = {"Authorization": bearer("edge-a", edge.token)}
    assert requests.get(hub.url + EVENTS_PATH, headers=right, timeout=10).status_code == 200
    sync_once(edge_store, edge, trusted_keys=[hub.public])
    with hub.store() as store:
        store.revoke_edge("edge-a")
    with pytest.raises(SyncError, match="403"):
        sync_once(edge_store, edge, trusted_keys=[hub.public])


def test_a_pack_download_cut_mid_way_resumes_with_range(hub: Hub, edge_store: Store):
    data = hub.publish(version=7)
    with FlakyProxy(hub.port, seed=3) as proxy:
        edge = link(hub, proxy.url)
        partial = Path(edge_store.path + ".pack.part")
        proxy.cut_rate, proxy.cut_direction = 1.0, "down"  # answers die after a few kB
        for _ in range(10):
            with pytest.raises(SyncError):
                sync_once(edge_store, edge, trusted_keys=[hub.public])
            if partial.exists() and 0 < partial.stat().st_size < len(data):
                break
        kept = partial.stat().st_size
        assert 0 < kept < len(data)
        proxy.cut_rate = 0.0
        report = sync_once(edge_store, edge, trusted_keys=[hub.public])
        assert report.pack.startswith("installed version 7")
        assert hub.ranges[-1] == f"bytes={kept}-"  # only the rest came over the link
        assert packs.installed_pack(edge_store) == (7, packs.read_pack(data).digest)
        assert not partial.exists()
        again = sync_once(edge_store, edge, trusted_keys=[hub.public])
        assert again.pack == "current (version 7)"  # If-None-Match: 304, nothing sent


def test_a_pack_asked_for_by_a_suffix_longer_than_it_comes_whole(hub: Hub):
    data = hub.publish(version=4)
    token = link(hub).token
    auth = {"Authorization": bearer("edge-a", token)}
    tail = requests.get(hub.url + PACK_PATH, timeout=10,
                        headers={**auth, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    longer = requests.get(hub.url + PACK_PATH, timeout=10,
                          headers={**auth, "Range": f"bytes=-{len(data) + 500}"})
    assert longer.status_code == 206  # RFC 9110 14.1.2: the whole representation
    assert longer.content == data
    assert longer.headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    beyond = requests.get(hub.url + PACK_PATH, timeout=10,
                          headers={**auth, "Range": f"bytes={len(data) + 5}-"})
    assert beyond.status_code == 416


def test_a_tampered_pack_is_refused_and_the_download_starts_over(hub: Hub, edge_store: Store):
    data = bytearray(packs.build_pack(ROOT / "lessons", hub.key, version=3))
    data[-10] ^= 0xFF
    with hub.store() as store:
        store.put_pack(bytes(data), 3, packs.read_pack(bytes(data)).digest)
    with pytest.raises(SyncError, match="pack refused"):
        sync_once(edge_store, link(hub), trusted_keys=[hub.public])
    assert packs.installed_pack(edge_store) is None
    assert not Path(edge_store.path + ".pack.part").exists()


def test_healthz_on_an_edge_shows_the_sync_lag(hub: Hub, db_path: Path, carriers_file: Path,
                                              monkeypatch):
    monkeypatch.setenv("LEARNLINE_EDGE_ID", "edge-a")
    edge = link(hub)
    monkeypatch.setenv("LEARNLINE_HUB_URL", hub.url)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "TESTING": True})
    client = app.test_client()
    TwilioWebhooks(client).sms("+2348030000001", "START")
    body = client.get("/healthz").get_data(as_text=True)
    assert body.startswith("ok\n") and "sync: never succeeded yet" in body
    assert "events waiting to be pushed" in body and "sync: 0 events" not in body
    with Store.open(db_path) as store:
        sync_once(store, edge, trusted_keys=[hub.public])
    body = client.get("/healthz").get_data(as_text=True)
    # Just synced: a few seconds at most, however slow the machine.
    assert re.search(r"sync: last success [0-5] s ago", body)
    assert "sync: 0 events waiting" in body


def test_the_worker_backs_off_while_the_link_is_down():
    loop = SyncLoop("unused.db", EdgeLink("http://127.0.0.1:9", "edge-a", "t"), interval=60,
                    max_backoff=3600, rng=random.Random(1))
    assert loop.next_delay() == 60
    delays = []
    for failures in range(1, 9):
        loop.failures = failures
        delays.append(loop.next_delay())
    ceilings = [min(3600, 60 * 2 ** n) for n in range(1, 9)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 3600 and delays[-1] >= 1800


def test_half_a_hub_configuration_is_refused_clearly(monkeypatch):
    monkeypatch.setenv("LEARNLINE_HUB_URL", "https://hub.example.org")
    monkeypatch.delenv("LEARNLINE_EDGE_ID", raising=False)
    monkeypatch.setenv("LEARNLINE_EDGE_TOKEN", "t")
    with pytest.raises(SyncError, match="LEARNLINE_EDGE_ID is not"):
        EdgeLink.from_env()


def test_the_dashboard_shows_the_sync_lag(hub: Hub, db_path: Path, carriers_file: Path,
                                         monkeypatch):
    monkeypatch.setenv("LEARNLINE_EDGE_ID", "edge-a")
    edge = link(hub)
    monkeypatch.setenv("LEARNLINE_HUB_URL", hub.url)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "TESTING": True, "ADMIN_TOKEN": "edge-admin-token-0123456789"})
    TwilioWebhooks(app.test_client()).sms("+2348030000001", "START")
    with Store.open(db_path) as store:
        sync_once(store, edge, trusted_keys=[hub.public])
    page = app.test_client().get(
        "/admin", headers={"Authorization": "Bearer edge-admin-token-0123456789"})
    assert page.status_code == 200
    # Just synced: a few seconds at most, however slow the machine.
    assert re.search(r"sync: last success [0-5] s ago", page.get_data(as_text=True))
    hub.app.config["ADMIN_TOKEN"] = "hub-admin-token-0123456789"
    on_hub = hub.app.test_client().get(
        "/admin", headers={"Authorization": "Bearer hub-admin-token-0123456789"})
    assert on_hub.status_code == 200
    assert re.search(r"edge-a: [1-9]\d* events, 1 learners, last push [0-5] s ago",
                     on_hub.get_data(as_text=True))
