"""The SMS side of the scheduler (gateway/channels/scheduled.py): the day's lesson, a
review question or a reminder, worded as SMS and queued as unsolicited messages."""

from __future__ import annotations

from gateway.channels.lesson_costs import lesson_of
from gateway.channels.sms.packing import pack
from gateway.channels.texts import render_parts
from gateway.config import Carrier
from gateway.content.model import SMS
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.timing import Pacing
from gateway.outbox.queue import queue_text
from gateway.store import LearnerRecord, Store
from gateway.store.programs import program_of_course
from gateway.urls import web_url


def engine(store: Store, pacing: Pacing) -> Engine:
    """The engine as SMS teaches: the SMS edition, a lesson's last card with its quiz."""
    return Engine(store, pacing, edition=SMS, channel="sms", quiz_with_last_card=True)


def queue_due(store: Store, carrier: Carrier, engine: Engine, learner: LearnerRecord,
              kind: str, replies: tuple[r.Reply, ...], *, due: float,
              before: tuple[str, str] | None) -> int:
    """Queue what the scheduler found due (`kind`, `replies`) as SMS due at `due`, packed
    into as few messages as cost no more segments, counted toward the lesson it shows
    (`before`: the lesson the learner was in). Returns how many messages it queued."""
    parts = render_parts(replies, learner.locale, web_url(carrier))
    lesson = lesson_of(engine, learner, before, replies)
    program = program_of_course(store, lesson[0] if lesson else learner.current_course)
    return sum(queue_text(store, carrier, learner.phone, text, kind=kind, due_at=due,
                          lesson=lesson, program=program)
               for text in pack(parts, carrier.max_segments, carrier.encoding_policy))
