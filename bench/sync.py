"""B10: bytes on the wire to sync 10,000 events and one course pack between an edge and
the hub, and the time it takes, through a counting proxy on loopback.

A hub (`learnline serve`, LEARNLINE_ROLE=hub, SQLite) runs in its own process. Edge A's
learners take the bundled course by signed Twilio webhooks (in this process, on A's
database) until A has recorded `--events` events; A then syncs (push). Edge B meets
every one of those learners (one message each) and syncs: it pulls their history. A
course pack is then published and both edges sync again. Bytes are counted at the TCP
level in both directions (HTTP headers included).

    python bench/sync.py [--events 10000]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result
from bench.server import Served


def _edge(folder: Path, name: str, token: str, hub_url: str, public: str, twilio_url: str):
    from gateway import create_app
    from gateway.content.importer import import_courses
    from gateway.store import Store
    from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml

    folder.mkdir()
    db = folder / "learnline.db"
    with Store.open(db, migrate=True) as store:
        import_courses(store)
    carriers = folder / "carriers.toml"
    carriers.write_text(carriers_toml(twilio_url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 100000\ninbound_per_hour = 100000\n"
                       "block_per_minute = 100000\n"))
    os.environ["TEST_TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    os.environ["LEARNLINE_EDGE_ID"] = name
    app = create_app({"DATABASE": str(db), "CARRIERS_FILE": str(carriers), "TESTING": True})
    from gateway.sync.client import EdgeLink

    return db, TwilioWebhooks(app.test_client()), EdgeLink(hub_url, name, token)


def _drive(db: Path, hooks, events_wanted: int) -> int:
    """Learners take lessons by SMS until the edge holds `events_wanted` events."""
    from gateway.store import Store

    learner = 0
    with Store.open(db) as store:
        while store.db.execute("SELECT count(*) FROM events").fetchone()[0] < events_wanted:
            phone = f"+23480355{learner:05d}"
            learner += 1
            hooks.sms(phone, "START")
            for text in ["NEXT"] * 5 + ["B", "B", "A", "C", "B", "A"] + ["NEXT"] * 5:
                hooks.sms(phone, text)
        return learner


def _sync(db: Path, link, proxy, os_env_edge: str) -> tuple[int, int, float, object]:
    from gateway.store import Store
    from gateway.sync import packs
    from gateway.sync.client import sync_once

    os.environ["LEARNLINE_EDGE_ID"] = os_env_edge
    up, down = proxy.bytes_up, proxy.bytes_down
    started = time.perf_counter()
    with Store.open(db) as store:
        report = sync_once(store, link, trusted_keys=packs.trusted_keys_from_env())
    return (proxy.bytes_up - up, proxy.bytes_down - down, time.perf_counter() - started,
            report)


def run(*, events: int = 10_000) -> list[Result]:
    from gateway.sync import packs
    from tests.fakes.flaky_proxy import FlakyProxy
    from tests.fakes.twilio_api import FakeTwilioApi

    rows: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="learnline-bench-sync-"))
    key = packs.generate_key()
    public = base64.b64encode(packs.public_key_bytes(key)).decode()
    os.environ["LEARNLINE_TRUSTED_PACK_KEYS"] = public
    hub = Served("[carriers.console]\nadapter = \"console\"\n",
                 env={"LEARNLINE_ROLE": "hub", "LEARNLINE_TRUSTED_PACK_KEYS": public})
    with hub, FlakyProxy(hub.port) as proxy, FakeTwilioApi("AC" + "0" * 32, "x") as twilio:
        def learnline(*args: str) -> str:
            return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=hub.env,
                                  capture_output=True, text=True, check=True,
                                  cwd=ROOT).stdout.strip()

        token_a = learnline("hub", "add-edge", "edge-a", "--country", "NG").splitlines()[-1]
        token_b = learnline("hub", "add-edge", "edge-b", "--country", "NG",
                            "--roam-limit", "1000").splitlines()[-1]
        a_db, a_hooks, a_link = _edge(work / "a", "edge-a", token_a, proxy.url, public,
                                      twilio.url)
        started = time.perf_counter()
        learners = _drive(a_db, a_hooks, events)
        print(f"edge A: {learners} learners made its events in "
              f"{time.perf_counter() - started:.1f} s")
        up, down, seconds, report = _sync(a_db, a_link, proxy, "edge-a")
        print(f"push: {report.summary()}")
        rows.append(Result("B10", f"push {report.pushed:,} events, edge to hub (gzip)",
                           f"{up + down:,} B on the wire ({up:,} up, {down:,} down), "
                           f"{(up + down) / max(report.pushed, 1):.0f} B/event, "
                           f"{seconds:.1f} s", "(report)", None))
        b_db, b_hooks, b_link = _edge(work / "b", "edge-b", token_b, proxy.url, public,
                                      twilio.url)
        for n in range(learners):
            b_hooks.sms(f"+23480355{n:05d}", "STATUS")
        up, down, seconds, report = _sync(b_db, b_link, proxy, "edge-b")
        print(f"pull: {report.summary()}")
        rows.append(Result("B10", f"pull {report.pulled:,} events of {learners} roaming "
                           "learners, hub to edge", f"{up + down:,} B on the wire "
                           f"({down:,} down), {seconds:.1f} s", "(report)", None))
        pack_file = work / "course.llpack"
        pack_file.write_bytes(packs.build_pack(ROOT / "lessons", key))
        learnline("hub", "publish", str(pack_file))
        up, down, seconds, report = _sync(a_db, a_link, proxy, "edge-a")
        print(f"pack: {report.summary()}")
        rows.append(Result("B10", f"fetch and install one course pack "
                           f"({pack_file.stat().st_size:,} B file)",
                           f"{up + down:,} B on the wire, {seconds:.2f} s for the round",
                           "(report)", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    for row in run(events=args.events):
        print(f"{row.id} | {row.what} | {row.figure}")


if __name__ == "__main__":
    main()
