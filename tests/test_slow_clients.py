"""Slow clients do not stop the web server: every shipped way of running Learnline answers
/healthz within a second while 300 slow connections are held open, and the server's
worker reads each request whole before a thread serves it (gateway/server/http_worker.py)."""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks
from tests.fakes.signing import twilio_signature
from tests.ports import free_port
from tests.served import PHONE, Gateway, shared_gateway
from tests.slow_clients import run_way, shipped_ways, slow_clients, worst_healthz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One `learnline serve --no-worker` for the tests below that send it requests, each
    on connections of its own; none changes how it is configured or reads its log."""
    yield from shared_gateway(tmp_path_factory.mktemp("served"))


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


def test_a_declared_length_of_more_digits_than_python_reads_is_refused(gateway):
    """4,301 digits: too large, answered 413 (before, the length's conversion ended the
    worker's event loop and the worker with it, and every connection it held)."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as held, \
            socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a request, kept
        sock.sendall(b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: " + b"9" * 4301 + b"\r\n\r\n")
        assert _answers(sock, 1) == [b"HTTP/1.1 413 Request Entity Too Large"]
        held.sendall(b"\r\n")  # the other connection was not dropped with a worker
        assert _answers(held, 1) == [b"HTTP/1.1 200 OK"]


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


# -- requests the worker must not misjudge or keep for ever -------------------------------

CHUNKED_POST = (b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")


def test_chunk_size_lines_that_never_end_hold_no_thread(gateway):
    """A chunk-size line of 2,000 bytes with no line end is not a whole request (gunicorn
    reads such lines up to 8,190 bytes): eight of them, one per thread, must not stop
    /healthz; one past gunicorn's limit gets 400 at once."""
    held = []
    try:
        for _ in range(8):
            sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=15)
            sock.sendall(CHUNKED_POST + b"5;" + b"a" * 2000)
            held.append(sock)
        time.sleep(1)
        worst = worst_healthz("127.0.0.1", gateway.port, probes=3, timeout=5)
        assert worst is not None and worst < 1.0, worst
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
            sock.sendall(CHUNKED_POST + b"5;" + b"a" * 9000)
            assert _answers(sock, 1) == [b"HTTP/1.1 400 Bad Request"]
    finally:
        for sock in held:
            sock.close()


def test_trailers_without_end_are_refused_at_64_kib(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(CHUNKED_POST + b"3\r\nabc\r\n0\r\n")
        refused = b""
        for _ in range(200):  # up to 200 KiB of trailer lines, 1 KiB at a time
            try:
                sock.sendall(b"X-T: " + b"a" * 1017 + b"\r\n")
            except OSError:
                break
            try:
                sock.settimeout(0.01)
                refused = sock.recv(100)
            except TimeoutError:
                continue
            finally:
                sock.settimeout(15)
            break
        assert refused.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), refused


def test_a_body_trickled_a_byte_at_a_time_gets_408_within_30_seconds(gateway):
    """The body's 10 s pause limit restarts with each byte; the whole request still
    has 30 s."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as sock:
        sock.sendall(b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000\r\n\r\n")
        start = time.monotonic()
        sock.settimeout(0)
        answer = b""
        while time.monotonic() - start < 40 and not answer:
            try:
                sock.send(b"a")
                answer = sock.recv(100)
            except BlockingIOError:
                time.sleep(1)
            except OSError:
                break
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        assert 28 < time.monotonic() - start < 34


def _held_open(socks: list[socket.socket]) -> list[bool]:
    """For each socket: the server has not closed it (nor answered)."""
    still = []
    for sock in socks:
        sock.setblocking(False)
        try:
            sock.recv(100)  # an answer, or the end
        except BlockingIOError:
            still.append(True)
        except OSError:
            still.append(False)
        else:
            still.append(False)
    return still


def test_one_address_may_have_128_requests_arriving_per_process(tmp_path: Path):
    """A further one drops that address's oldest arriving request, not the new one."""
    with run_way(WAYS["systemd"], tmp_path, free_port(),
                 env={"LEARNLINE_WEB_WORKERS": "1"}) as running:
        socks = []
        try:
            for _ in range(160):
                sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
                sock.sendall(b"GET /healthz HTTP/1.1\r\n")
                socks.append(sock)
            time.sleep(1)
            still = _held_open(socks)
            assert still[-128:] == [True] * 128
            assert still[:32] == [False] * 32
            worst = worst_healthz("127.0.0.1", running.port, probes=3, timeout=5)
            assert worst is not None and worst < 1.0, worst
        finally:
            for sock in socks:
                sock.close()


def test_out_of_file_descriptors_the_server_goes_on(tmp_path: Path):
    """With 256 file descriptors per process (`ulimit -n 256`), connections from many
    addresses past that drop the oldest still arriving; no server process dies and
    /healthz answers."""
    with run_way(WAYS["systemd"], tmp_path, free_port(), open_files=256) as running:
        socks = []
        try:
            for n in range(600):  # 127.0.0.x: a different address each 100
                sock = socket.socket()
                sock.bind((f"127.0.0.{2 + n // 100}", 0))
                sock.settimeout(10)
                sock.connect(("127.0.0.1", running.port))
                socks.append(sock)
            time.sleep(2)
            worst = worst_healthz("127.0.0.1", running.port, probes=3, timeout=5)
            log = running.log.read_text()
            assert worst is not None and worst < 1.0, (worst, log[-3000:])
            assert log.count("Booting worker") == 2, log[-3000:]
            assert running.process.poll() is None
        finally:
            for sock in socks:
                sock.close()
