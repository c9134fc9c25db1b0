"""Messages held after a restore: what was waiting to be sent when the backup was taken,
kept out of the worker's reach until the operator releases or drops it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.store.store import Store

HELD_ERROR = "held: waiting to be sent when the backup was taken (learnline outbox held)"
DROPPED_ERROR = "dropped after a restore (learnline outbox drop)"


@dataclass(frozen=True)
class HeldMessage:
    """A held message, as the operator decides on it."""

    id: int
    carrier_id: str
    phone: str
    body: str
    created_at: float
    held_at: float
    reason: str


def hold_unsent(store: Store, reason: str) -> int:
    """Hold every message queued or being sent (none reaches a carrier until released);
    return how many."""
    now = store.clock()
    with store.write():
        store.db.execute(
            """INSERT OR IGNORE INTO held_messages (outbox_id, was, held_at, reason)
               SELECT id, status, ?, ? FROM outbox WHERE status IN ('queued', 'sending')""",
            [now, reason])
        return store.db.execute(
            """UPDATE outbox SET status = 'cancelled', lease_until = NULL, error = ?,
                 updated_at = ? WHERE status IN ('queued', 'sending')""",
            [HELD_ERROR, now]).rowcount


# In a backup's settings (never the live database's): when it was taken. The first start
# on a database carrying it holds what it had waiting (hold_if_backup), then removes it.
BACKUP_MARK = "backup_taken_at"


def mark_as_backup(store: Store, taken_at: float) -> None:
    """Mark the database on `store` (a backup copy) as a backup taken at `taken_at`."""
    with store.write():
        store.db.execute("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) "
                         "DO UPDATE SET value = excluded.value", [BACKUP_MARK, repr(taken_at)])


def hold_if_backup(store: Store) -> tuple[float, int] | None:
    """When the database is a backup put in place (it carries the mark): hold what it had
    waiting to be sent and remove the mark, in one transaction; return (when the backup
    was taken, how many were held). None for a database that is no backup."""
    marked = "SELECT value FROM settings WHERE name = ?"
    if store.db.execute(marked, [BACKUP_MARK]).fetchone() is None:
        return None  # the usual case: a read, no write transaction
    with store.write():
        row = store.db.execute(marked, [BACKUP_MARK]).fetchone()
        if row is None:  # another process of the gateway got there first
            return None
        held = hold_unsent(store, "a backup put in place")
        store.db.execute("DELETE FROM settings WHERE name = ?", [BACKUP_MARK])
    return float(row[0]), held


def held_messages(store: Store) -> list[HeldMessage]:
    """Every held message, oldest first."""
    return [HeldMessage(*row) for row in store.db.conn.execute(
        """SELECT o.id, o.carrier_id, o.phone, o.body, o.created_at, h.held_at, h.reason
           FROM held_messages h JOIN outbox o ON o.id = h.outbox_id ORDER BY o.id""")]


def held_count(store: Store) -> int:
    """How many messages are held."""
    return store.db.conn.execute("SELECT count(*) FROM held_messages").fetchone()[0]


def _decide(store: Store, ids: Sequence[int] | None, release: bool) -> tuple[int, list[int]]:
    now = store.clock()
    with store.write():
        held = {row[0] for row in store.db.conn.execute("SELECT outbox_id FROM held_messages")}
        chosen = sorted(held if ids is None else held & set(ids))
        unknown = [] if ids is None else sorted(set(ids) - held)
        for outbox_id in chosen:
            if release:
                store.db.execute(
                    """UPDATE outbox SET status = 'queued', due_at = ?, lease_until = NULL,
                         error = NULL, updated_at = ? WHERE id = ?""", [now, now, outbox_id])
            else:
                store.db.execute("UPDATE outbox SET error = ?, updated_at = ? WHERE id = ?",
                                 [DROPPED_ERROR, now, outbox_id])
            store.db.execute("DELETE FROM held_messages WHERE outbox_id = ?", [outbox_id])
    return len(chosen), unknown


def release(store: Store, ids: Sequence[int] | None) -> tuple[int, list[int]]:
    """Queue held messages (`ids`, or all with None) to be sent now; return how many, and
    the ids asked for that are not held."""
    return _decide(store, ids, release=True)


def drop(store: Store, ids: Sequence[int] | None) -> tuple[int, list[int]]:
    """Drop held messages for good (they stay 'cancelled', saying why); return how many,
    and the ids asked for that are not held."""
    return _decide(store, ids, release=False)
