"""A real Learning Record Store for tests: Ralph (France Université Numérique's LRS) on a
file-system backend, in its own virtual environment (`make install-test` builds it in
tests/tools/lrs-venv: its pins clash with the gateway's), on a free loopback port, with
Basic-authentication credentials of its own (written by `ralph auth`). The server is
Ralph's own application (tests/ralph_launcher.py says how it is started, and the one
change it makes)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.ports import free_port

VENV = Path(__file__).parent / "tools" / "lrs-venv"
RALPH = VENV / "bin" / "ralph"
LAUNCHER = Path(__file__).parent / "ralph_launcher.py"
USERNAME = "school-gateway"
PASSWORD = "lrs-password-for-tests-0123"
WRONG_PASSWORD = "not-the-password"


class Ralph:
    """One Ralph LRS: `start`, `stop` (its statements kept on disk), `statements`."""

    def __init__(self, folder: Path):
        if not RALPH.exists():
            raise RuntimeError(f"{RALPH} is missing: `make install-test` builds it")
        self.folder = folder
        self.data = folder / "statements"
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {**os.environ, "RALPH_AUTH_FILE": str(folder / "auth.json"),
                    "RALPH_RUNSERVER_BACKEND": "fs", "RALPH_APP_DIR": str(folder / "app"),
                    "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.data)}
        self.process: subprocess.Popen | None = None
        subprocess.run([str(RALPH), "auth", "-u", USERNAME, "-p", PASSWORD, "-s", "all",
                        "-A", "gateway", "https://lrs.example.org", "-w"],
                       env=self.env, check=True, capture_output=True, timeout=60)

    @property
    def endpoint(self) -> str:
        """The LRS's xAPI base URL, as a school gives it."""
        return f"http://127.0.0.1:{self.port}/xAPI/"

    def start(self) -> Ralph:
        """Start the server (again) on its port, and wait until it answers."""
        self.log = open(self.folder / "ralph.log", "ab")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "python"), str(LAUNCHER), "127.0.0.1", str(self.port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.folder)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Ralph stopped: " + (self.folder / "ralph.log").read_text())
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/__heartbeat__",
                                timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Ralph did not answer within 60 s")

    def stop(self) -> None:
        """Stop the server; what it stored stays in its folder."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()

    def statements(self) -> list[dict[str, Any]]:
        """Every statement the LRS holds, through its statements API (page after page)."""
        found: list[dict[str, Any]] = []
        url = self.endpoint + "statements?limit=100"
        while url:
            answer = requests.get(url, auth=(USERNAME, PASSWORD), timeout=30,
                                  headers={"X-Experience-API-Version": "1.0.3"})
            assert answer.status_code == 200, answer.text
            page = answer.json()
            found += page["statements"]
            more = page.get("more")
            url = f"http://127.0.0.1:{self.port}{more}" if more else ""
        return found

    def stored_lines(self) -> list[dict[str, Any]]:
        """The statements as Ralph wrote them on disk (one JSON document a line)."""
        return [json.loads(line) for path in sorted(self.data.glob("*")) if path.is_file()
                for line in path.read_text().splitlines() if line.strip()]

    def problems(self, statements: list[dict[str, Any]]) -> list[str]:
        """What Ralph's strict xAPI 1.0.3 statement model (`BaseXapiStatement`, stricter
        than what its POST takes) finds wrong with each statement; empty: all valid."""
        checked = subprocess.run([str(VENV / "bin" / "python"), "-c", _STRICT],
                                 input="\n".join(json.dumps(s) for s in statements),
                                 capture_output=True, text=True, timeout=120, env=self.env)
        assert checked.returncode == 0, checked.stderr
        return [line for line in checked.stdout.splitlines() if line]


_STRICT = """
import json, sys
from ralph.models.xapi.base.statements import BaseXapiStatement
for line in sys.stdin:
    statement = json.loads(line)
    try:
        BaseXapiStatement.model_validate(statement)
    except Exception as problem:
        print(statement.get("id"), str(problem).replace(chr(10), " "))
"""
