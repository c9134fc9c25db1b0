"""The database's files on disk: created readable by their owner only, watched for being
deleted, replaced or made read-only, and never silently made anew where one was.

Where Learnline makes a database, or starts on one, it leaves a marker beside it,
`<database>-created`. While the marker is there, a missing database is an error (restore
it, docs/operations.md) rather than the cue to make an empty one: a first start still
makes the database, a restart never replaces a lost one with nothing.

`learnline restore`'s file-level SQLite work (is it a database, copy and check it, fold a
log in) is here too, so that only the store speaks SQL.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

PRIVATE_MODE = 0o600
MARKER_SUFFIX = "-created"


class DatabaseFileError(sqlite3.OperationalError):
    """The database file is missing, deleted, replaced or read-only: nothing was written.
    (An OperationalError, so a carrier gets 503 and retries, as for a busy database.)"""


def create_private(path: str | Path) -> bool:
    """Create `path` empty with mode 0600 whatever the umask, unless it exists; return
    whether it was created. SQLite gives a database's `-wal` and `-shm` the mode of the
    database file, so a database made in it keeps learners' numbers private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    except OSError:  # no such folder, no permission: SQLite's own error says it
        return False
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken the owner's bits too
    finally:
        os.close(fd)
    return True


def marker(path: str | Path) -> Path:
    """The marker saying a database was made (or used) at `path`."""
    return Path(f"{path}{MARKER_SUFFIX}")


def mark(path: str | Path) -> None:
    """Leave the marker beside the database at `path`, unless it is there (a folder that
    cannot take it is left alone: the database works without it)."""
    where = marker(path)
    if where.exists():
        return
    try:
        fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except OSError:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    with os.fdopen(fd, "w") as out:
        out.write(f"Learnline has kept its database {Path(path).name} here since {stamp} "
                  "(at the latest). While this file is here, Learnline will not make a new, "
                  "empty database in its place (docs/operations.md).\n")


def refuse_to_remake(path: str | Path) -> None:
    """DatabaseFileError, in one line saying what to do, when the database at `path` is
    missing although its marker says one was there."""
    where = marker(path)
    if where.exists():
        raise DatabaseFileError(
            f"no database at {path}, but one was made there (the marker {where} says so): "
            "restore it from a backup (docs/operations.md, Backup and restore), or, to start "
            f"with an empty database, remove {where}")


def identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, or None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def gone(path: str | Path) -> str:
    """What to say when the file at `path` is no longer the one a process opened."""
    return (f"{path} was deleted or replaced after this process opened it: put the "
            "database back (docs/operations.md, Backup and restore) and restart")


def read_only(path: str | Path) -> str | None:
    """Why this process could not write the database at `path` (read-only for it: the
    file, its WAL files or its folder), or None."""
    folder = Path(path).parent
    for candidate in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm"), folder):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"{path} is read-only for this process" if candidate == Path(path) \
                else f"{candidate} is read-only for this process"
    return None


def table_names(path: str | Path) -> set[str]:
    """The names of the tables in the SQLite database at `path`, opened read-only
    (sqlite3.DatabaseError when it is no SQLite database)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def copy_checked(source: str | Path, target: str | Path) -> list[str]:
    """Copy the database at `source` (opened read-only) into the file `target` with
    SQLite's backup, then check the copy; return what the check found (["ok"] when
    nothing). sqlite3.DatabaseError when `source` cannot be read whole."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
        return [row[0] for row in writing.execute("PRAGMA quick_check")]
    finally:
        reading.close()
        writing.close()


def standalone_counts(path: str | Path) -> dict[str, int]:
    """Make the database at `path` one self-contained file (no write-ahead log) and count
    the rows of each of its tables, by name."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in tables}
    finally:
        conn.close()


def fold_wal(path: str | Path) -> None:
    """Copy the write-ahead log of the database at `path` into it and empty the log, so
    the database file stands alone (sqlite3.DatabaseError when it is damaged)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
