"""The lite web channel: server-rendered pages for low-end smartphones, no JavaScript."""

from flask import Flask

from gateway.channels.web import badges, favicon, links, pages
from gateway.channels.web.pages import blueprint


def init_app(app: Flask) -> None:
    """Register the pages (`pages.init_app`), the lesson-link page, `/favicon.ico` and
    the Open Badges (`badges.init_app`: 404 while off)."""
    pages.init_app(app)
    links.init_app(app)
    favicon.init_app(app)
    badges.init_app(app)


__all__ = ["blueprint", "init_app"]
