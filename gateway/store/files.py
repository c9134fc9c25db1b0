"""The database's files on disk: created readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


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
