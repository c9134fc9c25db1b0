"""Keep a child process running: `learnline serve` runs the outbox worker this way, so a
worker that ends (a database busy past its timeout, a full disk, a bug, the kernel's OOM
killer) is started again, after a pause that doubles while it keeps ending soon.

The server (gunicorn's arbiter) reaps every child of its process, this one included, so
the exit status is not always known here: the worker's own log says why it ended.

The child runs in a process group of its own, so a Ctrl-C at the terminal (SIGINT to the
whole foreground group) reaches the server only, which then stops the child itself; on
Linux the child is also sent SIGTERM if the server dies without stopping it.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 60.0
# A child that ran this long was healthy: the next restart waits the first pause again.
STEADY_SECONDS = 60.0

_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child only calls it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _end_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Runs `command` and starts it again whenever it ends, until `stop()`."""

    def __init__(self, command: Sequence[str], name: str, *,
                 first_pause: float = FIRST_PAUSE_SECONDS,
                 longest_pause: float = LONGEST_PAUSE_SECONDS,
                 steady_seconds: float = STEADY_SECONDS):
        self.command, self.name = list(command), name
        self.first_pause, self.longest_pause = first_pause, longest_pause
        self.steady_seconds = steady_seconds
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name=f"supervise-{name}",
                                        daemon=True)

    def start(self) -> int:
        """Start the child and the thread that watches it; return the child's pid."""
        self._spawn()
        self._thread.start()
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """Stop watching, then end the child: SIGTERM, and SIGKILL after `timeout`."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._thread.join(timeout=5)

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self.process = subprocess.Popen(self.command, process_group=0,
                                                preexec_fn=_end_with_parent)

    def _watch(self) -> None:
        pause = self.first_pause
        while not self._stopping.is_set():
            started = time.monotonic()
            assert self.process is not None
            while self.process.poll() is None:
                if self._stopping.wait(0.2):
                    return
            if self._stopping.is_set():
                return
            ran = time.monotonic() - started
            if ran >= self.steady_seconds:
                pause = self.first_pause
            status = self.process.returncode  # 0 also when the server reaped it first
            log.error("%s (pid %d) ended after %.0f s%s; starting it again in %.0f s",
                      self.name, self.process.pid, ran,
                      f" (exit status {status})" if status else "", pause)
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, self.longest_pause)
            self._spawn()
            self.restarts += 1
            log.info("%s started again: pid %d", self.name, self.process.pid)
