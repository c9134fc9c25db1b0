"""Sessions and sign-in: USSD sessions, the lite pages' sign-in codes, and the rate limits
that guard sign-in (the learners' and the dashboard's) and certificate checks. Web
sessions are in gateway/store/web_sessions.py.

`SessionsStore` is mixed into `Store` (gateway/store/store.py), whose core gives it the
connection, the clock and the write transaction."""

from __future__ import annotations

import json

from gateway.store.records import UssdSessionRecord


def _ussd_record(row: dict) -> UssdSessionRecord:
    return UssdSessionRecord(
        carrier_id=row["carrier_id"], session_id=row["session_id"], phone=row["phone"],
        service_code=row["service_code"], history=row["history"], view=json.loads(row["view"]),
        screen=row["screen"], state=row["state"], started_at=row["started_at"],
        updated_at=row["updated_at"], expires_at=row["expires_at"], lesson=row["lesson"],
    )


class SessionsStore:
    """USSD sessions, sign-in codes and rate limits (table `rate_events`)."""

    # -- USSD sessions -------------------------------------------------------------------

    def ussd_session(self, carrier_id: str, session_id: str) -> UssdSessionRecord | None:
        """A USSD session by carrier and session id, or None."""
        row = self._one(
            "SELECT * FROM ussd_sessions WHERE carrier_id = ? AND session_id = ?",
            [carrier_id, session_id],
        )
        return _ussd_record(row) if row else None

    def save_ussd_session(self, session: UssdSessionRecord) -> None:
        """Create or update a USSD session."""
        self.db.execute(
            """INSERT INTO ussd_sessions (carrier_id, session_id, phone, service_code, history,
                 view, screen, state, started_at, updated_at, expires_at, lesson)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (carrier_id, session_id) DO UPDATE SET phone = excluded.phone,
                 service_code = excluded.service_code, history = excluded.history,
                 view = excluded.view, screen = excluded.screen, state = excluded.state,
                 updated_at = excluded.updated_at, expires_at = excluded.expires_at,
                 lesson = excluded.lesson""",
            [session.carrier_id, session.session_id, session.phone, session.service_code,
             session.history, json.dumps(session.view, ensure_ascii=False), session.screen,
             session.state, session.started_at, session.updated_at, session.expires_at,
             session.lesson],
        )

    def abandoned_ussd_session(self, phone: str, since: float) -> UssdSessionRecord | None:
        """The learner's latest USSD session that was left without exiting (it timed out
        or the call dropped) and was active after `since`: the one a new dial resumes."""
        row = self._one(
            """SELECT * FROM ussd_sessions
               WHERE phone = ? AND state = 'open' AND updated_at >= ?
               ORDER BY updated_at DESC LIMIT 1""",
            [phone, since],
        )
        return _ussd_record(row) if row else None

    def end_ussd_sessions(self, phone: str) -> None:
        """Mark every open session of a learner ended (nothing left to resume)."""
        self.db.execute(
            "UPDATE ussd_sessions SET state = 'ended' WHERE phone = ? AND state = 'open'", [phone]
        )

    def purge_ussd_sessions(self, expired_before: float) -> int:
        """Delete sessions that expired before `expired_before`; return how many."""
        with self.write():
            cursor = self.db.execute(
                "DELETE FROM ussd_sessions WHERE expires_at < ?", [expired_before]
            )
        return cursor.rowcount

    # -- sign-in codes and rate limits -------------------------------------------------------

    def save_signin_code(self, phone: str, code_hash: str, expires_at: float) -> None:
        """Keep a new sign-in code for `phone`; earlier ones still unexpired keep working
        (an SMS may arrive late, after the one asked for next). Codes that expired more
        than a day ago (anyone's) are deleted: nothing needs them."""
        with self.write():
            self.db.execute(
                """INSERT INTO signin_codes (phone, code_hash, expires_at, created_at)
                   VALUES (?, ?, ?, ?)""",
                [phone, code_hash, expires_at, self.clock()],
            )
            self.db.execute("DELETE FROM signin_codes WHERE expires_at < ?",
                            [self.clock() - 86400])

    def live_signin_codes(self, phone: str) -> list[dict]:
        """The phone's codes still usable (id, code_hash, tries): unused and unexpired,
        the newest first."""
        cursor = self.db.execute(
            """SELECT id, code_hash, tries FROM signin_codes
               WHERE phone = ? AND used = 0 AND expires_at > ?
               ORDER BY id DESC""",
            [phone, self.clock()],
        )
        return [{"id": id_, "code_hash": code_hash, "tries": tries}
                for id_, code_hash, tries in cursor.fetchall()]

    def end_signin_codes(self, phone: str) -> None:
        """Every code of the phone stops working (one was right, or tries ran out)."""
        with self._write_one():
            self.db.execute("UPDATE signin_codes SET used = 1 WHERE phone = ? AND used = 0",
                            [phone])

    def spend_signin_try(self, code_id: int, *, used: bool) -> int:
        """Count one try of a code (and mark it used); return the tries so far."""
        with self.write():
            self.db.execute(
                "UPDATE signin_codes SET tries = tries + 1, used = max(used, ?) WHERE id = ?",
                [int(used), code_id],
            )
            return self.db.execute("SELECT tries FROM signin_codes WHERE id = ?",
                                   [code_id]).fetchone()[0]

    def take_rate(self, limits: list[tuple[str, int, float]]) -> str | None:
        """Count one event against each (key, limit, window seconds), all or nothing.

        Returns the first key already at its limit (nothing is counted then), else None.
        A key found at its limit by a plain read is answered without the write lock: a
        flood past its limit must not queue behind the writers (nor fail when they hold
        it); under the lock, the limits are read again before anything is counted.
        """
        now = self.clock()
        for key, limit, window in limits:
            if self.rate_used(key, window, now=now) >= limit:
                return key
        with self.write():
            for key, limit, window in limits:
                if self.rate_used(key, window, now=now) >= limit:
                    return key
            for key, _, _ in limits:
                self.db.execute("INSERT INTO rate_events (key, at) VALUES (?, ?)", [key, now])
            self.db.execute("DELETE FROM rate_events WHERE at < ?", [now - 86400])
        return None

    def rate_used(self, key: str, window: float, *, now: float | None = None) -> int:
        """How many events `key` counted in the last `window` seconds (see take_rate);
        inside the caller's write transaction, a figure nobody else changes meanwhile."""
        since = (self.clock() if now is None else now) - window
        return self.db.execute("SELECT count(*) FROM rate_events WHERE key = ? AND at > ?",
                               [key, since]).fetchone()[0]
