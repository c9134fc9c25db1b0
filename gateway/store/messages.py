"""Messages both ways: inbound (table `inbound`), the outbox and its send attempts, and
carriers' delivery reports (`status_events`). Messages held after a restore are in
gateway/store/held.py.

`MessagesStore` is mixed into `Store` (gateway/store/store.py), whose core gives it the
connection, the clock and the write transaction."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from gateway.store.records import InboundRecord, OutboxRecord

# Delivery states in the order a message moves through them; a late callback
# never moves a message backwards (carriers deliver callbacks out of order).
_STATUS_RANK = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "cancelled": 3,
}
# A read receipt (carrier_adapters.base.READ): the message was delivered, and read. The
# message's status becomes `delivered` (never moving back) and `read_at` keeps when.
_READ = "read"


def _outbox_record(row: dict) -> OutboxRecord:
    return OutboxRecord(
        id=row["id"], carrier_id=row["carrier_id"], phone=row["phone"], body=row["body"],
        status=row["status"], attempts=row["attempts"], to_stopped_ok=bool(row["to_stopped_ok"]),
        carrier_message_id=row.get("carrier_message_id"), error=row.get("error"),
        inbound_id=row.get("inbound_id"), kind=row.get("kind") or "reply",
        payload=row.get("payload"), program=row.get("program") or "",
    )


class MessagesStore:
    """Inbound messages, the outbox, send attempts and delivery reports."""

    # -- inbound -------------------------------------------------------------------------

    def record_inbound(
        self, carrier_id: str, carrier_message_id: str, phone: str, text: str,
        recipient: str = "", meta: dict[str, str] | None = None, *, processed: bool = False,
    ) -> InboundRecord:
        """Store an inbound message once per (carrier, carrier message id).

        A repeat of a known id changes nothing and returns the stored message with
        `is_new` False. `processed` stores a new message as processed already: for
        a caller that processes it in the same transaction (and marks it failed if
        that fails), which spares an update of the row and its pending index.
        """
        now = self.clock()
        status = "processed" if processed else "received"
        with self._write_one():  # one INSERT (and a read when it is a repeat)
            cursor = self.db.conn.execute(
                """INSERT INTO inbound (carrier_id, carrier_message_id, phone, recipient, text,
                                        received_at, meta, status, processed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (carrier_id, carrier_message_id) DO NOTHING""",
                [carrier_id, carrier_message_id, phone, recipient, text, now,
                 json.dumps(meta) if meta else None, status, now if processed else None],
            )
            # Inserted, the row is what was just written (no RETURNING: it costs the
            # insert a result table of its own).
            inserted = cursor.rowcount > 0
            if inserted:
                row = {"id": cursor.lastrowid, "phone": phone, "text": text, "status": status,
                       "recipient": recipient}
            else:
                row = self._one(
                    "SELECT id, phone, text, status, recipient FROM inbound "
                    "WHERE carrier_id = ? AND carrier_message_id = ?",
                    [carrier_id, carrier_message_id],
                )
        assert row is not None
        return InboundRecord(
            id=row["id"],
            carrier_id=carrier_id,
            carrier_message_id=carrier_message_id,
            phone=row["phone"],
            text=row["text"],
            status=row["status"],
            is_new=inserted,
            recipient=row["recipient"],
        )

    def inbound_meta(self, inbound_id: int | None) -> dict[str, str]:
        """What the carrier asked us to send back with a reply to this message."""
        if inbound_id is None:
            return {}
        row = self._one("SELECT meta FROM inbound WHERE id = ?", [inbound_id])
        return json.loads(row["meta"]) if row and row["meta"] else {}

    def inbound_status(self, inbound_id: int) -> str:
        """The processing status of a stored inbound message."""
        row = self.db.execute("SELECT status FROM inbound WHERE id = ?", [inbound_id]).fetchone()
        return row[0]

    def mark_inbound(self, inbound_id: int, status: str, error: str | None = None) -> None:
        """Set an inbound message's processing status ('processed' or 'failed')."""
        self.db.execute(
            "UPDATE inbound SET status = ?, processed_at = ?, error = ? WHERE id = ?",
            [status, self.clock(), error, inbound_id],
        )

    def last_inbound_at(self, phone: str, carrier_id: str) -> float | None:
        """When `phone` last wrote to the carrier (any message stored from them, answered
        or not), or None: what opens WhatsApp's 24-hour window."""
        return self.db.execute(
            "SELECT max(received_at) FROM inbound WHERE phone = ? AND carrier_id = ?",
            [phone, carrier_id]).fetchone()[0]

    def unprocessed_inbound(self, older_than: float, limit: int = 100) -> list[InboundRecord]:
        """Inbound messages stored but never processed (the process died in between)."""
        return [
            InboundRecord(row["id"], row["carrier_id"], row["carrier_message_id"], row["phone"],
                          row["text"], row["status"], False, recipient=row["recipient"])
            for row in self._rows(
                """SELECT id, carrier_id, carrier_message_id, phone, text, status, recipient
                   FROM inbound
                   WHERE status = 'received' AND received_at <= ?
                   ORDER BY received_at, id LIMIT ?""",
                [older_than, limit],
            )
        ]

    # -- outbox ------------------------------------------------------------------------------

    def enqueue(
        self, carrier_id: str, phone: str, body: str, *, inbound_id: int | None = None,
        to_stopped_ok: bool = False, due_at: float | None = None, kind: str = "reply",
        segments: int = 1, payload: str | None = None, fallback_of: int | None = None,
        program: str = "",
    ) -> int:
        """Queue one outbound message; return its id. `kind` is 'reply' for an answer to
        the learner, else what the unsolicited message is ('lesson', 'reminder',
        'review', 'announcement'): quiet hours and the daily cap apply to those.
        `payload` is the message's structure as JSON (WhatsApp's buttons or list), for
        the adapters that take one. `fallback_of`: the id of the message this one stands
        for, sent through another carrier (claim_fallback). `program`: the program whose
        course the message is about ('' none; docs/programs.md)."""
        now = self.clock()
        cursor = self.db.execute(
            # Stored queued (the column's default): programs' month counts start at the
            # update that bills a message (schema.py, m038); an insert has no trigger.
            """INSERT INTO outbox (carrier_id, phone, body, inbound_id, to_stopped_ok, due_at,
                                   created_at, updated_at, kind, segments, payload,
                                   fallback_of, program)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [carrier_id, phone, body, inbound_id, int(to_stopped_ok),
             now if due_at is None else due_at, now, now, kind, segments, payload,
             fallback_of, program],
        )
        return cursor.lastrowid

    def claim_fallback(self, outbox_id: int, carrier_id: str) -> OutboxRecord | None:
        """Inside the caller's write transaction, mark message `outbox_id` as sent
        instead through `carrier_id` (its error, for operators, ends `sent as SMS through
        <carrier>`) and return it, if it never was and is not itself a copy sent so; None
        otherwise (the copy is queued by the caller in the same transaction: together, a
        message falls back once however often it is told to)."""
        row = self._one(
            """UPDATE outbox SET fallback_to = ?1, updated_at = ?2,
                 error = coalesce(error || '; ', '') || 'sent as SMS through ' || ?1
               WHERE id = ?3 AND fallback_to IS NULL AND fallback_of IS NULL
               RETURNING id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                         carrier_message_id, error, inbound_id, kind, payload, program""",
            [carrier_id, self.clock(), outbox_id])
        return _outbox_record(row) if row else None

    def defer_send(self, outbox_id: int, due_at: float) -> None:
        """Put a claimed message back in the queue until `due_at`, as if never tried."""
        with self._write_one():
            self.db.execute(
                """UPDATE outbox SET status = 'queued', due_at = ?, lease_until = NULL,
                     attempts = max(attempts - 1, 0), updated_at = ?
                   WHERE id = ? AND status = 'sending'""",
                [due_at, self.clock(), outbox_id])

    def tapped_earlier(self, carrier_id: str, phone: str, carrier_message_id: str) -> bool:
        """Whether a choice `phone` tapped on message `carrier_message_id` (the carrier's id
        of a message sent to them) is on an earlier message: one with choices (buttons, a
        list, a template's quick replies) was queued for them on that carrier after it, sent
        yet or not. False for a message not known as one sent to them here (sent before
        ids were kept, or by another edge): the tap is then read as it comes. A tap is
        on an earlier message too when the learner has moved in their course since it was
        queued (on another channel: SMS, USSD, a page): what it offered is gone."""
        row = self._one(
            "SELECT id, created_at FROM outbox WHERE carrier_id = ? AND carrier_message_id = ? "
            "AND phone = ?", [carrier_id, carrier_message_id, phone])
        if row is None:
            return False
        # The place a message shows is saved before the message is queued, in the same
        # transaction: a later save is a later move.
        if self.db.execute(
                """SELECT 1 FROM enrollments JOIN learners USING (phone)
                   WHERE phone = ? AND course_id = learners.current_course
                     AND enrollments.updated_at > ?""",
                [phone, row["created_at"]]).fetchone() is not None:
            return True
        # The rows after it by id (the unary + keeps SQLite off the carrier's index, which
        # would read the carrier's whole history): a few, however long the outbox.
        return self.db.execute(
            """SELECT 1 FROM outbox
               WHERE id > ? AND +phone = ? AND +carrier_id = ? AND payload IS NOT NULL
                 AND (json_extract(payload, '$.buttons') IS NOT NULL
                      OR json_extract(payload, '$.list') IS NOT NULL
                      OR json_array_length(payload, '$.template.quick_replies') > 0)
               LIMIT 1""", [row["id"], phone, carrier_id]).fetchone() is not None

    def failed_messages(self, since: float, limit: int = 50) -> list[dict]:
        """Messages that failed since `since` (by when they last changed), newest first:
        dicts with `id`, `carrier_id`, `phone`, `kind`, `at` and `error` (why)."""
        return list(self._rows(
            """SELECT id, carrier_id, phone, kind, updated_at AS at, error FROM outbox
               WHERE status = 'failed' AND updated_at >= ? ORDER BY updated_at DESC, id DESC
               LIMIT ?""", [since, limit]))

    def set_payload(self, outbox_id: int, payload: str | None) -> None:
        """Replace a message's structure (JSON, or None): what it goes as, decided when it
        is sent (a WhatsApp template outside the 24-hour window)."""
        with self._write_one():
            self.db.execute("UPDATE outbox SET payload = ?, updated_at = ? WHERE id = ?",
                            [payload, self.clock(), outbox_id])

    def unsolicited_queued_since(self, phone: str, kind: str, since: float) -> int:
        """How many messages of this unsolicited `kind` were queued for `phone` since
        `since` (sent or not)."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND kind = ? AND kind != 'reply' "
            "AND created_at >= ?", [phone, kind, since]).fetchone()[0]

    def unsolicited_sent_since(self, phone: str, since: float) -> int:
        """How many unsolicited messages (not replies) the carrier accepted for `phone`
        since `since`."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND kind != 'reply' AND sent_at >= ?",
            [phone, since]).fetchone()[0]

    def claim_due(self, carrier_id: str, lease_seconds: float, *, phone: str | None = None,
                  skip_phones: Collection[str] = ()) -> OutboxRecord | None:
        """Take the next due message of a carrier for sending, leasing it for `lease_seconds`:
        only one to `phone` when given, none to a number in `skip_phones`.

        A message whose lease ran out (its worker died mid-send) is due again.
        """
        now = self.clock()
        only, params = self._phones_filter(phone, skip_phones)
        with self.write():
            row = self._one(
                f"""UPDATE outbox SET status = 'sending', attempts = attempts + 1,
                     lease_until = ?, updated_at = ?
                   WHERE id = (
                     SELECT id FROM (
                       SELECT id, due_at FROM (
                         SELECT id, due_at FROM outbox
                         WHERE carrier_id = ? AND status = 'queued' AND due_at <= ?{only}
                         ORDER BY due_at, id LIMIT 1)
                       UNION ALL
                       SELECT id, due_at FROM (
                         SELECT id, due_at FROM outbox
                         WHERE carrier_id = ? AND status = 'sending' AND lease_until <= ?{only}
                         ORDER BY due_at, id LIMIT 1))
                     ORDER BY due_at, id LIMIT 1)
                   RETURNING id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                             inbound_id, kind, payload, program""",
                # Two index lookups (queued and due; leased and expired) rather than one
                # OR, which SQLite answers by reading every message the carrier ever had.
                [now + lease_seconds, now, carrier_id, now, *params, carrier_id, now, *params],
            )
        return _outbox_record(row) if row else None

    @staticmethod
    def _phones_filter(phone: str | None, skip_phones: Collection[str]) -> tuple[str, list]:
        """SQL (with its parameters) limiting outbox rows to `phone`, or away from
        `skip_phones`; empty when neither is given."""
        if phone is not None:
            return " AND phone = ?", [phone]
        if skip_phones:
            marks = ", ".join("?" * len(skip_phones))
            return f" AND phone NOT IN ({marks})", list(skip_phones)
        return "", []

    def due_count(self, carrier_id: str | None = None, *, phone: str | None = None) -> int:
        """How many messages are due now (queued and due, or with an expired lease), of one
        carrier and to one number when given."""
        now = self.clock()
        carrier = "" if carrier_id is None else " AND carrier_id = ?"
        extra: list[Any] = [] if carrier_id is None else [carrier_id]
        only, params = self._phones_filter(phone, ())
        queued = self.db.execute(
            f"SELECT count(*) FROM outbox WHERE status = 'queued' AND due_at <= ?{carrier}"
            f"{only}", [now, *extra, *params]).fetchone()[0]
        leased = self.db.execute(
            f"SELECT count(*) FROM outbox WHERE status = 'sending' AND lease_until <= ?"
            f"{carrier}{only}", [now, *extra, *params]).fetchone()[0]
        return queued + leased

    def sending_to(self, phone: str) -> int:
        """How many messages to `phone` are due now or being sent (claimed, not yet
        finished)."""
        return self.db.execute(
            "SELECT count(*) FROM outbox WHERE phone = ? AND (status = 'sending' "
            "OR (status = 'queued' AND due_at <= ?))", [phone, self.clock()]).fetchone()[0]

    def outbox_depth(self) -> dict[str, int]:
        """Messages queued or being sent, per carrier (only carriers with some)."""
        return {row["carrier_id"]: row["n"] for row in self._rows(
            "SELECT carrier_id, count(*) AS n FROM outbox "
            "WHERE status IN ('queued', 'sending') GROUP BY carrier_id")}

    def oldest_due_at(self, now: float) -> float | None:
        """When the longest-waiting message that is due now became due, or None."""
        row = self._one("SELECT min(due_at) AS at FROM outbox "
                        "WHERE status = 'queued' AND due_at <= ?", [now])
        return row["at"] if row else None

    def oldest_waiting_since(self, now: float) -> float | None:
        """Since when the longest-waiting message has waited to be sent, or None: a reply
        since it was queued, however often it was retried since; a lesson, reminder or
        announcement held for quiet hours or the day's cap since its hold ended (or since
        it was queued, once it was tried)."""
        row = self._one(
            """SELECT min(CASE WHEN kind = 'reply' OR attempts > 0 THEN created_at
                          ELSE due_at END) AS at
               FROM outbox WHERE status IN ('queued', 'sending')
                 AND (kind = 'reply' OR attempts > 0 OR due_at <= ?)""", [now])
        return row["at"] if row else None

    def next_due_at(self) -> float | None:
        """When the next queued or leased message becomes due, or None if none waits."""
        row = self.db.execute(
            """SELECT min(CASE status WHEN 'queued' THEN due_at ELSE lease_until END)
               FROM outbox WHERE status IN ('queued', 'sending')"""
        ).fetchone()
        return row[0]

    def rebase_future_outbox(self, now: float, tolerance: float = 2.0) -> tuple[int, float]:
        """Bring queued and leased messages last touched after `now` (the clock went back
        since) onto the clock as it now reads: their waits (a reply's none, a retry's
        backoff, a lease) keep their length from `now` instead of lasting the size of the
        step. A lesson held to the end of quiet hours keeps its hour. Returns (messages
        moved, the largest step seen)."""
        found = self._one("SELECT max(updated_at) AS at FROM outbox "
                          "WHERE status IN ('queued', 'sending') AND updated_at > ?",
                          [now + tolerance])
        if found is None or found["at"] is None:
            return 0, 0.0
        with self._write_one():
            cursor = self.db.execute(
                """UPDATE outbox SET
                     due_at = CASE WHEN kind = 'reply' OR due_at <= updated_at
                                     OR error IS NOT NULL
                                   THEN due_at - (updated_at - :now) ELSE due_at END,
                     lease_until = lease_until - (updated_at - :now),
                     updated_at = :now
                   WHERE status IN ('queued', 'sending') AND updated_at > :now + :tolerance""",
                {"now": now, "tolerance": tolerance})
        return cursor.rowcount, found["at"] - now

    def record_accepted(self, outbox_id: int, carrier_message_id: str) -> None:
        """Record, in a transaction of its own, that the carrier accepted a message being
        sent: it is `sent` (since now, which the daily cap of unsolicited messages counts)
        and never due again. The smallest write there is, made before the attempt's
        bookkeeping (`finish_send`), which may fail without the message going out twice."""
        now = self.clock()
        with self._write_one():
            self.db.execute(
                """UPDATE outbox SET status = CASE WHEN status = 'sending' THEN 'sent'
                     ELSE status END, carrier_message_id = ?, lease_until = NULL,
                     updated_at = ?, sent_at = ? WHERE id = ?""",
                [carrier_message_id, now, now, outbox_id])

    def finish_send(
        self, outbox_id: int, outcome: str, *, detail: str | None = None,
        carrier_message_id: str | None = None, retry_at: float | None = None,
        carrier_ref: str | None = None,
    ) -> None:
        """Record a send attempt and move the message on.

        `outcome` is 'accepted' (sent, with the carrier's id and, where it gives one, its
        second id `carrier_ref`), 'retry' (queued again at `retry_at`), 'held' (queued
        again in its place, due as it was: its carrier cannot send for now), 'failed' or
        'cancelled' (final).
        """
        now = self.clock()
        with self.write():
            self.db.execute(
                "INSERT INTO send_attempts (outbox_id, at, outcome, detail) VALUES (?, ?, ?, ?)",
                [outbox_id, now, "retry" if outcome == "held" else outcome, detail],
            )
            if outcome == "accepted":
                self.db.execute(
                    """UPDATE outbox SET status = CASE WHEN status = 'sending' THEN 'sent'
                         ELSE status END, carrier_message_id = ?, carrier_ref = ?,
                         lease_until = NULL, error = NULL, updated_at = ?, sent_at = ?
                       WHERE id = ?""",
                    [carrier_message_id, carrier_ref or None, now, now, outbox_id],
                )
                self._apply_early_reports(outbox_id)
            elif outcome == "held":
                self.db.execute(
                    """UPDATE outbox SET status = 'queued', lease_until = NULL, error = ?,
                         updated_at = ? WHERE id = ?""",
                    [detail, now, outbox_id],
                )
            elif outcome == "retry":
                self.db.execute(
                    """UPDATE outbox SET status = 'queued', due_at = ?, lease_until = NULL,
                         error = ?, updated_at = ? WHERE id = ?""",
                    [retry_at if retry_at is not None else now, detail, now, outbox_id],
                )
            else:
                self.db.execute(
                    """UPDATE outbox SET status = ?, lease_until = NULL, error = ?, updated_at = ?
                       WHERE id = ?""",
                    [outcome, detail, now, outbox_id],
                )

    def apply_status(
        self, carrier_id: str, carrier_message_id: str, status: str | None,
        carrier_status: str, error_code: str | None = None,
    ) -> OutboxRecord | None:
        """Record a delivery report and move the message forward (never backwards).

        `status` None records the report without changing the message. Returns
        the message it concerns, or None for an id we never sent. The id may be the
        carrier's second id for the message (`carrier_ref`, finish_send).
        """
        now = self.clock()
        with self.write():
            row = self._one(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND carrier_message_id = ?""",
                [carrier_id, carrier_message_id],
            ) or (self._one(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND carrier_ref = ?""",
                [carrier_id, carrier_message_id],
            ) if carrier_message_id else None)
            self.db.execute(
                """INSERT INTO status_events
                     (carrier_id, carrier_message_id, outbox_id, status, state, error_code, at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [carrier_id, carrier_message_id, row["id"] if row else None, carrier_status,
                 status, error_code, now],
            )
            if row is None:
                return None
            new_status = self._advance(row["id"], row["status"], status, error_code)
        return _outbox_record({**row, "status": new_status,
                               "carrier_message_id": carrier_message_id})

    def _advance(self, outbox_id: int, current: str, status: str | None,
                 error_code: str | None) -> str:
        """Move a message to `status` if that is further along; return its status. A
        read receipt notes when the message was first read and moves it to delivered."""
        if status == _READ:
            self.db.execute("UPDATE outbox SET read_at = coalesce(read_at, ?) WHERE id = ?",
                            [self.clock(), outbox_id])
            status = "delivered"
        if status is None or _STATUS_RANK[status] <= _STATUS_RANK[current]:
            return current
        self.db.execute(
            "UPDATE outbox SET status = ?, error = coalesce(?, error), updated_at = ? "
            "WHERE id = ?",
            [status, error_code, self.clock(), outbox_id],
        )
        return status

    def _apply_early_reports(self, outbox_id: int) -> None:
        """Apply delivery reports that arrived before the carrier's id was recorded."""
        row = self._one(
            "SELECT carrier_id, carrier_message_id, carrier_ref, status FROM outbox "
            "WHERE id = ?", [outbox_id]
        )
        if row is None or row["carrier_message_id"] is None:
            return
        current = row["status"]
        ids = [row["carrier_message_id"], row["carrier_ref"] or row["carrier_message_id"]]
        for event in self._rows(
            """SELECT id, state, error_code FROM status_events
               WHERE carrier_id = ? AND carrier_message_id IN (?, ?) AND outbox_id IS NULL
               ORDER BY id""",
            [row["carrier_id"], *ids],
        ):
            current = self._advance(outbox_id, current, event["state"], event["error_code"])
            self.db.execute("UPDATE status_events SET outbox_id = ? WHERE id = ?",
                            [outbox_id, event["id"]])

    def outbox(self, phone: str | None = None) -> list[OutboxRecord]:
        """Messages in the outbox, oldest first (all, or one learner's)."""
        sql = """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                        carrier_message_id, error FROM outbox"""
        params: list[Any] = []
        if phone is not None:
            sql += " WHERE phone = ?"
            params.append(phone)
        return [_outbox_record(row) for row in self._rows(sql + " ORDER BY id", params)]

    def priced_messages(self, phone: str, after_id: int = 0) -> list[tuple[int, str, int]]:
        """A learner's messages queued after outbox id `after_id`, oldest first, as
        (id, body, segments): what the carrier will charge for each."""
        return [(row["id"], row["body"], row["segments"]) for row in self._rows(
            "SELECT id, body, segments FROM outbox WHERE phone = ? AND id > ? ORDER BY id",
            [phone, after_id])]

    def deliver_locally(self, carrier_id: str, phone: str) -> list[OutboxRecord]:
        """Mark a local carrier's queued messages to `phone` sent and return them (the
        phone simulator shows them itself; nothing goes to a network), each with a carrier
        id of its own (`local-<id>`), as a carrier gives one, for a tap to name."""
        now = self.clock()
        with self.write():
            rows = list(self._rows(
                """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok
                   FROM outbox WHERE carrier_id = ? AND phone = ? AND status = 'queued'
                   ORDER BY id""",
                [carrier_id, phone],
            ))
            self.db.execute(
                """UPDATE outbox SET status = 'sent', attempts = attempts + 1, updated_at = ?,
                     carrier_message_id = coalesce(carrier_message_id, 'local-' || id)
                   WHERE carrier_id = ? AND phone = ? AND status = 'queued'""",
                [now, carrier_id, phone],
            )
        return [_outbox_record(row) for row in rows]

    def conversation(self, phone: str, limit: int = 20,
                     carrier_id: str | None = None) -> list[dict]:
        """A number's latest messages both ways, oldest first (with `carrier_id`, only
        those through that carrier): dicts with `direction` ('in' or 'out'), `id` (in its
        table), `text`, `at`, `payload` (an outgoing message's buttons or list as a dict,
        else None) and `shown` (what the learner's phone showed of an incoming message: a
        tapped choice's title, kept as `choice_title` in its meta; else its text)."""
        through = "" if carrier_id is None else " AND carrier_id = ?"
        through_args = [] if carrier_id is None else [carrier_id]
        rows = list(self._rows(
            f"""SELECT * FROM (
                 SELECT 'in' AS direction, text, received_at AS at, id, NULL AS payload,
                        meta
                 FROM inbound WHERE phone = ?{through}
                 UNION ALL
                 SELECT 'out' AS direction, body AS text, created_at AS at, id, payload,
                        NULL AS meta
                 FROM outbox WHERE phone = ?{through})
               ORDER BY at DESC, direction, id DESC LIMIT ?""",
            [phone, *through_args, phone, *through_args, limit],
        ))
        return [{"direction": r["direction"], "id": r["id"], "text": r["text"], "at": r["at"],
                 "payload": json.loads(r["payload"]) if r["payload"] else None,
                 "shown": (json.loads(r["meta"]) if r["meta"] else {}).get("choice_title")
                 or r["text"]}
                for r in reversed(rows)]

    def sent_message(self, carrier_id: str, phone: str, outbox_id: int) -> OutboxRecord | None:
        """Message `outbox_id` if it went to `phone` through `carrier_id`, else None."""
        row = self._one(
            """SELECT id, carrier_id, phone, body, status, attempts, to_stopped_ok,
                      carrier_message_id, error, inbound_id, kind, payload
               FROM outbox WHERE id = ? AND carrier_id = ? AND phone = ?""",
            [outbox_id, carrier_id, phone])
        return _outbox_record(row) if row else None

    def send_attempts(self, outbox_id: int) -> list[dict]:
        """Every recorded attempt to send one message, oldest first."""
        return list(
            self._rows(
                "SELECT at, outcome, detail FROM send_attempts WHERE outbox_id = ? ORDER BY id",
                [outbox_id],
            )
        )
