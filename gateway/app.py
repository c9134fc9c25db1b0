"""The Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g

from carrier_adapters import ADAPTERS
from gateway.config import load_carriers
from gateway.store import Store, default_db_path

MAX_REQUEST_BYTES = 64 * 1024


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the gateway app.

    Settings come from the environment (`LEARNLINE_DB`, `LEARNLINE_CARRIERS`)
    unless `test_config` gives `DATABASE` or `CARRIERS_FILE`. A bad carriers
    file raises ConfigError here, at start-up.
    """
    app = Flask(__name__)
    app.config.update(
        DATABASE=str(default_db_path()),
        CARRIERS_FILE=None,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    if test_config:
        app.config.update(test_config)
    carriers = load_carriers(app.config["CARRIERS_FILE"])
    app.extensions["learnline.carriers"] = carriers
    app.extensions["learnline.adapters"] = {c.id: ADAPTERS[c.adapter](c) for c in carriers}

    @app.teardown_appcontext
    def close_store(exc: BaseException | None) -> None:
        store = g.pop("store", None)
        if store is not None:
            store.close()

    from gateway import errors, webhooks

    errors.init_app(app)
    app.register_blueprint(webhooks.blueprint)

    @app.get("/healthz")
    def health() -> tuple[str, int, dict[str, str]]:
        get_store().db.execute("SELECT 1")
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    logging.getLogger("gateway").setLevel(logging.INFO)
    return app


def get_store() -> Store:
    """The request's store, opened on first use and closed at teardown."""
    from flask import current_app

    if "store" not in g:
        g.store = Store.open(current_app.config["DATABASE"])
    return g.store
