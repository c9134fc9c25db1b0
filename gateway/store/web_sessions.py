"""Web sessions kept on the server (table `web_sessions`): the browser's cookie holds a
random token, the database its SHA-256 and what the session is. Ending a session deletes
its row, so every copy of the cookie stops working at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.store import Store

LEARNER = "learner"
SIGNIN = "signin"  # a code was asked for and not yet entered
ADMIN = "admin"
_KEPT_AFTER_EXPIRY = 86400.0  # expired rows are deleted when a session starts after this


@dataclass(frozen=True)
class WebSession:
    """A live session: what it is, for whom, since when (the store's clock)."""

    kind: str
    phone: str | None
    mark: str | None
    started_at: float
    expires_at: float


def _id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(store: Store, kind: str, seconds: float, *, phone: str | None = None,
          mark: str | None = None) -> str:
    """Start a session of `kind` lasting `seconds`; returns the token for the cookie."""
    token = secrets.token_urlsafe(24)
    now = store.clock()
    with store.write():
        store.db.execute(
            """INSERT INTO web_sessions (id, kind, phone, mark, started_at, expires_at)
               VALUES (?, ?, ?, ?, ?, ?)""", [_id(token), kind, phone, mark, now, now + seconds])
        store.db.execute("DELETE FROM web_sessions WHERE expires_at < ?",
                         [now - _KEPT_AFTER_EXPIRY])
    return token


def find(store: Store, token: object, kind: str) -> WebSession | None:
    """The unexpired session of `kind` the token names, or None (no such session, ended,
    expired, or not a token at all)."""
    if not isinstance(token, str) or not token:
        return None
    row = store.db.execute(
        """SELECT kind, phone, mark, started_at, expires_at FROM web_sessions
           WHERE id = ? AND kind = ? AND expires_at > ?""",
        [_id(token), kind, store.clock()]).fetchone()
    return WebSession(*row) if row else None


def end(store: Store, token: object) -> None:
    """End the session the token names (nothing if it names none)."""
    if isinstance(token, str) and token:
        with store.write():
            store.db.execute("DELETE FROM web_sessions WHERE id = ?", [_id(token)])
