"""One inbound WhatsApp message through the engine and into the outbox, exactly once.

The same life as an SMS's (gateway/channels/sms/conversation.py, docs/architecture.md):
stored and processed in one commit, a repeat (Meta sends a notification again until it
is answered 200) changing nothing, a failure in the engine answered with an apology.
What differs is the teaching: the `full` edition of each lesson, worded as WhatsApp
messages with buttons (render.py), each queued whole with its payload. A learner's
choice arrives as its id, the text they could have typed, and is read as that text,
unless it was tapped on an earlier message than the latest with choices sent to them (a
learner scrolls up and taps an old question's "B"): that is not taken as an answer to
what is before them now; they are told so, and shown it again (`Engine.here`). Which
message a choice was tapped on is kept with the stored message (`inbound.meta`), so the
worker's recovery of a stored message reads it the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Mapping

from carrier_adapters.base import TAPPED_ON
from carrier_adapters.whatsapp import TEXT_MAX
from gateway.channels.commands import parse_command
from gateway.channels.lesson_costs import lesson_of
from gateway.channels.visits import (
    answer_failure,
    answer_throttled,
    invitation_answered,
    learner_acted,
    stray_from_erased_number,
    with_schedule_offer,
)
from gateway.channels.vocabulary import command_words
from gateway.channels.whatsapp.render import render
from gateway.config import Carrier
from gateway.content.model import FULL
from gateway.i18n import default_locale, translations
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.engine import Outcome
from gateway.outbox.queue import queue_message
from gateway.ratelimit import InboundLimits
from gateway.store import InboundRecord, LearnerRecord, Store
from gateway.urls import web_url

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"


def receive_whatsapp(
    store: Store, carrier: Carrier, carrier_message_id: str, phone: str, text: str,
    recipient: str = "", limits: InboundLimits | None = None,
    meta: Mapping[str, str] | None = None,
) -> InboundRecord:
    """Store a learner's WhatsApp message once and process it, committed together.

    A repeat of a stored message (the same `wamid`) changes nothing. If the engine
    fails, the message is stored as failed and the learner gets an apology, in the same
    commit. Nothing is committed if the database cannot be written: the caller must then
    not acknowledge the message, so that Meta sends it again. With `limits`, a sender over
    the carrier's inbound limits has the message stored but not answered, except by one
    polite notice per window. `meta`: what the carrier said of a tapped choice beyond
    its id (`TAPPED_ON`, the message it was tapped on; `CHOICE_TITLE`, what the learner
    saw), kept with the message.
    """
    tapped_on = (meta or {}).get(TAPPED_ON)
    locale = default_locale(phone, carrier)
    verdict = limits.check(carrier.id, phone, carrier.inbound_per_minute,
                           carrier.inbound_per_hour, carrier.block_per_minute) \
        if limits is not None else None

    def store_and_process(store: Store) -> InboundRecord:
        inbound = store.record_inbound(carrier.id, carrier_message_id, phone, text, recipient,
                                       dict(meta) if meta else None,
                                       processed=True)
        if verdict is not None and not verdict.allowed:
            if inbound.is_new:
                answer_throttled(store, carrier, inbound, locale, verdict.limit,
                                 verdict.first_over)
            return dataclasses.replace(inbound, throttled=True)
        if inbound.is_new:
            _process(store, carrier, inbound, locale, mark=False, tapped_on=tapped_on)
        elif inbound.status == "received":
            _process(store, carrier, inbound, locale,
                     tapped_on=store.inbound_meta(inbound.id).get(TAPPED_ON))
        return inbound

    return store.write_shared(store_and_process)


def handle_whatsapp(store: Store, carrier: Carrier, inbound: InboundRecord) -> int:
    """Process a stored WhatsApp message once (one left `received`); how many messages it
    queued. A message already processed queues nothing; a busy database leaves it for the
    worker to try again."""
    try:
        with store.write():
            if store.inbound_status(inbound.id) != "received":
                return 0
            return _process(store, carrier, inbound, default_locale(inbound.phone, carrier),
                            tapped_on=store.inbound_meta(inbound.id).get(TAPPED_ON))
    except sqlite3.OperationalError:
        log.warning("inbound %d (carrier %s) left pending: database busy",
                    inbound.id, carrier.id, exc_info=True)
        return 0


def _queue(store: Store, carrier: Carrier, learner: LearnerRecord,
           replies: tuple[r.Reply, ...], inbound_id: int, *, to_stopped_ok: bool = False,
           lesson: tuple[str, str] | None = None) -> int:
    messages = render(replies, learner.locale, web_url(carrier),
                      text_max=carrier.message_chars or TEXT_MAX)
    return sum(queue_message(store, carrier, learner.phone, message.body,
                             payload=message.payload, inbound_id=inbound_id,
                             to_stopped_ok=to_stopped_ok, lesson=lesson)
               for message in messages)


def _say(store: Store, carrier: Carrier, phone: str, text: str, inbound_id: int) -> int:
    return queue_message(store, carrier, phone, text, inbound_id=inbound_id)


def _process(store: Store, carrier: Carrier, inbound: InboundRecord, locale: str, *,
             mark: bool = True, tapped_on: str | None = None) -> int:
    """Engine, replies and status inside the caller's transaction; a failure rolls back
    only this message's processing and records it. A choice tapped on an earlier message
    than the latest with choices is not read: the learner is told, and shown where they
    are."""
    try:
        with store.write():
            intent = parse_command(inbound.text)
            learner = store.learner(inbound.phone)
            if learner is None and stray_from_erased_number(store, inbound, intent):
                return 0
            pacing = carrier.pacing
            engine = Engine(store, pacing, caller_saves_learner=True, edition=FULL,
                            channel=CHANNEL)
            if learner is None or learner.carrier_id != carrier.id:
                learner = engine.learner(inbound.phone, carrier.id, locale, stored=learner)
            if not inbound.text.strip():
                return _no_words(store, carrier, inbound, engine, learner, mark=mark)
            intent = invitation_answered(store, learner.phone, inbound.text, intent)
            before = engine.current_lesson(learner)
            if tapped_on and not learner.stopped \
                    and store.tapped_earlier(carrier.id, inbound.phone, tapped_on):
                outcome = Outcome((r.Notice("earlier_button"), *engine.here(learner)))
            else:
                outcome = with_schedule_offer(learner, engine.handle(learner, intent), pacing)
            learner_acted(engine, learner, CHANNEL, pacing)
            queued = _queue(store, carrier, learner, outcome.replies, inbound.id,
                            to_stopped_ok=outcome.to_stopped_ok,
                            lesson=lesson_of(engine, learner, before, outcome.replies))
            if mark:
                store.mark_inbound(inbound.id, "processed")
            return queued
    except Exception as exc:
        log.exception("inbound %d (carrier %s) failed in processing", inbound.id, carrier.id)
        return answer_failure(store, carrier, inbound, exc)


def _no_words(store: Store, carrier: Carrier, inbound: InboundRecord, engine: Engine,
              learner: LearnerRecord, *, mark: bool) -> int:
    """A picture, a voice note, a sticker: kept, and answered that only text is read."""
    learner_acted(engine, learner, CHANNEL, carrier.pacing)
    if mark:
        store.mark_inbound(inbound.id, "processed")
    if learner.stopped:
        return 0
    notice = translations(learner.locale).gettext(
        "Sorry, we can only read text. Please write your reply in a text message, or send "
        "%(help)s for help.") % {"help": command_words(learner.locale)["help"]}
    return _say(store, carrier, inbound.phone, notice, inbound.id)
