"""A carrier's pacing of unsolicited messages, as the learning layer reads it."""

from __future__ import annotations

from carrier_adapters import CarrierSettings
from gateway.learning import Engine
from gateway.learning.scheduling import plan_next_check
from gateway.learning.timing import Pacing
from gateway.store import LearnerRecord


def pacing_of(carrier: CarrierSettings) -> Pacing:
    """The carrier's quiet hours, daily cap, reminder and review settings and zone."""
    return Pacing(quiet_hours=carrier.quiet_hours,
                  max_unsolicited_per_day=carrier.max_unsolicited_per_day,
                  nudge_after_days=carrier.nudge_after_days, max_nudges=carrier.max_nudges,
                  review_after_days=carrier.review_after_days, timezone=carrier.timezone)


def note_seen(engine: Engine, learner: LearnerRecord, pacing: Pacing, now: float) -> None:
    """The learner did something (a message, a USSD screen, a lesson page or quiz on the
    web): reminders start again from now, and the scheduler's next look at them is
    planned. Saves the learner."""
    learner.last_seen_at = now
    learner.nudges = 0
    learner.next_check_at = plan_next_check(engine, learner, pacing, now)
    engine.store.save_learner(learner)
