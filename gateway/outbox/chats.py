"""Which numbers a `learnline chat` is talking as right now.

A chat holds an exclusive `flock` on `<database>.chats/<number>.lock` while it runs; the
kernel lets go when the process ends, however it ends. The outbox worker of
`learnline serve` leaves console messages to those numbers to the chat, which prints them
in its own terminal (gateway/outbox/worker.py). A second chat as the same number ends at once,
saying so, rather than waiting for the first to end."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def chats_dir(db_path: str | Path) -> Path:
    """The folder of the lock files of the chats on database `db_path`."""
    return Path(f"{Path(db_path).resolve()}.chats")


class AlreadyChatting(Exception):
    """Another chat talks as this number on this database."""


@contextlib.contextmanager
def chatting(db_path: str | Path, phone: str) -> Iterator[None]:
    """Mark `phone` (E.164) as talked to by this process until the block ends; raise
    AlreadyChatting at once when another chat talks as it."""
    folder = chats_dir(db_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{phone}.lock"
    fd = _lock(path, phone)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _lock(path: Path, phone: str) -> int:
    """An open descriptor holding the exclusive lock on the file now at `path`."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyChatting(f"already chatting as {phone} on this database "
                                  "(another learnline chat)") from None
        # A chat that ended meanwhile removed the file it had locked: a lock on that file
        # is seen by nobody, so lock the one now there instead.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def active_chats(db_path: str | Path) -> frozenset[str]:
    """The numbers some running chat talks as (empty when no chat runs)."""
    try:
        entries = list(os.scandir(chats_dir(db_path)))
    except OSError:  # no chat ever ran on this database
        return frozenset()
    active = set()
    for entry in entries:
        if not entry.name.endswith(".lock"):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:  # gone since the listing
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            active.add(entry.name.removesuffix(".lock"))
        finally:
            os.close(fd)
    return frozenset(active)
