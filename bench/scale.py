"""B5 (scale): does the webhook slow down on a big database?

Seeds a database (schema and bundled course from the gateway, then bulk SQL: executemany
in large transactions with `PRAGMA synchronous=OFF`) with `--learners` learners (each
enrolled in the bundled course) and `--messages` message rows (half inbound, half outbox,
every outbox row a sent reply to an inbound one), then runs B1's loads (peak, and an
open-loop paced load at a fixed rate) against `learnline serve --no-worker` on it and on
an empty database, in the same run. Reports seeding time, file size and bytes per learner.

    python bench/scale.py [--learners 1000000] [--messages 10000000] [--rate 150] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result, median

BODY = ("Start freelancing, lesson 1 of 6: Find a skill people pay for (card 1 of 3)\n"
        "A good freelance skill is one people already pay for near you.")
BATCH = 200_000


def seed(db: Path, learners: int, messages: int) -> float:
    """Fill a migrated database; return seconds taken."""
    from gateway.content.importer import import_courses
    from gateway.store import Store

    with Store.open(db, migrate=True) as store:
        import_courses(store)
    start = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")  # 400 MB while seeding
    now = time.time() - 86400 * 30

    def bulk(sql: str, rows) -> None:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                conn.execute("BEGIN")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
                batch = []
        if batch:
            conn.execute("BEGIN")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")

    bulk("INSERT INTO learners (phone, locale, carrier_id, stopped, current_course, "
         "created_at, updated_at) VALUES (?, ?, 'twilio', 0, 'start-freelancing', ?, ?)",
         ((f"+234803{n:07d}", "en" if n % 3 else "fr", now, now) for n in range(learners)))
    bulk("INSERT INTO enrollments (phone, course_id, position, card, started_at, updated_at) "
         "VALUES (?, 'start-freelancing', ?, ?, ?, ?)",
         ((f"+234803{n:07d}", n % 6, n % 3, now, now) for n in range(learners)))
    pairs = messages // 2
    bulk("INSERT INTO inbound (id, carrier_id, carrier_message_id, phone, recipient, text, "
         "received_at, status, processed_at) VALUES (?, 'twilio', ?, ?, '+15005550006', "
         "'NEXT', ?, 'processed', ?)",
         ((n + 1, f"SMseed{n:026x}", f"+234803{n % learners:07d}", now + n * 0.001,
           now + n * 0.001) for n in range(pairs)))
    bulk("INSERT INTO outbox (carrier_id, phone, body, inbound_id, status, attempts, due_at, "
         "carrier_message_id, created_at, updated_at) VALUES ('twilio', ?, ?, ?, 'sent', 1, "
         "?, ?, ?, ?)",
         ((f"+234803{n % learners:07d}", BODY, n + 1, now + n * 0.001, f"SMout{n:027x}",
           now + n * 0.001, now + n * 0.001) for n in range(pairs)))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start


def claim_ms(db: Path, tries: int = 5) -> float:
    """Median time of the worker's `Store.claim_due` with one message due (a fresh
    message is queued before each try)."""
    from gateway.store import Store

    times = []
    with Store.open(db, migrate=True) as store:
        for _ in range(tries):
            with store.write():
                store.enqueue("twilio", "+2348030000000", "claim timing")
            start = time.perf_counter()
            assert store.claim_due("twilio", 60) is not None
            times.append((time.perf_counter() - start) * 1000)
    return median(times)


def _loads(url: str, runs: int, rate: float, seconds: float, first: int) -> dict:
    from bench.sms import measure

    measure("closed", url, first, 20000, seconds=2, ceiling=3000, connections=16)  # warm-up
    peak = [measure("closed", url, first + 1 + n, 20000, seconds=seconds, ceiling=3000,
                    connections=16) for n in range(runs)]
    paced = [measure("open", url, first + 50 + n, 20000, seconds=seconds, rate=rate)
             for n in range(runs)]
    return {"peak": median(r["rate"] for r in peak), "p50": median(r["p50"] for r in paced),
            "p99": median(r["p99"] for r in paced)}


def run(*, learners: int = 1_000_000, messages: int = 10_000_000, rate: float = 150,
        seconds: float = 6.0, runs: int = 3) -> list[Result]:
    from bench.sms import served_gateway

    with tempfile.TemporaryDirectory(prefix="learnline-scale-") as folder:
        db = Path(folder) / "big.db"
        took = seed(db, learners, messages)
        size = db.stat().st_size
        print(f"B5 seeded {learners:,} learners (+ enrollments) and {messages:,} message rows "
              f"in {took:.0f} s: {size / 1e6:,.0f} MB, {size / learners:,.0f} bytes per learner")
        empty_db = Path(folder) / "empty.db"
        claims = {"empty": claim_ms(empty_db), "seeded": claim_ms(db)}
        print(f"  worker claim_due with one message due: empty DB {claims['empty']:.2f} ms, "
              f"seeded {claims['seeded']:.1f} ms")
        figures = {}
        for label, path in (("empty", None), ("seeded", db)):
            with served_gateway(db=path) as served:
                figures[label] = _loads(served.url, runs, rate, seconds,
                                        0 if label == "empty" else 1000)
    for label, f in figures.items():
        print(f"  {label:>7} DB: peak {f['peak']:.0f} req/s; paced {rate:g} req/s p50 "
              f"{f['p50']:.1f} ms, p99 {f['p99']:.1f} ms")
    empty, big = figures["empty"], figures["seeded"]
    scaled = "" if (learners, messages) == (1_000_000, 10_000_000) else " (SCALED DOWN)"
    slower = big["p50"] / empty["p50"]
    return [
        Result("B5", f"webhook p50 at {rate:g}/s: empty vs {learners:,} learners/"
               f"{messages:,} msgs{scaled}", f"{empty['p50']:.1f} vs {big['p50']:.1f} ms = "
               f"{slower:.2f}x (p99 {empty['p99']:.0f} vs {big['p99']:.0f})", "<= 1.3x",
               slower <= 1.3),
        Result("B5", "peak webhooks/s: empty vs seeded", f"{empty['peak']:.0f} vs "
               f"{big['peak']:.0f}/s", "(report)", None),
        Result("B5", "worker claim_due, one message due: empty vs seeded",
               f"{claims['empty']:.2f} vs {claims['seeded']:.1f} ms", "(report)", None),
        Result("B5", "bytes per learner (file size / learners)",
               f"{size / learners:,.0f} B ({size / 1e6:,.0f} MB, seeded in {took:.0f} s)",
               "(report)", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from bench.common import table

    print(table(run(learners=args.learners, messages=args.messages, rate=args.rate,
                    seconds=args.seconds, runs=args.runs)))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
