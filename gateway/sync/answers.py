"""On an edge, answers tutors gave on the hub reach the learners who asked here
(docs/sync.md, Questions): a `question_answered` event the hub recorded for this edge
(or `question_closed`: a tutor there closed it unanswered) marks the question answered
and queues its text, as the hub relayed it (or closes it), through the
outbox's one way of sending an answer (gateway/outbox/answers.py), in the transaction
that applies the pulled page and moves the pull cursor. A page pulled again brings the
event as a duplicate (merge.py skips it), and a question already answered or closed here
is left as it is: so an answer is queued once, and the first answer to reach the
learner's edge, from here or from the hub, is the one they get."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gateway.outbox.answers import answer_carrier, queue_answer
from gateway.phones import masked
from gateway.store import events, questions

if TYPE_CHECKING:
    from gateway.config import Carriers
    from gateway.store import Store

log = logging.getLogger(__name__)


def deliver_relayed(store: Store, carriers: Carriers, relayed: list[dict[str, Any]]) -> int:
    """Inside the caller's write transaction: for each relayed answer (hub events
    `question_answered`, new here), mark the open question asked here with its uid, of
    the same learner, answered, and queue the text through the carrier the answer goes
    by (answer_carrier); for each relayed close (`question_closed`), close it. A question
    not asked here, or already answered or closed here, gets nothing. Returns how many
    answers were queued."""
    queued = 0
    for event in relayed:
        data = event["data"]
        text, uid = data.get("text"), data["uid"]
        question = questions.by_uid(store, uid)
        if question is None or question.edge or question.phone != event["learner"]:
            log.warning("sync: the hub relayed %s of question %s, not one asked here by "
                        "%s: nothing done", event["kind"], uid[:12],
                        masked(event["learner"]))
            continue
        at = data.get("at")
        at = float(at) if events.is_moment(at) else float(event["at"])
        if event["kind"] == questions.CLOSED_EVENT:
            if questions.close_relayed(store, question.id, at):
                log.info("sync: question %s of %s closed on the hub", uid[:12],
                         masked(question.phone))
            continue
        if not isinstance(text, str) or not text.strip():
            continue
        answer = data.get("answer") if isinstance(data.get("answer"), str) else None
        if not questions.answer_relayed(store, question.id, answer or text, at):
            log.info("sync: question %s was %s here before the hub's answer came: the "
                     "hub's answer is not sent", uid[:12], question.status)
            continue
        carrier = answer_carrier(carriers, question, store.learner(question.phone),
                                 store=store)
        if carrier is None:
            log.warning("sync: question %s of %s answered on the hub, but no carrier here "
                        "sends to them: marked answered, not sent", uid[:12],
                        masked(question.phone))
            continue
        queued += queue_answer(store, carrier, question.phone, text) > 0
        log.info("sync: question %s of %s answered on the hub, queued by %s", uid[:12],
                 masked(question.phone), carrier.id)
    return queued
