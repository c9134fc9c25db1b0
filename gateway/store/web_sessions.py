"""Web sessions kept on the server (table `web_sessions`): the browser's cookie holds a
random token, the database its SHA-256 and what the session is. Ending a session deletes
its row, so every copy of the cookie stops working at once.

A lesson link (docs/web.md, Lessons by link) is a session of kind LESSON: the link carries
its token, the row names the learner and, in `mark`, the lesson ("course/lesson").
A staff member's session is of kind `staff`, its `mark` the account's id
(gateway/store/staff.py, which ends them all when the account's password changes or the
account goes)."""

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
LESSON = "lesson"  # a lesson link sent by SMS: opens that lesson's page for that learner
# The key of the browser's signed cookie under which a dashboard session's id is kept:
# the dashboard token's (gateway/ops/dashboard.py) and a staff account's
# (gateway/ops/staff_web.py). Signing out of the lite pages ends both.
ADMIN_COOKIE_KEY = "admin"
STAFF_COOKIE_KEY = "staff"
# How long a lesson link opens its lesson: a week, so a lesson read days later still opens.
LESSON_LINK_DAYS = 7
LESSON_LINK_BYTES = 16  # 128 random bits, 22 characters in the link (each costs in an SMS)
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
          mark: str | None = None, nbytes: int = 24) -> str:
    """Start a session of `kind` lasting `seconds`; returns the token for the cookie (of
    `nbytes` random bytes)."""
    token = secrets.token_urlsafe(nbytes)
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


def start_lesson_link(store: Store, phone: str, course_id: str, lesson_id: str) -> str:
    """A new link token opening one lesson for one learner, for LESSON_LINK_DAYS."""
    return start(store, LESSON, LESSON_LINK_DAYS * 86400.0, phone=phone,
                 mark=f"{course_id}/{lesson_id}", nbytes=LESSON_LINK_BYTES)


def end_lesson_links(store: Store, phone: str) -> None:
    """End every lesson link of the learner (STOP, or lessons back in full by SMS)."""
    with store.write():
        store.db.execute("DELETE FROM web_sessions WHERE phone = ? AND kind = ?",
                         [phone, LESSON])


def signed_in_before(store: Store, phone: str) -> bool:
    """Whether the learner has a sign-in on the lite pages (they can open web pages)."""
    return store.db.execute("SELECT 1 FROM web_sessions WHERE phone = ? AND kind = ? LIMIT 1",
                            [phone, LEARNER]).fetchone() is not None
