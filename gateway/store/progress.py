"""Learners and their progress: learners, enrollments, answers, lesson results, reviews,
activity and certificates; and `Places`, a learner's places in courses read once per write
transaction.

`ProgressStore` is mixed into `Store` (gateway/store/store.py), whose core gives it the
connection, the clock and the write transaction."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.store import lrs
from gateway.store.records import (
    CertificateRecord,
    EnrollmentRecord,
    LearnerRecord,
    QuizState,
)

if TYPE_CHECKING:
    from gateway.store.store import Store


class _RecentKeys:
    """A bounded set that forgets its oldest keys (thread-safe enough: a lost race only
    repeats an idempotent insert)."""

    def __init__(self, size: int):
        self.size = size
        self._keys: dict[tuple, None] = {}

    def __contains__(self, key: tuple) -> bool:
        return key in self._keys

    def add(self, key: tuple) -> None:
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.pop(next(iter(self._keys)), None)


# (database, day, channel, phone) this process has recorded as active: most messages come
# from someone already counted today, and need no write for it.
_ACTIVITY_NOTED = _RecentKeys(50_000)


@functools.lru_cache(maxsize=4)
def _utc_day(days: int) -> str:
    """'YYYY-MM-DD' of a UTC day counted from 1970-01-01: one string a day, shared by
    every key of _ACTIVITY_NOTED that names it."""
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86_400))


def _certificate_record(row: dict) -> CertificateRecord:
    return CertificateRecord(
        code=row["code"], phone=row["phone"], course_id=row["course_id"],
        course_title=row["course_title"], holder=row["holder"], score=row["score"],
        total=row["total"], issued_at=row["issued_at"], badge_id=row["badge_id"],
        badge_salt=row["badge_salt"], revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
    )


def _learner_record(row: dict) -> LearnerRecord:
    return LearnerRecord(
        phone=row["phone"], locale=row["locale"], carrier_id=row["carrier_id"],
        stopped=bool(row["stopped"]), current_course=row["current_course"],
        display_name=row["display_name"], timezone=row["timezone"],
        schedule=row["schedule"], schedule_hour=row["schedule_hour"],
        schedule_paused=bool(row["schedule_paused"]),
        schedule_offered=bool(row["schedule_offered"]), next_check_at=row["next_check_at"],
        last_seen_at=row["last_seen_at"], nudges=row["nudges"],
        pending_review=json.loads(row["pending_review"]) if row["pending_review"] else None,
        created_at=row.get("created_at"), delivery=row["delivery"],
        link_offered=bool(row["link_offered"]), channel=row["channel"],
    )


class ProgressStore:
    """Learners, their places in courses, their answers, results, reviews and certificates."""

    # -- learners ----------------------------------------------------------------------

    _LEARNER_COLUMNS = (
        "phone", "locale", "carrier_id", "stopped", "current_course", "display_name",
        "timezone", "schedule", "schedule_hour", "schedule_paused", "schedule_offered",
        "next_check_at", "last_seen_at", "nudges", "pending_review", "delivery",
        "link_offered", "channel")

    def learner(self, phone: str) -> LearnerRecord | None:
        """The learner with this E.164 number, or None."""
        row = self._one(
            f"SELECT {', '.join(self._LEARNER_COLUMNS)}, created_at FROM learners WHERE phone = ?",
            [phone])
        return _learner_record(row) if row else None

    _UPDATE_LEARNER = ("UPDATE learners SET "
                       f"{', '.join(f'{c} = ?' for c in _LEARNER_COLUMNS[1:])}, "
                       "updated_at = ? WHERE phone = ?")
    _INSERT_LEARNER = (f"INSERT INTO learners ({', '.join(_LEARNER_COLUMNS)}, created_at, "
                       f"updated_at) VALUES ({', '.join('?' * (len(_LEARNER_COLUMNS) + 2))})")
    _INSERT_NEW_LEARNER = f"{_INSERT_LEARNER} ON CONFLICT (phone) DO NOTHING"

    def save_learner(self, learner: LearnerRecord, *, new: bool = False) -> None:
        """Create or update a learner. `new`: the caller has just found no row for this
        number, so the row is inserted without trying an update first (it is still
        updated if one is there after all). A learner so created has no place in a
        course, no review question and no lesson result (foreign keys: none can outlive
        a learner's row), so until this write transaction saves one for them, none is
        looked up."""
        now = self.clock()
        values = [learner.locale, learner.carrier_id, int(learner.stopped),
                  learner.current_course, learner.display_name, learner.timezone,
                  learner.schedule, learner.schedule_hour, int(learner.schedule_paused),
                  int(learner.schedule_offered), learner.next_check_at, learner.last_seen_at,
                  learner.nudges,
                  json.dumps(learner.pending_review) if learner.pending_review else None,
                  learner.delivery, int(learner.link_offered), learner.channel]
        # Most saves update someone who exists: a plain UPDATE costs about half an
        # INSERT .. ON CONFLICT DO UPDATE, which tries the insert first.
        with self._write_one():
            conn = self.db.conn
            if new and conn.execute(self._INSERT_NEW_LEARNER,
                                    [learner.phone, *values, now, now]).rowcount:
                self._created_now(learner.phone)
            elif not conn.execute(self._UPDATE_LEARNER,
                                  [*values, now, learner.phone]).rowcount:
                conn.execute(self._INSERT_LEARNER, [learner.phone, *values, now, now])

    def _created_now(self, phone: str) -> None:
        transaction = self.write_transaction()
        if transaction is None:
            return
        if self._created_in != transaction:
            self._no_places, self._no_reviews, self._no_results = set(), set(), set()
            self._created_in = transaction
        self._no_places.add(phone)
        self._no_reviews.add(phone)
        self._no_results.add(phone)

    def _has_none_yet(self, phone: str, of: set[str]) -> bool:
        """Whether the learner was created in the write transaction in progress and has
        had none of `of` (_no_places, _no_reviews, _no_results) saved since
        (save_learner)."""
        return phone in of and self._created_in == self.write_transaction()

    def _saving_for(self, phone: str, *, places: bool = True, reviews: bool = True,
                    results: bool = True) -> None:
        """Places, reviews and/or lesson results are being saved for the learner (see
        _has_none_yet)."""
        if places:
            self._no_places.discard(phone)
        if reviews:
            self._no_reviews.discard(phone)
        if results:
            self._no_results.discard(phone)

    def set_stopped(self, phone: str, stopped: bool) -> None:
        """Mark a learner as opted out (or back in), recording it as an event when it
        changes anything (one transaction; the caller's if it has one). Opting out ends
        their lesson links."""
        with self.write():
            changed = self.db.conn.execute(
                "UPDATE learners SET stopped = ?, updated_at = ? WHERE phone = ? "
                "AND stopped != ?", [int(stopped), self.clock(), phone, int(stopped)],
            ).rowcount
            if changed:
                self.record_event(phone, "opted_out" if stopped else "opted_in", {})
            if stopped:  # an opt-out ends the learner's lesson links (web_sessions.py)
                self.db.conn.execute("DELETE FROM web_sessions WHERE phone = ? AND "
                                     "kind = 'lesson'", [phone])

    # -- places in courses, answers, activity and results ------------------------------------

    def enrollment(self, phone: str, course_id: str) -> EnrollmentRecord | None:
        """A learner's place in a course, or None if not enrolled."""
        if self._has_none_yet(phone, self._no_places):
            return None
        row = self._one(
            "SELECT position, card, quiz, completed_at FROM enrollments "
            "WHERE phone = ? AND course_id = ?",
            [phone, course_id],
        )
        if row is None:
            return None
        return EnrollmentRecord(
            phone=phone,
            course_id=course_id,
            position=row["position"],
            card=row["card"],
            quiz=QuizState.from_json(row["quiz"]),
            completed=row["completed_at"] is not None,
        )

    def save_enrollment(self, enrollment: EnrollmentRecord) -> None:
        """Create or update a learner's place in a course."""
        self._saving_for(enrollment.phone, reviews=False, results=False)
        now = self.clock()
        quiz = enrollment.quiz.to_json() if enrollment.quiz else None
        self.db.execute(
            """INSERT INTO enrollments
                 (phone, course_id, position, card, quiz, started_at, completed_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id) DO UPDATE SET position = excluded.position,
                 card = excluded.card, quiz = excluded.quiz,
                 completed_at = CASE WHEN excluded.completed_at IS NULL THEN NULL
                                     ELSE coalesce(enrollments.completed_at,
                                                   excluded.completed_at) END,
                 updated_at = excluded.updated_at""",
            [enrollment.phone, enrollment.course_id, enrollment.position, enrollment.card, quiz,
             now, now if enrollment.completed else None, now],
        )

    def places(self) -> Places:
        """A reader of learners' places in courses for one engine: each read once per write
        transaction (Places)."""
        return Places(self)  # type: ignore[arg-type]  # self is a Store

    def record_answer(
        self, phone: str, course_id: str, lesson_id: str, question: int, choice: int,
        correct: bool, first_try: bool,
    ) -> None:
        """Keep one quiz answer, right or wrong."""
        self.db.execute(
            """INSERT INTO answers
                 (phone, course_id, lesson_id, question, choice, correct, first_try, at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [phone, course_id, lesson_id, question, choice, int(correct), int(first_try),
             self.clock()],
        )

    def note_activity(self, phone: str, channel: str) -> None:
        """Count the learner active today (UTC, by the store's clock) on `channel` ('sms',
        'ussd', 'web' or 'whatsapp'): one row per learner, channel and day, for daily
        active learners. Cheap and idempotent; call it inside the write transaction of
        what they did."""
        key = (self._lock_path, _utc_day(int(self.clock() // 86_400)), channel, phone)
        if key in _ACTIVITY_NOTED:
            return  # this process noted it today already: skip the statement
        self.db.execute(
            "INSERT OR IGNORE INTO activity (day, channel, phone) VALUES (?, ?, ?)",
            key[1:])
        _ACTIVITY_NOTED.add(key)

    def save_lesson_result(
        self, phone: str, course_id: str, lesson_id: str, score: int, total: int
    ) -> None:
        """Record a finished lesson's score: a lesson finished again in a later attempt at
        the course (taken again after completing it) replaces the earlier one's."""
        self._saving_for(phone, places=False, reviews=False)
        self.db.execute(
            """INSERT INTO lesson_results (phone, course_id, lesson_id, score, total, completed_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (phone, course_id, lesson_id) DO UPDATE SET score = excluded.score,
                 total = excluded.total, completed_at = excluded.completed_at""",
            [phone, course_id, lesson_id, score, total, self.clock()],
        )

    def start_attempt(self, phone: str, course_id: str) -> None:
        """The learner takes a course again from now (after completing it): its lessons
        are scored anew, and `lesson_results` gives only what this attempt scored. The
        earlier attempt's rows stay, as the reports count them, until a lesson is
        finished again."""
        self.db.execute("UPDATE enrollments SET attempt_started_at = ? WHERE phone = ? AND "
                        "course_id = ?", [self.clock(), phone, course_id])

    def lesson_results(self, phone: str, course_id: str) -> dict[str, tuple[int, int]]:
        """The lessons of a course finished in the learner's current attempt at it (all
        of them in a first attempt; since it began, in a course taken again): lesson id
        to (score, total)."""
        if self._has_none_yet(phone, self._no_results):
            return {}
        return {
            row["lesson_id"]: (row["score"], row["total"])
            for row in self._rows(
                "SELECT lesson_id, score, total FROM lesson_results "
                "WHERE phone = ? AND course_id = ? AND completed_at >= coalesce((SELECT "
                "attempt_started_at FROM enrollments WHERE enrollments.phone = "
                "lesson_results.phone AND enrollments.course_id = lesson_results.course_id), "
                "0)",
                [phone, course_id],
            )
        }

    def has_lesson_results(self, phone: str) -> bool:
        """Whether the learner has finished any lesson of any course (in any attempt)."""
        if self._has_none_yet(phone, self._no_results):
            return False
        return self.db.execute("SELECT 1 FROM lesson_results WHERE phone = ? LIMIT 1",
                               [phone]).fetchone() is not None

    # -- learning over time: the scheduler's queue and spaced review -------------------------

    def learners_to_check(self, now: float, limit: int = 200) -> list[LearnerRecord]:
        """Learners whose `next_check_at` has come, earliest first."""
        rows = self._rows(
            f"SELECT {', '.join(self._LEARNER_COLUMNS)} FROM learners "
            "WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?", [now, limit])
        return [_learner_record(row) for row in rows]

    def set_next_check(self, phone: str, at: float | None) -> None:
        """When the scheduler should next look at a learner (None: not until they write)."""
        self.db.execute("UPDATE learners SET next_check_at = ? WHERE phone = ?", [at, phone])

    def add_review(self, phone: str, course_id: str, lesson_id: str, question: int,
                   due_at: float) -> None:
        """Bring a question back for review at `due_at` (again from zero if it was due)."""
        self._saving_for(phone, places=False, results=False)
        self.db.execute(
            """INSERT INTO reviews (phone, course_id, lesson_id, question, due_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET due_at = excluded.due_at, right_count = 0""",
            [phone, course_id, lesson_id, question, due_at])

    def due_review(self, phone: str, now: float) -> dict | None:
        """The learner's review question that has waited longest past its time, or None."""
        return self._one(
            "SELECT course_id, lesson_id, question, right_count FROM reviews "
            "WHERE phone = ? AND due_at <= ? ORDER BY due_at LIMIT 1", [phone, now])

    def next_review_at(self, phone: str) -> float | None:
        """When the learner's next review question is due, or None."""
        if self._has_none_yet(phone, self._no_reviews):
            return None
        return self.db.execute("SELECT min(due_at) FROM reviews WHERE phone = ?",
                               [phone]).fetchone()[0]

    def answer_review(self, phone: str, course_id: str, lesson_id: str, question: int,
                      correct: bool, next_due_at: float, *, needed: int = 2) -> bool:
        """Record a review answer; return True once it has been right `needed` times (the
        question then leaves review). A wrong answer starts the count again."""
        key = [phone, course_id, lesson_id, question]
        row = self._one("SELECT right_count FROM reviews WHERE phone = ? AND course_id = ? "
                        "AND lesson_id = ? AND question = ?", key)
        if row is None:
            return True
        count = row["right_count"] + 1 if correct else 0
        if count >= needed:
            self.db.execute("DELETE FROM reviews WHERE phone = ? AND course_id = ? "
                            "AND lesson_id = ? AND question = ?", key)
            return True
        self.db.execute("UPDATE reviews SET right_count = ?, due_at = ? WHERE phone = ? "
                        "AND course_id = ? AND lesson_id = ? AND question = ?",
                        [count, next_due_at, *key])
        return False

    def course_audience(self, course_id: str) -> list[tuple[str, str, str, str | None]]:
        """(phone, locale, carrier id, chosen time zone) of every learner enrolled in the
        course who has not opted out, by number."""
        return [tuple(row) for row in self.db.execute(
            """SELECT l.phone, l.locale, l.carrier_id, l.timezone
               FROM enrollments e JOIN learners l ON l.phone = e.phone
               WHERE e.course_id = ? AND l.stopped = 0 ORDER BY l.phone""", [course_id])]

    def course_opted_out(self, course_id: str) -> int:
        """How many learners enrolled in the course have opted out (erased ones aside)."""
        return self.db.execute(
            "SELECT count(*) FROM enrollments e JOIN learners l ON l.phone = e.phone "
            "WHERE e.course_id = ? AND l.stopped = 1 AND l.phone NOT LIKE 'erased:%'",
            [course_id]).fetchone()[0]

    # -- certificates --------------------------------------------------------------------------

    def issue_certificate(
        self, phone: str, course_id: str, course_title: str, holder: str, score: int,
        total: int, new_code: Callable[[], str],
    ) -> CertificateRecord:
        """The learner's certificate for a course: the one they already have, else a new one
        with a code from `new_code()` (drawn again in the unlikely case it is taken). A
        learner gets one certificate per course, however often they complete it."""
        with self.write():
            found = self._one(
                "SELECT * FROM certificates WHERE phone = ? AND course_id = ?",
                [phone, course_id])
            if found is not None:
                return _certificate_record(found)
            now = self.clock()
            for _ in range(8):
                code = new_code()
                # The badge's id (its assertion's address) and its recipient's salt are
                # drawn apart from the code: knowing one tells nothing of the others.
                inserted = self.db.conn.execute(
                    """INSERT INTO certificates (code, phone, course_id, course_title, holder,
                                                 score, total, issued_at, badge_id, badge_salt)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, lower(hex(randomblob(16))),
                               lower(hex(randomblob(8))))
                       ON CONFLICT DO NOTHING""",
                    [code, phone, course_id, course_title, holder, score, total, now],
                ).rowcount
                if inserted:
                    return _certificate_record(self._one(
                        "SELECT * FROM certificates WHERE code = ?", [code]))
        raise RuntimeError("no free certificate code after 8 draws: is new_code random?")

    def certificate(self, code: str) -> CertificateRecord | None:
        """The certificate with this canonical code, or None."""
        row = self._one("SELECT * FROM certificates WHERE code = ?", [code])
        return _certificate_record(row) if row else None

    def certificate_by_badge(self, badge_id: str) -> CertificateRecord | None:
        """The certificate whose Open Badge has this id (its assertion's address), or
        None."""
        if not badge_id:
            return None
        row = self._one("SELECT * FROM certificates WHERE badge_id = ?", [badge_id])
        return _certificate_record(row) if row else None

    def certificates(self, course_id: str | None = None, *,
                     revoked: bool | None = None) -> list[CertificateRecord]:
        """Every certificate (of `course_id`; only the revoked ones, or only the others,
        when `revoked` says), oldest first."""
        where, values = [], []
        if course_id is not None:
            where.append("course_id = ?")
            values.append(course_id)
        if revoked is not None:
            where.append("revoked_at IS NOT NULL" if revoked else "revoked_at IS NULL")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return [_certificate_record(row) for row in self.db.query(
            f"SELECT * FROM certificates {clause}ORDER BY issued_at, code", values)]

    def certificates_withdrawn(self) -> list[CertificateRecord]:
        """The certificates whose badge no longer stands, revoked or their holder erased,
        oldest first (what the badges' revocation list names)."""
        # Two indexed halves (certificates_revoked, certificates_erased): an OR would read
        # the whole table.
        return [_certificate_record(row) for row in self._rows(
            "SELECT * FROM certificates WHERE revoked_at IS NOT NULL "
            "UNION ALL SELECT * FROM certificates WHERE phone IS NULL AND revoked_at IS NULL "
            "ORDER BY issued_at, code")]

    def certificates_withdrawn_marker(self) -> tuple[int, int, float]:
        """What changes whenever `certificates_withdrawn` would: how many certificates are
        revoked, how many are erased learners', and the last revocation's time, read
        from indexes only (revocations and erasures are never undone)."""
        row = self.db.conn.execute(
            "SELECT count(*), coalesce(max(revoked_at), 0), "
            "(SELECT count(*) FROM certificates WHERE phone IS NULL) "
            "FROM certificates WHERE revoked_at IS NOT NULL").fetchone()
        return int(row[0]), int(row[2]), float(row[1])

    def certificate_title(self, course_id: str) -> str | None:
        """The title the first certificate of a course shows (for a course no longer
        taught), or None when no certificate names it."""
        row = self._one("SELECT course_title FROM certificates WHERE course_id = ? "
                        "ORDER BY issued_at LIMIT 1", [course_id])
        return row["course_title"] if row else None

    def revoke_certificate(self, code: str, reason: str) -> CertificateRecord | None:
        """Revoke the certificate with this canonical code, giving `reason` (a revoked
        one keeps its first revocation); the certificate as it now is, or None when no
        certificate has the code. The school's LRS is told: the earned statement it has
        of the certificate is queued for voiding in the same transaction."""
        with self.write():
            revoked = self.db.conn.execute(
                "UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
                "WHERE code = ? AND revoked_at IS NULL", [self.clock(), reason, code]).rowcount
            found = self.certificate(code)
            if revoked and found is not None and found.phone is not None:
                lrs.queue_certificate_voids(self, found.phone, found.course_id)
            return found

    def certificates_of(self, phone: str) -> list[CertificateRecord]:
        """The learner's certificates, oldest first."""
        return [_certificate_record(row) for row in self.db.query(
            "SELECT * FROM certificates WHERE phone = ? ORDER BY issued_at, code", [phone])]

    def rename_certificates(self, phone: str, holder: str) -> int:
        """Show `holder` as the name on every certificate the learner holds; how many."""
        with self.write():
            return self.db.conn.execute(
                "UPDATE certificates SET holder = ? WHERE phone = ? AND holder != ?",
                [holder, phone, holder]).rowcount


class Places:
    """Learners' places in courses (as Store.enrollment) for one reader, the engine of a
    request: read from the store once per write transaction, not again when the same
    message needs one again (its next check planned); a place saved through here is what
    the next read in that transaction gives. Outside a write transaction every read goes
    to the store."""

    def __init__(self, store: Store):
        self.store = store
        # Places as read or saved in the store's write transaction in progress (the one
        # `_places_in` numbers, Store.write_transaction).
        self._places: dict[tuple[str, str], EnrollmentRecord | None] = {}
        self._places_in: int | None = None

    def get(self, phone: str, course_id: str) -> EnrollmentRecord | None:
        """The learner's place in a course (as Store.enrollment), read from the store once
        per write transaction; each caller gets its own copy to change."""
        transaction = self.store.write_transaction()
        if transaction is None:
            return self.store.enrollment(phone, course_id)
        if transaction != self._places_in:
            self._places, self._places_in = {}, transaction
        key = (phone, course_id)
        if key not in self._places:
            self._places[key] = self.store.enrollment(phone, course_id)
        found = self._places[key]
        return None if found is None else _copy(found)

    def save(self, enrollment: EnrollmentRecord) -> None:
        """Create or update a learner's place in a course (Store.save_enrollment), inside
        the caller's write transaction."""
        self.store.save_enrollment(enrollment)
        if self._places_in is not None and self._places_in == self.store.write_transaction():
            self._places[(enrollment.phone, enrollment.course_id)] = _copy(enrollment)


def _copy(enrollment: EnrollmentRecord) -> EnrollmentRecord:
    """An enrollment as the store would give it back once saved."""
    quiz = enrollment.quiz
    return EnrollmentRecord(
        phone=enrollment.phone, course_id=enrollment.course_id,
        position=enrollment.position, card=enrollment.card,
        quiz=None if quiz is None else QuizState(
            list(quiz.queue), list(quiz.requeued), list(quiz.right_first_try)),
        completed=enrollment.completed)
