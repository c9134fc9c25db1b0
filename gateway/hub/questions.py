"""Tutors on the hub answer the questions of learners on every edge (docs/sync.md,
Questions).

Edges push `question_asked`, `question_answered` and `question_closed` events; the hub
keeps them and passes them on to no other edge (`confine.PRIVATE_KINDS`). `catch_up`
turns them into rows of the hub gateway's own `questions` table (`edge` the edge's id,
`uid` the question's), which the tutors' inbox shows as it shows questions asked here:
it reads the hub's store from a cursor kept in the gateway's `sync_state`, in one write
transaction of the gateway's, so a copy is made once and the cursor never passes one
that was not made. It runs after every push that stored events, and before an answer is
relayed. An erasure among the events deletes the copies of the questions whose
`question_asked` event the erasure gave a pseudonym (for an erasure from an edge outside
the number's region, only that edge's).

`relay_answer` is what the inbox's answer does for a question asked on an edge: the copy
is marked answered and the hub records a `question_answered` event (uid, the text as the
learner will read it, when) that reaches the edge that asked, and no other; that edge
queues the text as it is, once (gateway/sync/answers.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.hub.store import HubStore
from gateway.phones import masked
from gateway.store import Store, events, questions

log = logging.getLogger(__name__)

CURSOR = "hub_questions_cursor"  # in the gateway's sync_state: the hub sequence read


@dataclass
class CatchUp:
    """What one catch-up did on the hub gateway's questions."""

    copied: int = 0  # new copies of edges' questions
    settled: int = 0  # copies answered or closed on their edge
    deleted: int = 0  # copies of erased learners' questions


def catch_up(hub: HubStore, store: Store) -> CatchUp:
    """Bring the hub gateway's copies of edges' questions up to the hub's store: copy
    each new `question_asked` (idempotent by uid), settle a copy when the edge that asked
    answered or closed it there (an event about another edge's question changes
    nothing), delete the copies an erasure reached; then move the cursor, all in one
    write transaction of `store`."""
    done = CatchUp()
    with store.write():
        after = int(events.sync_value(store, CURSOR) or 0)
        erasure = False
        while True:
            page = hub.question_events(after, 500)
            for event in page.events:
                erasure |= event["kind"] == "erased"
                _apply(store, event, done)
            after = page.next_cursor
            if not page.more:
                break
        if erasure:
            gone = hub.pseudonymous(questions.copy_uids(store))
            done.deleted = questions.delete_copies(store, sorted(gone))
        events.set_sync_value(store, CURSOR, str(after))
    if done.copied or done.settled or done.deleted:
        log.info("hub questions: %d copied from edges, %d answered or closed there, "
                 "%d deleted (erased)", done.copied, done.settled, done.deleted)
    return done


def _apply(store: Store, event: dict, done: CatchUp) -> None:
    kind, data, learner, edge = event["kind"], event["data"], event["learner"], event["edge"]
    uid = data.get("uid") if isinstance(data, dict) else None
    if kind == "erased" or not learner.startswith("+") or not isinstance(uid, str):
        return
    if kind == questions.ASKED:
        # The uid is the event's own id: an edge cannot take another edge's question's.
        if uid == event["id"]:
            done.copied += questions.add_copy(store, edge, uid, learner, data,
                                              float(event["at"]))
        return
    at = data.get("at")
    at = float(at) if events.is_moment(at) else float(event["at"])
    status = questions.ANSWERED if kind == questions.ANSWERED_EVENT else questions.CLOSED
    done.settled += questions.settle_copy(store, edge, uid, status, at)


def _edge_copy(store: Store, question_id: int) -> questions.QuestionRecord:
    """The copy of an edge's question of that id; ValueError for no question, or one
    asked here."""
    question = questions.get(store, question_id)
    if question is None:
        raise ValueError(f"no question {question_id}")
    if not question.edge:
        raise ValueError(f"question {question_id} was asked here, not on an edge")
    return question


def relay_answer(hub: HubStore, store: Store, question_id: int, text: str,
                 by: int | None, *, answer: str | None = None) -> bool:
    """Answer the copy of an edge's question (`questions.id` here, its `edge` not '')
    with `text`, the final message the learner reads (`answer`: the tutor's words in it,
    kept as the question's answer; default `text`), by staff account `by`: the copy is
    marked answered and the hub records `question_answered` for the edge that asked, in
    the copy's write transaction (if the hub refuses, nothing changes). False when the
    copy is no longer open (answered or closed meanwhile: nothing is sent). ValueError for
    a question asked here (answer it as any other), an empty text or one over the hub's
    4,096 bytes of event data; hub.UnknownEdge when the edge is revoked."""
    if not text.strip():
        raise ValueError("an empty answer")
    catch_up(hub, store)
    with store.write():
        question = _edge_copy(store, question_id)
        if not questions.mark_answered(store, question_id, answer or text, by):
            return False
        data = {"uid": question.uid, "text": text, "at": store.clock()}
        if answer and answer != text:
            data["answer"] = answer
        hub.send_to_edge(question.edge, question.phone, questions.ANSWERED_EVENT, data)
    log.info("question %s of %s answered on the hub, relayed to edge %s",
             question.uid[:12], masked(question.phone), question.edge)
    return True


def relay_close(hub: HubStore, store: Store, question_id: int, by: int | None) -> bool:
    """Close the copy of an edge's question without an answer, by staff account `by`, and
    record the hub's `question_closed` for the edge that asked (it closes its question
    there: the learner's open questions no longer count it), in the copy's write
    transaction. False when the copy is no longer open; ValueError for a question asked
    here; hub.UnknownEdge when the edge is revoked."""
    catch_up(hub, store)
    with store.write():
        question = _edge_copy(store, question_id)
        if not questions.mark_closed(store, question_id, by):
            return False
        hub.send_to_edge(question.edge, question.phone, questions.CLOSED_EVENT,
                         {"uid": question.uid, "at": store.clock()})
    log.info("question %s of %s closed on the hub, relayed to edge %s",
             question.uid[:12], masked(question.phone), question.edge)
    return True
