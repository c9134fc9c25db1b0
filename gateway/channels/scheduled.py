"""The scheduler: visit learners whose next check has come and queue the day's lesson, a
review question or a reminder (gateway/learning/scheduling.py decides which, whatever the
channel), worded by the learner's channel (SMS: channels/sms/unsolicited.py; WhatsApp:
channels/whatsapp/unsolicited.py) and held past the carrier's quiet hours. The outbox
worker runs it."""

from __future__ import annotations

import logging

from gateway.channels.choice import carrier_for
from gateway.channels.sms import unsolicited as sms
from gateway.channels.whatsapp import unsolicited as whatsapp
from gateway.config import Carrier, Carriers
from gateway.learning.scheduling import due_work, plan_next_check
from gateway.learning.timing import learner_zone, quiet_end
from gateway.outbox.window import is_whatsapp
from gateway.phones import masked
from gateway.store import Store
from gateway.store.programs import program_of_course

log = logging.getLogger(__name__)

# Something planned for now that could not be sent (its lesson was removed, say) is
# looked at again this much later rather than on every round.
RETRY_SECONDS = 3600.0


def run_scheduled(store: Store, carriers: Carriers, now: float | None = None,
                  limit: int = 200, *, phone: str | None = None,
                  stopped_programs: frozenset[str] = frozenset()) -> int:
    """Visit up to `limit` learners whose next check has come (only the learner of `phone`
    when given); queue what is due for each (one message at most a visit, by the channel
    of the carrier that reaches them) and plan their next check. Returns how many messages
    were queued. Each learner is its own transaction. A learner whose current course is
    of a program in `stopped_programs` (its monthly budget reached: gateway/budgets.py)
    is sent nothing and looked at again RETRY_SECONDS later, their progress unchanged."""
    now = store.clock() if now is None else now
    queued = 0
    for seen in store.learners_to_check(now, limit):
        if phone is not None and seen.phone != phone:
            continue
        with store.write():
            learner = store.learner(seen.phone)  # they may have written meanwhile
            if learner is None or learner.next_check_at is None or learner.next_check_at > now:
                continue
            carrier = carrier_for(learner, carriers)  # their chosen channel's
            if carrier is None:
                store.set_next_check(learner.phone, None)
                continue
            if stopped_programs and program_of_course(
                    store, learner.current_course) in stopped_programs:
                learner.next_check_at = now + RETRY_SECONDS
                store.save_learner(learner)
                continue
            pacing = carrier.pacing
            channel = _channel(carrier)
            engine = channel.engine(store, pacing)
            before = engine.current_lesson(learner)
            work = due_work(engine, learner, pacing, now)
            if work is not None:
                kind, replies = work
                zone = learner_zone(learner.phone, learner.timezone, pacing.timezone)
                due = quiet_end(now, zone, pacing.quiet_hours)
                queued += channel.queue_due(store, carrier, engine, learner, kind, replies,
                                            due=due, before=before)
                log.info("scheduled %s for %s", kind, masked(learner.phone))
            planned = plan_next_check(engine, learner, pacing, now)
            if planned is not None and planned <= now:
                planned = now + RETRY_SECONDS
            learner.next_check_at = planned
            store.save_learner(learner)
    return queued


def _channel(carrier: Carrier):
    """The channel that words unsolicited messages for the carrier's learners."""
    return whatsapp if is_whatsapp(carrier) else sms
