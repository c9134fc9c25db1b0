"""Run the gateway under gunicorn with the settings in deploy/gunicorn.conf.py."""

from __future__ import annotations

import runpy

from flask import Flask
from gunicorn.app.base import BaseApplication

from gateway import create_app
from gateway.paths import gunicorn_config
from gateway.store.checkpointer import Checkpointer


class GatewayServer(BaseApplication):
    """gunicorn serving `create_app()`, configured from the deploy settings file."""

    def __init__(self, bind: str, workers: int | None = None):
        self.bind = bind
        self.workers = workers
        super().__init__()

    def load_config(self) -> None:
        """Apply deploy/gunicorn.conf.py, then the command line's bind and workers."""
        settings = runpy.run_path(str(gunicorn_config()))
        for key, value in settings.items():
            if key in self.cfg.settings and key != "wsgi_app" and value is not None:
                self.cfg.set(key, value)
        self.cfg.set("bind", [self.bind])
        if self.workers:
            self.cfg.set("workers", self.workers)

    def load(self):
        """Build the Flask app (in each worker)."""
        return worker_app()


def worker_app() -> Flask:
    """The app for one server process: `create_app()` plus its WAL checkpointer thread
    (gateway/store/checkpointer.py). deploy/gunicorn.conf.py serves this."""

    app = create_app()
    Checkpointer(app.config["DATABASE"]).start()
    return app
