"""Slow clients do not stop the web server: every shipped way of running Learnline answers
/healthz within a second while 300 slow connections are held open, and the server's
worker reads each request whole before a thread serves it (gateway/http_worker.py)."""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks
from tests.fakes.signing import twilio_signature
from tests.ports import free_port
from tests.served import PHONE, gateway_fixture  # noqa: F401 - the `gateway` fixture
from tests.slow_clients import run_way, shipped_ways, slow_clients, worst_healthz

pytestmark = pytest.mark.slow

WAYS = shipped_ways()


def test_the_shipped_ways_are_the_readme_the_systemd_unit_and_the_container():
    assert WAYS["readme"][1:3] == ["serve", "--host"] and "0.0.0.0" in WAYS["readme"]
    assert WAYS["systemd"][0] == "/opt/learnline/venv/bin/learnline"
    assert WAYS["container"][:2] == ["learnline", "serve"]


@pytest.mark.parametrize("way", list(WAYS))
def test_each_shipped_way_answers_healthz_within_a_second_while_300_slow_clients_are_held(
        way: str, tmp_path: Path):
    with run_way(WAYS[way], tmp_path, free_port()) as running, \
            slow_clients("127.0.0.1", running.port, 300) as clients:
        time.sleep(3)  # trickling clients have sent their first bytes
        worst = worst_healthz("127.0.0.1", running.port, probes=3, timeout=10)
        assert len(clients.kinds) == 300
    assert worst is not None, f"{way}: /healthz got no answer\n{running.log.read_text()}"
    assert worst < 1.0, f"{way}: /healthz took {worst:.2f} s"


# -- the worker reads requests whole ------------------------------------------------------


def _signed_sms(body: str) -> tuple[bytes, bytes]:
    """A signed Twilio inbound SMS webhook as raw HTTP: its head and its body."""
    path = "/carriers/twilio/sms"
    params = TwilioWebhooks(None).inbound_params(PHONE, body, TwilioWebhooks.new_sid())
    form = urllib.parse.urlencode(params).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: learnline.example.org\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)}\r\n"
            f"Content-Length: {len(form)}\r\n").encode()
    return head, form


def _answers(sock: socket.socket, count: int) -> list[bytes]:
    """The status lines of the next `count` final answers on `sock` (and of any
    `100 Continue` among them)."""
    data = b""
    deadline = time.monotonic() + 15
    while len(re.findall(rb"HTTP/1\.1 [2-5]", data)) < count:
        assert time.monotonic() < deadline, data
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return re.findall(rb"HTTP/1\.1 [1-5]\d\d [^\r\n]*", data)


def test_a_webhook_arriving_in_pieces_is_served_and_the_next_one_on_the_connection_too(
        gateway):
    head, form = _signed_sms("START")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        for byte in head + b"\r\n":
            sock.send(bytes([byte]))
        for piece in (form[:10], form[10:100], form[100:]):
            time.sleep(0.1)
            sock.send(piece)
        head, second = _signed_sms("STATUS")
        sock.sendall(head + b"\r\n" + second[:20])  # and the next, half of it
        time.sleep(0.2)
        sock.sendall(second[20:])
        assert _answers(sock, 2) == [b"HTTP/1.1 200 OK"] * 2


def test_a_chunked_webhook_arriving_in_pieces_is_served(gateway):
    head, form = _signed_sms("START")
    head = head.replace(f"Content-Length: {len(form)}\r\n".encode(),
                        b"Transfer-Encoding: chunked\r\n")
    body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (40, form[:40], len(form) - 40, form[40:])
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(head + b"\r\n")
        for n in range(0, len(body), 25):
            time.sleep(0.05)
            sock.send(body[n:n + 25])
        assert _answers(sock, 1) == [b"HTTP/1.1 200 OK"]


def test_a_client_waiting_for_100_continue_gets_it_then_its_answer(gateway):
    head, form = _signed_sms("START")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(head + b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(form)
        assert _answers(sock, 1) == [b"HTTP/1.1 200 OK"]


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 70000\r\n\r\n")
        assert _answers(sock, 1) == [b"HTTP/1.1 413 Request Entity Too Large"]


def test_a_head_over_64_kib_is_refused(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(70))
        sock.sendall(head[:64 * 1024 + 1])  # all read by the server before it answers
        assert _answers(sock, 1) == [b"HTTP/1.1 431 Request Header Fields Too Large"]
        assert sock.recv(100) == b""  # and the connection is closed


def test_a_request_not_whole_within_10_seconds_gets_408_and_is_closed(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        assert _answers(sock, 1) == [b"HTTP/1.1 408 Request Timeout"]
        assert 9 < time.monotonic() - start < 13
        assert sock.recv(100) == b""


def test_clients_that_never_close_after_their_answer_do_not_stop_the_server(tmp_path: Path):
    """A client that asks for `Connection: close` and then keeps its end open: the server
    lingers for its last bytes before closing, and must not stop everything meanwhile."""
    with run_way(WAYS["systemd"], tmp_path, free_port()) as running:
        held = []
        try:
            for _ in range(60):
                sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                held.append(sock)
                time.sleep(0.005)
            time.sleep(1)
            worst = worst_healthz("127.0.0.1", running.port, probes=3, timeout=10)
            assert worst is not None and worst < 1.0, worst
            assert all(sock.recv(4096).startswith(b"HTTP/1.1 200 OK") for sock in held)
        finally:
            for sock in held:
                sock.close()
