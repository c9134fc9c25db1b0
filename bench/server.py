"""Start and stop a real `learnline serve` (gunicorn, deploy/ settings) for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`learnline serve --no-worker` on a fresh database in a temporary folder."""

    def __init__(self, carriers_toml: str, env: dict[str, str] | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="learnline-bench-"))
        (self.dir / "carriers.toml").write_text(carriers_toml)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LEARNLINE_DB": str(self.dir / "bench.db"),
                    "LEARNLINE_CARRIERS": str(self.dir / "carriers.toml"),
                    "LEARNLINE_ACCESS_LOG": "", **(env or {})}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Served:
        log = (self.dir / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port),
             "--no-worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError((self.dir / "serve.log").read_text()) from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)
