"""Plain, short error answers: no stack trace ever reaches a carrier or a learner."""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Answer every HTTP error with one plain-text line."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return f"{exc.code} {exc.name}\n", exc.code, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(exc: sqlite3.OperationalError):
        # Writers queue for the lock up to the busy timeout; past it (or with the disk
        # gone) nothing was stored: ask the carrier to come back rather than say 500.
        log.error("database unavailable: %s", exc)
        return ("503 Service Unavailable: try again shortly\n", 503,
                {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return "500 Internal Server Error\n", 500, {"Content-Type": "text/plain; charset=utf-8"}
