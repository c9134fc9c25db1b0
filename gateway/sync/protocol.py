"""The sync protocol's wire: paths, limits and body encoding, shared by hub and edge.

Bodies are JSON, gzip-compressed (`Content-Encoding: gzip`) both ways: events compress
five to ten times, and edges may sit behind metered links. Each edge authenticates with
`Authorization: Bearer <edge id>:<token>`.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

EVENTS_PATH = "/sync/v1/events"
PACK_PATH = "/sync/v1/pack"

PUSH_BATCH = 200  # events per push: a cut connection costs at most one batch again
PULL_BATCH = 500
COHORT_BATCH = 50  # cohorts' definitions per push (at most 200-character names each)
SPEND_BATCH = 200  # an edge's days of messages per program and currency, per push
MAX_COMPRESSED_BODY = 60 * 1024  # under the gateway's 64 KiB request limit
MAX_BODY = 2 * 1024 * 1024  # decompressed: a zip bomb stops here
EDGE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class BodyError(ValueError):
    """A request or response body that is not what the protocol says."""


def encode(document: Any) -> bytes:
    """`document` as gzip-compressed compact JSON."""
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def decode(body: bytes, content_encoding: str | None) -> Any:
    """The JSON document in a body, gzip-compressed or not, never inflating past
    MAX_BODY; BodyError when it is not JSON."""
    if (content_encoding or "").strip().lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_BODY + 1)
        except zlib.error:
            raise BodyError("the body is not valid gzip") from None
        if len(body) > MAX_BODY or inflater.unconsumed_tail:
            raise BodyError(f"the body inflates past {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # bad bytes or syntax, a number of over 4,300
        raise BodyError("the body is not JSON") from None  # digits, absurd nesting


def bearer(edge_id: str, token: str) -> str:
    """The Authorization header value for an edge."""
    return f"Bearer {edge_id}:{token}"


def parse_bearer(header: str | None) -> tuple[str, str] | None:
    """(edge id, token) from an Authorization header, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    edge_id, sep, token = header[len("Bearer "):].strip().partition(":")
    if not sep or not EDGE_ID_RE.match(edge_id) or not token:
        return None
    return edge_id, token
