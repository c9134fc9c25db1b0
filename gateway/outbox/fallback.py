"""A message one carrier could not deliver, sent instead through its `fallback_carrier`
(docs/carriers.md, Fallback to SMS), once.

A WhatsApp message the Cloud API refuses (not a WhatsApp user, more than 24 hours since
the learner last wrote), at sending or in a later failed status, goes as SMS text: its
body, its buttons or list written out as typed choices (gateway/channels/texts.py), split
as the SMS carrier's `max_segments` allows. The original names the carrier its copy went
through (`outbox.fallback_to`) and each copy names the original (`outbox.fallback_of`),
both written in the transaction that queues the copy: a retry, a second failure, a late
status of either, or a worker that dies between two steps never sends it twice, and a
copy never falls back in turn.

A number the carrier says is not on its network at all (`CarrierAdapter.unreachable_codes`)
is remembered: the learner's carrier becomes the fallback carrier, so replies to them,
the scheduler and announcements go by SMS without trying WhatsApp first, until they write
on WhatsApp again (which makes the WhatsApp carrier theirs again); a choice of WhatsApp
(gateway/channels/choice.py) is forgotten with it.
"""

from __future__ import annotations

import json
import logging

from gateway.channels.texts import typed_choices
from gateway.config import Carriers
from gateway.i18n import default_locale
from gateway.outbox.queue import queue_text
from gateway.phones import masked
from gateway.store import OutboxRecord, Store

log = logging.getLogger(__name__)


def send_instead(store: Store, carriers: Carriers, message: OutboxRecord, *,
                 unreachable: bool = False) -> int | None:
    """Queue, in one write transaction (the caller's, when one is open), the copy of
    `message` through its carrier's `fallback_carrier` as SMS text, linked to it; with
    `unreachable`, remember that the learner is reached by the fallback carrier. Returns
    how many SMS messages were queued, or None when nothing was: the carrier names no
    fallback, or the message already fell back (or is itself a copy)."""
    carrier = carriers.get(message.carrier_id)
    other = carriers.get(carrier.fallback_carrier) \
        if carrier is not None and carrier.fallback_carrier else None
    if other is None:
        return None
    with store.write():
        original = store.claim_fallback(message.id, other.id)
        if original is None:
            return None
        learner = store.learner(original.phone)
        locale = learner.locale if learner else default_locale(original.phone, other)
        payload = json.loads(original.payload) if original.payload else None
        queued = queue_text(store, other, original.phone,
                            typed_choices(original.body, payload, locale),
                            to_stopped_ok=original.to_stopped_ok, kind=original.kind,
                            fallback_of=original.id, program=original.program)
        if unreachable and learner is not None and learner.carrier_id == carrier.id:
            learner.carrier_id = other.id
            if learner.channel == "whatsapp":
                learner.channel = None
            store.save_learner(learner)
    log.info("message %d to %s: sent as SMS through %s instead of %s", original.id,
             masked(original.phone), other.id, carrier.id)
    return queued
