"""What every channel does when a learner acts on it: an SMS, a USSD screen, a lesson page
or quiz on the web.

- Coming back: an explicit act by a number no learner has (texting START, dialling in,
  signing in) readmits a number that was erased, so a fresh learner begins
  (docs/privacy.md).
- Acting: the learner is counted active on the channel today, and seen: reminders start
  again from now and the scheduler's next look at them is planned (docs/scheduling.md).
- For the messaging channels (SMS, WhatsApp): a message from an erased number is kept but
  not answered unless it is START, and the daily-lesson offer follows a learner's first
  lesson done.
"""

from __future__ import annotations

import dataclasses
import logging

from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.engine import Outcome
from gateway.learning.intents import Intent, Start
from gateway.learning.scheduling import note_seen
from gateway.learning.timing import Pacing, hour_outside_quiet
from gateway.store import InboundRecord, LearnerRecord, Store, privacy

log = logging.getLogger(__name__)


def comes_back(store: Store, phone: str) -> bool:
    """Inside the caller's write transaction, for a number no learner has: forget that it
    was erased, if it was. Returns whether it was."""
    return privacy.readmit(store, phone)


def learner_acted(engine: Engine, learner: LearnerRecord, channel: str,
                  pacing: Pacing) -> None:
    """Inside the caller's write transaction: `learner` acted on `channel` ("sms", "ussd",
    "web") now. Counts them active there today and notes them seen; saves the learner."""
    store = engine.store
    note_seen(engine, learner, pacing, store.clock())
    store.note_activity(learner.phone, channel)


def stray_from_erased_number(store: Store, inbound: InboundRecord, intent: Intent) -> bool:
    """Whether this message, from a number no learner has, is a stray one from an erased
    number: then it is kept without its sender or text and answered by nothing. START
    (JOIN) is the person choosing to come back: the number is readmitted and a fresh
    learner begins (docs/privacy.md)."""
    if not privacy.is_erased(store, inbound.phone):
        return False
    if isinstance(intent, Start):
        comes_back(store, inbound.phone)
        log.info("inbound %d: an erased number came back with START", inbound.id)
        return False
    privacy.silence_stray(store, inbound.id)
    log.info("inbound %d: from an erased number, not answered", inbound.id)
    return True


def with_schedule_offer(learner: LearnerRecord, outcome: Outcome, pacing: Pacing) -> Outcome:
    """The daily-lesson offer, made once, after a lesson with another to come (the learner
    is saved when noted seen)."""
    replies = outcome.replies
    if not learner.schedule_offered and learner.schedule == "off" and not learner.stopped \
            and any(isinstance(reply, r.LessonDone) and reply.next_lesson_title
                    for reply in replies):
        learner.schedule_offered = True
        replies = (*replies, r.ScheduleOffer(hour_outside_quiet(8, pacing.quiet_hours)))
    return dataclasses.replace(outcome, replies=replies)
