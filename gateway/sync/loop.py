"""Sync in the background of `learnline worker`: a round every `interval` while the link
is up, backing off (with jitter, up to an hour) while it is down."""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.store import Store
from gateway.sync.client import EdgeLink, SyncError, sync_once

if TYPE_CHECKING:
    from gateway.config import Carriers

log = logging.getLogger(__name__)


class SyncLoop:
    """A daemon thread syncing one edge database with its hub."""

    def __init__(self, db_path: str | Path, link: EdgeLink, *, interval: float = 60.0,
                 max_backoff: float = 3600.0, rng: random.Random | None = None,
                 carriers: Carriers | None = None):
        self.db_path = db_path
        self.link = link
        self.carriers = carriers  # tutors' answers pulled go out through these
        self.interval = interval
        self.max_backoff = max_backoff
        self.rng = rng or random.Random()
        self.failures = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)

    def start(self) -> SyncLoop:
        """Start syncing; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current round."""
        self._stopped.set()
        self._thread.join(timeout=120)

    def next_delay(self) -> float:
        """Seconds until the next round: the interval after a success; after n failures in
        a row, interval * 2^n (at most max_backoff), between half and all of it."""
        if self.failures == 0:
            return self.interval
        ceiling = min(self.max_backoff, self.interval * 2 ** self.failures)
        return self.rng.uniform(ceiling / 2, ceiling)

    def _run(self) -> None:

        with Store.open(self.db_path) as store:
            while not self._stopped.is_set():
                try:
                    report = sync_once(store, self.link, carriers=self.carriers)
                except SyncError as exc:
                    self.failures += 1
                    log.warning("sync with %s failed (%d in a row): %s", self.link.hub_url,
                                self.failures, exc)
                except Exception:  # a bug must not end syncing for good
                    self.failures += 1
                    log.exception("sync round crashed")
                else:
                    self.failures = 0
                    if report.pushed or report.pulled or report.pack.startswith("installed"):
                        log.info("sync: %s", report.summary())
                self._stopped.wait(self.next_delay())
