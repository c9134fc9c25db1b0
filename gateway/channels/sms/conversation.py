"""One inbound SMS through the engine and into the outbox, exactly once."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3

from gateway import programs
from gateway.channels.commands import parse_command
from gateway.channels.lesson_costs import lesson_of
from gateway.channels.sms.packing import pack
from gateway.channels.texts import render_parts
from gateway.channels.visits import (
    answer_failure,
    answer_throttled,
    invitation_answered,
    learner_acted,
    stray_from_erased_number,
    with_schedule_offer,
)
from gateway.channels.vocabulary import command_words
from gateway.config import Carrier
from gateway.content.model import SMS
from gateway.i18n import default_locale, translations
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.engine import Outcome
from gateway.learning.intents import Delivery, Intent, Join
from gateway.learning.timing import Pacing
from gateway.outbox.queue import queue_text
from gateway.ratelimit import InboundLimits
from gateway.store import InboundRecord, LearnerRecord, Store, web_sessions
from gateway.store import programs as members
from gateway.urls import web_url

log = logging.getLogger(__name__)


def _queue_outcome(
    store: Store, carrier: Carrier, learner: LearnerRecord, outcome: Outcome,
    inbound_id: int, lesson: tuple[str, str] | None = None,
) -> int:
    parts = render_parts(outcome.replies, learner.locale, web_url(carrier))
    program = members.program_of_course(store, lesson[0] if lesson else learner.current_course)
    return sum(queue_text(store, carrier, learner.phone, text, inbound_id=inbound_id,
                          to_stopped_ok=outcome.to_stopped_ok, lesson=lesson, program=program)
               for text in pack(parts, carrier.max_segments, carrier.encoding_policy))


def receive_inbound(
    store: Store, carrier: Carrier, carrier_message_id: str, phone: str, text: str,
    recipient: str = "", meta: dict[str, str] | None = None,
    limits: InboundLimits | None = None,
) -> InboundRecord:
    """Store a learner's message once and process it, committed together.

    A repeat of a stored message changes nothing (unless it is still waiting
    to be processed). If the engine fails, the message is stored as failed and
    the learner gets an apology, in the same commit. Nothing is committed if
    the database cannot be written: the caller must then not acknowledge the
    message, so that the carrier sends it again.

    With `limits`, a sender over the carrier's inbound limits is throttled: the
    message is stored (marked processed, its error saying which limit) but not
    answered, except by one polite notice per window.
    """
    # Pure: worked out before taking the write lock.
    locale = default_locale(phone, carrier)
    try:
        intent: Intent | None = parse_command(text)
    except Exception:  # read again in processing, where a failure is stored with the message
        intent = None
    verdict = limits.check(carrier.id, phone, carrier.inbound_per_minute,
                           carrier.inbound_per_hour, carrier.block_per_minute) \
        if limits is not None else None

    def store_and_process(store: Store) -> InboundRecord:
        inbound = store.record_inbound(carrier.id, carrier_message_id, phone, text, recipient,
                                       meta=meta, processed=True)
        if verdict is not None and not verdict.allowed:
            if inbound.is_new:
                answer_throttled(store, carrier, inbound, locale, verdict.limit,
                                 verdict.first_over)
            return dataclasses.replace(inbound, throttled=True)
        if inbound.is_new:
            _process(store, carrier, inbound, locale, mark=False, intent=intent)
        elif inbound.status == "received":
            _process(store, carrier, inbound, locale, intent=intent)
        return inbound

    # Concurrent webhooks of this process share one commit (Store.write_shared).
    return store.write_shared(store_and_process)


def handle_inbound(store: Store, carrier: Carrier, inbound: InboundRecord) -> int:
    """Process a stored inbound message once: engine, replies to the outbox, one commit.

    Returns how many messages it queued. A message already processed (a
    repeat, or another process got there first) queues nothing. If the engine
    fails, the message is marked failed and the learner gets an apology; if the
    database is busy, the message stays pending for the worker to retry.
    """
    try:
        with store.write():
            if store.inbound_status(inbound.id) != "received":
                return 0
            return _process(store, carrier, inbound, default_locale(inbound.phone, carrier))
    except sqlite3.OperationalError:
        log.warning("inbound %d (carrier %s) left pending: database busy",
                    inbound.id, carrier.id, exc_info=True)
        return 0


def _process(store: Store, carrier: Carrier, inbound: InboundRecord,
             locale: str, *, mark: bool = True, intent: Intent | None = None) -> int:
    """Engine, replies and status inside the caller's transaction; a failure rolls back
    only this message's processing and records it. `locale` is a new learner's; `mark`
    False when the message was stored as processed in this transaction; `intent` the
    message's text read as a command, when the caller has read it already."""
    try:
        with store.write():
            if intent is None:
                intent = parse_command(inbound.text)
            learner = store.learner(inbound.phone)
            if learner is None and stray_from_erased_number(store, inbound, intent):
                return 0
            pacing = carrier.pacing
            # The learner is saved once, when noted seen (learner_acted) after the engine.
            engine = Engine(store, pacing, caller_saves_learner=True, edition=SMS,
                            channel="sms", quiz_with_last_card=True)
            if learner is None or learner.carrier_id != carrier.id:
                learner = engine.learner(inbound.phone, carrier.id, locale, stored=learner)
            if not inbound.text.strip():
                return _no_words(store, carrier, inbound, engine, learner, pacing, mark=mark)
            intent = _entering(store, carrier, inbound, learner, intent)
            before = engine.current_lesson(learner)
            if intent == Delivery("link") and not web_url(carrier) and not learner.stopped:
                # No address the carrier's learners can open: nothing to link to.
                outcome = Outcome((r.Notice("link_unavailable"),))
            else:
                outcome = _without_links(carrier, engine.handle(learner, intent))
            outcome = with_schedule_offer(learner, outcome, pacing)
            outcome = _with_link_offer(store, carrier, learner, outcome)
            learner_acted(engine, learner, "sms", pacing)
            queued = _queue_outcome(store, carrier, learner, outcome, inbound.id,
                                    lesson_of(engine, learner, before, outcome.replies))
            if mark:
                store.mark_inbound(inbound.id, "processed")
            return queued
    except Exception as exc:
        log.exception("inbound %d (carrier %s) failed in processing", inbound.id, carrier.id)
        return answer_failure(store, carrier, inbound, exc)


def _entering(store: Store, carrier: Carrier, inbound: InboundRecord,
              learner: LearnerRecord, intent: Intent) -> Intent:
    """A first message to a program's short code on this carrier joins the program,
    whatever it says; from a member it is read as any message; a yes from a number a
    cohort invited accepts the invitation (docs/programs.md)."""
    intent = invitation_answered(store, learner.phone, inbound.text, intent)
    if isinstance(intent, Join) or not inbound.recipient:
        return intent
    program = programs.current().by_short_code(carrier.id, inbound.recipient)
    if program is None or members.is_member(store, program.id, learner.phone):
        return intent
    return Join(program.id, "short_code")


def _no_words(store: Store, carrier: Carrier, inbound: InboundRecord, engine: Engine,
              learner: LearnerRecord, pacing: Pacing, *, mark: bool) -> int:
    """A message without words (a picture, an empty SMS) has nothing for the engine to
    read: the learner is told, in their language, that only text is understood."""
    learner_acted(engine, learner, "sms", pacing)
    if mark:
        store.mark_inbound(inbound.id, "processed")
    if learner.stopped:
        return 0
    notice = translations(learner.locale).gettext(
        "Sorry, we can only read text. Please write your reply in a text message, or send "
        "%(help)s for help.") % {"help": command_words(learner.locale)["help"]}
    return queue_text(store, carrier, inbound.phone, notice, inbound_id=inbound.id)


def _without_links(carrier: Carrier, outcome: Outcome) -> Outcome:
    """The outcome as a carrier without a web address for its learners gives it: a
    change of delivery offers no LINK there (nothing to link to)."""
    if not any(isinstance(reply, r.DeliveryChanged) for reply in outcome.replies) \
            or web_url(carrier):
        return outcome
    return dataclasses.replace(outcome, replies=tuple(
        dataclasses.replace(reply, links=False) if isinstance(reply, r.DeliveryChanged)
        else reply for reply in outcome.replies))


def _with_link_offer(store: Store, carrier: Carrier, learner: LearnerRecord,
                    outcome: Outcome) -> Outcome:
    """The offer of lessons by link, made once, after a lesson done by SMS with another
    to come, to a learner who has signed in on the lite pages (they can open web pages),
    when the carrier gives a web address. It only ever goes in a reply to the learner's
    own message, so quiet hours never apply and a stopped learner gets nothing; never in
    the same reply as the daily-lesson offer (the learner is saved when noted seen)."""
    replies = outcome.replies
    if learner.link_offered or learner.delivery != "sms" or learner.stopped \
            or not web_url(carrier) \
            or any(isinstance(reply, r.ScheduleOffer) for reply in replies) \
            or not any(isinstance(reply, r.LessonDone) and reply.next_lesson_title
                       for reply in replies) \
            or not web_sessions.signed_in_before(store, learner.phone):
        return outcome
    learner.link_offered = True
    return dataclasses.replace(outcome, replies=(*replies, r.LinkOffer()))
