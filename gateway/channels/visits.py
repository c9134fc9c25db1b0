"""What every channel does when a learner acts on it: an SMS, a USSD screen, a lesson page
or quiz on the web.

- Coming back: an explicit act by a number no learner has (texting START, dialling in,
  signing in) readmits a number that was erased, so a fresh learner begins
  (docs/privacy.md).
- Acting: the learner is counted active on the channel today, and seen: reminders start
  again from now and the scheduler's next look at them is planned (docs/scheduling.md).
- For the messaging channels (SMS, WhatsApp): a message from an erased number is kept but
  not answered unless it is START, a yes from a number a cohort invited accepts the
  invitation, and the daily-lesson offer follows a learner's first lesson done; a sender
  over the carrier's inbound limits gets one notice, and a message the engine failed on
  gets an apology (`answer_throttled`, `answer_failure`).
"""

from __future__ import annotations

import dataclasses
import logging

from gateway import programs
from gateway.channels.commands import is_yes
from gateway.config import Carrier
from gateway.i18n import default_locale, translations
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.engine import Outcome
from gateway.learning.intents import Intent, Join, Start
from gateway.learning.scheduling import note_seen
from gateway.learning.timing import Pacing, hour_outside_quiet
from gateway.metrics import PROCESSING_FAILURES
from gateway.outbox.queue import queue_text
from gateway.phones import masked
from gateway.store import InboundRecord, LearnerRecord, Store, cohorts, privacy

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


def invitation_answered(store: Store, phone: str, text: str, intent: Intent) -> Intent:
    """Inside the caller's write transaction: a yes, in any of the gateway's languages, from
    a number a cohort invited is its consent, read as joining the cohort's program by the
    invitation (docs/programs.md, Cohorts). Any other message keeps its `intent`."""
    if isinstance(intent, Join) or not is_yes(text):
        return intent
    invited = cohorts.invited_program(store, phone)
    if invited is not None and programs.current().get(invited) is not None:
        return Join(invited, "invitation")
    return intent


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


def answer_throttled(store: Store, carrier: Carrier, inbound: InboundRecord, locale: str,
                     limit: str, first_over: bool) -> None:
    """A message from a sender over the carrier's inbound `limit`: kept as processed, not
    answered, but for one polite notice when it is the first over (`first_over`); none to
    a learner who opted out, and nothing, not even a trace of the number, to an erased
    one. Inside the caller's write transaction."""
    store.mark_inbound(inbound.id, "processed", error=f"throttled: over the {limit} limit")
    log.warning("carrier %s: %s throttled (%s)", carrier.id, masked(inbound.phone), limit)
    learner = store.learner(inbound.phone)
    if learner is None and privacy.is_erased(store, inbound.phone):
        privacy.silence_stray(store, inbound.id)  # no notice, and no trace of the number
        return
    if not first_over or (learner is not None and learner.stopped):
        return
    notice = translations(learner.locale if learner else locale).gettext(
        "You are sending messages faster than we can answer. Please wait a minute, then "
        "send your reply again.")
    queue_text(store, carrier, inbound.phone, notice, inbound_id=inbound.id)


def answer_failure(store: Store, carrier: Carrier, inbound: InboundRecord,
                   exc: Exception) -> int:
    """A message the engine failed on: marked failed with the error, counted, and the
    learner (unless they opted out) sent an apology, in one commit. Returns how many
    messages it queued."""
    PROCESSING_FAILURES.labels(carrier.id).inc()
    with store.write():
        store.mark_inbound(inbound.id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
        learner = store.learner(inbound.phone)
        if learner is not None and learner.stopped:
            return 0
        locale = learner.locale if learner else default_locale(inbound.phone, carrier)
        apology = translations(locale).gettext(
            "Sorry, something went wrong on our side. Please try again later.")
        return queue_text(store, carrier, inbound.phone, apology, inbound_id=inbound.id)
