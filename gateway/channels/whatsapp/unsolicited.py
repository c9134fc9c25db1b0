"""The WhatsApp side of the scheduler (gateway/channels/scheduled.py): the day's lesson, a
review question or a reminder as a WhatsApp message (a whole card with its Next button, a
question with its reply buttons), with the template it becomes outside the 24-hour window
(gateway/outbox/window.py; the carrier's templates, docs/carriers.md).

A day's lesson outside the window goes as its template, whose quick reply ("Start") comes
back as START: the learner is shown the card they are on, the lesson's first, and the
lesson goes on free-form (their reply opened the window)."""

from __future__ import annotations

from carrier_adapters.whatsapp import INTERACTIVE_BODY_MAX, TEXT_MAX, clip, utf16_length
from gateway.channels.lesson_costs import lesson_of
from gateway.channels.texts import LETTERS
from gateway.channels.whatsapp.render import WhatsAppMessage, render
from gateway.config import Carrier
from gateway.content.model import FULL
from gateway.i18n import translations
from gateway.learning import Engine
from gateway.learning import replies as r
from gateway.learning.timing import Pacing
from gateway.message_templates import fill
from gateway.outbox.queue import queue_message
from gateway.outbox.window import unsolicited_payload
from gateway.store import LearnerRecord, Store
from gateway.store.programs import program_of_course
from gateway.urls import web_url


def engine(store: Store, pacing: Pacing) -> Engine:
    """The engine as WhatsApp teaches: the full edition, whole cards; a lesson finished
    here counts as finished on WhatsApp."""
    return Engine(store, pacing, edition=FULL, channel="whatsapp")


def queue_due(store: Store, carrier: Carrier, engine: Engine, learner: LearnerRecord,
              kind: str, replies: tuple[r.Reply, ...], *, due: float,
              before: tuple[str, str] | None = None) -> int:
    """Queue what the scheduler found due (`kind`, `replies`) as one WhatsApp message due
    at `due`, with the carrier's template for `kind` in the learner's language beside it
    (or instead of it, when the window will be closed by then). Returns how many messages
    it queued. The message counts toward the cost of the lesson it belongs to (`before`:
    the lesson the learner was in)."""
    message = _one_message(render(replies, learner.locale, web_url(carrier)))
    if message is None:
        return 0
    template = fill(carrier.template(kind), learner.locale,
                    template_values(engine, learner, replies))
    payload = unsolicited_payload(store, carrier, learner.phone, due, message.payload,
                                  template)
    lesson = lesson_of(engine, learner, before, replies)
    return queue_message(store, carrier, learner.phone, message.body, payload=payload,
                         kind=kind, due_at=due, lesson=lesson,
                         program=program_of_course(store, lesson[0] if lesson
                                                   else learner.current_course))


def template_values(engine: Engine, learner: LearnerRecord, replies: tuple[r.Reply, ...]
                    ) -> dict[str, str]:
    """What a template's parameters may name (gateway/message_templates.py), from the
    learner and the replies the scheduler found due."""
    locale = engine.reading_locale(learner)
    # A learner who gave no name (NAME) is greeted as a friend ("Hello friend").
    values = {"learner_name": learner.display_name
              or translations(learner.locale).gettext("friend")}
    course_id = (learner.pending_review or {}).get("course") or learner.current_course
    course = engine.store.course(course_id) if course_id else None
    if course is not None:
        values["course_title"] = course.title_in(locale)
    for reply in replies:
        match reply:
            case r.CardShown() | r.LessonLinked():
                values.update(course_title=reply.course_title, lesson_title=reply.lesson_title,
                              lesson_number=str(reply.lesson_number),
                              lesson_count=str(reply.lesson_count))
            case r.Reminder():
                values.update(course_title=reply.course_title, lesson_title=reply.lesson_title)
            case r.ReviewAsked():
                options = " ".join(f"{letter}) {option}"
                                   for letter, option in zip(LETTERS, reply.options,
                                                             strict=False))
                values.update(lesson_title=reply.lesson_title,
                              question=f"{reply.text} {options}")
    return values


def _one_message(messages: list[WhatsAppMessage]) -> WhatsAppMessage | None:
    """An unsolicited message as one WhatsApp message, so that it goes whole, free-form
    or as its template: the last message's buttons kept when everything fits its body,
    else one text (which says what to reply)."""
    if len(messages) <= 1:
        return messages[0] if messages else None
    body = "\n".join(message.body for message in messages)
    last = messages[-1]
    if last.payload and utf16_length(body) <= INTERACTIVE_BODY_MAX:
        return WhatsAppMessage(body, last.payload)
    text = "\n".join(m.body for m in messages if m.payload is None) or body
    return WhatsAppMessage(clip(text, TEXT_MAX))
