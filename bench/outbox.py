"""B6: outbox throughput. Messages are queued straight into a fresh database
(`Store.enqueue`, one transaction) for a Twilio carrier whose `api_base_url` is the
loopback fake Twilio Messages API (tests/fakes/twilio_api.py, in its own process), then
`learnline worker --drain` (a subprocess) sends them.

- paced: at configured tps 10, 50 and 100, `--seconds` worth of messages each; the achieved
  rate (from the first to the last recorded send attempt) must be within 10% of the
  configured one.
- drain: `--drain` messages at tps 10000 (the configuration's maximum): drain time and
  messages per second.

    python bench/outbox.py [--seconds 10] [--drain 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result, median

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"


def _fake_api(queue, stop) -> None:
    from tests.fakes.twilio_api import FakeTwilioApi

    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as api:
        queue.put(api.url)
        stop.wait()
        queue.put(len(api.messages))


class FakeTwilio:
    """The loopback Twilio Messages API in a process of its own."""

    def __enter__(self) -> FakeTwilio:
        context = multiprocessing.get_context("spawn")
        self.queue, self.stop = context.Queue(), context.Event()
        self.process = context.Process(target=_fake_api, args=(self.queue, self.stop))
        self.process.start()
        self.url = self.queue.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.accepted = self.queue.get(timeout=30)
        self.process.join(10)


def carriers(url: str, tps: float) -> str:
    return f"""
[carriers.twilio]
adapter = "twilio"
sender = "+15005550006"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
api_base_url = "{url}"
public_url = "https://learnline.example.org"
tps = {tps}
"""


def drain(api_url: str, tps: float, count: int, limit: float | None = None) -> dict:
    """Queue `count` messages on a fresh database and time `learnline worker --drain`;
    after `limit` seconds, stop the worker (SIGTERM) and report how far it got."""
    from gateway.content.importer import import_courses
    from gateway.store import Store

    with tempfile.TemporaryDirectory(prefix="learnline-outbox-") as folder:
        db = Path(folder) / "outbox.db"
        (Path(folder) / "carriers.toml").write_text(carriers(api_url, tps))
        with Store.open(db, migrate=True) as store:
            import_courses(store)
            with store.write():
                for n in range(count):
                    store.enqueue("twilio", f"+234803{n % 100000:07d}",
                                  f"Lesson 1 of 6: Find a skill people pay for. Card {n}.")
        env = {**os.environ, "LEARNLINE_DB": str(db),
               "LEARNLINE_CARRIERS": str(Path(folder) / "carriers.toml")}
        start = time.perf_counter()
        worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--drain"],
                                  env=env, cwd=folder, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        stopped = False
        try:
            output, _ = worker.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            worker.terminate()  # the worker stops cleanly on SIGTERM
            output, _ = worker.communicate(timeout=60)
            stopped = True
        wall = time.perf_counter() - start
        if worker.returncode and not stopped:
            raise RuntimeError(f"worker --drain exited {worker.returncode}: {output}")
        with Store.open(db) as store:
            first, last, attempts = store.db.execute(
                "SELECT min(at), max(at), count(*) FROM send_attempts").fetchone()
            sent = store.db.execute(
                "SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
    return {"tps": tps, "count": count, "sent": sent, "attempts": attempts, "wall": wall,
            "rate": (attempts - 1) / (last - first) if attempts > 1 else float("nan"),
            "report": output.strip(), "stopped": stopped, "sent_per_s": sent / wall}


def run(*, seconds: float = 10.0, drain_count: int = 100_000, runs: int = 3,
        drain_limit: float | None = None,
        rates: tuple[float, ...] = (10, 50, 100)) -> list[Result]:
    results = []
    with FakeTwilio() as api:
        print(f"B6 outbox: learnline worker --drain against the fake Twilio API ({api.url})")
        print(f"  {'tps':>6} {'msgs':>7} {'run':>4} {'sent':>7} {'wall s':>8} {'rate/s':>8}")
        for tps in rates:
            rows = []
            for n in range(runs):
                row = drain(api.url, tps, int(tps * seconds))
                rows.append(row)
                print(f"  {tps:>6g} {row['count']:>7} {n + 1:>4} {row['sent']:>7} "
                      f"{row['wall']:>8.2f} {row['rate']:>8.1f}")
            rate = median(r["rate"] for r in rows)
            error = rate / tps - 1
            results.append(Result("B6", f"outbox rate at tps {tps:g} ({int(tps * seconds)} msgs)",
                                  f"{rate:.1f}/s ({error:+.1%})", "within 10%",
                                  abs(error) <= 0.10 and all(r["sent"] == r["count"]
                                                             for r in rows)))
        if drain_count:
            row = drain(api.url, 10_000, drain_count, limit=drain_limit)
            print(f"  {10000:>6} {row['count']:>7} {1:>4} {row['sent']:>7} "
                  f"{row['wall']:>8.2f} {row['rate']:>8.1f}   ({row['report'] or 'stopped'})")
            if row["stopped"]:
                estimate = drain_count / row["sent_per_s"]
                print(f"  STOPPED after {drain_limit:g} s: {row['sent']} of {drain_count} sent; "
                      f"at that rate the drain would take about {estimate / 60:.0f} min")
                figure = (f"{row['sent']} sent in {row['wall']:.0f} s ({row['sent_per_s']:.0f}/s)"
                          f"; whole drain ~{estimate / 60:.0f} min (est.)")
            else:
                figure = f"{row['wall']:.0f} s, {row['sent_per_s']:.0f} msg/s"
            results.append(Result("B6", f"drain {drain_count} queued messages (tps 10000)",
                                  figure, "completes (report time)",
                                  row["sent"] == drain_count))
    print(f"  fake API accepted {api.accepted} messages in all")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=None,
                        help="stop the big drain after this many seconds (default: none)")
    args = parser.parse_args()
    from bench.common import table

    print(table(run(seconds=args.seconds, drain_count=args.drain, runs=args.runs,
                    drain_limit=args.limit)))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
