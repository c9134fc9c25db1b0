"""gateway/server/http_framing.py: when a request has arrived whole, from the bytes so far."""

from __future__ import annotations

import time

import pytest

from gateway.server.http_framing import Arrival, RequestFramer, frame

HEAD = 64 * 1024
BODY = 64 * 1024


def arrival(data: bytes) -> Arrival:
    return frame(data, HEAD, BODY).arrival


POST = b"POST /carriers/twilio/sms HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize("data", [
    b"",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r",
    POST + b"Content-Length: 10\r\n\r\n123456789",
    POST + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabc",
    POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n",
    POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n",
])
def test_a_request_not_all_here_is_incomplete(data: bytes):
    assert arrival(data) is Arrival.INCOMPLETE


@pytest.mark.parametrize("data", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\nHost: x\n\n",  # bare LF: gunicorn's parser decides
    POST + b"Content-Length: 10\r\n\r\n1234567890",
    POST + b"content-length: 3\r\n\r\nabcGET / HTTP/1.1\r\n",  # the next request follows
    POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    POST + b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
])
def test_a_whole_request_is_complete(data: bytes):
    assert arrival(data) is Arrival.COMPLETE


@pytest.mark.parametrize("data", [
    POST + b"Content-Length: 10\r\nContent-Length: 10\r\n\r\n",
    POST + b"Content-Length: -1\r\n\r\n",
    POST + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    POST + b"Transfer-Encoding: gzip\r\n\r\n",
    POST + b"Not a header\r\n\r\n",
])
def test_a_request_the_parser_refuses_goes_to_it_at_once(data: bytes):
    """Nothing to wait for: gunicorn's parser answers 400 without reading more."""
    assert arrival(data) is Arrival.COMPLETE


def test_sizes_over_the_limits_are_refused_without_waiting_for_them():
    assert arrival(b"GET / HTTP/1.1\r\nX: " + b"a" * HEAD) is Arrival.HEAD_TOO_LARGE
    assert arrival(POST + b"Content-Length: %d\r\n\r\n" % (BODY + 1)) is Arrival.BODY_TOO_LARGE
    assert arrival(POST + b"Content-Length: %d\r\n\r\n" % BODY) is Arrival.INCOMPLETE
    # More digits than Python reads as a number (4,301): too large, not an error.
    assert arrival(POST + b"Content-Length: " + b"9" * 4301 + b"\r\n\r\n") \
        is Arrival.BODY_TOO_LARGE
    assert arrival(POST + b"Content-Length: " + b"0" * 30 + b"10\r\n\r\n1234567890") \
        is Arrival.COMPLETE  # leading zeros are no size
    chunked = POST + b"Transfer-Encoding: chunked\r\n\r\n"
    assert arrival(chunked + b"%x\r\n" % (BODY + 1)) is Arrival.BODY_TOO_LARGE
    assert arrival(chunked + b"1\r\na\r\n" * (BODY + 1)) is Arrival.BODY_TOO_LARGE


def test_the_head_is_done_before_the_body_and_an_expectation_is_seen():
    framing = frame(POST + b"Content-Length: 5\r\nExpect: 100-Continue\r\n\r\nab", HEAD, BODY)
    assert framing.arrival is Arrival.INCOMPLETE
    assert framing.head_done and framing.expects_continue
    assert not frame(POST, HEAD, BODY).head_done


def test_a_body_of_declared_length_gives_the_whole_requests_length():
    head = POST + b"Content-Length: 10\r\n\r\n"
    assert frame(head + b"123", HEAD, BODY).length == len(head) + 10
    assert frame(head + b"1234567890", HEAD, BODY).length == len(head) + 10
    assert frame(POST + b"Transfer-Encoding: chunked\r\n\r\n", HEAD, BODY).length is None


CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"


def test_a_chunk_size_line_is_waited_for_as_long_as_gunicorn_would_wait():
    """gunicorn reads a chunk-size line up to 8,190 bytes: one of 2,000 bytes not yet
    ended is not a whole request (a thread given it would wait on the socket)."""
    assert arrival(CHUNKED + b"5;" + b"a" * 2000) is Arrival.INCOMPLETE
    assert arrival(CHUNKED + b"5;" + b"a" * 8000) is Arrival.INCOMPLETE


@pytest.mark.parametrize("body", [
    b"5;" + b"a" * 8190,  # a chunk-size line past gunicorn's limit, still not ended
    b"zz\r\n",  # not a size
    b"3\r\nabcXY",  # no line end after the chunk's data
])
def test_a_chunked_body_that_cannot_be_framed_is_bad(body: bytes):
    """Refused here (400), never handed to a thread that might wait on it."""
    assert arrival(CHUNKED + body) is Arrival.BAD


def test_trailers_and_chunk_overhead_have_limits():
    trailers = CHUNKED + b"3\r\nabc\r\n0\r\n" + b"X-T: 1\r\n" * 9000
    assert arrival(trailers) is Arrival.HEAD_TOO_LARGE
    assert arrival(CHUNKED + b"1\r\na\r\n" * 20000) is Arrival.BODY_TOO_LARGE


def test_each_byte_is_scanned_once_however_the_request_is_cut():
    """Fed a byte at a time, a 64 KiB head and a body of many chunks are followed in
    well under a second (rescanning everything on each byte takes minutes)."""
    head = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 60000 + b"\r\n\r\n"
    body = CHUNKED + b"a\r\n0123456789\r\n" * 5000 + b"0\r\n\r\n"
    for request in (head, body):
        framer = RequestFramer(HEAD, BODY)
        started = time.monotonic()
        answers = [framer.feed(request[n:n + 1]).arrival for n in range(len(request))]
        assert time.monotonic() - started < 3
        assert answers[-1] is Arrival.COMPLETE
        assert set(answers[:-1]) == {Arrival.INCOMPLETE}
        assert bytes(framer.data) == request


def test_a_larger_body_to_a_route_that_may_allow_it_is_held_until_allowed():
    asked = []

    def may_allow(method: str, target: str) -> bool:
        asked.append((method, target))
        return target.startswith("/admin/programs/")

    upload = b"POST /admin/programs/orange/cohorts?x=1 HTTP/1.1\r\nHost: x\r\n"
    framer = RequestFramer(HEAD, BODY, may_allow=may_allow)
    held = framer.feed(upload + b"Content-Length: 100000\r\nExpect: 100-continue\r\n\r\nab")
    assert held.arrival is Arrival.HELD and held.head_done and held.expects_continue
    assert asked == [("POST", "/admin/programs/orange/cohorts?x=1")]
    assert framer.head.startswith(upload) and framer.head.endswith(b"\r\n\r\n")
    assert framer.feed(b"c" * 99_998).arrival is Arrival.HELD  # kept, not judged
    assert framer.allow(200_000).arrival is Arrival.COMPLETE
    framer = RequestFramer(HEAD, BODY, may_allow=may_allow)
    framer.feed(upload + b"Content-Length: 100000\r\n\r\n")
    assert framer.allow(99_999).arrival is Arrival.BODY_TOO_LARGE
    assert frame(POST + b"Content-Length: 100000\r\n\r\n", HEAD, BODY,
                 ).arrival is Arrival.BODY_TOO_LARGE
    refused = RequestFramer(HEAD, BODY, may_allow=may_allow).feed(
        POST + b"Content-Length: 100000\r\n\r\n")
    assert refused.arrival is Arrival.BODY_TOO_LARGE
    small = RequestFramer(HEAD, BODY, may_allow=may_allow).feed(
        upload + b"Content-Length: 3\r\n\r\nabc")
    assert small.arrival is Arrival.COMPLETE
