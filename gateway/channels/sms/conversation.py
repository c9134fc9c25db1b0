"""One inbound SMS through the engine and into the outbox, exactly once."""

from __future__ import annotations

import dataclasses
import functools
import logging
import sqlite3

from carrier_adapters import CarrierSettings
from gateway.channels.pacing import note_seen, pacing_of
from gateway.channels.sms.commands import command_words, parse_command
from gateway.channels.sms.render import render
from gateway.i18n import SOURCE_LOCALE, locale_for_country, translations
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.engine import Outcome
from gateway.learning.intents import Start
from gateway.learning.timing import Pacing, hour_outside_quiet
from gateway.metrics import PROCESSING_FAILURES
from gateway.phones import masked, region_of
from gateway.ratelimit import InboundLimits, Verdict
from gateway.sms_text import count, split_messages
from gateway.store import InboundRecord, LearnerRecord, Store, privacy
from gateway.urls import web_url

log = logging.getLogger(__name__)


def default_locale(phone: str, carrier: CarrierSettings) -> str:
    """A new learner's language: the carrier's `locale`, else the number's country's (the
    carrier's `languages` table first, then gateway.i18n's), else the carrier's country's."""
    if carrier.locale:
        return carrier.locale
    for region in (region_of(phone), carrier.country):
        if region and region in carrier.languages:
            return carrier.languages[region]
        found = locale_for_country(region)
        if found:
            return found
    return SOURCE_LOCALE


def queue_text(
    store: Store, carrier: CarrierSettings, phone: str, text: str, *,
    inbound_id: int | None = None, to_stopped_ok: bool = False, kind: str = "reply",
    due_at: float | None = None,
) -> int:
    """Queue a reply (or, with `kind`, an unsolicited message due at `due_at`), split into
    messages of at most the carrier's `max_segments`."""
    if not text:
        return 0
    messages = split_messages(text, carrier.max_segments, carrier.encoding_policy)
    for body in messages:
        store.enqueue(carrier.id, phone, body, inbound_id=inbound_id,
                      to_stopped_ok=to_stopped_ok, kind=kind, due_at=due_at,
                      segments=_segments(body, carrier.encoding_policy))
    return len(messages)


@functools.lru_cache(maxsize=4096)
def _segments(body: str, policy: str) -> int:
    """What one message costs in SMS segments (the operator's dashboard prices them);
    cached: most messages are lesson cards, the same for every learner."""
    return count(body, policy).segments


def _queue_outcome(
    store: Store, carrier: CarrierSettings, learner: LearnerRecord, outcome: Outcome,
    inbound_id: int,
) -> int:
    text = render(outcome.replies, learner.locale, web_url(carrier))
    return queue_text(store, carrier, learner.phone, text, inbound_id=inbound_id,
                      to_stopped_ok=outcome.to_stopped_ok)


def receive_inbound(
    store: Store, carrier: CarrierSettings, carrier_message_id: str, phone: str, text: str,
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
    locale = default_locale(phone, carrier)  # pure: worked out before taking the write lock
    verdict = limits.check(carrier.id, phone, carrier.inbound_per_minute,
                           carrier.inbound_per_hour, carrier.block_per_minute) \
        if limits is not None else None

    def store_and_process(store: Store) -> InboundRecord:
        inbound = store.record_inbound(carrier.id, carrier_message_id, phone, text, recipient,
                                       meta=meta, processed=True)
        if verdict is not None and not verdict.allowed:
            if inbound.is_new:
                _throttle(store, carrier, inbound, locale, verdict)
            return dataclasses.replace(inbound, throttled=True)
        if inbound.is_new:
            _process(store, carrier, inbound, locale, mark=False)
        elif inbound.status == "received":
            _process(store, carrier, inbound, locale)
        return inbound

    # Concurrent webhooks of this process share one commit (Store.write_shared).
    return store.write_shared(store_and_process)


def _throttle(store: Store, carrier: CarrierSettings, inbound: InboundRecord, locale: str,
              verdict: Verdict) -> None:
    store.mark_inbound(inbound.id, "processed", error=f"throttled: over the {verdict.limit} "
                       "limit")
    log.warning("carrier %s: %s throttled (%s)", carrier.id, masked(inbound.phone),
                verdict.limit)
    learner = store.learner(inbound.phone)
    if learner is None and privacy.is_erased(store, inbound.phone):
        privacy.silence_stray(store, inbound.id)  # no notice, and no trace of the number
        return
    if not verdict.first_over or (learner is not None and learner.stopped):
        return
    notice = translations(learner.locale if learner else locale).gettext(
        "You are sending messages faster than we can answer. Please wait a minute, then "
        "send your reply again.")
    queue_text(store, carrier, inbound.phone, notice, inbound_id=inbound.id)


def handle_inbound(store: Store, carrier: CarrierSettings, inbound: InboundRecord) -> int:
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


def _process(store: Store, carrier: CarrierSettings, inbound: InboundRecord,
             locale: str, *, mark: bool = True) -> int:
    """Engine, replies and status inside the caller's transaction; a failure rolls back
    only this message's processing and records it. `locale` is a new learner's; `mark`
    False when the message was stored as processed in this transaction."""
    try:
        with store.write():
            learner = store.learner(inbound.phone)
            if learner is None and _from_erased_number(store, inbound):
                return 0
            pacing = pacing_of(carrier)
            # The learner is saved once, when noted seen (_seen) after the engine.
            engine = Engine(store, pacing, caller_saves_learner=True)
            if learner is None or learner.carrier_id != carrier.id:
                learner = engine.learner(inbound.phone, carrier.id, locale, stored=learner)
            if not inbound.text.strip():
                return _no_words(store, carrier, inbound, engine, learner, pacing, mark=mark)
            outcome = engine.handle(learner, parse_command(inbound.text))
            outcome = _seen(engine, learner, outcome, pacing)
            store.note_activity(learner.phone, "sms")
            queued = _queue_outcome(store, carrier, learner, outcome, inbound.id)
            if mark:
                store.mark_inbound(inbound.id, "processed")
            return queued
    except Exception as exc:
        log.exception("inbound %d (carrier %s) failed in processing", inbound.id, carrier.id)
        return _mark_failed(store, carrier, inbound, exc)


def _no_words(store: Store, carrier: CarrierSettings, inbound: InboundRecord, engine: Engine,
              learner: LearnerRecord, pacing: Pacing, *, mark: bool) -> int:
    """A message without words (a picture, an empty SMS) has nothing for the engine to
    read: the learner is told, in their language, that only text is understood."""
    note_seen(engine, learner, pacing, store.clock())
    store.note_activity(learner.phone, "sms")
    if mark:
        store.mark_inbound(inbound.id, "processed")
    if learner.stopped:
        return 0
    notice = translations(learner.locale).gettext(
        "Sorry, we can only read text. Please write your reply in a text message, or send "
        "%(help)s for help.") % {"help": command_words(learner.locale)["help"]}
    return queue_text(store, carrier, inbound.phone, notice, inbound_id=inbound.id)


def _from_erased_number(store: Store, inbound: InboundRecord) -> bool:
    """Whether this message, from a number no learner has, is a stray one from an erased
    number: then it is kept without its sender or text and answered by nothing. START
    (JOIN) is the person choosing to come back: the number is readmitted and a fresh
    learner begins (docs/privacy.md)."""
    if not privacy.is_erased(store, inbound.phone):
        return False
    if isinstance(parse_command(inbound.text), Start):
        privacy.readmit(store, inbound.phone)
        log.info("inbound %d: an erased number came back with START", inbound.id)
        return False
    privacy.silence_stray(store, inbound.id)
    log.info("inbound %d: from an erased number, not answered", inbound.id)
    return True


def _seen(engine: Engine, learner: LearnerRecord, outcome: Outcome, pacing: Pacing) -> Outcome:
    """The learner wrote: note it, make the daily-lesson offer once (after a lesson), and
    plan when to come back to them."""
    replies = outcome.replies
    if not learner.schedule_offered and learner.schedule == "off" and not learner.stopped \
            and any(isinstance(reply, r.LessonDone) and reply.next_lesson_title
                    for reply in replies):
        learner.schedule_offered = True
        replies = (*replies, r.ScheduleOffer(hour_outside_quiet(8, pacing.quiet_hours)))
    note_seen(engine, learner, pacing, engine.store.clock())
    return dataclasses.replace(outcome, replies=replies)


def _mark_failed(store: Store, carrier: CarrierSettings, inbound: InboundRecord,
                 exc: Exception) -> int:
    PROCESSING_FAILURES.labels(carrier.id).inc()
    with store.write():
        store.mark_inbound(inbound.id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
        learner = store.learner(inbound.phone)
        if learner is not None and learner.stopped:
            return 0
        locale = learner.locale if learner else default_locale(inbound.phone, carrier)
        apology = translations(locale).gettext(
            "Sorry, something went wrong on our side. Please try again later."
        )
        return queue_text(store, carrier, inbound.phone, apology, inbound_id=inbound.id)
