"""What the public Open Badges addresses cost the gateway on a large certificates table.

Makes a gateway (the app factory, badges on) on a fresh database in a temporary folder,
seeds `--certificates` certificates of the bundled course by bulk SQL, `--erased` of them
(a fraction) erased learners' (no number, as `learnline learners erase` leaves them),
then asks, as an anonymous verifier would, through Flask's test client in this process
(the route's own cost, without HTTP):

- `/badges/revocations`: the first request of the process, then the same again (plain,
  accepting gzip, and with the `If-None-Match` of the first answer, when it gave an
  ETag);
- `/badges/courses/<unknown>/image.svg` (a 404: a different unknown course each time);
- `/badges/assertions/<id>.jws`: one badge asked for again and again, and a different
  badge each time (each signed once at least).

Prints the median time per request of `--runs` requests each, the list's body size,
status and Cache-Control. Uses only the app factory and SQL on the database file, so
the same script runs unchanged on an older checkout (copy it there). Not part of the
test suite; not in `bench/run`.

    PYTHONPATH=. python bench/badges.py [--certificates 200000] [--erased 0.2] [--runs 20]
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median

COURSE = "start-freelancing"
PUBLIC = "https://learn.example.org"
CARRIERS = """
[carriers.console]
adapter = "console"
sender = "Learnline"
country = "NG"
webhook_token = "console-token-0123456789"
"""


def _app(folder: Path):
    from gateway import create_app

    carriers = folder / "carriers.toml"
    carriers.write_text(CARRIERS)
    return create_app({"DATABASE": str(folder / "learnline.db"),
                       "CARRIERS_FILE": str(carriers), "SECRET_KEY": "bench-secret-0123456789",
                       "PUBLIC_URL": PUBLIC,
                       "BADGE_ISSUER": "Learn Kano <badges@learn.example.org>"})


def _seed(database: Path, count: int, erased: float) -> list[str]:
    """`count` certificates, every `1/erased`-th an erased learner's; the badge ids of
    the ones that stand."""
    every = max(round(1 / erased), 1) if erased > 0 else 0
    rows, standing = [], []
    for n in range(count):
        gone = every and n % every == 0
        badge = secrets.token_hex(16)
        if not gone:
            standing.append(badge)
        rows.append((f"B{n:09d}", None if gone else f"+234803{n:07d}", COURSE,
                     "Start freelancing", "Erased" if gone else "Learner", 5, 5,
                     1.7e9 + n, badge, secrets.token_hex(8)))
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA synchronous=OFF")
        connection.executemany(
            "INSERT INTO certificates (code, phone, course_id, course_title, holder, score, "
            "total, issued_at, badge_id, badge_salt) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    return standing


def _timed(client, paths, headers=None) -> tuple[float, object]:
    """Median milliseconds per request over `paths`, and the last response."""
    times, response = [], None
    for path in paths:
        started = time.perf_counter()
        response = client.get(path, headers=headers or {})
        times.append((time.perf_counter() - started) * 1000)
    return median(times), response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=200_000)
    parser.add_argument("--erased", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    runs = options.runs
    with tempfile.TemporaryDirectory(prefix="bench-badges-") as folder:
        app = _app(Path(folder))
        standing = _seed(Path(folder) / "learnline.db", options.certificates, options.erased)
        client = app.test_client()
        print(f"{options.certificates} certificates, {options.erased:.0%} erased learners'; "
              f"median of {runs} requests each")

        first, listed = _timed(client, ["/badges/revocations"])
        print(f"/badges/revocations first:   {first:8.1f} ms  {listed.status_code}, "
              f"{len(listed.data) / 1e6:.2f} MB, Cache-Control: "
              f"{listed.headers.get('Cache-Control')}, ETag: {listed.headers.get('ETag')}")
        repeat, again = _timed(client, ["/badges/revocations"] * runs)
        print(f"/badges/revocations repeat:  {repeat:8.1f} ms  {again.status_code}, "
              f"{len(again.data) / 1e6:.2f} MB")
        zipped, answer = _timed(client, ["/badges/revocations"] * runs,
                                {"Accept-Encoding": "gzip"})
        print(f"/badges/revocations gzip:    {zipped:8.1f} ms  {answer.status_code}, "
              f"{len(answer.data) / 1e6:.2f} MB, Content-Encoding: "
              f"{answer.headers.get('Content-Encoding')}")
        if listed.headers.get("ETag"):
            held, answer = _timed(client, ["/badges/revocations"] * runs,
                                  {"If-None-Match": listed.headers["ETag"]})
            print(f"/badges/revocations 304:     {held:8.1f} ms  {answer.status_code}, "
                  f"{len(answer.data)} bytes")

        missing, answer = _timed(client, [f"/badges/courses/no-such-{n}/image.svg"
                                          for n in range(runs)])
        print(f"image.svg of unknown course: {missing:8.2f} ms  {answer.status_code}")
        found, answer = _timed(client, [f"/badges/courses/{COURSE}/image.svg"] * runs)
        print(f"image.svg of the course:     {found:8.2f} ms  {answer.status_code}")

        client.get(f"/badges/assertions/{standing[0]}.jws")  # the key made, once
        same, answer = _timed(client, [f"/badges/assertions/{standing[0]}.jws"] * runs)
        print(f".jws, the same badge:        {same:8.2f} ms  {answer.status_code}")
        each, answer = _timed(client, [f"/badges/assertions/{badge}.jws"
                                       for badge in standing[1:runs + 1]])
        print(f".jws, a new badge each time: {each:8.2f} ms  {answer.status_code}")


if __name__ == "__main__":
    main()
