"""Read-only queries for the operator's figures (gateway/ops/reports.py): activity, the course
funnel, first answers, and messages per carrier per day.

The outbox and inbound tables grow to millions of rows and have no index on their time
columns. Their ids grow with time, though: a row is inserted with the clock's time under
the single write lock. So the first row of a period is found by a binary search on the
id (some twenty rowid look-ups), and only the period's rows are read, by rowid range,
each still filtered on its own time. Rows stored with a time more than `SLACK_SECONDS`
earlier than an older row (the clock stepped back that far) may be missed.

Every function takes a Store and writes nothing. The phone simulator's pretend learners
(numbers in the unassigned +999 range, messages through the "simulator" and
"simulator-whatsapp" carriers) are left out of every figure: they are authors trying
lessons, not learners.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.store import Store

DAY = 86400.0
# How far a row's time may run behind an older row's (a writer read the clock, then
# waited for the lock; the clock was stepped back) and still be counted in its period.
SLACK_SECONDS = 3600.0

# A row of a real learner, not one of the phone simulator's pretend ones (+999...).
_REAL_LEARNER = "phone NOT LIKE '+999%'"
_REAL_CARRIER = "carrier_id NOT IN ('simulator', 'simulator-whatsapp')"

# Outbox states in which the carrier took the message (and bills its segments). Programs'
# spends count by the same rule, in the outbox's triggers (schema.py, m038): change both.
_ACCEPTED = ("(status IN ('sent', 'delivered', 'undelivered') "
             "OR (status = 'failed' AND carrier_message_id IS NOT NULL))")


@dataclass(frozen=True)
class OutboundDay:
    """One carrier's outbound messages created on one day of a period."""

    day: int  # days since the period began
    carrier_id: str
    messages: int
    segments: int
    accepted_segments: int  # of messages the carrier accepted: what it bills
    delivered: int
    undelivered: int
    failed: int
    read: int = 0  # delivered and read by the learner (a read receipt: WhatsApp)
    # Delivered messages by the category a WhatsApp carrier prices them in (what Meta
    # bills: each message delivered): free-form replies, utility and marketing templates.
    delivered_service: int = 0
    delivered_utility: int = 0
    delivered_marketing: int = 0


# A WhatsApp message's pricing category, as gateway/outbox/queue.py's `pricing_category`
# reads it: a template's own ('utility', 'marketing'), else 'service' (a free-form
# message, inside the 24-hour window).
CATEGORY = ("CASE WHEN json_extract(payload, '$.template.category') IN ('utility', "
            "'marketing') THEN json_extract(payload, '$.template.category') ELSE 'service' END")
CATEGORIES = ("service", "utility", "marketing")


def first_id_since(store: Store, table: str, column: str, since: float) -> int:
    """The smallest id from which a scan of `table` by id meets every row whose `column`
    (a time) is at or after `since`, less SLACK_SECONDS; ids grow with that time.
    `table` and `column` are names from this module, never user input."""
    conn = store.db.conn
    # Two subqueries: SQLite reads one end of the rowid b-tree for a lone min() or max(),
    # but scans the whole table for both in one select.
    lowest, highest = conn.execute(
        f"SELECT (SELECT min(id) FROM {table}), (SELECT max(id) FROM {table})").fetchone()
    if lowest is None:
        return 0
    target = since - SLACK_SECONDS
    lo, hi = lowest, highest + 1
    while lo < hi:  # the first x whose next stored row is at or after target
        mid = (lo + hi) // 2
        row_id, at = conn.execute(
            f"SELECT id, {column} FROM {table} WHERE id >= ? ORDER BY id LIMIT 1",
            [mid]).fetchone()
        if at >= target:
            hi = mid
        else:
            lo = row_id + 1
    return lo


def active_learners(store: Store, first_day: str, last_day: str) -> list[tuple[str, str, int]]:
    """(day, channel, learners) for each UTC day and channel with any activity between
    `first_day` and `last_day` ('YYYY-MM-DD', inclusive), by the activity table's key."""
    return [tuple(row) for row in store.db.conn.execute(
        "SELECT day, channel, count(*) FROM activity WHERE day BETWEEN ? AND ? "
        f"AND {_REAL_LEARNER} GROUP BY day, channel ORDER BY day, channel",
        [first_day, last_day])]


def active_any_channel(store: Store, first_day: str, last_day: str) -> dict[str, int]:
    """Learners active on any channel, per UTC day between the two days (inclusive)."""
    return dict(store.db.conn.execute(
        "SELECT day, count(DISTINCT phone) FROM activity WHERE day BETWEEN ? AND ? "
        f"AND {_REAL_LEARNER} GROUP BY day", [first_day, last_day]).fetchall())


def enrollment_counts(store: Store) -> dict[str, tuple[int, int, int]]:
    """Per course: (enrolled, started the first lesson, completed), over all time, for
    the learners enrolled today. Completed: the learner has a `course_completed` event
    for the course (a retake or a review clears the enrollment's completion date, not
    the completion). Started: opened a card, moved past the first lesson, or completed."""
    return {row[0]: (row[1], row[2], row[3]) for row in store.db.conn.execute(
        f"""SELECT e.course_id, count(*),
                  sum(e.card >= 0 OR e.position > 0 OR e.completed_at IS NOT NULL
                      OR c.learner IS NOT NULL),
                  sum(e.completed_at IS NOT NULL OR c.learner IS NOT NULL)
           FROM enrollments e LEFT JOIN (
               SELECT DISTINCT learner, json_extract(data, '$.course') AS course
               FROM events WHERE kind = 'course_completed') c
             ON c.learner = e.phone AND c.course = e.course_id
           WHERE e.{_REAL_LEARNER} GROUP BY e.course_id""")}


def lesson_finishers(store: Store) -> dict[tuple[str, str], int]:
    """Learners who finished each lesson (course id, lesson id), over all time."""
    return {(row[0], row[1]): row[2] for row in store.db.conn.execute(
        "SELECT course_id, lesson_id, count(*) FROM lesson_results "
        f"WHERE {_REAL_LEARNER} GROUP BY course_id, lesson_id")}


def lessons_completed(store: Store, since: float, until: float) -> int:
    """Lesson results recorded in [since, until) (a retaken lesson counts at its latest
    time). Reads the whole lesson_results table: it has no index on time."""
    return store.db.conn.execute(
        "SELECT count(*) FROM lesson_results WHERE completed_at >= ? AND completed_at < ? "
        f"AND {_REAL_LEARNER}", [since, until]).fetchone()[0]


def first_answers(store: Store, since: float,
                  until: float) -> list[tuple[str, str, int, int, int]]:
    """(course id, lesson id, question number from 0, first answers, right ones) for each
    question answered at a first try in [since, until)."""
    start = first_id_since(store, "answers", "at", since)
    return [tuple(row) for row in store.db.conn.execute(
        f"""SELECT course_id, lesson_id, question, count(*), sum(correct) FROM answers
           WHERE id >= ? AND at >= ? AND at < ? AND first_try = 1 AND {_REAL_LEARNER}
           GROUP BY course_id, lesson_id, question""", [start, since, until])]


def outbound_by_day(store: Store, since: float, until: float) -> list[OutboundDay]:
    """Outbound messages created in [since, until), per day (from `since`) and carrier:
    messages, segments, segments the carrier accepted, final delivery states, messages
    read, and delivered messages by WhatsApp pricing category."""
    start = first_id_since(store, "outbox", "created_at", since)
    delivered_by = ", ".join(f"sum(status = 'delivered' AND {CATEGORY} = '{category}')"
                             for category in CATEGORIES)
    rows = store.db.conn.execute(
        f"""SELECT CAST((created_at - ?) / {DAY} AS INTEGER) AS day, carrier_id, count(*),
                  sum(segments), sum(CASE WHEN {_ACCEPTED} THEN segments ELSE 0 END),
                  sum(status = 'delivered'), sum(status = 'undelivered'),
                  sum(status = 'failed'), sum(read_at IS NOT NULL), {delivered_by}
           FROM outbox WHERE id >= ? AND created_at >= ? AND created_at < ? AND {_REAL_CARRIER}
           GROUP BY day, carrier_id ORDER BY day, carrier_id""",
        [since, start, since, until])
    return [OutboundDay(*row) for row in rows]


def inbound_by_day(store: Store, since: float, until: float) -> list[tuple[int, str, int]]:
    """(day from `since`, carrier id, messages received) for [since, until)."""
    start = first_id_since(store, "inbound", "received_at", since)
    return [tuple(row) for row in store.db.conn.execute(
        f"""SELECT CAST((received_at - ?) / {DAY} AS INTEGER) AS day, carrier_id, count(*)
           FROM inbound WHERE id >= ? AND received_at >= ? AND received_at < ?
           AND {_REAL_CARRIER} GROUP BY day, carrier_id ORDER BY day, carrier_id""",
        [since, start, since, until])]


@dataclass(frozen=True)
class CompletedLessonCost:
    """One lesson completed here in a period, and what one carrier carried of it (over
    all time): SMS segments queued, USSD sessions that showed it, bytes of its pages,
    WhatsApp messages sent by pricing category.
    A lesson nothing was counted for has one row, on the learner's carrier, of zeros."""

    phone: str
    course_id: str
    lesson_id: str
    mode: str
    locale: str
    carrier_id: str
    segments: int
    ussd_sessions: int
    web_bytes: int
    whatsapp_service: int = 0
    whatsapp_utility: int = 0
    whatsapp_marketing: int = 0


def completed_lesson_costs(store: Store, since: float,
                           until: float) -> list[CompletedLessonCost]:
    """Every lesson completed on this edge in [since, until) (its latest completion), with
    what each carrier carried of it, by the index of completions on time."""
    rows = store.db.conn.execute(
        f"""SELECT c.phone, c.course_id, c.lesson_id, c.mode, c.locale,
                  coalesce(k.carrier_id, l.carrier_id, ''), coalesce(k.segments, 0),
                  coalesce(k.ussd_sessions, 0), coalesce(k.web_bytes, 0),
                  coalesce(k.whatsapp_service, 0), coalesce(k.whatsapp_utility, 0),
                  coalesce(k.whatsapp_marketing, 0)
           FROM lesson_completions c
           LEFT JOIN lesson_costs k ON k.phone = c.phone AND k.course_id = c.course_id
             AND k.lesson_id = c.lesson_id
           LEFT JOIN learners l ON l.phone = c.phone
           WHERE c.completed_at >= ? AND c.completed_at < ? AND c.{_REAL_LEARNER}
           ORDER BY c.completed_at, c.phone, c.course_id, c.lesson_id, k.carrier_id""",
        [since, until])
    return [CompletedLessonCost(*row) for row in rows]


# -- learners' questions to tutors (table `questions`, gateway/store/questions.py) ------------

# What had become of a question at a moment `:at` (a named parameter): 'refused' (the
# mark of a learner past the daily limit, not a question asked), 'answered' (a first
# answer by then), 'closed' (closed without an answer; when is not kept, so a closed
# question counts as closed whenever it was), else 'open'.
_OUTCOME = """CASE WHEN status = 'refused' THEN 'refused'
                   WHEN answered_at IS NOT NULL AND answered_at <= :at THEN 'answered'
                   WHEN status = 'closed' AND answered_at IS NULL THEN 'closed'
                   ELSE 'open' END"""
_ASKED_IN = (f"asked_at >= :since AND asked_at < :until AND asked_at <= :at "
             f"AND {_REAL_LEARNER}")


@dataclass(frozen=True)
class AskedDay:
    """Questions asked on one day of a period, by what had become of them at the
    period's moment: answered, closed without an answer, still open; and the marks of
    learners past the daily limit that day (not questions asked)."""

    day: int  # days since the period began
    asked: int
    answered: int
    closed: int
    still_open: int
    refused: int


def questions_by_day(store: Store, since: float, until: float, at: float) -> list[AskedDay]:
    """Per day of [since, until) with any question asked by `at`: questions asked (the
    refused marks apart), and their outcome at `at` (the period's questions, by
    questions_by_time)."""
    rows = store.db.conn.execute(
        f"""SELECT CAST((asked_at - :since) / {DAY} AS INTEGER) AS day,
                  sum(outcome != 'refused'), sum(outcome = 'answered'),
                  sum(outcome = 'closed'), sum(outcome = 'open'), sum(outcome = 'refused')
           FROM (SELECT asked_at, {_OUTCOME} AS outcome FROM questions WHERE {_ASKED_IN})
           GROUP BY day ORDER BY day""", {"since": since, "until": until, "at": at})
    return [AskedDay(*row) for row in rows]


def first_answer_waits(store: Store, since: float, until: float,
                       at: float) -> list[tuple[int, float]]:
    """(day asked, seconds from asking to the first answer) of each question asked in
    [since, until) and answered by `at`, shortest wait first."""
    return [tuple(row) for row in store.db.conn.execute(
        f"""SELECT CAST((asked_at - :since) / {DAY} AS INTEGER), answered_at - asked_at
           FROM questions WHERE {_ASKED_IN} AND status != 'refused'
           AND answered_at IS NOT NULL AND answered_at <= :at ORDER BY 2""",
        {"since": since, "until": until, "at": at})]


def open_ages(store: Store, at: float) -> list[float]:
    """The age in seconds at `at` of every question open then (the backlog: asked by
    `at`, neither answered by then nor closed unanswered), oldest first."""
    # Nearly every question was asked before `at`: the table read through, and the few
    # still open sorted, rather than every row looked up along questions_by_time.
    return [row[0] for row in store.db.conn.execute(
        f"""SELECT :at - asked_at FROM questions NOT INDEXED
           WHERE asked_at <= :at AND {_REAL_LEARNER}
           AND {_OUTCOME} = 'open' ORDER BY asked_at""", {"at": at})]


@dataclass(frozen=True)
class StaffAnswers:
    """The first answers one staff account gave in a period, and how long each question
    had waited. `username` and `name` are None for an account removed since (its id
    stays on its answers); `staff_id` None for answers recorded without an account."""

    staff_id: int | None
    username: str | None
    name: str | None
    waits: tuple[float, ...]  # seconds, shortest first


def answers_by_staff(store: Store, since: float, until: float,
                     at: float) -> list[StaffAnswers]:
    """Per staff account, the first answers given in [since, until) by `at`, with their
    waits; most answers first, then by username (removed accounts last, by id)."""
    rows = store.db.conn.execute(
        f"""SELECT q.answered_by, s.username, s.name, q.answered_at - q.asked_at
           FROM questions q LEFT JOIN staff s ON s.id = q.answered_by
           WHERE q.answered_at >= ? AND q.answered_at < ? AND q.answered_at <= ?
           AND q.status != 'refused' AND q.{_REAL_LEARNER} ORDER BY q.answered_by, 4""",
        [since, until, at])
    found: dict[int | None, tuple[str | None, str | None, list[float]]] = {}
    for staff_id, username, name, wait in rows:
        found.setdefault(staff_id, (username, name, []))[2].append(wait)
    every = [StaffAnswers(staff_id, username, name, tuple(waits))
             for staff_id, (username, name, waits) in found.items()]
    every.sort(key=lambda a: (-len(a.waits), a.username is None, a.username or "",
                              a.staff_id or 0))
    return every


def questions_by_lesson(store: Store, since: float, until: float, at: float,
                        limit: int) -> list[tuple[str | None, str | None, int, int]]:
    """(course id, lesson id, questions asked, still open at `at`) for the `limit`
    lessons asked about most in [since, until), most first; a question asked outside a
    lesson (not enrolled, or the course finished) has no lesson (None)."""
    return [tuple(row) for row in store.db.conn.execute(
        f"""SELECT course_id, lesson_id, count(*), sum({_OUTCOME} = 'open') AS still_open
           FROM questions WHERE {_ASKED_IN} AND status != 'refused'
           GROUP BY course_id, lesson_id
           ORDER BY 3 DESC, course_id IS NULL, course_id, lesson_id IS NULL, lesson_id
           LIMIT :limit""", {"since": since, "until": until, "at": at, "limit": limit})]
