"""Carrier independence: how long carrier B's replies wait while carrier A's API hangs.

Two Twilio carriers, each on its own loopback fake Messages API (tests/fakes/twilio_api.py,
in this process); A comes first in the carriers file. A running `learnline worker` (a
subprocess, on a fresh database) gets, in one transaction, `--a` messages for A and `--b`
replies for B (B's `tps` is `--tps`). Each B reply's delay runs from that commit to B's
API accepting it. Two runs: A healthy (B's normal pace, the reference), then A's API
holding every request for `--hang` seconds (Twilio's client gives up after 15 s; the
worker then retries later).

    python bench/carrier_hang.py [--hang 60] [--a 3] [--b 5] [--tps 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"


def carriers_toml(a_url: str, b_url: str, tps: float) -> str:
    def one(carrier_id: str, url: str, rate: float) -> str:
        return f"""
[carriers.{carrier_id}]
adapter = "twilio"
sender = "+15005550006"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{BENCH_TWILIO_AUTH_TOKEN}}"
api_base_url = "{url}"
public_url = "https://learnline.example.org"
tps = {rate}
"""
    return one("a", a_url, 200) + one("b", b_url, tps)


def run(hang: float, a_count: int, b_count: int, tps: float) -> list[float]:
    """Delays (seconds) of B's replies, in order, with A's API hanging `hang` s (0: not)."""
    from gateway.store import Store
    from tests.fakes.twilio_api import FakeTwilioApi

    with tempfile.TemporaryDirectory() as tmp, FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as a, \
            FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as b:
        if hang:
            a.delay_next(hang, times=1000)
        db = Path(tmp) / "hang.db"
        carriers = Path(tmp) / "carriers.toml"
        carriers.write_text(carriers_toml(a.url, b.url, tps))
        env = {**os.environ, "LEARNLINE_DB": str(db), "LEARNLINE_CARRIERS": str(carriers),
               "BENCH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while True:  # the worker is up once it has beaten
                assert worker.poll() is None, "the worker ended"
                assert time.time() < deadline, "the worker did not start"
                try:
                    with sqlite3.connect(db) as conn:
                        if conn.execute("SELECT 1 FROM settings "
                                        "WHERE name = 'heartbeat:worker'").fetchone():
                            break
                except sqlite3.Error:
                    pass
                time.sleep(0.1)
            with Store.open(db) as store, store.write():
                for n in range(a_count):
                    store.enqueue("a", f"+23480300001{n:02d}", f"to A {n}")
                for n in range(b_count):
                    store.enqueue("b", f"+23480300002{n:02d}", f"to B {n}")
            queued = time.time()
            deadline = queued + max(120.0, 4 * 15 * (a_count + b_count))
            while len(b.messages) < b_count:
                assert time.time() < deadline, f"B got {len(b.messages)} of {b_count}"
                time.sleep(0.02)
            return [m["accepted_at"] - queued for m in b.messages]
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hang", type=float, default=60.0)
    parser.add_argument("--a", type=int, default=3, help="messages queued for A")
    parser.add_argument("--b", type=int, default=5, help="replies queued for B")
    parser.add_argument("--tps", type=float, default=5.0, help="B's tps")
    args = parser.parse_args()
    for label, hang in (("A healthy", 0.0), (f"A hangs {args.hang:g} s", args.hang)):
        delays = run(hang, args.a, args.b, args.tps)
        print(f"{label:>14}: B's {len(delays)} replies waited median "
              f"{statistics.median(delays):.2f} s, longest {max(delays):.2f} s "
              f"({', '.join(f'{d:.2f}' for d in delays)})", flush=True)


if __name__ == "__main__":
    main()
