"""Announcements: one message from the operator to every learner of a course.

They go through the outbox like everything else: at each carrier's `tps`, held out of
each learner's quiet hours and within the daily cap of unsolicited messages (the worker
sees to both), never to a learner who opted out (left out here, and cancelled by the
worker if they opt out before it is sent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway import budgets
from gateway.config import Carrier, Carriers
from gateway.learning.timing import learner_zone, quiet_end
from gateway.message_templates import TemplateMessage, fill
from gateway.outbox.queue import queue_text
from gateway.outbox.window import is_whatsapp
from gateway.sms_text import count, split_messages
from gateway.store import Store
from gateway.store.programs import program_of_course

BATCH = 500  # learners per transaction: the web keeps answering while a big one queues


@dataclass
class CarrierShare:
    """An announcement's share on one carrier."""

    learners: int = 0
    messages: int = 0
    segments: int = 0
    cost: float = 0.0
    currency: str = ""


@dataclass
class AnnouncementPlan:
    """Who an announcement reaches and what it costs; `queued` once it is sent."""

    course_id: str
    learners: int = 0
    opted_out: int = 0
    no_carrier: int = 0
    by_carrier: dict[str, CarrierShare] = field(default_factory=dict)
    queued: bool = False

    @property
    def segments(self) -> int:
        """SMS segments in all."""
        return sum(share.segments for share in self.by_carrier.values())


def announce(store: Store, carriers: Carriers, course_id: str, text: str,
             texts: dict[str, str] | None = None, *, dry_run: bool = False,
             on_learner: Callable[[], object] | None = None) -> AnnouncementPlan:
    """Queue `text` (or `texts[locale]` for learners reading that language) to every
    learner of the course who has not opted out, or with `dry_run` only count them and
    the cost. `on_learner` is called once per learner (a progress bar). Raises LookupError
    for an unknown course and ValueError for an empty text, or for a course whose program
    reached its monthly budget (gateway/budgets.py)."""
    if store.course(course_id) is None:
        raise LookupError(f"no course {course_id!r}")
    if not text.strip():
        raise ValueError("the announcement text is empty")
    texts = {locale: body for locale, body in (texts or {}).items() if body.strip()}
    program = program_of_course(store, course_id)
    if budgets.is_stopped(store, carriers, program):
        raise ValueError(f"program {program!r} has reached its monthly budget: "
                         "its announcements wait for next month")
    plan = AnnouncementPlan(course_id)
    plan.opted_out = store.course_opted_out(course_id)
    audience = store.course_audience(course_id)
    for start in range(0, len(audience), BATCH):
        with store.write():
            now = store.clock()
            for phone, locale, carrier_id, chosen_zone in audience[start:start + BATCH]:
                carrier = carriers.get(carrier_id)
                if carrier is None:
                    plan.no_carrier += 1
                    continue
                body = texts.get(locale, text)
                parts = split_messages(body, carrier.max_segments, carrier.encoding_policy)
                share = plan.by_carrier.setdefault(
                    carrier_id, CarrierShare(currency=carrier.currency))
                segments = sum(count(part, "exact").segments for part in parts)  # as sent
                share.learners += 1
                share.messages += len(parts)
                share.segments += segments
                share.cost += segments * carrier.price_per_segment
                plan.learners += 1
                if not dry_run:
                    zone = learner_zone(phone, chosen_zone, carrier.timezone)
                    template = _template(store, carrier, phone, locale, course_id, body) \
                        if is_whatsapp(carrier) else None
                    queue_text(store, carrier, phone, body, kind="announcement",
                               due_at=quiet_end(now, zone, carrier.quiet_hours),
                               template=template, program=program)
                if on_learner is not None:
                    on_learner()
    plan.queued = not dry_run
    return plan


def _template(store: Store, carrier: Carrier, phone: str, locale: str, course_id: str,
              body: str) -> TemplateMessage | None:
    """The carrier's announcement template, filled for this learner: what the announcement
    goes as outside WhatsApp's 24-hour window (None: no template for their language)."""
    template = carrier.template("announcement")
    if template is None:
        return None
    learner = store.learner(phone)
    course = store.course(course_id)
    return fill(template, locale, {
        "learner_name": learner.display_name if learner else None,
        "course_title": course.title_in(locale) if course else None, "text": body})
