"""Has a whole HTTP/1.1 request arrived? Framing only (RFC 9112, section 6): where the
head ends and how long the body is, from the bytes received so far.

The web server's worker (gateway/http_worker.py) reads a request with this before it
gives the request a thread. Anything this reader cannot make sense of is called
complete: gunicorn's own parser then refuses it with its usual answer, and a thread
spends no time waiting on it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# A chunk-size line longer than this is not one (it is refused by the parser).
_MAX_CHUNK_LINE = 1024


class Arrival(enum.Enum):
    """How far a request has arrived."""

    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    HEAD_TOO_LARGE = "head too large"
    BODY_TOO_LARGE = "body too large"


@dataclass(frozen=True)
class Framing:
    """What the bytes so far say: how far the request has arrived, whether its head is
    all there, whether the client waits for `100 Continue` before sending its body, and,
    once the head says it (Content-Length), the request's whole length in bytes."""

    arrival: Arrival
    head_done: bool = False
    expects_continue: bool = False
    length: int | None = None


def frame(data: bytes, max_head: int, max_body: int) -> Framing:
    """How far the request at the start of `data` has arrived: COMPLETE once its head
    and its whole body (by Content-Length, or chunked up to the last chunk and trailers)
    are in `data`; HEAD_TOO_LARGE for a head not ended within `max_head` bytes;
    BODY_TOO_LARGE for a body declared or sent longer than `max_body`."""
    start = len(data) - len(data.lstrip(b"\r\n"))  # empty lines before a request are allowed
    end = _head_end(data, start)
    if end is None:
        too_large = len(data) - start > max_head
        return Framing(Arrival.HEAD_TOO_LARGE if too_large else Arrival.INCOMPLETE)
    if end - start > max_head:
        return Framing(Arrival.HEAD_TOO_LARGE)
    headers = _headers(data[start:end])
    if headers is None:
        return Framing(Arrival.COMPLETE, head_done=True)
    expects = any(value.lower() == b"100-continue" for value in headers.get(b"expect", []))
    encodings = headers.get(b"transfer-encoding")
    lengths = headers.get(b"content-length")
    if encodings is not None:
        codings = [c.strip().lower() for value in encodings for c in value.split(b",")]
        if lengths is not None or codings[-1:] != [b"chunked"]:
            return Framing(Arrival.COMPLETE, head_done=True)  # refused by the parser
        arrival = _chunked(data, end, max_body)
    elif lengths is not None:
        if len(lengths) != 1 or not lengths[0].isdigit():
            return Framing(Arrival.COMPLETE, head_done=True)  # refused by the parser
        length = int(lengths[0])
        if length > max_body:
            return Framing(Arrival.BODY_TOO_LARGE, head_done=True)
        arrival = Arrival.COMPLETE if len(data) - end >= length else Arrival.INCOMPLETE
        return Framing(arrival, head_done=True, expects_continue=expects, length=end + length)
    else:
        arrival = Arrival.COMPLETE
    return Framing(arrival, head_done=True, expects_continue=expects)


def _head_end(data: bytes, start: int) -> int | None:
    """The offset just past the empty line ending the head, or None if not yet seen."""
    crlf = data.find(b"\r\n\r\n", start)
    lf = data.find(b"\n\n", start)  # bare LF: the parser decides
    ends = [at + size for at, size in ((crlf, 4), (lf, 2)) if at >= 0]
    return min(ends) if ends else None


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


def _chunked(data: bytes, at: int, max_body: int) -> Arrival:
    """Whether the chunked body starting at `at` has arrived to its trailers' end."""
    total, start = 0, at
    while True:
        if at - start > 2 * max_body + _MAX_CHUNK_LINE:  # chunk lines larger than the data
            return Arrival.BODY_TOO_LARGE
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return Arrival.INCOMPLETE if len(data) - at <= _MAX_CHUNK_LINE else Arrival.COMPLETE
        size_text = data[at:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return Arrival.COMPLETE  # refused by the parser
        if size < 0:
            return Arrival.COMPLETE
        at = line_end + 2
        if size == 0:
            if data.startswith(b"\r\n", at) or data.find(b"\r\n\r\n", at) >= 0:
                return Arrival.COMPLETE
            return Arrival.INCOMPLETE
        total += size
        if total > max_body:
            return Arrival.BODY_TOO_LARGE
        at += size + 2
        if at > len(data):
            return Arrival.INCOMPLETE
