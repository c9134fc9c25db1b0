"""How long a carrier's webhook waits for its answer while another process holds the
database's write lock (a stuck worker, a long import).

Starts `learnline serve --no-worker` (gunicorn, the shipped settings) on a new database
in a temporary folder, starts a second process that opens the same database with
Learnline's store and holds a write transaction, then posts one inbound SMS to the
console carrier's webhook and times its answer, up to `--bound` seconds. Run it from the
checkout to measure (the server and the holder run that checkout's code):

    python -m bench.lock_wait            # prints e.g. "answer: 503 after 10.0 s"
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.ports import free_port

HOLDER = """
import sys, time
from gateway.store import Store
with Store.open(sys.argv[1]) as store, store.write():
    print("holding", flush=True)
    time.sleep(3600)
"""


def _wait_up(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"learnline serve did not come up:\n{log.read_text()}")
            time.sleep(0.2)


def measure(bound: float) -> str:
    """One line: the webhook's answer and how long it took, or that it had none within
    `bound` seconds."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        port = free_port()
        env = {**os.environ, "LEARNLINE_DB": str(root / "lock.db"),
               "LEARNLINE_METRICS_DIR": str(root / "metrics"),
               "PYTHONPATH": os.getcwd()}
        env.pop("LEARNLINE_CARRIERS", None)  # the console carrier, loopback only
        log = root / "serve.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--no-worker", "--port",
                 str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
        base = f"http://127.0.0.1:{port}"
        holder = None
        try:
            _wait_up(base, server, log)
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, env["LEARNLINE_DB"]],
                                      env=env, stdout=subprocess.PIPE, text=True)
            assert holder.stdout.readline() == "holding\n"
            data = urllib.parse.urlencode({"from": "+221770000000", "text": "START",
                                           "id": "lock-wait-1"}).encode()
            started = time.monotonic()
            try:
                with urllib.request.urlopen(f"{base}/carriers/console/sms", data=data,
                                            timeout=bound) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (TimeoutError, urllib.error.URLError):
                return f"answer: none within {bound:g} s (> {bound:g} s)"
            return f"answer: {status} after {time.monotonic() - started:.1f} s"
        finally:
            if holder is not None:
                holder.kill()
                holder.wait()
                holder.stdout.close()
            server.terminate()
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bound", type=float, default=30.0,
                        help="Give up waiting for the answer after this many seconds.")
    print(measure(parser.parse_args().bound))


if __name__ == "__main__":
    main()
