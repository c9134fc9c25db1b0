"""Run Learnline's benchmarks and print one table (used by `bench/run`).

    bench/run                 every benchmark, normal size (about 10 minutes)
    bench/run B1 B4           a subset
    bench/run --quick         shorter loads, one run each: a smoke test of the benchmarks
    bench/run --full B5 B6    full-size B5 (1M learners, 10M messages) and B6 (drain 100,000)
    bench/run --markdown      print the table as Markdown too
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result, markdown, table

ALL = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"]


def b1_b7(args) -> list[Result]:
    from bench import sms

    if args.quick:
        results, _ = sms.run(seconds=3, paced_seconds=4, runs=1)
    else:
        # Five alternated runs: the bare app's rate swings by a quarter run to run on a
        # shared 2-core machine, and the ratio is taken run by run.
        results, _ = sms.run(seconds=8, paced_seconds=10, runs=5)
    return [r for r in results if r.id in args.only]


def b2(args) -> list[Result]:
    from bench import ussd

    sessions, screens, runs = (50, 15, 1) if args.quick else (50, 40, 3)
    with ussd.Served(ussd.CARRIERS) as served:
        paced = ussd._measure(served.url, sessions, screens, runs, 0.5, 0)
        saturated = ussd._measure(served.url, sessions, screens, runs, 0.0, 50)
    print(f"B2 USSD: {sessions} sessions x {screens} screens, {runs} run(s) after a warm-up")
    p = ussd._table("paced: each learner takes 0.5 s (+-50%) per screen", paced)
    s = ussd._table("saturated: no think time (capacity)", saturated)
    length, _ = ussd.longest_screen()
    return [
        Result("B2", f"USSD p99, {sessions} paced sessions", f"{p['p99']:.1f} ms "
               f"(p50 {p['p50']:.1f})", "< 50 ms", p["p99"] < 50),
        Result("B2", "USSD capacity (saturated)", f"{s['rate']:.0f} screens/s "
               f"(p99 {s['p99']:.0f} ms)", "(report)", None),
        Result("B2", "longest USSD screen, bundled course", f"{length} GSM-7 chars",
               "<= 182", length <= 182),
    ]


def b3(args) -> list[Result]:
    from bench import pages

    results = [_b3_pages(pages, locale) for locale in ("en", "ar")]
    with pages.served_dashboard() as served:
        dashboard = pages.measure_dashboard(served.port)
    print(f"  {'dashboard':<14} {dashboard['plain']:>7} {dashboard['gzip']:>7} "
          f"{dashboard['brotli']:>7}   (14 days, 2 carriers seeded)")
    with pages.served_inbox() as served:
        inbox = dict((name, sizes) for name, _, sizes in pages.measure_inbox(served.port))
    for name, sizes in inbox.items():
        print(f"  {name:<14} {sizes['plain']:>7} {sizes['gzip']:>7} {sizes['brotli']:>7}   "
              f"(tutors' inbox, {pages.INBOX_QUESTIONS} open questions)")
    return [*results,
            Result("B3", "operator dashboard, 14 days seeded (plain / gzip / brotli)",
                   f"{dashboard['plain']} / {dashboard['gzip']} / {dashboard['brotli']} B",
                   "<= 14336 compressed",
                   max(dashboard["gzip"], dashboard["brotli"]) <= pages.PAGE_BUDGET),
            *[Result("B3", f"tutors' {name}, {pages.INBOX_QUESTIONS} open questions "
                     "(plain / gzip / brotli)",
                     f"{sizes['plain']} / {sizes['gzip']} / {sizes['brotli']} B",
                     "<= 14336 compressed",
                     max(sizes["gzip"], sizes["brotli"]) <= pages.PAGE_BUDGET)
              for name, sizes in inbox.items()]]


def _b3_pages(pages, locale: str) -> Result:
    """Every learner page type in one language: the largest page and lesson."""
    with pages.Served("[carriers.console]\nadapter = \"console\"\n",
                      env={"LEARNLINE_SIMULATOR": "1"}) as served:
        rows = pages.measure(served.port, locale)
    print(f"B3 lite pages in {locale}, bytes on the wire (plain / gzip / brotli):")
    worst_lesson = worst_page = ("", 0)
    ok = True
    for name, _, sizes in rows:
        compressed = max(sizes["gzip"], sizes["brotli"])
        lesson = name.startswith("lesson")
        budget = pages.LESSON_BUDGET if lesson else pages.PAGE_BUDGET
        ok = ok and compressed <= budget
        print(f"  {name:<14} {sizes['plain']:>7} {sizes['gzip']:>7} {sizes['brotli']:>7}")
        if lesson and compressed > worst_lesson[1]:
            worst_lesson = (name, compressed)
        if not lesson and compressed > worst_page[1]:
            worst_page = (name, compressed)
    return Result("B3", f"largest compressed page / lesson (bytes on the wire), {locale}",
                  f"{worst_page[1]} B ({worst_page[0]}) / {worst_lesson[1]} B",
                  "<= 14336 / 6144", ok)


def b4(args) -> list[Result]:
    from bench import segments

    return segments.run()


def b5(args) -> list[Result]:
    from bench import scale

    if args.full:
        return scale.run(learners=1_000_000, messages=10_000_000, runs=3)
    if args.quick:
        return scale.run(learners=20_000, messages=200_000, runs=1, seconds=3)
    return scale.run(learners=100_000, messages=1_000_000, runs=3)


def b6(args) -> list[Result]:
    from bench import outbox

    if args.quick:
        return outbox.run(seconds=3, drain_count=100_000, runs=1, drain_limit=15)
    # The 100,000-message drain is stopped after 90 s in normal mode (the rate and an
    # estimate of the whole drain are reported); --full waits for it however long it takes.
    return outbox.run(seconds=10, drain_count=100_000, runs=3,
                      drain_limit=None if args.full else 90)


def b8(args) -> list[Result]:
    from bench import imports

    return imports.run(lessons=500, runs=1 if args.quick else 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Run Learnline's benchmarks; print one table at the end.",
        epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", metavar="ID", help=f"benchmarks to run ({' '.join(ALL)})")
    parser.add_argument("--quick", action="store_true", help="short loads, one run each")
    parser.add_argument("--full", action="store_true",
                        help="B5 at 1M learners/10M messages, B6 drains 100,000 messages")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    ids = [i.upper() for i in args.ids] or ALL
    unknown = [i for i in ids if i not in ALL]
    if unknown:
        parser.error(f"unknown benchmark(s): {' '.join(unknown)} (known: {' '.join(ALL)})")
    args.only = set(ids)
    os.chdir(ROOT)
    steps = [("B1", b1_b7), ("B2", b2), ("B3", b3), ("B4", b4), ("B5", b5), ("B6", b6),
             ("B8", b8)]
    results: list[Result] = []
    started = time.perf_counter()
    for key, step in steps:
        if key not in ids and not (key == "B1" and "B7" in ids):
            continue
        print(f"\n=== {key if key != 'B1' else 'B1/B7'} ===", flush=True)
        t = time.perf_counter()
        try:
            results += step(args)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            import traceback

            traceback.print_exc()
            results.append(Result(key, "FAILED to run", f"{type(exc).__name__}: {exc}"[:60],
                                  "-", False))
        print(f"({key} took {time.perf_counter() - t:.0f} s)", flush=True)
    order = {k: n for n, k in enumerate(ALL)}
    results.sort(key=lambda r: order[r.id])
    mode = "quick" if args.quick else ("full" if args.full else "normal")
    print(f"\n=== results ({mode} mode, {time.perf_counter() - started:.0f} s; medians of "
          f"{'1 run' if args.quick else '3 runs'} where runs repeat) ===")
    print(table(results))
    if args.markdown:
        print()
        print(markdown(results))
    sys.exit(0)


if __name__ == "__main__":
    main()
