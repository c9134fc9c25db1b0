"""Has a whole HTTP/1.1 request arrived? Framing only (RFC 9112, section 6): where the
head ends and how long the body is, from the bytes received so far.

The web server's worker (gateway/server/http_worker.py) reads a request with this before it
gives the request a thread. `RequestFramer` is fed the bytes as they come and scans
each byte once (a request sent a byte at a time costs no more than one sent whole). It
judges with the same limits as gunicorn's parser (a chunk-size line up to
`limit_request_field_size`), so it never calls whole a request the parser would still
wait on: a head it cannot read but the parser can refuse from memory is called
complete (the parser answers 400); a chunked body it cannot follow is BAD (the worker
answers 400 itself, and no thread reads it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

# gunicorn's own defaults (gunicorn/http/body.py) when no limit is configured.
DEFAULT_MAX_LINE = 8190
# Bytes a chunked body may spend on chunk-size lines and line ends beyond its data.
CHUNK_SLACK = 16 * 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")
_MOST_LENGTH_DIGITS = 18  # a Content-Length of more digits is more than any body allowed


class Arrival(enum.Enum):
    """How far a request has arrived."""

    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    BAD = "bad"  # a body that cannot be framed: 400
    HEAD_TOO_LARGE = "head too large"  # head or trailers over the limit: 431
    BODY_TOO_LARGE = "body too large"
    HELD = "held"  # a body declared over the limit, to a route that may allow more: ask


@dataclass(frozen=True)
class Framing:
    """What the bytes so far say: how far the request has arrived, whether its head is
    all there, whether the client waits for `100 Continue` before sending its body, and,
    once the head says it (Content-Length), the request's whole length in bytes."""

    arrival: Arrival
    head_done: bool = False
    expects_continue: bool = False
    length: int | None = None


class _Stage(enum.Enum):
    HEAD = 1
    LENGTH = 2  # a body of known length
    CHUNK_LINE = 3
    CHUNK_DATA = 4
    TRAILERS = 5
    DONE = 6


class RequestFramer:
    """The request at the start of a connection's bytes, followed as they arrive: `feed`
    each piece received, in order; `data` holds them all. Once an answer other than
    INCOMPLETE is given, it stays."""

    def __init__(self, max_head: int, max_body: int, *, max_line: int = DEFAULT_MAX_LINE,
                 max_trailers: int | None = None,
                 may_allow: Callable[[str, str], bool] | None = None):
        self.max_head, self.max_body, self.max_line = max_head, max_body, max_line
        # (method, target) -> whether a body declared over max_body is HELD, not refused
        self.may_allow = may_allow
        self.max_trailers = max_head if max_trailers is None else max_trailers
        self.data = bytearray()
        self._stage = _Stage.HEAD
        self._start = 0  # the request's first byte (after empty lines)
        self._started = False
        self._expects = False
        self._length = 0
        self._at = 0  # where the current element (line, chunk, trailers) starts
        self._scanned = 0  # bytes from `_at` already searched for a line end
        self._body_start = 0
        self._chunk_left = 0
        self._total = 0
        self._result = Framing(Arrival.INCOMPLETE)

    def feed(self, piece: bytes) -> Framing:
        """Add `piece` and say how far the request has arrived: COMPLETE once its head and
        whole body (by Content-Length, or chunked to its trailers' end) are here;
        HEAD_TOO_LARGE for a head or trailers over their limit; BODY_TOO_LARGE for a body
        declared or sent over `max_body`; BAD for a chunked body that cannot be one;
        HELD for a body declared over `max_body` to a request `may_allow` names, until
        `allow` says how much may come (meanwhile its bytes are kept, not looked at)."""
        self.data += piece
        if self._result.arrival is Arrival.INCOMPLETE:
            self._result = self._advance()
        return self._result

    @property
    def head(self) -> bytes:
        """The request's head, once it is all here (else empty)."""
        return bytes(self.data[self._start:self._body_start]) if self._body_start else b""

    def allow(self, max_body: int) -> Framing:
        """A HELD request's body may have up to `max_body` bytes: how far it has arrived."""
        if self._result.arrival is Arrival.HELD:
            self.max_body = max_body
            declared = self._length - self._body_start
            self._result = (Framing(Arrival.BODY_TOO_LARGE, head_done=True)
                            if declared > max_body else self._advance())
        return self._result

    def _advance(self) -> Framing:
        data = self.data  # bytearray.find searches in place: no copy
        if self._stage is _Stage.HEAD:
            framing = self._head(data)
            if framing is not None:
                return framing
        if self._stage is _Stage.LENGTH:
            done = len(data) >= self._length
            return self._framing(Arrival.COMPLETE if done else Arrival.INCOMPLETE)
        return self._framing(self._chunked(data))

    def _framing(self, arrival: Arrival) -> Framing:
        return Framing(arrival, head_done=True, expects_continue=self._expects,
                       length=self._length if self._stage is _Stage.LENGTH else None)

    def _head(self, data: bytearray) -> Framing | None:
        if not self._started:
            while self._start < len(data) and data[self._start] in b"\r\n":
                self._start += 1  # empty lines before a request are allowed
            if self._start >= len(data):
                return Framing(Arrival.INCOMPLETE)
            self._started, self._scanned = True, self._start
        begin = max(self._start, self._scanned - 3)
        crlf = data.find(b"\r\n\r\n", begin)
        lf = data.find(b"\n\n", begin)  # bare LF: the parser decides
        self._scanned = len(data)
        ends = [at + size for at, size in ((crlf, 4), (lf, 2)) if at >= 0]
        if not ends:
            too_large = len(data) - self._start > self.max_head
            return Framing(Arrival.HEAD_TOO_LARGE if too_large else Arrival.INCOMPLETE)
        end = min(ends)
        if end - self._start > self.max_head:
            return Framing(Arrival.HEAD_TOO_LARGE)
        self._body_start = self._at = self._scanned = end
        headers = _headers(bytes(data[self._start:end]))
        if headers is None:
            return Framing(Arrival.COMPLETE, head_done=True)  # refused by the parser
        self._expects = any(v.lower() == b"100-continue" for v in headers.get(b"expect", []))
        encodings = headers.get(b"transfer-encoding")
        lengths = headers.get(b"content-length")
        if encodings is not None:
            codings = [c.strip().lower() for value in encodings for c in value.split(b",")]
            if lengths is not None or codings[-1:] != [b"chunked"]:
                return Framing(Arrival.COMPLETE, head_done=True)  # refused by the parser
            self._stage = _Stage.CHUNK_LINE
            return None
        if lengths is None:
            return Framing(Arrival.COMPLETE, head_done=True, expects_continue=self._expects)
        if len(lengths) != 1 or not lengths[0].isdigit():
            return Framing(Arrival.COMPLETE, head_done=True)  # refused by the parser
        declared = lengths[0].lstrip(b"0")
        if len(declared) > _MOST_LENGTH_DIGITS:
            # Larger than any body: not read as a number (Python refuses to read one of
            # over 4,300 digits, and that error would end the worker's event loop).
            return Framing(Arrival.BODY_TOO_LARGE, head_done=True)
        length = int(declared or b"0")
        self._length = end + length
        self._stage = _Stage.LENGTH
        if length > self.max_body:
            if self.may_allow is not None and self.may_allow(*_request_line(
                    bytes(data[self._start:end]))):
                return Framing(Arrival.HELD, head_done=True, expects_continue=self._expects,
                               length=self._length)
            return Framing(Arrival.BODY_TOO_LARGE, head_done=True)
        return None

    def _chunked(self, data: bytearray) -> Arrival:
        """Follow the chunked body from where the last call stopped."""
        while True:
            if len(data) - self._body_start > self.max_body + CHUNK_SLACK \
                    and self._stage is not _Stage.TRAILERS:
                return Arrival.BODY_TOO_LARGE  # mostly chunk lines: tiny chunks
            if self._stage is _Stage.CHUNK_LINE:
                line_end = data.find(b"\r\n", max(self._at, self._scanned - 1))
                self._scanned = len(data)
                if line_end < 0:
                    # gunicorn's reader waits for a line end up to its limit, so must we
                    return Arrival.BAD if len(data) - self._at > self.max_line \
                        else Arrival.INCOMPLETE
                size = _chunk_size(bytes(data[self._at:line_end]))
                if size is None:
                    return Arrival.BAD
                self._at = self._scanned = line_end + 2
                if size == 0:
                    self._stage = _Stage.TRAILERS
                    continue
                self._total += size
                if self._total > self.max_body:
                    return Arrival.BODY_TOO_LARGE
                self._chunk_left = size
                self._stage = _Stage.CHUNK_DATA
            elif self._stage is _Stage.CHUNK_DATA:
                end = self._at + self._chunk_left
                if len(data) < end + 2:
                    return Arrival.INCOMPLETE
                if data[end:end + 2] != b"\r\n":
                    return Arrival.BAD
                self._at = self._scanned = end + 2
                self._stage = _Stage.CHUNK_LINE
            else:  # trailers: none (an empty line) or fields up to an empty line
                if data[self._at:self._at + 2] == b"\r\n":
                    self._stage = _Stage.DONE
                    return Arrival.COMPLETE
                if len(data) - self._at < 2:
                    return Arrival.INCOMPLETE
                end = data.find(b"\r\n\r\n", max(self._at, self._scanned - 3))
                self._scanned = len(data)
                if end >= 0 and end + 4 - self._at <= self.max_trailers:
                    self._stage = _Stage.DONE
                    return Arrival.COMPLETE
                if len(data) - self._at > self.max_trailers:
                    return Arrival.HEAD_TOO_LARGE
                return Arrival.INCOMPLETE


def frame(data: bytes, max_head: int, max_body: int, *, max_line: int = DEFAULT_MAX_LINE,
          max_trailers: int | None = None) -> Framing:
    """How far the request at the start of `data` has arrived (`RequestFramer.feed` with
    all of `data` at once)."""
    return RequestFramer(max_head, max_body, max_line=max_line,
                         max_trailers=max_trailers).feed(data)


def _request_line(head: bytes) -> tuple[str, str]:
    """The head's method and target (as latin-1 text, as WSGI carries them)."""
    method, _, rest = head.split(b"\n", 1)[0].rstrip(b"\r").partition(b" ")
    return method.decode("latin-1"), rest.partition(b" ")[0].decode("latin-1")


def _chunk_size(line: bytes) -> int | None:
    """A chunk-size line's size, or None if it is not one gunicorn reads."""
    size, semicolon, _extension = line.partition(b";")
    if semicolon:
        size = size.rstrip(b" \t")
    if not size or not set(size) <= _HEX:
        return None
    return int(size, 16)


def _headers(head: bytes) -> dict[bytes, list[bytes]] | None:
    """The head's fields by lower-cased name (the request line skipped), or None if a
    line is not a field."""
    fields: dict[bytes, list[bytes]] = {}
    for line in head.split(b"\n")[1:]:
        line = line.rstrip(b"\r")
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            return None
        fields.setdefault(name.lower(), []).append(value.strip())
    return fields
