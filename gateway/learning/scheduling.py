"""When to come back to a learner, and with what: the day's lesson, a review question, or a
reminder (docs/scheduling.md).

Every learner the scheduler should look at carries `next_check_at`. It is planned again
each time the learner is seen (a message, a USSD screen, a lesson page or quiz on the
web) and after each visit, as the earliest of: their next daily lesson time, their next
reminder (idle `nudge_after_days` in the middle of a lesson, at most `max_nudges` times
until they are seen again) and their next review question.
"""

from __future__ import annotations

from gateway.learning import replies as r
from gateway.learning.engine import Engine
from gateway.learning.timing import DAY, Pacing, learner_zone, next_lesson_time, weekend_of
from gateway.store import LearnerRecord

# A day's lesson not sent within this long of its hour (the box was off) waits for the next.
STALE_LESSON_SECONDS = 12 * 3600


def plan_next_check(engine: Engine, learner: LearnerRecord, pacing: Pacing,
                    now: float) -> float | None:
    """The next moment something may be due for the learner, or None (nothing until they
    write)."""
    if learner.stopped:
        return None
    standing, in_quiz = engine.place(learner)
    times = []
    if _lessons_on(learner) and standing in ("start", "middle"):
        zone = learner_zone(learner.phone, learner.timezone, pacing.timezone)
        times.append(next_lesson_time(now, zone, learner.schedule_hour, _days_off(learner)))
    if standing == "middle" and learner.last_seen_at is not None \
            and learner.nudges < pacing.max_nudges and not learner.schedule_paused:
        times.append(max(now, learner.last_seen_at
                         + (learner.nudges + 1) * pacing.nudge_after_days * DAY))
    if learner.pending_review is None and not in_quiz and not learner.schedule_paused:
        review_at = engine.store.next_review_at(learner.phone)
        if review_at is not None:
            times.append(max(now, review_at))
    return min(times) if times else None


def due_work(engine: Engine, learner: LearnerRecord, pacing: Pacing,
             now: float) -> tuple[str, tuple[r.Reply, ...]] | None:
    """What to send the learner now, as (outbox kind, replies), or None. At most one
    thing a visit: the day's lesson, else a review question, else a reminder."""
    if learner.stopped:
        return None
    if _lessons_on(learner) and _lesson_slot_due(engine, learner, pacing, now):
        replies = engine.daily_lesson(learner)
        if replies:
            return "lesson", replies
    if learner.pending_review is None and not learner.schedule_paused \
            and not engine.in_quiz(learner):
        review = engine.store.due_review(learner.phone, now)
        if review is not None:
            asked = engine.review_question(learner, review)
            if asked is not None:
                return "review", (asked,)
    if learner.last_seen_at is not None and learner.nudges < pacing.max_nudges \
            and not learner.schedule_paused \
            and now >= learner.last_seen_at + (learner.nudges + 1) * pacing.nudge_after_days * DAY:
        reminder = engine.reminder(learner)
        if reminder is not None:
            learner.nudges += 1
            return "reminder", (reminder,)
    return None


def _days_off(learner: LearnerRecord) -> frozenset[int]:
    """No lessons at the weekend of the learner's country when they chose WEEKDAYS."""
    return weekend_of(learner.phone) if learner.schedule == "weekdays" else frozenset()


def _lessons_on(learner: LearnerRecord) -> bool:
    return learner.schedule != "off" and not learner.schedule_paused


def _lesson_slot_due(engine: Engine, learner: LearnerRecord, pacing: Pacing,
                     now: float) -> bool:
    """Whether the learner's latest lesson time has come and not been served: after they
    last wrote, recent, and no day's lesson queued since."""
    zone = learner_zone(learner.phone, learner.timezone, pacing.timezone)
    days_off = _days_off(learner)
    slot = next_lesson_time(now - DAY - 1, zone, learner.schedule_hour, days_off)
    while True:  # the latest slot at or before now
        following = next_lesson_time(slot, zone, learner.schedule_hour, days_off)
        if following > now:
            break
        slot = following
    if slot > now or now - slot > STALE_LESSON_SECONDS:
        return False
    if learner.last_seen_at is not None and learner.last_seen_at >= slot:
        return False
    return engine.store.unsolicited_queued_since(learner.phone, "lesson", slot) == 0


def note_seen(engine: Engine, learner: LearnerRecord, pacing: Pacing, now: float) -> None:
    """The learner did something (a message, a USSD screen, a lesson page or quiz on the
    web): reminders start again from now, and the scheduler's next look at them is
    planned. Saves the learner."""
    learner.last_seen_at = now
    learner.nudges = 0
    learner.next_check_at = plan_next_check(engine, learner, pacing, now)
    engine.store.save_learner(learner)
