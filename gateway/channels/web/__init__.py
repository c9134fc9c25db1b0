"""The lite web channel: server-rendered pages for low-end smartphones, no JavaScript."""

from flask import Flask

from gateway.channels.web import favicon, links, pages
from gateway.channels.web.pages import blueprint


def init_app(app: Flask) -> None:
    """Register the pages (`pages.init_app`), the lesson-link page and `/favicon.ico`."""
    pages.init_app(app)
    links.init_app(app)
    favicon.init_app(app)


__all__ = ["blueprint", "init_app"]
