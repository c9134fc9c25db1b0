"""A real `learnline serve` (gunicorn) on loopback for end-to-end tests: `serve_gateway`,
the `gateway` fixture (import `gateway_fixture` into a test module to use it), and
`shared_gateway`, one server for a whole module."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks, carriers_toml
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi
from tests.ports import free_port

PHONE = "+2348030000000"


def post(url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Gateway:
    """A running `learnline serve` and the environment it was started with."""

    def __init__(self, env: dict[str, str], port: int, process: subprocess.Popen,
                 log: Path | None = None):
        self.env, self.port, self.process, self.log = env, port, process, log
        self.base = f"http://127.0.0.1:{port}"

    def sms(self, body: str, sid: str, *, signed: bool = True) -> tuple[int, str]:
        params = TwilioWebhooks(None).inbound_params(PHONE, body, sid)
        path = "/carriers/twilio/sms"
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)
        return post(self.base + path, params, headers)

    def drain(self) -> str:
        """Run `learnline worker --drain`; what it printed and logged."""
        result = subprocess.run([sys.executable, "-m", "gateway.cli", "worker", "--drain"],
                                env=self.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr


@pytest.fixture(name="gateway")
def gateway_fixture(tmp_path: Path, carriers_file: Path) -> Iterator[Gateway]:
    """`learnline serve --no-worker` on a fresh database with the test carriers."""
    yield from serve_gateway(tmp_path, carriers_file)


def shared_gateway(folder: Path) -> Iterator[Gateway]:
    """`learnline serve --no-worker` with the test carriers (their Twilio API on loopback),
    for a module whose tests only send it requests: a module-scoped fixture yields from it,
    so the server starts once rather than once a test."""
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as twilio_api:
        carriers_file = folder / "carriers.toml"
        carriers_file.write_text(carriers_toml(twilio_api.url))
        served = serve_gateway(folder, carriers_file)
        with pytest.MonkeyPatch.context() as env:  # the carriers file's secret, at start-up
            env.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            gateway = next(served)
        try:
            yield gateway
        finally:
            served.close()


def serve_gateway(tmp_path: Path, carriers_file: Path, *, worker: bool = False,
                  own_group: bool = False, port: int | None = None) -> Iterator[Gateway]:
    """`learnline serve` on loopback until the caller is done; `worker` runs the outbox
    worker beside it (else `--no-worker`); `own_group`: in a process group of its own,
    as a command started at a terminal is; `port` when the caller must know it first
    (else a free one)."""
    port = port or free_port()
    env = {**os.environ, "LEARNLINE_DB": str(tmp_path / "served.db"),
           "LEARNLINE_CARRIERS": str(carriers_file)}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
         *([] if worker else ["--no-worker"])],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        process_group=0 if own_group else None,
    )
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.time() < deadline, "learnline serve did not come up"
            time.sleep(0.1)
    try:
        yield Gateway(env, port, process, tmp_path / "serve.log")
    finally:
        process.terminate()
        try:
            # serve stops its web workers (graceful_timeout 10 s) and then its outbox
            # worker: on a loaded machine that takes longer than either alone.
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()  # its worker goes with it (PR_SET_PDEATHSIG)
            process.wait(10)
            raise AssertionError("learnline serve did not stop within 60 s of SIGTERM:\n"
                                 + (tmp_path / "serve.log").read_text()[-2000:]) from None
        finally:
            log.close()
