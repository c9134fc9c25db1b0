"""USSD latency: concurrent Africa's Talking sessions against `learnline serve`.

Each simulated learner dials, starts the course and presses on (next, more, answers)
for a fixed number of screens. Two loads, each run `--runs` times after a warm-up:

- paced: 50 learners who each take `--think` seconds (randomised +-50%) to read a screen
  and press a key, like people on a handset. The target (p99 < 50 ms) is for this load.
- saturated: the same learners with no think time, each pressing as soon as the last
  screen arrives: the server's capacity in screens per second, and latency when queued.

Prints p50/p90/p99/max latency per screen and screens per second, per run and as medians,
and the longest screen the bundled course produces.

    python bench/ussd.py [--sessions 50] [--screens 40] [--think 0.5] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import Connection, percentile
from bench.server import Served

TOKEN = "bench-token-0123456789abcdef"
CARRIERS = f"""
[carriers.at]
adapter = "africastalking"
country = "KE"
webhook_token = "{TOKEN}"
"""


async def _session(url: str, number: int, screens: int, run: int,
                   think: float) -> list[float]:
    connection = Connection(url)
    rng = random.Random(number)
    if think:
        await asyncio.sleep(rng.uniform(0, think))  # learners do not all dial at once
    phone = f"+2547{run:02d}{number:06d}"
    inputs: list[str] = []
    latencies: list[float] = []
    for step in range(screens):
        if step:
            inputs.append("1")  # next / more / answer 1 / continue: always a valid choice
        status, body, elapsed = await connection.post_form(
            f"/carriers/at/ussd?token={TOKEN}",
            {"sessionId": f"bench-{run}-{number}", "serviceCode": "*384*12#",
             "phoneNumber": phone, "networkCode": "63902", "text": "*".join(inputs)})
        if status != 200 or not body.startswith(b"CON "):
            raise RuntimeError(f"screen {step} of session {number}: {status} {body[:80]!r}")
        latencies.append(elapsed)
        if think:
            await asyncio.sleep(rng.uniform(think / 2, think * 1.5))
    await connection.close()
    return latencies


async def _run(url: str, sessions: int, screens: int, run: int,
               think: float) -> tuple[list[float], float]:
    start = time.perf_counter()
    results = await asyncio.gather(*(_session(url, n, screens, run, think)
                                     for n in range(sessions)))
    wall = time.perf_counter() - start
    return [latency for result in results for latency in result], wall


def _load(url: str, sessions: int, screens: int, run: int, think: float, queue) -> None:
    queue.put(asyncio.run(_run(url, sessions, screens, run, think)))


def longest_screen() -> tuple[int, str]:
    """Walk the bundled course over USSD in each language; the longest screen seen."""
    import dataclasses
    import tempfile

    from carrier_adapters import UssdRequest
    from gateway.channels.ussd import handle_ussd
    from gateway.config import Carrier
    from gateway.content.importer import import_courses
    from gateway.i18n import available_locales
    from gateway.sms_text import septets
    from gateway.store import Store

    longest = (0, "")
    with tempfile.TemporaryDirectory() as folder, \
            Store.open(Path(folder) / "walk.db", migrate=True) as store:
        import_courses(store)
        for locale in available_locales():
            carrier = dataclasses.replace(
                Carrier.of(id="walk", adapter="africastalking"), locale=locale)
            phone = f"+2547000000{len(locale):02d}{available_locales().index(locale)}"
            session = f"walk-{locale}"
            for step in range(600):
                text = "" if step == 0 else "1"
                request = UssdRequest(session, phone, "*384*12#", text, step == 0, False)
                screen = handle_ussd(store, carrier, request, phone).text
                longest = max(longest, (septets(screen), screen))
                if store.enrollment(phone, "start-freelancing") and \
                        store.enrollment(phone, "start-freelancing").completed:
                    break
    return longest


def _measure(url: str, sessions: int, screens: int, runs: int, think: float,
             first_run: int) -> list[dict]:
    rows = []
    context = multiprocessing.get_context("spawn")
    for run in range(runs + 1):  # the first run warms the server up and is not counted
        queue = context.Queue()
        process = context.Process(target=_load, args=(url, sessions, screens,
                                                      first_run + run, think, queue))
        process.start()
        latencies, wall = queue.get()
        process.join()
        if run == 0:
            continue
        rows.append({
            "n": len(latencies),
            "p50": percentile(latencies, 50) * 1000,
            "p90": percentile(latencies, 90) * 1000,
            "p99": percentile(latencies, 99) * 1000,
            "max": max(latencies) * 1000,
            "rate": len(latencies) / wall,
        })
    return rows


def _table(title: str, rows: list[dict]) -> dict:
    print(title)
    print(f"{'run':>5} {'screens':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'screens/s':>10}")
    median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    for label, row in [*((str(n), row) for n, row in enumerate(rows, 1)), ("median", median)]:
        print(f"{label:>5} {row['n']:>8.0f} {row['p50']:>8.1f} {row['p90']:>8.1f} "
              f"{row['p99']:>8.1f} {row['max']:>8.1f} {row['rate']:>10.0f}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--screens", type=int, default=40)
    parser.add_argument("--think", type=float, default=0.5,
                        help="seconds a paced learner takes per screen (default 0.5)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with Served(CARRIERS) as served:
        paced = _measure(served.url, args.sessions, args.screens, args.runs, args.think, 0)
        saturated = _measure(served.url, args.sessions, args.screens, args.runs, 0.0, 50)
    print(f"B2 USSD (Africa's Talking format) against learnline serve "
          f"(deploy/gunicorn.conf.py), {args.sessions} concurrent sessions x {args.screens} "
          f"screens, {args.runs} runs after a warm-up")
    median = _table(f"paced: each learner takes {args.think} s (+-50%) per screen", paced)
    print(f"target p99 < 50 ms (paced): {'met' if median['p99'] < 50 else 'NOT met'}")
    _table("saturated: no think time (capacity)", saturated)
    length, screen = longest_screen()
    print(f"longest screen of the bundled course: {length} GSM-7 characters (limit 182):")
    print("  " + screen.replace("\n", "\n  "))


if __name__ == "__main__":
    main()
