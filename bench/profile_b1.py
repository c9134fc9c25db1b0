"""Where B1's time goes: signed Twilio webhooks measured and profiled (py-spy), three ways.

- by default: a real `learnline serve --no-worker` under B1's closed-loop load (16
  keep-alive connections, from a separate process), twice. First plain: webhooks a
  second, the server's busy cores, CPU per message. Then with py-spy sampling each
  gunicorn worker's threads, idle ones included, by wall clock: what the request threads
  were doing (serving a request outside the write transaction, inside it, queued for the
  write lock, or without a request).
- `--shapes 2x4,1x8`: no profiler; the plain figures under other gunicorn shapes
  (processes x threads), alternated twice.
- `--in-process N`: N webhooks through the real WSGI app in this process, one thread, a
  fresh database, with no HTTP server: the time per webhook; each stage's share of it
  (py-spy on this process); and, on a second app, each kind of SQL statement's time.
- `--syscalls`: the gateway and the minimal webhook under B1's closed loop, alternated
  twice, each counted by `perf stat`: context switches and system calls per message
  (pages read and written, futex waits and wakes of threads and the GIL). Counts move
  far less with other load on the machine than rates do. Needs perf and permission to
  read syscall tracepoints (root, or a low `kernel.perf_event_paranoid`).

The profiles need py-spy 0.4 or later (`pip install "py-spy>=0.4"`; Linux, permission to
trace: root, or `kernel.yama.ptrace_scope = 0`). Not part of `bench/run`: it explains a
figure, it does not make one. Figures and their reading: bench/RESULTS.md.

    python bench/profile_b1.py [--seconds 10] [--rate 200]
    python bench/profile_b1.py --shapes 2x4,2x8,3x4,1x8 [--seconds 8] [--minimal]
    python bench/profile_b1.py --in-process 3000 [--learners 20000]
    python bench/profile_b1.py --syscalls [--seconds 6]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import children
from bench.sms import (
    AUTH_TOKEN,
    CARRIERS,
    measure,
    minimal_server,
    prepared_requests,
    served_gateway,
)

# A request thread's state, from its stack (innermost test first). gunicorn's gthread
# workers run requests on a pool of threads named ThreadPoolExecutor-*.
THREAD_STATES = (
    ("no request to serve", lambda s: s[-1].startswith("_worker (concurrent/futures")),
    ("waiting for the other process's write lock", lambda s: "Store._file_lock" in s[-1]),
    ("queued behind its process's write transaction",
     lambda s: _has(s, "GroupCommit.run") and not _has(s, "GroupCommit._commit")),
    ("in the write transaction", lambda s: _has(s, "GroupCommit._commit")),
    ("in a request, outside the write transaction", lambda s: _has(s, "Flask.__call__")),
    ("gunicorn: reading, answering, handing the connection back", lambda s: True),
)

# Stages of one webhook in one thread, by the function that does each (gateway code).
STAGES = (
    ("whole webhook", "CarrierWebhooks.__call__"),
    ("signature check (twilio's RequestValidator)", "CarrierAdapter.authenticate"),
    ("form parsing", "read_form"),
    ("sender to E.164 (phonenumbers)", "_learner_number"),
    ("write transaction (store, engine, replies, commit)", "GroupCommit._commit"),
    ("  BEGIN IMMEDIATE .. COMMIT, file lock", "Store._immediate"),
    ("  message stored", "MessagesStore.record_inbound"),
    ("  engine (Engine.handle)", "Engine.handle"),
    ("  learner seen, next check planned, learner saved", "learner_acted"),
    ("  replies rendered, split, queued", "_queue_outcome"),
    ("  events recorded (within the stages above)", "Store.record_event"),
)


LEARNERS = 20000  # as B1: the share of numbers seen for the first time is B1's
WARM_UP = 3000  # messages before the measured ones, as the served profile's 3 s warm-up

_NO_SAMPLES = ("py-spy recorded no samples of the gateway's code: py-spy 0.4 or later is "
               "needed (it names methods with their class, as the stages above expect)")


def _has(stack: list[str], function: str) -> bool:
    return any(frame.startswith(function + " ") for frame in stack)


def _samples(path: Path, thread_name: str | None = None):
    """(stack, count) for each line of py-spy's raw output; with `thread_name`, only the
    threads whose name contains it (py-spy --threads puts the thread first)."""
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if thread_name is not None and thread_name not in frames[0]:
            continue
        yield [re.sub(r":\d+\)$", ")", frame) for frame in frames], int(count)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        sys.exit("py-spy is needed: pip install py-spy")
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _load(gateway, run: int, seconds: float,
          on_start: Callable[[], None] | None = None) -> tuple[dict, float]:
    """B1's closed loop for `seconds`: its figures, and the server's busy cores while it
    ran (counted from when the load process starts sending, not while it prepares)."""
    pids = [gateway.process.pid, *children(gateway.process.pid)]
    began: list[tuple[float, float]] = []

    def started() -> None:
        began.append((_cpu_seconds(pids), time.monotonic()))
        if on_start is not None:
            on_start()

    load = measure("closed", gateway.url, run, LEARNERS, on_start=started, seconds=seconds,
                   ceiling=3000, connections=16)
    cpu, at = began[0]
    return load, (_cpu_seconds(pids) - cpu) / (time.monotonic() - at)


def _say_load(label: str, load: dict, cores: float) -> None:
    print(f"{label}: {load['rate']:.0f} webhooks/s (p50 {load['p50']:.1f} ms), server "
          f"{cores:.2f} cores busy = {cores / load['rate'] * 1000:.2f} ms of CPU a message, "
          f"load generator {load['client_cpu']:.2f} cores")


def served(seconds: float, rate: int) -> None:
    """The same load twice: plain (rate and CPU), then with py-spy sampling the request
    threads of both gunicorn workers (what they were doing)."""
    spy = _py_spy()
    out = Path(tempfile.mkdtemp(prefix="learnline-profile-"))
    with served_gateway() as gateway:
        _load(gateway, 0, 3)  # warm: caches, first contacts
        _say_load(f"closed loop, 16 connections, {seconds:g} s", *_load(gateway, 1, seconds))
        workers = children(gateway.process.pid)
        spies: list[tuple[int, subprocess.Popen]] = []

        def sample() -> None:  # py-spy on each worker, from the moment the load starts
            spies.extend((pid, subprocess.Popen(
                [spy, "record", "--idle", "--threads", "--nonblocking", "--rate", str(rate),
                 "--format", "raw", "--output", str(out / f"{pid}.txt"), "--pid", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)) for pid in workers)

        _say_load(f"the same with py-spy at {rate}/s on {len(workers)} workers",
                  *_load(gateway, 2, seconds, on_start=sample))
        for pid, process in spies:
            process.send_signal(signal.SIGINT)  # the load is over: write what was sampled
            _, error = process.communicate()
            if not (out / f"{pid}.txt").exists():
                sys.exit(f"py-spy failed (exit {process.returncode}): {error.decode()[-500:]}"
                         "\n(tracing another process needs root or "
                         "kernel.yama.ptrace_scope = 0)")
    states: Counter[str] = Counter()
    for path in sorted(out.glob("*.txt")):
        for stack, count in _samples(path, "ThreadPoolExecutor"):
            state = next(name for name, test in THREAD_STATES if test(stack))
            states[state] += count
    total = sum(states.values())
    shutil.rmtree(out, ignore_errors=True)
    if not total:
        sys.exit(_NO_SAMPLES)
    print("request threads, share of wall-clock samples:")
    for name, _test in THREAD_STATES:
        print(f"  {states[name] / total * 100:5.1f}%  {name}")


def shapes(seconds: float, wanted: list[str], minimal: bool = False) -> None:
    """B1's closed loop against the gateway under other gunicorn shapes (processes x
    threads, through deploy/gunicorn.conf.py's environment variables), alternated twice;
    with `minimal`, each followed by the minimal webhook under the same shape."""
    for run in (1, 2):
        for shape in wanted:
            processes, threads = shape.split("x")
            env = {"LEARNLINE_WEB_WORKERS": processes, "LEARNLINE_WEB_THREADS": threads}
            with served_gateway(env) as gateway:
                _load(gateway, 0, 3)
                _say_load(f"{shape} (round {run})", *_load(gateway, run, seconds))
            if minimal:
                os.environ.update(env)  # the minimal app's gunicorn reads the same settings
                with minimal_server() as reference:
                    _load(reference, 0, 3)
                    _say_load(f"{shape} minimal (round {run})",
                              *_load(reference, run, seconds))


# What `--syscalls` counts, per message: perf's name, and the name printed.
SYSCALL_EVENTS = (
    ("context-switches", "context switches"),
    ("raw_syscalls:sys_enter", "system calls in all"),
    ("syscalls:sys_enter_pread64", "pread (a page read from the database or its WAL)"),
    ("syscalls:sys_enter_pwrite64", "pwrite (a WAL frame's header or page, a checkpoint)"),
    ("syscalls:sys_enter_futex", "futex (a thread, or the GIL, waited for or woken)"),
    ("syscalls:sys_enter_flock", "flock (the cross-process write lock)"),
    ("syscalls:sys_enter_fcntl", "fcntl (SQLite's file locks)"),
)


def syscalls(seconds: float) -> None:
    """B1's closed loop against the gateway and the minimal webhook (the shipped gunicorn
    shape), alternated twice, each under `perf stat`: counts per message."""
    perf = shutil.which("perf")
    if perf is None:
        sys.exit("--syscalls needs perf (linux-perf)")
    for run in (1, 2):
        for name, server in (("gateway", served_gateway), ("minimal webhook", minimal_server)):
            with server() as reference:
                _load(reference, 0, 3)
                load, counts = _perf_counted(perf, reference, run, seconds)
            print(f"{name} (round {run}): {load['rate']:.0f} webhooks/s; a message: " + ", ".join(
                f"{counts.get(event, 0) / load['n']:.1f} {label}"
                for event, label in SYSCALL_EVENTS))


def _perf_counted(perf: str, server, run: int, seconds: float) -> tuple[dict, dict]:
    """B1's closed loop for `seconds` with `perf stat` on the server's processes: (the
    load's figures, {event: count}). perf attaches before the load starts, so it also
    counts the idle server while the load prepares its requests: a few dozen calls a
    second against over 100,000 under load. Exits naming any event perf did not count
    (not supported, or not permitted), rather than print it as zero."""
    pids = [server.process.pid, *children(server.process.pid)]
    output = Path(tempfile.mkdtemp(prefix="learnline-perf-")) / "stat.csv"
    counting = subprocess.Popen(
        [perf, "stat", "-x", ",", "-o", str(output),
         "-e", ",".join(event for event, _label in SYSCALL_EVENTS),
         "-p", ",".join(map(str, pids))],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # attaching; the load then takes longer to prepare its requests
        load, _cores = _load(server, run, seconds)
    finally:
        counting.send_signal(signal.SIGINT)  # perf writes its counts on an interrupt
        _, error = counting.communicate()
    counts = {}
    for line in output.read_text().splitlines() if output.exists() else ():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].replace(".", "", 1).isdigit():
            counts[fields[2]] = float(fields[0])
    shutil.rmtree(output.parent, ignore_errors=True)
    missing = [event for event, _label in SYSCALL_EVENTS if event not in counts]
    if missing or not load["n"]:
        sys.exit(f"perf stat did not count {', '.join(missing) or 'any message'} "
                 f"(exit {counting.returncode}): {error.decode()[-500:]}")
    return load, counts


class _TimedConnection(sqlite3.Connection):
    """A connection that adds up the time of each kind of statement (`--in-process`)."""

    seconds: ClassVar[Counter[str]] = Counter()
    calls: ClassVar[Counter[str]] = Counter()

    def execute(self, sql: str, *args) -> sqlite3.Cursor:
        began = time.perf_counter()
        try:
            return super().execute(sql, *args)
        finally:
            kind = " ".join(sql.split())[:60]
            _TimedConnection.seconds[kind] += time.perf_counter() - began
            _TimedConnection.calls[kind] += 1


def in_process(count: int, rate: int, learners: int = 20000) -> None:
    """`count` webhooks through the WSGI app in this process, one thread, three times over:
    plain (time per webhook), under py-spy (each stage's share), and on a second app whose
    connections time each SQL statement."""
    spy = _py_spy()
    folder = Path(tempfile.mkdtemp(prefix="learnline-profile-"))
    # As the served profile sends them: 3,000 messages of a warm-up load first (caches,
    # first contacts), then the measured ones, so first contacts are as common as there.
    warm = prepared_requests(8000, WARM_UP, 0, learners)
    prepared = prepared_requests(8000, 2 * count, 1, learners)
    requests = iter(warm + prepared)
    plain_app = _app(folder / "plain")
    _webhooks(plain_app, requests, WARM_UP)
    plain = _webhooks(plain_app, requests, count)
    output = folder / "profile.txt"
    process = subprocess.Popen(
        [spy, "record", "--rate", str(rate), "--format", "raw", "--output", str(output),
         "--pid", str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaching
    profiled = _webhooks(plain_app, requests, count)
    process.send_signal(signal.SIGINT)  # py-spy writes its file on an interrupt
    _, error = process.communicate()
    if not output.exists():
        sys.exit(f"py-spy failed (exit {process.returncode}): {error.decode()[-500:]}\n"
                 "(tracing a process needs root or kernel.yama.ptrace_scope = 0)")
    connect = sqlite3.connect
    # The second app's connections (opened by its first requests) time their statements.
    sqlite3.connect = partial(connect, factory=_TimedConnection)  # type: ignore[assignment]
    try:
        timed_app = _app(folder / "timed")
        requests = iter(warm + prepared)  # the same messages as the plain pass
        _webhooks(timed_app, requests, WARM_UP)
        _TimedConnection.seconds.clear()
        _TimedConnection.calls.clear()
        _webhooks(timed_app, requests, count)
    finally:
        sqlite3.connect = connect
    print(f"{count} signed Twilio webhooks from {learners:,} numbers through the WSGI app, "
          f"one thread: {plain * 1e6:.0f} us each")
    seconds, calls = _TimedConnection.seconds, _TimedConnection.calls
    print(f"SQL (second app, statements timed): {sum(seconds.values()) / count * 1e6:.0f} us "
          f"and {sum(calls.values()) / count:.1f} statements a webhook; the largest:")
    for kind, spent in seconds.most_common(8):
        print(f"  {spent / count * 1e6:6.1f} us  {calls[kind] / count:4.2f} x  {kind}")
    samples = [(stack, n) for stack, n in _samples(output)
               if _has(stack, "CarrierWebhooks.__call__")]
    total = sum(n for _stack, n in samples)
    shutil.rmtree(folder, ignore_errors=True)
    if not total:
        sys.exit(_NO_SAMPLES)
    print(f"stages, from py-spy at {rate}/s ({profiled * 1e6:.0f} us a webhook with it "
          "attached; a stage includes the stages it calls):")
    for name, function in STAGES:
        share = sum(n for stack, n in samples if _has(stack, function))
        print(f"  {share / total * 100:5.1f}%  {name}")


def _app(folder: Path):
    """The gateway's WSGI app on a fresh database in `folder`, with B1's carrier."""
    os.environ["BENCH_TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    from gateway.app import create_app

    folder.mkdir(parents=True)
    (folder / "carriers.toml").write_text(CARRIERS)
    return create_app({"DATABASE": str(folder / "bench.db"),
                       "CARRIERS_FILE": str(folder / "carriers.toml"), "SECRET_KEY": "bench"})


def _webhooks(app, requests, count: int) -> float:
    """Send the next `count` prepared requests through `app`; seconds per webhook."""
    status: list[str] = []

    def start_response(line: str, headers: list, exc: object = None) -> None:
        status.append(line)

    began = time.perf_counter()
    for _ in range(count):
        b"".join(app(_environ(next(requests)), start_response))
        if not status[-1].startswith("200"):
            raise RuntimeError(f"webhook answered {status[-1]}")
    return (time.perf_counter() - began) / count


def _environ(raw: bytes) -> dict:
    """The WSGI environ gunicorn would build for one prepared request."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    method, path, _version = lines[0].split(" ")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1",
               "wsgi.errors": sys.stderr, "wsgi.multithread": True,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}
    for line in lines[1:]:
        key, value = line.split(": ", 1)
        key = key.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples a second")
    parser.add_argument("--in-process", type=int, metavar="N", default=0,
                        help="profile N webhooks in this process instead")
    parser.add_argument("--learners", type=int, default=LEARNERS,
                        help="--in-process: the numbers messages come from (fewer: fewer "
                             "first contacts, which cost more)")
    parser.add_argument("--shapes", metavar="PxT,...",
                        help="no profile: rate and CPU under these gunicorn shapes")
    parser.add_argument("--minimal", action="store_true",
                        help="--shapes: alternate each with the minimal webhook")
    parser.add_argument("--syscalls", action="store_true",
                        help="no profile: system calls and context switches a message, "
                             "the gateway and the minimal webhook (perf stat)")
    args = parser.parse_args()
    if args.syscalls:
        syscalls(args.seconds)
    elif args.in_process:
        in_process(args.in_process, args.rate, args.learners)
    elif args.shapes:
        shapes(args.seconds, args.shapes.split(","), args.minimal)
    else:
        served(args.seconds, args.rate)


if __name__ == "__main__":
    main()
