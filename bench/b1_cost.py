"""B1's cost per webhook in one process, the gateway against the minimal webhook
(bench/minimal_app.py), in figures a shared machine moves little.

Both apps get the same signed Twilio webhooks (B1's load: 20,000 numbers, each one's first
message of a run START), after the same 3,000 of a warm-up load, in one thread, without
HTTP:

- by default, thread CPU per webhook, the two apps alternated round after round (medians);
- `--sql N`: the gateway's SQL statements per webhook, by kind, and the pages its commits
  write (WAL frames per webhook, by table or index): the work inside the write lock;
- `--instructions N`: CPU instructions per webhook of each app, counted by valgrind's
  callgrind (needs valgrind; slow, but the count barely changes with other load).

Not part of `bench/run`: it compares code, it does not make B1's figure. Run it for two
trees alternately to compare them (`PYTHONPATH` naming each). Reading: bench/RESULTS.md,
"Where the gap to 0.8 is".

    python bench/b1_cost.py [--rounds 10] [--per 400]
    python bench/b1_cost.py --sql 500
    python bench/b1_cost.py --instructions 300
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.profile_b1 import LEARNERS, WARM_UP, _app, _environ
from bench.sms import AUTH_TOKEN, PUBLIC_URL, prepared_requests


def _apps(folder: Path, which: tuple[str, ...]) -> dict:
    apps = {}
    if "minimal" in which:
        os.environ["BENCH_MINIMAL_DB"] = str(folder / "minimal.db")
        os.environ["BENCH_TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
        os.environ["BENCH_PUBLIC_URL"] = PUBLIC_URL
        from bench.minimal_app import app as minimal

        apps["minimal"] = minimal
    if "gateway" in which:
        apps["gateway"] = _app(folder / "gateway")
    return apps


def _requests(count: int) -> list[bytes]:
    return prepared_requests(8000, WARM_UP, 0, LEARNERS) + \
        prepared_requests(8000, count, 1, LEARNERS)


def _send(app, environs) -> float:
    """Thread CPU seconds per webhook for `environs` through `app` (each answered 200)."""
    status: list[str] = []

    def start_response(line: str, headers: list, exc: object = None) -> None:
        status.append(line)

    environs = list(environs)
    began = time.thread_time()
    for environ in environs:
        b"".join(app(environ, start_response))
        if not status[-1].startswith("200"):
            raise RuntimeError(f"webhook answered {status[-1]}")
    return (time.thread_time() - began) / max(len(environs), 1)


def cpu(rounds: int, per: int) -> None:
    """Thread CPU per webhook, gateway and minimal alternated `rounds` times."""
    folder = Path(tempfile.mkdtemp(prefix="learnline-b1-cost-"))
    apps = _apps(folder, ("gateway", "minimal"))
    raw = _requests(rounds * per)
    spent: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():
        _send(app, map(_environ, raw[:WARM_UP]))
    for n in range(rounds):
        batch = raw[WARM_UP + n * per:WARM_UP + (n + 1) * per]
        for name, app in apps.items():
            spent[name].append(_send(app, map(_environ, batch)) * 1e6)
    gateway, minimal = (statistics.median(spent[name]) for name in ("gateway", "minimal"))
    print(f"thread CPU per webhook (median of {rounds} rounds of {per}): gateway "
          f"{gateway:.0f} us, minimal {minimal:.0f} us, ratio {minimal / gateway:.2f}")
    for name, values in spent.items():
        print(f"  {name}: {', '.join(f'{value:.0f}' for value in values)}")
    shutil.rmtree(folder, ignore_errors=True)


def sql(count: int) -> None:
    """The gateway's statements per webhook by kind, and WAL pages per webhook by b-tree."""
    import gateway.store.store as store_module

    store_module.WAL_CHECKPOINT_PAGES = 10**9  # every page a commit writes stays in the WAL
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda text: statements.append(
            re.sub(r"'[^']*'|\b\d+(\.\d+)?\b|NULL", "?", " ".join(text.split()))[:90]))
        return conn

    folder = Path(tempfile.mkdtemp(prefix="learnline-b1-cost-"))
    sqlite3.connect = traced  # type: ignore[assignment]
    try:
        app = _apps(folder, ("gateway",))["gateway"]
        raw = _requests(count)
        _send(app, map(_environ, raw[:WARM_UP]))
        wal = folder / "gateway" / "bench.db-wal"
        before = wal.stat().st_size
        statements.clear()
        _send(app, map(_environ, raw[WARM_UP:]))
        after = wal.stat().st_size
    finally:
        sqlite3.connect = connect
    kinds = Counter(statements)
    print(f"{len(statements) / count:.2f} SQL statements a webhook ({count} after the "
          "warm-up):")
    for kind, calls in kinds.most_common():
        print(f"  {calls / count:5.2f}  {kind}")
    frame = 24 + sqlite3.connect(str(folder / "gateway" / "bench.db")).execute(
        "PRAGMA page_size").fetchone()[0]
    data = wal.read_bytes()
    pages = [struct.unpack(">I", data[offset:offset + 4])[0]
             for offset in range(before, after - frame + 1, frame)]
    with sqlite3.connect(str(folder / "gateway" / "bench.db")) as conn:
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    print(f"{len(pages) / count:.2f} pages written by the commits a webhook:")
    for name, written in Counter(owner.get(page, "?") for page in pages).most_common():
        print(f"  {written / count:5.2f}  {name}")
    shutil.rmtree(folder, ignore_errors=True)


def instructions(count: int) -> None:
    """Each app's instructions per webhook, under callgrind (a child process each)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind is needed for --instructions")
    for name in ("gateway", "minimal"):
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "callgrind.out"
            run = subprocess.run(
                [valgrind, "--tool=callgrind", "--instr-atstart=no",
                 f"--callgrind-out-file={out}", sys.executable, __file__, "--child", name,
                 str(count)], capture_output=True, text=True, check=True)
            found = re.search(r"Collected : (\d+)", run.stderr)
            if found is None:
                sys.exit(f"callgrind counted nothing: {run.stderr[-500:]}")
            print(f"{name}: {int(found.group(1)) / count:,.0f} instructions a webhook")


def _child(name: str, count: int) -> None:
    """Under callgrind: warm up, then count only `count` webhooks."""
    folder = Path(tempfile.mkdtemp(prefix="learnline-b1-cost-"))
    app = _apps(folder, (name,))[name]
    raw = _requests(count)
    _send(app, map(_environ, raw[:WARM_UP]))
    environs = [_environ(request) for request in raw[WARM_UP:]]
    control = [shutil.which("callgrind_control") or "callgrind_control", "-i"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    _send(app, environs)
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per", type=int, default=400, help="webhooks a round")
    parser.add_argument("--sql", type=int, metavar="N", default=0)
    parser.add_argument("--instructions", type=int, metavar="N", default=0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
    elif args.sql:
        sql(args.sql)
    elif args.instructions:
        instructions(args.instructions)
    else:
        cpu(args.rounds, args.per)


if __name__ == "__main__":
    main()
