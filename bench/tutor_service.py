"""The tutors' service figures on a realistic seeded week: what `learnline stats` prints
for them, and how long their queries take.

Seeds a fresh database (the bundled course) with one week, Monday 2026-11-30 to Sunday
2026-12-06 (UTC): 400 questions asked from 07:00 to 21:00, fewer at the weekend, most
about the lessons where learners get stuck (setting a price, getting paid safely); a few
learners past the daily limit; four questions from the week before that nobody took.
Three tutors answer in their shifts (Amina and Tunde on weekdays, 08:00-16:00 and
11:00-19:00; Zainab on weekday evenings, 17:00-21:00, and Saturday morning), always the
oldest open question first, each answer taking 3 to 30 minutes (median 9); one question
in twenty is closed without an answer. What is asked after the last shift of the week
stays open. The tutors' answers are written as the tutors' inbox records them (status,
answer, time, account).

Then runs `learnline stats --days 7 --until 2026-12-06` on it as a subprocess and prints
the tutors' tables exactly as it shows them, and times the figures' queries
(`reports.tutor_service`, in this process): the median of 5 runs.
`--earlier-weeks N` adds N weeks of answered questions before, to show how the time grows
with the questions table (the period's questions are found by asking time; the backlog's
ages read it whole).

    python bench/tutor_service.py [--earlier-weeks 52]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONDAY = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
DAY, HOUR, MINUTE = 86400, 3600, 60
QUESTIONS = 400
# Monday to Sunday: how many of the week's questions come each day.
DAY_WEIGHTS = (1.2, 1.2, 1.1, 1.1, 1.0, 0.5, 0.3)
# Where learners ask from: the lessons where they get stuck most; None: outside a lesson.
LESSON_WEIGHTS = {"find-your-skill": 10, "first-clients": 14, "set-your-price": 30,
                  "agree-the-job": 12, "get-paid-safely": 24, "keep-clients-and-money": 6,
                  None: 4}
# Each tutor's shifts: (weekdays, Monday 0, first hour, last hour).
TUTORS = {
    "amina": ("Amina Diallo", [((0, 1, 2, 3, 4), 8, 16)]),
    "tunde": ("Tunde Bello", [((0, 1, 2, 3, 4), 11, 19)]),
    "zainab": ("Zainab Musa", [((0, 1, 2, 3, 4), 17, 21), ((5,), 9, 13)]),
}
CLOSED_SHARE = 0.05
PASSWORD = "bench tutor pass phrase"


def ask_times(rng: random.Random, monday: float = MONDAY) -> list[float]:
    """The week's asking times, in order: per day by DAY_WEIGHTS, from 07:00 to 21:00,
    busiest around midday and early evening."""
    total = sum(DAY_WEIGHTS)
    counts = [round(QUESTIONS * w / total) for w in DAY_WEIGHTS]
    counts[0] += QUESTIONS - sum(counts)
    times = []
    for day, count in enumerate(counts):
        for _ in range(count):
            hour = min(20.99, max(7.0, rng.choice((rng.gauss(12.5, 2.5), rng.gauss(18, 1.5)))))
            times.append(monday + day * DAY + hour * HOUR)
    return sorted(times)


def on_shift(username: str, at: float, monday: float = MONDAY) -> bool:
    """Whether the tutor is working at `at` (`monday`: midnight starting a week)."""
    day = int((at - monday) // DAY)
    hour = (at - monday - day * DAY) / HOUR
    return any(day % 7 in days and first <= hour < last
               for days, first, last in TUTORS[username][1])


def seed(db_path: Path, earlier_weeks: int = 0, monday: float = MONDAY,
         fresh: bool = True) -> None:
    """The seeded week (module docstring) starting at midnight `monday` on the database
    at `db_path`: a fresh one (the bundled course imported), or with `fresh` False one
    that has it already (bench/pages.py's dashboard)."""
    from gateway.content.importer import import_courses
    from gateway.ops import staff
    from gateway.store import Store
    from gateway.store import questions as asked

    rng = random.Random(21)
    now = [monday - (earlier_weeks + 1) * 7 * DAY]
    with Store.open(db_path, migrate=True, clock=lambda: now[0]) as store:
        if fresh:
            import_courses(store)
        ids = {username: staff.add_account(store, username, name, "tutor", PASSWORD).id
               for username, (name, _) in TUTORS.items()}
        lessons, weights = zip(*LESSON_WEIGHTS.items(), strict=True)
        learners = [f"+2547{n:08d}" for n in range(260)]

        def ask(at: float, status: str = asked.OPEN) -> int:
            now[0] = at
            lesson = rng.choices(lessons, weights)[0]
            return asked.add(store, rng.choice(learners), rng.choice(("sms", "ussd", "web")),
                             "bench", "" if status == asked.REFUSED else "How do I ...?",
                             course_id="start-freelancing" if lesson else None,
                             lesson_id=lesson, status=status)

        earlier = []
        for week in range(earlier_weeks, 0, -1):
            for at in ask_times(rng, monday):
                at -= week * 7 * DAY
                earlier.append((ask(at), at + rng.lognormvariate(math.log(40 * MINUTE), 1.0),
                                rng.choice(list(ids.values()))))
        for day in (9, 10, 12, 12):  # the week before's, never taken
            ask(monday - day * DAY + rng.uniform(9, 17) * HOUR)
        week = [(ask(at), at) for at in ask_times(rng, monday)]
        for day in (0, 2, 4):  # learners past the daily limit (the engine keeps one mark)
            ask(monday + day * DAY + 15 * HOUR, asked.REFUSED)
        done = simulate(week, ids, rng, monday)
        with store.write():
            # What the tutors' inbox records, each at its time.
            for question_id, answered_at, staff_id in earlier:
                now[0] = answered_at
                asked.mark_answered(store, question_id, "Answer.", staff_id)
            for question_id, at, staff_id, closed in done:
                now[0] = at
                if closed:
                    asked.mark_closed(store, question_id, staff_id)
                else:
                    asked.mark_answered(store, question_id, "Answer.", staff_id)


def simulate(week: list[tuple[int, float]], ids: dict[str, int], rng: random.Random,
             monday: float = MONDAY) -> list[tuple[int, float, int, bool]]:
    """The tutors' week, minute by minute: each tutor on shift and free takes the oldest
    open question. Returns (question id, when done, staff id, closed unanswered)."""
    free_at = dict.fromkeys(ids, 0.0)
    waiting: list[tuple[int, float]] = []
    pending = list(week)
    done = []
    minute = monday
    while minute < monday + 7 * DAY:
        while pending and pending[0][1] <= minute:
            waiting.append(pending.pop(0))
        for username in ids:
            if waiting and free_at[username] <= minute and on_shift(username, minute,
                                                                   monday):
                question_id, _ = waiting.pop(0)
                closed = rng.random() < CLOSED_SHARE
                took = MINUTE if closed else min(30 * MINUTE, max(
                    3 * MINUTE, rng.lognormvariate(math.log(9 * MINUTE), 0.6)))
                free_at[username] = minute + took
                done.append((question_id, minute + took, ids[username], closed))
        minute += MINUTE
    return done


def stats_output(db_path: Path) -> str:
    """`learnline stats --days 7 --until 2026-12-06` on the database, as printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNLINE_")}
    env.update(LEARNLINE_DB=str(db_path), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "stats", "--days", "7",
                             "--until", "2026-12-06"], env=env, capture_output=True,
                            text=True, check=True, timeout=120)
    return result.stdout


def timed(db_path: Path, runs: int = 5) -> tuple[float, int]:
    """The median seconds of `runs` computations of the tutors' figures, and the
    questions table's rows."""
    from gateway.ops import reports
    from gateway.store import Store

    with Store.open(db_path) as store:
        period = reports.period_ending(MONDAY + 6 * DAY + 12 * HOUR, 7)
        at = min(store.clock(), period.until)
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            reports.tutor_service(store, period, at)
            seconds.append(time.perf_counter() - started)
        rows = store.db.execute("SELECT count(*) FROM questions").fetchone()[0]
    return statistics.median(seconds), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earlier-weeks", type=int, default=0,
                        help="weeks of answered questions before the seeded one (default 0)")
    weeks = parser.parse_args().earlier_weeks
    with tempfile.TemporaryDirectory(prefix="learnline-tutor-service-") as folder:
        db_path = Path(folder) / "learnline.db"
        seed(db_path, weeks)
        printed = stats_output(db_path)
        median, rows = timed(db_path)
    blocks = printed.split("\n\n")
    print("$ learnline stats --days 7 --until 2026-12-06   (the tutors' tables)")
    print(blocks[0])
    for block in blocks[1:]:
        if block.startswith(("Questions to tutors", "Answers per tutor")):
            print("\n" + block.rstrip("\n"))
    print(f"\nthe figures' queries (reports.tutor_service): {median * 1000:.1f} ms, median of "
          f"5, on {rows:,} questions")


if __name__ == "__main__":
    main()
