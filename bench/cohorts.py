"""Cohorts: the time to import a 100,000-number cohort from CSV and queue its invitations
(queued in the outbox, not sent), on a fresh database each run; the median of the runs.

    PYTHONPATH=. python bench/cohorts.py [--numbers 100000] [--runs 3]

The numbers are Nigerian, in the national format (read for the program's country), the
course the bundled one copied into a program; the program's pace is raised to the cohort's
size so one round of the worker's invitation step queues them all (the time is the
queueing, not the pace).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.channels.invitations import run_invitations  # noqa: E402
from gateway.config import load_carriers  # noqa: E402
from gateway.content.importer import import_courses  # noqa: E402
from gateway.ops.cohorts import create_cohort  # noqa: E402
from gateway.paths import lessons_dir  # noqa: E402
from gateway.programs import current  # noqa: E402
from gateway.store import Store  # noqa: E402

CARRIERS = """
[carriers.twilio]
adapter = "twilio"
sender = "+15005550006"
country = "NG"
account_sid = "AC00000000000000000000000000000000"
auth_token = "bench-token"
api_base_url = "http://127.0.0.1:9"
public_url = "https://learnline.example.org"
tps = 200
"""


def one_run(folder: Path, numbers: int) -> tuple[float, float, int]:
    (folder / "programs.toml").write_text(
        '[programs.bench]\nname = "Bench Academy"\ndefault_locale = "en"\ncountry = "NG"\n'
        f'keywords = ["JOIN BENCH"]\ninvitations_per_minute = {numbers}\n', encoding="utf-8")
    (folder / "carriers.toml").write_text(CARRIERS, encoding="utf-8")
    os.environ["LEARNLINE_PROGRAMS"] = str(folder / "programs.toml")
    lessons = folder / "lessons"
    shutil.copytree(lessons_dir() / "start-freelancing", lessons / "bench-course")
    toml = lessons / "bench-course" / "course.toml"
    toml.write_text('program = "bench"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    csv = "phone,name\n" + "".join(f"0803 {n // 1000:03d} {n % 1000:04d},Learner {n}\n"
                                   for n in range(numbers))
    carriers = load_carriers(folder / "carriers.toml")
    with Store.open(folder / "bench.db", migrate=True) as store:
        import_courses(store, lessons)
        started = time.perf_counter()
        cohort = create_cohort(store, carriers, current().get("bench"), name="Bench intake",
                               course_id="bench-course", starts_on="2000-01-01",
                               data=csv.encode(), actor="bench")
        imported = time.perf_counter() - started
        started = time.perf_counter()
        queued = run_invitations(store, carriers)
        invited = time.perf_counter() - started
        assert cohort.id == 1 and queued == numbers, queued
    return imported, invited, queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as folder:
            imported, invited, queued = one_run(Path(folder), args.numbers)
        runs.append((imported, invited))
        print(f"run {run}: import {imported:.1f} s, invitations queued {invited:.1f} s "
              f"({queued} messages), total {imported + invited:.1f} s", flush=True)
    print(f"median of {args.runs}: import {statistics.median(r[0] for r in runs):.1f} s, "
          f"invite {statistics.median(r[1] for r in runs):.1f} s, total "
          f"{statistics.median(r[0] + r[1] for r in runs):.1f} s for {args.numbers} numbers")


if __name__ == "__main__":
    main()
