"""`learnline backup FILE`: a consistent copy of the live database, checked before kept."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gateway.store import Store, files
from gateway.store.held import mark_as_backup

T = TypeVar("T")

# SQLite's primary codes for a copy that could not be written where it was asked to go.
_CANNOT_WRITE = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY,
                 sqlite3.SQLITE_PERM)


class BackupError(Exception):
    """The backup could not be made or did not check out; nothing was left at the target."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds and what it took."""

    path: Path
    size_bytes: int
    seconds: float
    counts: dict[str, int]


def backup(db_path: str | Path, target: str | Path) -> BackupReport:
    """Copy the database at `db_path` to `target` while the gateway keeps running.

    The copy is one snapshot (SQLite's online backup API), written beside the
    target, integrity-checked, flushed to disk, then renamed into place, so
    `target` is either the complete checked backup or untouched.
    """
    def copy(partial: Path) -> None:
        try:
            live = Store.open(db_path)
        except sqlite3.DatabaseError as exc:
            # Damage where SQLite reads first (the header, the schema) stops it here;
            # damage elsewhere is copied and caught by the check below.
            raise BackupError(f"{db_path}: cannot read the live database: {exc}") from None
        with live:
            _copying(lambda: live.backup_to(partial), partial)

    def check(partial: Path) -> dict[str, int]:
        with Store.open(partial) as copy:
            _refuse_damage(copy.integrity_problems())
            # Put in place by hand, it holds what it had waiting at its first start.
            mark_as_backup(copy, time.time())
            copy.db.conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            return copy.row_counts()

    return _snapshot(Path(db_path), Path(target), copy, check)


def backup_hub(db_path: str | Path, target: str | Path) -> BackupReport:
    """Copy a hub's SQLite store (hub.db: edges, their tokens, events, packs) to `target`
    while the hub keeps running, as `backup` copies the gateway's database: one
    snapshot, checked, then renamed into place. Its counts are the rows of each table."""
    def copy(partial: Path) -> None:
        try:
            files.table_names(db_path)  # a SQLite database at all
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{db_path}: cannot read the hub's database: {exc}") from None
        problems = _copying(lambda: files.copy_checked(db_path, partial), partial)
        _refuse_damage([problem for problem in problems if problem != "ok"])

    return _snapshot(Path(db_path), Path(target), copy, files.standalone_counts)


def _copying(copy: Callable[[], T], partial: Path) -> T:
    """Run SQLite's backup into `partial`, its failures said as BackupError."""
    try:
        return copy()
    except sqlite3.DatabaseError as exc:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code in _CANNOT_WRITE:
            raise BackupError(f"{partial}: cannot write the copy: {exc}") from None
        raise BackupError(f"the copy failed: {exc}") from None


def _refuse_damage(problems: list[str]) -> None:
    if problems:
        shown = "; ".join(" ".join(problem.split()) for problem in problems[:3])
        raise BackupError(f"the copy failed its integrity check: {shown}")


def _snapshot(db_path: Path, target: Path, copy: Callable[[Path], None],
              check: Callable[[Path], dict[str, int]]) -> BackupReport:
    """`copy` the database into a file beside `target`, `check` it (its row counts), make
    it durable and rename it into place; nothing is left at the target on a failure."""
    if not db_path.is_file():
        raise BackupError(f"{db_path}: no such database")
    partial = target.with_name(target.name + ".partial")
    for written in (target, partial, *sidecars(partial)):
        if is_live_file(written, db_path):
            raise BackupError(f"{target}: that is one of the live database's files; back up "
                              "to another file, outside them")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    try:
        # Owner-only from its first byte (SQLite gives its -wal and -shm the same mode):
        # it holds learners' numbers and progress, whatever the umask of the cron job.
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise BackupError(f"{partial}: cannot write the copy: {exc.strerror}") from None
        copy(partial)
        counts = check(partial)
        with partial.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    finally:
        for leftover in (partial, *sidecars(partial)):
            leftover.unlink(missing_ok=True)
    return BackupReport(target, target.stat().st_size, time.monotonic() - started, counts)


# The files SQLite and the store keep beside a database.
_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal", "-writelock")


def sidecars(path: Path) -> list[Path]:
    """The files SQLite and the store keep beside the database at `path`."""
    return [Path(f"{path}{suffix}") for suffix in _SIDECAR_SUFFIXES]


def is_live_file(path: Path, db_path: Path) -> bool:
    """Whether writing, replacing or removing `path` would touch the live database's own
    files: the database, a file beside it that SQLite or the store keeps, another name for
    one of them (a link), or a path under one of them."""
    live = [db_path, *sidecars(db_path)]
    resolved = {p.resolve() for p in live}
    existing = [p for p in live if p.exists()]
    for candidate in (path, *path.parents):
        if candidate.resolve() in resolved:
            return True
        if candidate.exists() and any(os.path.samefile(candidate, p) for p in existing):
            return True
    return False
