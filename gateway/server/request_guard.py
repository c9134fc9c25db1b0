"""Refuse, before Flask sees them, requests the framework would mishandle.

- A query string that is not UTF-8: Werkzeug decodes it strictly when a page or a
  webhook reads it, which would be a 500; it is a 400 here.
- A chunked body (no Content-Length) over the size limit: Werkzeug would quietly cut
  it at the limit and hand on the first 64 KiB; it is a 413 here, as a body declared
  too large already is. A chunked body within the limit is read here and passed on
  with its length.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

# The largest request body the gateway reads: carrier payloads are a few hundred bytes, a
# lesson quiz's form a few kilobytes.
MAX_REQUEST_BYTES = 64 * 1024

Start = Callable[..., Any]


def _plain(start_response: Start, status: str) -> list[bytes]:
    body = f"{status}\n".encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


class RequestGuard:
    """WSGI middleware: checks the query string's encoding and chunked bodies' size."""

    def __init__(self, app: Callable[[dict, Start], Iterable[bytes]], max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict, start_response: Start) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        try:
            query.encode("latin-1").decode("utf-8")  # WSGI carries the bytes as latin-1
        except UnicodeError:
            return _plain(start_response, "400 Bad Request: the query string is not UTF-8")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                return _plain(start_response, "413 Request Entity Too Large")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.app(environ, start_response)
