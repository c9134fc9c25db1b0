"""B1 and B7: signed Twilio inbound SMS webhooks against `learnline serve --no-worker`,
compared with two references under the same gunicorn settings, in the same run.

- peak: `--connections` keep-alive connections, each sending the next request as soon as
  the last answer arrives, for `--seconds`: requests per second, for the gateway (verify
  the signature, store the message, run the engine, commit the replies to the outbox),
  for `bench/minimal_app.py` (the least a correct webhook does: verify the signature,
  store the message unique on its MessageSid and queue one reply in one SQLite WAL
  transaction) and for `bench/bare_app.py` (answers `<Response/>`), alternated run by
  run. Targets: gateway / minimal >= 0.8; gateway / bare >= 0.5.
- paced: an open-loop load at half the gateway's median peak (requests start on a fixed
  schedule whatever the answers do; latency counts from the scheduled start, so queueing
  is not hidden). Target: p99 < 50 ms.
- B7: VmRSS of each gunicorn worker of the gateway after the load (and the largest seen
  while it ran). Target: <= 80 MB.

Every request carries a new MessageSid, comes from one of `--learners` Nigerian numbers
and says START, NEXT, A, B, C or STATUS; all are signed like Twilio signs them
(tests/fakes/signing.py) and prepared before the clock starts.

    python bench/sms.py [--seconds 8] [--paced-seconds 10] [--runs 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Result, children, median, vm_rss_kib
from bench.loadgen import Connection, percentile
from bench.server import Served, free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_URL = "https://learnline.example.org"
SENDER = "+15005550006"
PATH = "/carriers/twilio/sms"
CARRIERS = f"""
[carriers.twilio]
adapter = "twilio"
sender = "{SENDER}"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{BENCH_TWILIO_AUTH_TOKEN}}"
api_base_url = "http://127.0.0.1:9"
public_url = "{PUBLIC_URL}"
tps = 200
# B1's 20,000 learners share 20 blocks of 1,000 numbers: at B1's rates each block would
# pass the default 120 messages a minute within seconds, and B1 would measure the
# throttled path instead of the whole engine.
block_per_minute = 100000
"""
BODIES = ["NEXT", "NEXT", "A", "B", "NEXT", "C", "STATUS", "START"]


def served_gateway(extra_env: dict[str, str] | None = None, db: Path | None = None) -> Served:
    """`learnline serve --no-worker` with the Twilio carrier (optionally on a given DB)."""
    served = Served(CARRIERS, env={"BENCH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, **(extra_env or {})})
    if db is not None:
        served.env["LEARNLINE_DB"] = str(db)
    return served


class BareServer:
    """A reference app (bench/bare_app.py unless told) under
    `gunicorn -c deploy/gunicorn.conf.py`."""

    def __init__(self, app: str = "bench.bare_app:app", env: dict[str, str] | None = None):
        self.app = app
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> BareServer:
        env = {**os.environ, "LEARNLINE_ACCESS_LOG": "", **self.extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", self.app],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(self.process.stderr.read().decode()) from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)


def minimal_server() -> BareServer:
    """bench/minimal_app.py (verify, store once, queue one reply) on a fresh database."""
    folder = Path(tempfile.mkdtemp(prefix="learnline-bench-minimal-"))
    return BareServer("bench.minimal_app:app", {
        "BENCH_MINIMAL_DB": str(folder / "minimal.db"),
        "BENCH_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "BENCH_PUBLIC_URL": PUBLIC_URL})


def _signature(url: str, params: dict[str, str]) -> str:
    from tests.fakes.signing import twilio_signature

    return twilio_signature(AUTH_TOKEN, url, params)


def prepared_requests(port: int, count: int, run: int, learners: int) -> list[bytes]:
    """`count` complete signed Twilio inbound requests, each with a new MessageSid."""
    rng = random.Random(run)
    started: set[int] = set()
    requests = []
    for n in range(count):
        learner = rng.randrange(learners)
        phone = f"+234803{learner:07d}"
        body = "START" if learner not in started else rng.choice(BODIES)
        started.add(learner)
        sid = f"SM{run:06x}{n:026x}"
        params = {
            "ToCountry": "NG", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
            "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "NG",
            "To": SENDER, "MessagingServiceSid": "", "ToZip": "", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": phone,
            "ApiVersion": "2010-04-01",
        }
        data = urlencode(params).encode()
        head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(data)}\r\n"
                f"X-Twilio-Signature: {_signature(PUBLIC_URL + PATH, params)}\r\n\r\n")
        requests.append(head.encode() + data)
    return requests


async def _send(connection: Connection, payload: bytes) -> int:
    """Send one request; on a kept-alive connection the server has closed (its keepalive
    ran out, or gunicorn recycled the worker under max_requests), reconnect and send
    again: the server never read it. Returns the status."""
    try:
        status, _, _ = await connection.send(payload)
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
        await connection.close()
        status, _, _ = await connection.send(payload)
    return status


async def _closed(url: str, requests: list[bytes], connections: int,
                  seconds: float) -> dict:
    """Each connection sends as soon as its last answer came: peak rate."""
    pending = iter(requests)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        connection = Connection(url)
        for payload in pending:
            if time.perf_counter() >= stop:
                break
            began = time.perf_counter()
            status = await _send(connection, payload)
            if status != 200:
                errors += 1
            latencies.append(time.perf_counter() - began)
        await connection.close()

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    wall = time.perf_counter() - start
    if len(latencies) >= len(requests):
        raise RuntimeError("ran out of prepared requests: raise the estimate")
    return {"n": len(latencies), "rate": len(latencies) / wall, "errors": errors,
            "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
            "client_cpu": (time.process_time() - cpu) / wall}


async def _open(url: str, requests: list[bytes], rate: float) -> dict:
    """Requests start on a fixed schedule (open loop), on any idle connection."""
    idle: list[Connection] = []
    latencies: list[float] = []
    lag: list[float] = []
    errors = 0
    tasks = []

    async def one(payload: bytes, due: float) -> None:
        nonlocal errors
        connection = idle.pop() if idle else Connection(url)
        status = await _send(connection, payload)
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        idle.append(connection)

    start = time.perf_counter() + 0.05
    for n, payload in enumerate(requests):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(time.perf_counter() - due)
        tasks.append(asyncio.create_task(one(payload, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    for connection in idle:
        await connection.close()
    return {"n": len(latencies), "rate": len(latencies) / wall, "errors": errors,
            "p50": percentile(latencies, 50) * 1000, "p90": percentile(latencies, 90) * 1000,
            "p99": percentile(latencies, 99) * 1000, "max": max(latencies) * 1000,
            "connections": len(idle), "lag_p99": percentile(lag, 99) * 1000}


def _load(kind: str, url: str, port: int, run: int, learners: int, params: dict,
          queue) -> None:
    if kind == "closed":
        count = int(params["seconds"] * params["ceiling"])
        requests = prepared_requests(port, count, run, learners)
        queue.put(_STARTED)
        queue.put(asyncio.run(_closed(url, requests, params["connections"],
                                      params["seconds"])))
    else:
        count = int(params["seconds"] * params["rate"])
        requests = prepared_requests(port, count, run, learners)
        queue.put(_STARTED)
        queue.put(asyncio.run(_open(url, requests, params["rate"])))


_STARTED = "started"  # the load process has prepared its requests and starts sending


def measure(kind: str, url: str, run: int, learners: int,
            on_start: Callable[[], None] | None = None, **params) -> dict:
    """One load in its own process (spawned: it shares nothing with the server).
    `on_start` is called when the load begins, after its requests are prepared."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    port = int(url.rsplit(":", 1)[1])
    process = context.Process(target=_load, args=(kind, url, port, run, learners, params,
                                                  queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1)
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"the {kind} load process died (exit {process.exitcode})"
                                   ) from None
            continue
        if result != _STARTED:
            break
        if on_start is not None:
            on_start()
    process.join()
    return result


class RssSampler:
    """Samples VmRSS of a gunicorn master's workers in the background; keeps the largest."""

    def __init__(self, master: int):
        self.master = master
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[int, int]:
        now = {}
        for pid in children(self.master):
            try:
                now[pid] = vm_rss_kib(pid)
            except (OSError, RuntimeError):
                continue
            self.peak[pid] = max(self.peak.get(pid, 0), now[pid])
        return now

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _print_rows(title: str, rows: list[dict], keys: list[str]) -> None:
    print(title)
    print("  " + " ".join(f"{k:>10}" for k in ["run", *keys]))
    med = {k: median(r[k] for r in rows) for k in keys}
    for label, row in [*((str(n), r) for n, r in enumerate(rows, 1)), ("median", med)]:
        print("  " + " ".join([f"{label:>10}", *(f"{row[k]:>10.2f}" if abs(row[k]) < 10
                                                  else f"{row[k]:>10.1f}" for k in keys)]))


def run(*, seconds: float = 8.0, paced_seconds: float = 10.0, runs: int = 3,
        connections: int = 16, learners: int = 20000, served: Served | None = None,
        compare_bare: bool = True, label: str = "B1") -> tuple[list[Result], dict]:
    """Run B1 (and B7); return the table rows and the medians."""
    own = served is None
    gateway = served or served_gateway()
    if own:
        gateway.__enter__()
    try:
        bare = BareServer().__enter__() if compare_bare else None
        minimal = minimal_server().__enter__() if compare_bare else None
        try:
            with RssSampler(gateway.process.pid) as rss:
                peaks_g, peaks_b, peaks_m, ratios = [], [], [], []
                for n in range(runs + 1):  # run 0 warms every server up
                    secs = seconds if n else min(3.0, seconds)
                    if bare is not None:
                        b = measure("closed", bare.url, 1000 + n, learners, seconds=secs,
                                    ceiling=6000, connections=connections)
                        m = measure("closed", minimal.url, 2000 + n, learners, seconds=secs,
                                    ceiling=6000, connections=connections)
                    g = measure("closed", gateway.url, n, learners, seconds=secs,
                                ceiling=3000, connections=connections)
                    if n == 0:
                        continue
                    peaks_g.append(g)
                    if bare is not None:
                        peaks_b.append(b)
                        peaks_m.append(m)
                        ratios.append({"minimal": g["rate"] / m["rate"],
                                       "bare": g["rate"] / b["rate"]})
                peak = median(r["rate"] for r in peaks_g)
                paced = [measure("open", gateway.url, 100 + n, learners, seconds=paced_seconds,
                                 rate=peak / 2) for n in range(runs)]
                after = rss.sample()
        finally:
            for reference in (bare, minimal):
                if reference is not None:
                    reference.__exit__()
    finally:
        if own:
            gateway.__exit__()
    keys = ["n", "rate", "errors", "p50", "p99", "client_cpu"]
    _print_rows(f"{label} peak, gateway ({connections} connections, {seconds:g} s)",
                peaks_g, keys)
    if peaks_b:
        _print_rows(f"{label} peak, minimal correct webhook (bench/minimal_app.py), same "
                    "gunicorn settings", peaks_m, keys)
        _print_rows(f"{label} peak, bare Flask app, same gunicorn settings", peaks_b, keys)
        _print_rows(f"{label} ratio gateway/minimal and gateway/bare (same run)", ratios,
                    ["minimal", "bare"])
    _print_rows(f"{label} paced (open loop) at {peak / 2:.0f} req/s ({paced_seconds:g} s)",
                paced, ["n", "rate", "errors", "p50", "p90", "p99", "max", "connections",
                        "lag_p99"])
    med = {
        "peak": peak,
        "bare": median(r["rate"] for r in peaks_b) if peaks_b else None,
        "minimal": median(r["rate"] for r in peaks_m) if peaks_m else None,
        "ratio": median(r["minimal"] for r in ratios) if ratios else None,
        "ratio_bare": median(r["bare"] for r in ratios) if ratios else None,
        "paced_rate": peak / 2,
        "p50": median(r["p50"] for r in paced),
        "p99": median(r["p99"] for r in paced),
        "errors": sum(r["errors"] for r in peaks_g + paced),
        "reference_errors": sum(r["errors"] for r in peaks_b + peaks_m),
        "rss_after": {pid: kib / 1024 for pid, kib in after.items()},
        "rss_peak": {pid: kib / 1024 for pid, kib in rss.peak.items()},  # recycled too
    }
    print(f"{label} errors (non-200 answers) from the gateway: {med['errors']}")
    if peaks_b:
        print(f"{label} errors (non-200 answers) from the references: "
              f"{med['reference_errors']}")
    results = []
    if med["ratio"] is not None:
        results.append(Result(
            "B1", "signed Twilio webhooks/s, gateway vs minimal correct webhook (ratio)",
            f"{peak:.0f} vs {med['minimal']:.0f}/s = {med['ratio']:.2f}", ">= 0.8",
            med["ratio"] >= 0.8))
        results.append(Result(
            "B1", "signed Twilio webhooks/s, gateway vs bare Flask (ratio)",
            f"{peak:.0f} vs {med['bare']:.0f}/s = {med['ratio_bare']:.2f}", ">= 0.5",
            med["ratio_bare"] >= 0.5))
    results.append(Result(
        label, f"p99 at half peak ({peak / 2:.0f}/s, open loop)", f"{med['p99']:.1f} ms "
        f"(p50 {med['p50']:.1f})", "< 50 ms", med["p99"] < 50))
    if own:
        worst_after = max(med["rss_after"].values())
        worst_peak = max(med["rss_peak"].values())
        print(f"B7 VmRSS of gateway workers after B1: "
              f"{', '.join(f'pid {p}: {m:.1f} MB' for p, m in med['rss_after'].items())}; "
              f"largest seen during B1: {worst_peak:.1f} MB")
        results.append(Result("B7", "VmRSS per gunicorn worker after B1 (max seen)",
                              f"{worst_after:.1f} MB ({worst_peak:.1f})", "<= 80 MB",
                              worst_peak <= 80))
    return results, med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--learners", type=int, default=20000)
    args = parser.parse_args()
    results, _ = run(seconds=args.seconds, paced_seconds=args.paced_seconds, runs=args.runs,
                     connections=args.connections, learners=args.learners)
    from bench.common import table

    print(table(results))


if __name__ == "__main__":
    main()
