"""The Flask application factory."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask

from carrier_adapters import ADAPTERS
from gateway import environment, metrics
from gateway.channels import web
from gateway.channels.commands import load_catalogs
from gateway.config import ConfigError, load_carriers
from gateway.content.importer import ensure_bundled_courses
from gateway.hub import routes as hub_routes
from gateway.learning.asking import tutor_hours
from gateway.ops import dashboard, simulator
from gateway.programs import current as current_programs
from gateway.programs import load_programs
from gateway.ratelimit import InboundLimits
from gateway.server import errors, forwarded, health, webhooks
from gateway.server.request_guard import MAX_REQUEST_BYTES, RequestGuard
from gateway.server.whole_numbers import StoredIntegerConverter
from gateway.store import Store, default_db_path
from gateway.store.held import hold_if_backup
from gateway.store.per_thread import make_slot
from gateway.store.store import BUSY_TIMEOUT_SECONDS


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the gateway app.

    Settings come from the environment (`LEARNLINE_DB`, `LEARNLINE_CARRIERS`,
    `LEARNLINE_SECRET_KEY`, `LEARNLINE_SIMULATOR`, `LEARNLINE_TRUSTED_PROXIES`,
    `LEARNLINE_ADMIN_TOKEN`) unless `test_config` gives them (`DATABASE`, `CARRIERS_FILE`,
    `SECRET_KEY`, `SIMULATOR`, `TRUSTED_PROXIES`, `ADMIN_TOKEN`; `BUSY_TIMEOUT`, the
    seconds a writer waits for the write lock, defaults to the store's). A bad carriers
    file or setting raises ConfigError here, at start-up. The database is migrated, and
    given the bundled courses if it has none.
    """
    app = Flask(__name__)
    app.config.update(
        DATABASE=str(default_db_path()),
        CARRIERS_FILE=None,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        TRUSTED_PROXIES=None,
        SECRET_KEY=environment.get("LEARNLINE_SECRET_KEY") or None,
        SIMULATOR=environment.get("LEARNLINE_SIMULATOR", "") in ("1", "true", "yes", "on"),
        ROLE=environment.get("LEARNLINE_ROLE", "edge").strip().lower() or "edge",
        HUB_DATABASE_URL=None,
        BUSY_TIMEOUT=BUSY_TIMEOUT_SECONDS,
    )
    if test_config:
        app.config.update(test_config)
    # Carriers' webhooks are answered in front of Flask (gateway/server/webhooks.py).
    app.wsgi_app = webhooks.CarrierWebhooks(app, app.wsgi_app)
    # Behind reverse proxies, the client's address (for limits and allow_ips) is the one
    # the trusted proxies recorded; nobody else's forwarded headers are read.
    proxies = forwarded.trusted_proxies(app.config["TRUSTED_PROXIES"])
    forwarded.warn_if_doubtful(proxies)
    app.wsgi_app = forwarded.ForwardedFrom(app.wsgi_app, proxies)
    app.wsgi_app = RequestGuard(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    carriers = load_carriers(app.config["CARRIERS_FILE"])
    app.extensions["learnline.carriers"] = carriers
    metrics.count_from_zero(carrier.id for carrier in carriers)
    # Programs (LEARNLINE_PROGRAMS) are read where they are used (gateway/programs.py,
    # `current`); a bad file fails here, at start-up, naming file, program and key, and
    # a good one is the reading kept should the file turn bad later.
    load_programs(carrier_ids=[carrier.id for carrier in carriers])
    current_programs()
    app.extensions["learnline.adapters"] = {c.id: ADAPTERS[c.adapter](c.wire) for c in carriers}

    # One connection per server thread, kept across requests: opening SQLite and
    # setting its pragmas on every request would cost more than most webhooks.
    make_slot(app)
    app.extensions["learnline.inbound_limits"] = InboundLimits()

    with Store.open(app.config["DATABASE"], migrate=True,
                    busy_timeout=app.config["BUSY_TIMEOUT"]) as store:
        restored = hold_if_backup(store)
        if restored is not None:
            logging.getLogger(__name__).warning(
                "this database is a backup: %d message(s) waiting to be sent when it was "
                "taken are held (learnline outbox held)", restored[1])
        ensure_bundled_courses(store)
        if not app.config["SECRET_KEY"]:
            # Without LEARNLINE_SECRET_KEY, one random key made on first start and kept
            # in the database, so every server process signs sessions alike.
            app.config["SECRET_KEY"] = store.setting("session_key",
                                                     lambda: secrets.token_hex(32))

    errors.init_app(app)
    # Before any route: an id in a path bigger than SQLite holds is a 404, not a 500.
    app.url_map.converters["int"] = StoredIntegerConverter
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics.blueprint)
    web.init_app(app)
    dashboard.init_app(app)  # off (404) unless LEARNLINE_ADMIN_TOKEN is set
    if app.config["ROLE"] not in ("edge", "hub"):
        raise ConfigError(f"LEARNLINE_ROLE={app.config['ROLE']!r}: 'edge' (serves learners; "
                          "the default) or 'hub' (also takes edges' sync, docs/sync.md)")
    try:
        tutor_hours()
    except ValueError as problem:
        raise ConfigError(str(problem)) from None
    if app.config["ROLE"] == "hub":
        hub_routes.init_app(app)
    if app.config["SIMULATOR"]:
        simulator.init_app(app)

    load_catalogs()  # at start-up, not during a learner's first message
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app

