"""The cross-process write lock: an exclusive `flock` on `<database>-writelock`, taken
with a timeout.

Writers of every process queue for it in the kernel, which hands it on the moment it is
free. A thread blocked in `flock` cannot give up, though, and a writer must give up after
the busy timeout (the carrier is then asked to retry). So a writer first tries without
waiting; when the lock is taken, one thread per process and database (`_Waiter`) waits for
it in the kernel on the writer's behalf, and the writer waits on that thread with its
timeout. A writer that gives up leaves the waiter waiting for the next writer of its
process; if none comes by the time the kernel grants the lock, the waiter lets it go at
once.

The holder writes when it took the lock, and its process id, into the lock file, so that
a health check can say, without waiting, that the lock has been held too long and by whom
(`holder`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time

from gateway.store.files import create_private

_STAMP_BYTES = 40


class LockBusy(sqlite3.OperationalError):
    """The write lock was not free within the timeout: nothing was written."""


class _Waiter:
    """A thread that waits for one database's write lock in the kernel for the writers of
    this process, one at a time (the process lock lets one writer at a time ask)."""

    def __init__(self, path: str):
        self.pid = os.getpid()
        self.fd = _open_lock_file(path)
        self._condition = threading.Condition()
        self._state = "idle"  # idle -> waiting -> held (by the writer that asked) -> idle
        self._wanted = False
        threading.Thread(target=self._run, name="writelock-waiter", daemon=True).start()

    def acquire(self, timeout: float) -> bool:
        """Whether the lock was had, on `self.fd`, within `timeout` seconds."""
        with self._condition:
            if self._state == "held":  # by this process already (a nested writer): no wait
                return False
            self._wanted = True
            if self._state == "idle":
                self._state = "waiting"
                self._condition.notify_all()
            if self._condition.wait_for(lambda: self._state == "held", max(timeout, 0)):
                return True
            self._wanted = False
            return False

    def release(self) -> None:
        """Let the lock go (by the writer the waiter handed it to)."""
        with self._condition:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self._state, self._wanted = "idle", False

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._state == "waiting")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            with self._condition:
                if self._wanted:
                    self._state = "held"
                    self._condition.notify_all()
                else:  # the writer gave up meanwhile: the other processes may have it
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                    self._state = "idle"


_WAITERS: dict[str, _Waiter] = {}
_WAITERS_LOCK = threading.Lock()


def _waiter(path: str) -> _Waiter:
    with _WAITERS_LOCK:
        waiter = _WAITERS.get(path)
        if waiter is None or waiter.pid != os.getpid():  # a forked child has no threads
            waiter = _WAITERS[path] = _Waiter(path)
        return waiter


def _open_lock_file(path: str) -> int:
    create_private(path)
    return os.open(path, os.O_RDWR)


class WriteLock:
    """One store's handle on the write lock of its database."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = _open_lock_file(path)
        self._waiter: _Waiter | None = None  # set while the lock was had through it

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting at most `timeout` seconds; LockBusy past that."""
        assert self.fd is not None, "the store is closed"
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fd = self.fd
        except BlockingIOError:
            waiter = _waiter(self.path)
            if not waiter.acquire(timeout):
                raise LockBusy(f"write lock busy for {timeout:g} s (another process)") from None
            self._waiter, fd = waiter, waiter.fd
        stamp = f"{time.time():.3f} {os.getpid()}\n".encode().ljust(_STAMP_BYTES)
        with contextlib.suppress(OSError):  # a full disk: the stamp only serves health checks
            os.pwrite(fd, stamp, 0)

    def release(self) -> None:
        """Let the lock go."""
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.release()
        elif self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (the lock must not be held)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def holder(path: str) -> tuple[float, int] | None:
    """(when it was taken, Unix seconds; the process id) of whoever holds the write lock
    at `path` now, or None when it is free. Never waits for the lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A holder stamps just after taking the lock: read again an instant later
            # rather than take the previous holder's stamp for the current one's.
            time.sleep(0.002)
            raw = os.pread(fd, _STAMP_BYTES, 0).split()
            try:
                return float(raw[0]), int(raw[1])
            except (IndexError, ValueError):  # taken an instant ago, not yet stamped
                return time.time(), 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
