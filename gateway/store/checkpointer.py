"""WAL checkpoints on a background thread, off the request path.

SQLite checkpoints inside whichever commit pushes the WAL past
`wal_autocheckpoint` pages, so one unlucky request copies thousands of pages
to the database file while holding the write lock. A checkpointer thread in
each server process copies them a little at a time instead: a passive
checkpoint runs beside readers and writers and never waits for them. The
connections' own threshold (Store.WAL_CHECKPOINT_PAGES) stays as a safety
net for processes that run no checkpointer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from gateway.store.store import Store

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 0.25


class Checkpointer:
    """A daemon thread that checkpoints one database every `interval` seconds."""

    def __init__(self, db_path: str | Path, interval: float = CHECKPOINT_INTERVAL_SECONDS):
        self.db_path = db_path
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)

    def start(self) -> Checkpointer:
        """Start checkpointing; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current checkpoint."""
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        with Store.open(self.db_path) as store:
            while not self._stopped.wait(self.interval):
                try:
                    store.checkpoint()
                except sqlite3.Error:
                    # Another process's checkpointer holds the checkpoint lock, or the
                    # disk hiccupped: the next round (or the safety net) catches up.
                    log.debug("checkpoint skipped", exc_info=True)
