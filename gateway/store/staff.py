"""Staff accounts, their roles and the record of who did what (tables `staff`,
`staff_roles`, `staff_audit`); a staff member's sessions are web sessions of kind
`web_sessions.STAFF` marked with the account's id. The rules (who may sign in, the
lock-out, password hashing) are gateway/ops/staff.py's; this module only reads and writes.

A role is held for the whole gateway (program "") or, once programs exist, for one
program: `StaffAccount.roles` lists (role, program) pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.store import Store

STAFF = "staff"  # the web session kind (gateway/store/web_sessions.py)
WHOLE_GATEWAY = ""  # a role's program when it is held for everything


class AccountExists(Exception):
    """An account of that username is already there."""


@dataclass(frozen=True)
class StaffAccount:
    """One staff member as stored (the hash is for gateway/ops/staff.py alone)."""

    id: int
    username: str
    name: str
    password_hash: str
    created_at: float
    password_changed_at: float
    last_signin_at: float | None
    failures: int
    locked_until: float | None
    roles: tuple[tuple[str, str], ...]

    def has_role(self, role: str, program: str = WHOLE_GATEWAY) -> bool:
        """Whether the account holds `role` for `program` (a role for the whole gateway
        holds for every program)."""
        return (role, WHOLE_GATEWAY) in self.roles or (role, program) in self.roles

    def programs(self) -> set[str] | None:
        """The programs the account may see: None for the whole gateway (any role held for
        it), else the programs its roles are held for."""
        if any(program == WHOLE_GATEWAY for _, program in self.roles):
            return None
        return {program for _, program in self.roles}

    def holds(self, role: str) -> bool:
        """Whether the account holds `role` for the whole gateway or for any program."""
        return any(held == role for held, _ in self.roles)

    @property
    def role_names(self) -> str:
        """The roles as one line for people: "admin", "tutor (program x)"..."""
        return ", ".join(role if not program else f"{role} ({program})"
                         for role, program in self.roles)


@dataclass(frozen=True)
class AuditRow:
    """One line of the record of who did what."""

    at: float
    actor: str | None
    action: str
    subject: str | None
    address: str | None


# The settings row holding the highest id of a removed account.
_HIGHEST_REMOVED = "staff_highest_removed_id"

_COLUMNS = ("id, username, name, password_hash, created_at, password_changed_at, "
            "last_signin_at, failures, locked_until")


def _account(store: Store, row: tuple | None) -> StaffAccount | None:
    if row is None:
        return None
    roles = tuple(tuple(r) for r in store.db.execute(
        "SELECT role, program FROM staff_roles WHERE staff_id = ? ORDER BY program, role",
        [row[0]]).fetchall())
    return StaffAccount(*row, roles=roles)


def count(store: Store) -> int:
    """How many staff accounts there are."""
    return store.db.execute("SELECT count(*) FROM staff").fetchone()[0]


def find(store: Store, username: str) -> StaffAccount | None:
    """The account of `username` (any case), or None."""
    return _account(store, store.db.execute(
        f"SELECT {_COLUMNS} FROM staff WHERE username = ?", [username.lower()]).fetchone())


def by_id(store: Store, staff_id: int) -> StaffAccount | None:
    """The account of that id, or None."""
    return _account(store, store.db.execute(
        f"SELECT {_COLUMNS} FROM staff WHERE id = ?", [staff_id]).fetchone())


def every(store: Store) -> list[StaffAccount]:
    """Every account, by username."""
    rows = store.db.execute(f"SELECT {_COLUMNS} FROM staff ORDER BY username").fetchall()
    return [_account(store, row) for row in rows]


def add(store: Store, username: str, name: str, role: str, password_hash: str,
        program: str = WHOLE_GATEWAY) -> StaffAccount:
    """Add an account holding one role; AccountExists if the username is taken."""
    now = store.clock()
    with store.write():
        if find(store, username) is not None:
            raise AccountExists(username)
        staff_id = store.db.execute(
            """INSERT INTO staff (id, username, name, password_hash, created_at,
                                  password_changed_at) VALUES (?, ?, ?, ?, ?, ?)""",
            [_next_id(store), username.lower(), name, password_hash, now, now]).lastrowid
        store.db.execute("INSERT INTO staff_roles (staff_id, role, program) VALUES (?, ?, ?)",
                         [staff_id, role, program])
    return by_id(store, staff_id)


def remove(store: Store, staff_id: int) -> None:
    """Delete the account, its roles and its sessions (its audit lines stay)."""
    with store.write():
        end_sessions(store, staff_id)
        store.db.execute("DELETE FROM staff_roles WHERE staff_id = ?", [staff_id])
        store.db.execute("DELETE FROM staff WHERE id = ?", [staff_id])
        store.db.execute(
            # settings.value is TEXT, which compares above any number: both as integers.
            """INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name)
               DO UPDATE SET value = max(CAST(value AS INTEGER),
                                         CAST(excluded.value AS INTEGER))""",
            [_HIGHEST_REMOVED, staff_id])


def _next_id(store: Store) -> int:
    """An id no account ever had: answers, figures and the audit name accounts by id, so a
    removed account's id must never come back as someone else's."""
    highest = store.db.execute(
        "SELECT max(coalesce((SELECT max(id) FROM staff), 0), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE name = ?), 0))",
        [_HIGHEST_REMOVED]).fetchone()[0]
    return highest + 1


def set_password(store: Store, staff_id: int, password_hash: str) -> None:
    """A new password: its sessions end, and its failures and lock are forgotten."""
    with store.write():
        store.db.execute(
            """UPDATE staff SET password_hash = ?, password_changed_at = ?, failures = 0,
                                locked_until = NULL WHERE id = ?""",
            [password_hash, store.clock(), staff_id])
        end_sessions(store, staff_id)


def count_attempt(store: Store, staff_id: int) -> int:
    """Count a sign-in attempt as failed until it is known to be right (see
    `signed_in`); returns the failures in a row, this one included. Inside the caller's
    write transaction, so that concurrent attempts take turns."""
    store.db.execute("UPDATE staff SET failures = failures + 1 WHERE id = ?", [staff_id])
    return store.db.execute("SELECT failures FROM staff WHERE id = ?",
                            [staff_id]).fetchone()[0]


def lock(store: Store, staff_id: int, until: float) -> None:
    """No sign-in of this account is checked before `until` (a later lock only extends)."""
    with store.write():
        store.db.execute(
            "UPDATE staff SET locked_until = max(coalesce(locked_until, 0), ?) WHERE id = ?",
            [until, staff_id])


def signed_in(store: Store, staff_id: int, rehashed: str | None = None) -> None:
    """A right password: failures and lock forgotten, the time kept, and the hash
    replaced when it was made with older parameters."""
    with store.write():
        store.db.execute(
            """UPDATE staff SET failures = 0, locked_until = NULL, last_signin_at = ?,
                                password_hash = coalesce(?, password_hash) WHERE id = ?""",
            [store.clock(), rehashed, staff_id])


def end_sessions(store: Store, staff_id: int) -> None:
    """End every session of the account, in every browser."""
    with store.write():
        store.db.execute("DELETE FROM web_sessions WHERE kind = ? AND mark = ?",
                         [STAFF, str(staff_id)])


def sessions(store: Store, staff_id: int) -> int:
    """How many unexpired sessions the account has."""
    return store.db.execute(
        "SELECT count(*) FROM web_sessions WHERE kind = ? AND mark = ? AND expires_at > ?",
        [STAFF, str(staff_id), store.clock()]).fetchone()[0]


def forget_rate_event(store: Store, key: str) -> None:
    """Take back the latest event of `key` in `rate_events` (an attempt counted before
    it was checked, and found right). Inside the caller's write transaction or its own."""
    with store.write():
        store.db.execute(
            "DELETE FROM rate_events WHERE rowid = (SELECT max(rowid) FROM rate_events "
            "WHERE key = ?)", [key])


def audit(store: Store, action: str, *, actor: str | None = None,
          subject: str | None = None, address: str | None = None) -> None:
    """Record that `actor` did `action` to `subject` (from `address`, on the web)."""
    with store.write():
        store.db.execute(
            "INSERT INTO staff_audit (at, actor, action, subject, address) "
            "VALUES (?, ?, ?, ?, ?)", [store.clock(), actor, action, subject, address])


def audit_rows(store: Store, limit: int = 200) -> list[AuditRow]:
    """The latest `limit` lines of the record, newest first."""
    rows = store.db.execute(
        "SELECT at, actor, action, subject, address FROM staff_audit "
        "ORDER BY at DESC, id DESC LIMIT ?", [limit]).fetchall()
    return [AuditRow(*row) for row in rows]
