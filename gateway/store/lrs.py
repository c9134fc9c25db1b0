"""What the school's LRS has of this gateway's learning events (docs/integrations.md,
Learning records): the SQL of their delivery.

A gateway sends the events it recorded itself (`edge` its own id), in the order it stored
them: `lrs_cursor` in `sync_state` is the `seq` up to which the LRS has them, moved only
after the LRS accepted a batch (`lrs_sending`: how far a batch sent and not yet answered
goes). Events are already written in the learning transaction,
so nothing is queued beside them. Voiding statements are queued (`lrs_voids`) in the
transaction that erases a learner, for the statements the LRS already has about them; an
erased learner's events take a pseudonym (`erased:...`) in that same transaction and are
never sent. Revoking a certificate queues, in its transaction, the voiding of the earned
statement the LRS has of it; one not sent yet never goes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway import xapi

if TYPE_CHECKING:
    from gateway.store.store import Store

CURSOR = "lrs_cursor"
SENDING = "lrs_sending"  # the `seq` up to which a batch may be at the LRS (sent, unanswered)
LAST_SUCCESS = "lrs_last_success"
LAST_ERROR = "lrs_last_error"
LAST_ERROR_AT = "lrs_last_error_at"  # when that error was met (epoch seconds)
REFUSED = "lrs_refused"  # statements the LRS refused for good (counted, logged)
_KINDS = ", ".join(f"'{kind}'" for kind in sorted(xapi.KINDS))


def cursor(store: Store) -> int:
    """The `seq` up to which the LRS has this gateway's events (0: none yet)."""
    row = store.db.conn.execute("SELECT value FROM sync_state WHERE name = ?",
                                [CURSOR]).fetchone()
    return int(row[0]) if row else 0


def unsent(store: Store, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` of this gateway's own learning events the LRS does not have yet, in
    the order they were stored, as event documents with their `seq`, the learner's number
    as `learner`; and the `seq` to move the cursor to once the LRS has them (past the
    events of erased learners among them, which are never sent)."""
    conn = store.db.conn
    after = cursor(store)
    rows = conn.execute(
        f"SELECT seq, id, learner, kind, at, data FROM events WHERE seq > ? AND edge = ? "
        f"AND kind IN ({_KINDS}) ORDER BY seq LIMIT ?",
        [after, store.edge_id(), limit]).fetchall()
    found = [{"seq": seq, "id": event_id, "learner": learner, "kind": kind, "at": at,
              "data": json.loads(data)}
             for seq, event_id, learner, kind, at, data in rows
             if not learner.startswith("erased:")]
    return found, (rows[-1][0] if rows else after)


def sending(store: Store, through_seq: int) -> None:
    """A batch of events up to `through_seq` is about to go: until the LRS answers, an
    erasure voids what it holds of the learner's too (the LRS may take a batch whose
    answer never comes back)."""
    with store.write():
        if through_seq > int(_value(store, SENDING) or 0):
            _set(store, SENDING, str(through_seq))


def mark_sent(store: Store, through_seq: int, sent: dict[int, list[str]]) -> None:
    """The LRS has this gateway's events up to `through_seq`: move the cursor there
    (never back). `sent` is the statement ids sent, by event `seq`: those of a learner
    erased while they were on their way are queued for voiding now, as is the earned
    statement of a certificate revoked meanwhile."""
    conn = store.db.conn
    with store.write():
        old = cursor(store)
        if through_seq <= old:
            return
        if sent:
            seqs = list(sent)
            marks = ", ".join("?" * len(seqs))
            erased = [seq for (seq,) in conn.execute(
                f"SELECT seq FROM events WHERE seq IN ({marks}) "
                "AND learner LIKE 'erased:%'", seqs)]
            _queue(store, [sid for seq in erased for sid in sent[seq]])
            # A certificate revoked while its earned statement was on its way.
            revoked = conn.execute(
                f"SELECT e.seq, e.id FROM events e JOIN certificates c "
                f"ON c.phone = e.learner AND c.course_id = json_extract(e.data, '$.course') "
                f"WHERE e.seq IN ({marks}) AND e.kind = 'course_completed' "
                f"AND c.revoked_at IS NOT NULL", seqs).fetchall()
            _queue(store, [sid for seq, event_id in revoked
                           if (sid := xapi.statement_id(event_id, xapi.CERTIFICATE_PART))
                           in sent[seq]])
        _set(store, CURSOR, str(through_seq))


def queue_voids(store: Store, learner: str, *, before: float | None = None) -> int:
    """In the caller's (erasure's) transaction, before the learner's events lose their
    number: queue the voiding of every statement the LRS has, or may have, about
    `learner` (recorded up to `before`, when given): those it accepted and those of a
    batch sent and not yet answered. Returns how many were queued."""
    sent = max(cursor(store), int(_value(store, SENDING) or 0))
    rows = store.db.conn.execute(
        f"SELECT id, kind, data FROM events WHERE learner = ? AND edge = ? AND seq <= ? "
        f"AND kind IN ({_KINDS}) AND at <= ?",
        [learner, store.edge_id(), sent,
         float("inf") if before is None else before]).fetchall()
    ids = [sid for event_id, kind, data in rows
           for sid in xapi.statement_ids({"id": event_id, "kind": kind,
                                          "data": json.loads(data)})]
    _queue(store, ids)
    return len(ids)


def _queue(store: Store, statement_ids: list[str]) -> None:
    now = store.clock()
    store.db.conn.executemany(
        "INSERT INTO lrs_voids (statement_id, queued_at) VALUES (?, ?) "
        "ON CONFLICT (statement_id) DO NOTHING", [(sid, now) for sid in statement_ids])


def due_voids(store: Store, limit: int) -> list[tuple[str, float]]:
    """Up to `limit` statements waiting to be voided: (statement id, when queued)."""
    return [(row[0], row[1]) for row in store.db.conn.execute(
        "SELECT statement_id, queued_at FROM lrs_voids ORDER BY queued_at, statement_id "
        "LIMIT ?", [limit])]


def voids_sent(store: Store, statement_ids: list[str]) -> None:
    """The LRS has the voiding statements of these statements: forget them."""
    with store.write():
        store.db.conn.executemany("DELETE FROM lrs_voids WHERE statement_id = ?",
                                  [(sid,) for sid in statement_ids])


def backlog(store: Store) -> dict[str, Any]:
    """What waits for the LRS: `events` (this gateway's learning events not sent yet,
    erased learners' left out), `voids`, `oldest_at` (when the oldest waiting event was
    recorded, or None), and the last success and error kept (`last_error_at`: when,
    None when not known; the error is "" once a batch went through after it)."""
    conn = store.db.conn
    events, oldest = conn.execute(
        f"SELECT count(*), min(at) FROM events WHERE seq > ? AND edge = ? "
        f"AND kind IN ({_KINDS}) AND learner NOT LIKE 'erased:%'",
        [cursor(store), store.edge_id()]).fetchone()
    voids = conn.execute("SELECT count(*) FROM lrs_voids").fetchone()[0]
    error_at = _value(store, LAST_ERROR_AT)
    return {"events": events, "voids": voids, "oldest_at": oldest,
            "last_success": _value(store, LAST_SUCCESS), "last_error": _value(store, LAST_ERROR),
            "last_error_at": float(error_at) if error_at else None,
            "refused": int(_value(store, REFUSED) or 0)}


def note(store: Store, *, success: float | None = None, error: str | None = None,
         refused: int = 0) -> None:
    """Keep the outcome of a delivery round for operators (`learnline lrs status`)."""
    with store.write():
        if success is not None:
            _set(store, LAST_SUCCESS, str(success))
            _set(store, LAST_ERROR, "")
        if error is not None:
            _set(store, LAST_ERROR, error)
            _set(store, LAST_ERROR_AT, str(store.clock()))
        if refused:
            _set(store, REFUSED, str(int(_value(store, REFUSED) or 0) + refused))


def certified(store: Store, learner: str, course: str) -> bool:
    """Whether the learner holds a certificate for the course that is not revoked."""
    return store.db.conn.execute(
        "SELECT 1 FROM certificates WHERE phone = ? AND course_id = ? "
        "AND revoked_at IS NULL", [learner, course]).fetchone() is not None


def queue_certificate_voids(store: Store, learner: str, course: str) -> int:
    """In the caller's (revocation's) transaction: queue the voiding of the earned
    statements of `learner`'s passes of `course` that the LRS has, or may have (a batch
    sent and not yet answered); those not sent yet never go (`certified`). Returns how
    many were queued."""
    sent = max(cursor(store), int(_value(store, SENDING) or 0))
    rows = store.db.conn.execute(
        "SELECT id FROM events WHERE learner = ? AND edge = ? AND seq <= ? "
        "AND kind = 'course_completed' AND json_extract(data, '$.course') = ?",
        [learner, store.edge_id(), sent, course]).fetchall()
    ids = [xapi.statement_id(event_id, xapi.CERTIFICATE_PART) for (event_id,) in rows]
    _queue(store, ids)
    return len(ids)


def _value(store: Store, name: str) -> str | None:
    row = store.db.conn.execute("SELECT value FROM sync_state WHERE name = ?",
                                [name]).fetchone()
    return row[0] if row else None


def _set(store: Store, name: str, value: str) -> None:
    store.db.conn.execute(
        "INSERT INTO sync_state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value", [name, value])
