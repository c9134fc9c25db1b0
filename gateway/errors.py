"""Plain, short error answers: no stack trace ever reaches a carrier or a learner."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Answer every HTTP error with one plain-text line."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return f"{exc.code} {exc.name}\n", exc.code, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return "500 Internal Server Error\n", 500, {"Content-Type": "text/plain; charset=utf-8"}
