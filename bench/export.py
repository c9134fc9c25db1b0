"""Research exports: the time and peak memory of `learnline export` on 1,000,000 events.

Seeds a fresh database (schema and bundled course from the gateway, then bulk SQL:
executemany in large transactions with `PRAGMA synchronous=OFF`) with `--events` learning
events of `--events / 50` learners, in the mix an SMS course records (a place for every
step, an answer for most, a lesson completed every 8 events with its note in
`lesson_completions`, an enrollment and a program join per learner), then runs
`learnline export` as a subprocess, CSV and Parquet (when pyarrow is installed), and
measures each run's wall time, the child's CPU time (user and system: on a shared
machine, what the export costs whatever else runs) and its peak resident memory (its own
rusage, from os.wait4; the database is seeded by another child, so that this process,
whose pages a child counts until it execs, stays small). `--baseline` also measures
`learnline export` on an empty database: what the interpreter and the command's imports
take before any event. Prints every run and the medians. Not part of the test suite; not
in `bench/run`.

    PYTHONPATH=. python bench/export.py [--events 1000000] [--runs 3] [--baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median

BATCH = 200_000
COURSE = "start-freelancing"
LESSONS = ("find-your-skill", "first-clients", "set-your-price", "agree-the-job",
           "get-paid-safely", "keep-clients")
EDGE = "edge-bench"


def _events(count: int, start: float):
    """(id, edge, learner, kind, at, data) rows, `count` of them, and the lesson
    completions' notes (phone, course, lesson, mode, locale, at), as an SMS course makes
    them: each learner enrolls, joins a program, then steps, answers and completes."""
    learners = max(count // 50, 1)
    completions = []
    rows = []
    for n in range(count):
        learner = f"+234803{n % learners:07d}"
        step = n // learners
        at = start + n * 0.05
        lesson = LESSONS[(step // 8) % len(LESSONS)]
        if step == 0:
            kind, data = "enrolled", {"course": COURSE, "restart": False}
        elif step == 1:
            kind, data = "program_joined", {"program": "bench", "via": "keyword"}
        elif step % 8 == 7:
            kind, data = "lesson_completed", {"course": COURSE, "lesson": lesson,
                                              "score": 2 + n % 2, "total": 3}
            completions.append((learner, COURSE, lesson, "sms", "en", at))
        elif step % 2:
            kind, data = "answered", {"course": COURSE, "lesson": lesson, "question": n % 3,
                                      "choice": n % 4, "correct": n % 4 != 1,
                                      "first_try": True}
        else:
            kind, data = "card_reached", {"course": COURSE, "position": (step // 8) % 6,
                                          "card": step % 4, "lesson": lesson, "quiz": None}
        rows.append((f"{int(at * 1000):012x}{n:020x}", EDGE, learner, kind, at,
                     json.dumps(data, separators=(",", ":"))))
        if len(rows) == BATCH:
            yield rows, completions
            rows, completions = [], []
    if rows:
        yield rows, completions


def seed(db: Path, events: int) -> float:
    """A migrated database with `events` events, made in a child process (so this one
    stays small: a child forked from a large process counts its pages in its peak);
    returns the seconds the events took."""
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--seed-into", str(db), "--events", str(events)],
                   check=True, cwd=ROOT)
    return time.perf_counter() - started


def _seed_here(db: Path, events: int) -> None:
    from gateway.content.importer import import_courses
    from gateway.store import Store

    with Store.open(db, migrate=True) as store:
        import_courses(store)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    for rows, completions in _events(events, time.time() - 86400 * 60):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (id, edge, learner, kind, at, data) "
                         "VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO lesson_completions (phone, course_id, lesson_id, mode, locale, "
            "completed_at) VALUES (?, ?, ?, ?, ?, ?)", completions)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def export_once(db: Path, kind: str, output: Path) -> tuple[float, float, float, str]:
    """One `learnline export` in a child process: (seconds, its CPU seconds, its peak RSS
    in MiB, what it printed on standard error)."""
    env = {**os.environ, "LEARNLINE_DB": str(db), "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "export", "--format", kind, "-o", str(output)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"learnline export --format {kind} failed: {said}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, said.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", action="store_true",
                        help="also export an empty database (the command's own footprint)")
    parser.add_argument("--seed-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_into is not None:
        _seed_here(args.seed_into, args.events)
        return
    try:
        import pyarrow  # noqa: F401
        kinds = ["csv", "parquet"]
    except ImportError:
        kinds = ["csv"]
        print("pyarrow not installed: CSV only (pip install 'learnline[parquet]')")
    with tempfile.TemporaryDirectory(prefix="learnline-export-bench-") as folder:
        folder_path = Path(folder)
        db = folder_path / "bench.db"
        seconds = seed(db, args.events)
        size = db.stat().st_size / 2**20
        print(f"seeded {args.events:,} events in {seconds:.1f} s ({size:.0f} MiB database)")
        if args.baseline:
            empty = folder_path / "empty.db"
            seed(empty, 0)
            took, cpu, peak, _ = export_once(empty, "csv", folder_path / "empty.csv")
            print(f"baseline (no event): {took:.2f} s ({cpu:.2f} s CPU), "
                  f"peak RSS {peak:.1f} MiB")
        for kind in kinds:
            output = folder_path / f"events.{kind}"
            runs = []
            for run in range(args.runs):
                took, cpu, peak, said = export_once(db, kind, output)
                runs.append((took, cpu, peak))
                print(f"{kind} run {run + 1}: {took:.2f} s ({cpu:.2f} s CPU), peak RSS "
                      f"{peak:.1f} MiB, {output.stat().st_size / 2**20:.0f} MiB file ({said})")
            took = median(t for t, _, _ in runs)
            print(f"{kind}: median {took:.2f} s ({args.events / took:,.0f} events/s), "
                  f"{median(c for _, c, _ in runs):.2f} s CPU, "
                  f"peak RSS {median(p for _, _, p in runs):.1f} MiB")


if __name__ == "__main__":
    main()
