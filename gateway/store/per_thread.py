"""Each server thread's store, opened on first use and kept across requests (as flaskr's
`get_db` beside its database code): opening SQLite and setting its pragmas on every request
would cost more than most webhooks.

The app factory (gateway/app.py) makes the per-thread slot; the blueprints, the carrier
webhooks, health and metrics take their store from here, never from the factory.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from gateway.store.store import Store

_SLOT = "learnline.connections"


def make_slot(app: Flask) -> None:
    """Give `app` its per-thread slot of stores (the factory calls this once)."""
    app.extensions[_SLOT] = threading.local()


def get_store() -> Store:
    """This thread's store on the current app's database, opened on first use and then
    reused.

    Every write runs in `Store.write()`, which always commits or rolls back, so a
    connection is never handed to the next request inside a transaction.
    """
    return thread_store(current_app)


def thread_store(app: Flask) -> Store:
    """This thread's store on `app`'s database (what get_store returns, without needing
    Flask's application context)."""
    local = app.extensions[_SLOT]
    store = getattr(local, "store", None)
    if store is None:
        store = local.store = Store.open(app.config["DATABASE"],
                                         clock=app.config.get("CLOCK") or time.time,
                                         busy_timeout=app.config["BUSY_TIMEOUT"])
    return store
