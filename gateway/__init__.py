"""Learnline: an open learning gateway for SMS, USSD and lite web, on one SQLite file.

`from gateway import create_app` gives the Flask application factory (gateway/app.py),
loaded on first use: importing a part of Learnline (its SMS text rules, its store) does
not load Flask or the carriers' SDKs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
