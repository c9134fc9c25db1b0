"""Slow clients against a real server, and the shipped ways of running Learnline.

`SlowClients` holds connections open the way a slow or hostile client does: some send
nothing, some send a request's headers one byte at a time, some send whole headers and
then the body one byte at a time. `time_healthz` times one `GET /healthz` meanwhile.
`shipped_ways` reads the command lines of each documented way of running Learnline from
the files that ship them (README.md, deploy/systemd, deploy/Containerfile), and
`run_way` starts one on a free loopback port on a fresh database. Used by
tests/test_slow_clients.py and bench/slow_clients.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent

# One byte of a trickling request every this many seconds.
TRICKLE_SECONDS = 1.0
# Between opening two connections.
OPEN_SECONDS = 0.005


class SlowClients:
    """`count` connections to host:port held open slowly until `close()`: a third send
    nothing, a third trickle a request's headers, a third send headers and trickle the
    body. A connection the server answers or closes is replaced by a new one of the same
    kind, as an attacker would (counted in `reopened`), so `count` stay open."""

    def __init__(self, host: str, port: int, count: int):
        self.host, self.port, self.count = host, port, count
        self.kinds: dict[socket.socket, int] = {}
        self.pending: dict[socket.socket, bytes] = {}
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def open(self) -> SlowClients:
        """Connect every client, a few milliseconds apart as an attack would (a burst
        lands on whichever server process wakes first); start trickling."""
        for n in range(self.count):
            self._connect(n % 3)
            time.sleep(OPEN_SECONDS)
        self._thread.start()
        return self

    def _connect(self, kind: int) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        if kind == 1:
            self.pending[sock] = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"User-Agent: slow\r\nAccept: */*\r\nX-Pad: " +
                                  b"a" * 4000 + b"\r\n\r\n")
        elif kind == 2:
            body = b"From=%2B2348030000000&Body=HELLO&MessageSid=SM" + b"0" * 64
            sock.sendall(b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body))
            self.pending[sock] = body
        sock.setblocking(False)
        self.kinds[sock] = kind

    def _trickle(self) -> None:
        while not self._stop.wait(TRICKLE_SECONDS):
            for sock, kind in list(self.kinds.items()):
                rest = self.pending.get(sock, b"")
                try:
                    sock.recv(4096)  # an answer or the end: the server is done with it
                except BlockingIOError:
                    pass  # still waiting for the rest of the request
                except OSError:
                    self._replace(sock, kind)
                    continue
                else:
                    self._replace(sock, kind)
                    continue
                if len(rest) > 1:  # never finish a request
                    try:
                        sock.send(rest[:1])
                        self.pending[sock] = rest[1:]
                    except OSError:
                        self._replace(sock, kind)

    def _replace(self, sock: socket.socket, kind: int) -> None:
        sock.close()
        del self.kinds[sock]
        self.pending.pop(sock, None)
        if not self._stop.is_set():
            self._connect(kind)
            self.reopened += 1

    def close(self) -> None:
        """Stop trickling and close every connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        for sock in list(self.kinds):
            sock.close()


@contextmanager
def slow_clients(host: str, port: int, count: int) -> Iterator[SlowClients]:
    """`count` slow connections held open for the duration of the block."""
    clients = SlowClients(host, port, count)
    try:
        yield clients.open()
    finally:
        clients.close()


def worst_healthz(host: str, port: int, probes: int, timeout: float) -> float | None:
    """The slowest of `probes` timings of /healthz a second apart (None: one of them got
    no answer within `timeout`)."""
    worst = 0.0
    for n in range(probes):
        if n:
            time.sleep(1)
        seconds = time_healthz(host, port, timeout)
        if seconds is None:
            return None
        worst = max(worst, seconds)
    return worst


def time_healthz(host: str, port: int, timeout: float) -> float | None:
    """Seconds until a full answer to `GET /healthz` (status 200) arrives, or None if
    none came within `timeout` (or it was not a 200)."""
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
                if time.monotonic() - start > timeout:
                    return None
    except OSError:
        return None
    if not answer.startswith(b"HTTP/1.1 200"):
        return None
    return time.monotonic() - start


# -- the shipped ways of running Learnline ------------------------------------------------


def _learnline(argv: list[str]) -> list[str]:
    """A shipped `learnline ...` command line as this checkout runs it."""
    assert Path(argv[0]).name == "learnline", argv
    return [sys.executable, "-m", "gateway.cli", *argv[1:]]


def _with_port(argv: list[str], port: int) -> list[str]:
    argv = list(argv)
    argv[argv.index("--port") + 1] = str(port)
    return argv


def shipped_ways() -> dict[str, list[str]]:
    """Each documented way of running the web server, as the argv its file gives (the
    `learnline` program first): README.md's public example, the systemd web unit's
    ExecStart and the Containerfile's default command."""
    readme = (ROOT / "README.md").read_text()
    [line] = re.findall(r"^\S*learnline serve --host 0\.0\.0\.0 .*$", readme, flags=re.M)
    unit = (ROOT / "deploy" / "systemd" / "learnline-web.service").read_text()
    [exec_start] = re.findall(r"^ExecStart=(.*)$", unit, flags=re.M)
    containerfile = (ROOT / "deploy" / "Containerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", containerfile, flags=re.M)
    return {"readme": shlex.split(line), "systemd": shlex.split(exec_start),
            "container": json.loads(cmd)}


class Running:
    """A shipped command running on loopback; `port` is where it listens."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.port, self.log = process, port, log


@contextmanager
def run_way(argv: list[str], folder: Path, port: int,
            env: dict[str, str] | None = None, open_files: int | None = None
            ) -> Iterator[Running]:
    """Start a shipped `learnline serve ...` command line on `port` with a fresh
    database in `folder` (and at most `open_files` file descriptors per process, if
    given); stop it afterwards. A port taken meanwhile (the loopback's ephemeral ports are
    also the local ports of other tests' client connections) is traded for another free
    one: `Running.port` is where it listens."""
    environment = {**os.environ, "LEARNLINE_DB": str(folder / "learnline.db"),
                   "LEARNLINE_METRICS_DIR": str(folder / "metrics"),
                   "LEARNLINE_ACCESS_LOG": "", **(env or {})}
    environment.pop("LEARNLINE_CARRIERS", None)
    log = folder / "serve.log"
    for attempt in range(3):
        process, command = _start_way(argv, port, environment, log, folder, open_files)
        try:
            deadline = time.monotonic() + 60
            while time_healthz("127.0.0.1", port, 1) is None:
                if process.poll() is not None and "is in use by another program" in \
                        log.read_text() and attempt < 2:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not come up:\n{log.read_text()}")
                time.sleep(0.2)
            else:
                yield Running(process, port, log)
                return
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        port = free_port()


def _start_way(argv: list[str], port: int, environment: dict[str, str], log: Path,
               folder: Path, open_files: int | None) -> tuple[subprocess.Popen, list[str]]:
    command = _with_port(_learnline(argv), port)
    with log.open("w") as out:
        if open_files is not None:  # as `ulimit -n` would
            command = ["prlimit", f"--nofile={open_files}:{open_files}", *command]
        process = subprocess.Popen(command, env=environment, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=folder)
    return process, command
