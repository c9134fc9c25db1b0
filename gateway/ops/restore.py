"""`learnline restore BACKUP`: a backup in place of the database, with what was waiting to
be sent when the backup was taken held for the operator (gateway/store/held.py)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.ops.backup import is_live_file, sidecars
from gateway.store import SchemaError, Store
from gateway.store.files import copy_checked, fold_wal, marker, table_names
from gateway.store.held import hold_if_backup, hold_unsent


class RestoreError(Exception):
    """The backup was not restored; the database is as it was. The message says why."""


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    database: Path
    kept: Path | None  # the database it replaced, moved aside whole
    held: int
    counts: dict[str, int]


def restore(backup: str | Path, db_path: str | Path) -> RestoreReport:
    """Put the database in `backup` in place of the one at `db_path`.

    The backup is copied beside the database, migrated to this version's schema, and
    every message in it still queued or being sent is held; then the current database
    (with its -wal and -shm) is renamed aside as `<name>.replaced-<UTC time>`, never
    deleted, and the copy renamed into place. Refused, with nothing changed, while another
    process has the database open, or when `backup` is not a Learnline database.
    """
    backup, db_path = Path(backup), Path(db_path)
    if not backup.is_file():
        raise RestoreError(f"{backup}: no such file")
    if is_live_file(backup, db_path):
        raise RestoreError(f"{backup}: that is the live database, not a backup of it")
    _check_is_learnline(backup)
    if not db_path.parent.is_dir():
        raise RestoreError(f"{db_path.parent}: no such folder (LEARNLINE_DB)")
    _check_stopped(db_path)
    incoming = db_path.with_name(db_path.name + ".restoring")
    leftovers = (incoming, *sidecars(incoming), marker(incoming))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    try:
        held, counts = _prepare(backup, incoming)
        kept = _set_aside(db_path)
        os.replace(incoming, db_path)
        _sync_folder(db_path.parent)
    finally:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
    return RestoreReport(db_path, kept, held, counts)


def _check_is_learnline(backup: Path) -> None:
    try:
        names = table_names(backup)
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{backup} is not a Learnline database ({exc})") from None
    if not {"outbox", "learners", "_sqlite_migrations"} <= names:
        raise RestoreError(f"{backup} is not a Learnline database (no outbox, learners or "
                           "migration record)")


def _check_stopped(db_path: Path) -> None:
    """Refuse while another process has the database or its -wal, -shm or write lock
    open (every store keeps its write lock open): the web server, the worker, a command.
    Replacing the file under them would leave them writing to the one set aside."""
    holders = open_by(db_path)
    if holders:
        pid, command = holders[0]
        raise RestoreError(
            f"the database is open in process {pid} ({command}): stop the gateway and the "
            "worker first (systemctl stop learnline-web learnline-worker)")


def open_by(db_path: Path) -> list[tuple[int, str]]:
    """Other processes (pid, command line) with the database's files open, as Linux's
    /proc shows those this user may see ([] where there is no /proc)."""
    files = {os.path.realpath(p) for p in (db_path, *sidecars(db_path))}
    proc = Path("/proc")
    found = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:  # gone, or another user's
            continue
        if not files.intersection(_link(fd) for fd in fds):
            continue
        try:
            command = _command((entry / "cmdline").read_bytes())
        except OSError:
            command = "?"
        found.append((int(entry.name), command))
    return found


def _command(cmdline: bytes) -> str:
    """A process's command line as a person recognises it: the program and the script it
    runs by their names, not their folders (`python3.11 learnline serve --port 8000`),
    at most 100 characters."""
    words = cmdline.decode(errors="replace").rstrip("\0").split("\0")
    words = [os.path.basename(word) if n < 2 and "/" in word else word
             for n, word in enumerate(words)]
    text = " ".join(words).strip() or "?"
    return text if len(text) <= 100 else text[:99] + "…"


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed meanwhile
        return ""


def _prepare(backup: Path, incoming: Path) -> tuple[int, dict[str, int]]:
    """Copy the backup to `incoming` (owner-only), migrate it, hold its unsent messages."""
    os.close(os.open(incoming, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        problems = copy_checked(backup, incoming)
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{backup}: cannot be read whole: {exc}") from None
    if problems != ["ok"]:
        raise RestoreError(f"{backup} fails its integrity check: {problems[0]}: restore "
                           "another backup")
    try:
        with Store.open(incoming, migrate=True) as store:
            held = hold_unsent(store, f"restored from {backup}")
            hold_if_backup(store)  # held already: only removes the backup's mark
            counts = store.row_counts()
    except SchemaError as exc:
        raise RestoreError(str(exc).replace(str(incoming), str(backup))) from None
    with incoming.open("rb+") as written:
        os.fsync(written.fileno())
    return held, counts


def _set_aside(db_path: Path) -> Path | None:
    """Rename the current database and its -wal and -shm aside, whole; return the name."""
    if not db_path.exists():
        return None
    # Fold its write-ahead log in, so the file set aside stands alone; a damaged one keeps
    # its files as they are.
    with contextlib.suppress(sqlite3.DatabaseError):
        fold_wal(db_path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
    os.replace(db_path, kept)
    for suffix in ("-wal", "-shm", "-journal"):
        if Path(f"{db_path}{suffix}").exists():
            os.replace(f"{db_path}{suffix}", f"{kept}{suffix}")
    return kept


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
