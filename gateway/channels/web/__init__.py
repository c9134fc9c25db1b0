"""The lite web channel: server-rendered pages for low-end smartphones, no JavaScript."""

from gateway.channels.web.pages import blueprint, init_app

__all__ = ["blueprint", "init_app"]
