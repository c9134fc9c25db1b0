"""Routes that take a larger body than the gateway's limit (MAX_REQUEST_BYTES), and
only from those allowed to use them: the server asks the application before it reads more.

A route's page (a Flask endpoint) is named in the app's `extensions[EXTENSION]` with its
limit. A request to it whose body is declared over MAX_REQUEST_BYTES is first run through
the application with its head alone (the environ key PREFLIGHT set, an empty body): the
application checks who asks, as for any request, and either answers
`204` with the header LIMIT_HEADER (read the body, up to that many bytes), or answers
anything else, which goes to the client as it is and the body is never read. Only the
server sets PREFLIGHT; a client cannot (WSGI names its headers `HTTP_...`).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask
from werkzeug.exceptions import HTTPException

from gateway.server.request_guard import MAX_REQUEST_BYTES

EXTENSION = "learnline.larger_bodies"  # endpoint -> its body limit in bytes
PREFLIGHT = "learnline.preflight"
LIMIT_HEADER = "Learnline-Body-Limit"


def larger_limit(app: object, method: str, target: str) -> int | None:
    """The body limit of the route `method` and `target` (the request line's path, with
    its query, percent-encoded) reach when that route takes bodies over MAX_REQUEST_BYTES,
    else None. Reads nothing but the app's routes."""
    limits = app.extensions.get(EXTENSION) if isinstance(app, Flask) else None
    if not limits:
        return None
    path = unquote_to_bytes(target.split("?", 1)[0]).decode("latin-1")
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method)
    except HTTPException:  # no such route, another method, a redirect
        return None
    limit = limits.get(endpoint)
    return limit if limit is not None and limit > MAX_REQUEST_BYTES else None


def approved(status: str, headers: list[tuple[str, str]]) -> int | None:
    """The body limit an application's answer to a preflight grants, else None."""
    if not status.startswith("204"):
        return None
    for name, value in headers:
        if name.lower() == LIMIT_HEADER.lower() and value.isdigit():
            return int(value)
    return None
