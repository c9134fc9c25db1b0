"""The tutors' inbox's rules: what a tutor sees of a question (the learner's context),
claiming, reassigning and closing it, and answering it, each recorded in the staff audit
(docs/operations.md, The tutors' inbox). The pages are gateway/ops/inbox.py's; the SQL is
the store's (gateway/store/questions.py, saved_replies.py).

Who may act on a question: any staff account (tutors do the inbox's work; administrators
may do everything). A question held by one tutor (claimed, or reassigned to them) is
answered, closed or reassigned by them or by an administrator; everyone still sees it and
who holds it.

`answer_question` is the one way an answer leaves: it checks the question is still open
and the answer fits, marks the question answered, queues the answer in the outbox and
records it, in one write transaction, so two tutors answering at once send it once. It
is the one place to change where an answer goes (a gateway relaying it to the edge the
question came from rather than queuing it here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.channels.wording import Wording
from gateway.config import Carrier
from gateway.i18n import language_name
from gateway.ops.staff import ADMIN, TUTOR
from gateway.outbox.answers import (
    AnswerCost,
    answer_carrier,
    answer_cost,
    queue_answer,
    window_closed,
)
from gateway.phones import masked
from gateway.sms_text import count, split_messages
from gateway.store import questions, saved_replies
from gateway.store import staff as accounts
from gateway.store.questions import QuestionRecord, QuizAnswer
from gateway.store.records import LearnerRecord
from gateway.store.saved_replies import SavedReply
from gateway.store.staff import StaffAccount

if TYPE_CHECKING:
    from gateway.config import Carriers
    from gateway.store import Store

log = logging.getLogger(__name__)

# What the staff audit says (subject: "question <id>").
CLAIMED = "claimed"
ANSWERED = "answered"
REASSIGNED = "reassigned"
CLOSED = "closed"
REPLY_SAVED = "saved reply added"
REPLY_CHANGED = "saved reply changed"
REPLY_DELETED = "saved reply deleted"

MAX_ANSWER_CHARS = 2000  # what a form may post; whether it fits is the carrier's
MAX_TITLE_CHARS = 60
QUIZ_ANSWERS_SHOWN = 5


class Relay(Protocol):
    """On a hub, what happens to an edge's question (a copy) instead of acting here
    (gateway/hub/questions.py): each marks the copy and tells the edge that asked, and is
    False when the copy was settled meanwhile."""

    def answer(self, asked: QuestionRecord, text: str, answer: str,
               actor: StaffAccount) -> bool:
        """Send `text`, the final message (`answer`: the tutor's words in it), to the edge
        that asked."""

    def close(self, asked: QuestionRecord, actor: StaffAccount) -> bool:
        """Close the question there without an answer."""


class TutoringError(Exception):
    """An action refused: one sentence for the tutor saying why. `status` is the HTTP
    status a page answers it with (409: the question changed meanwhile; 400: bad
    input; 404: no such question)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Context:
    """What a tutor sees of a question: the learner (masked number, language), where they
    were (course, lesson, card or quiz question, and that card's text), their latest quiz
    answers, their earlier questions with answers, and who holds or answered it."""

    question: QuestionRecord
    number: str
    language: str
    course_title: str
    lesson_title: str
    place: str
    card_text: str
    quiz_answers: tuple[QuizAnswer, ...]
    earlier: tuple[QuestionRecord, ...]
    held_by: StaffAccount | None
    answered_by: StaffAccount | None
    closed_by: StaffAccount | None


@dataclass(frozen=True)
class Preview:
    """An answer as it would leave: the text the learner receives (in their language),
    the carrier and what it costs (None: no carrier reaches the learner, the answer is
    shown on their web page only), and how many characters too long it is (0: it fits
    in one message within the carrier's `max_segments`)."""

    text: str
    cost: AnswerCost | None
    over_by: int

    @property
    def fits(self) -> bool:
        """Whether it goes as one message."""
        return self.over_by == 0


def question(store: Store, question_id: int) -> QuestionRecord:
    """The question of that id; TutoringError (404) when there is none."""
    found = questions.get(store, question_id)
    if found is None or found.status == questions.REFUSED:
        raise TutoringError(f"There is no question {question_id}.", 404)
    return found


def context(store: Store, asked: QuestionRecord,
            programs: set[str] | None = None) -> Context:
    """The learner's context of a question, as the inbox shows it. With `programs` (a
    program's staff: the programs they serve), the learner's earlier questions and quiz
    answers are only those of these programs' courses: a learner in two programs has
    questions and answers a tutor of one must not read (docs/programs.md)."""
    learner = store.learner(asked.phone)
    # An edge's learner has no row on the hub: the language they asked in came along.
    locale = learner.locale if learner else (asked.locale or "")
    course = store.course(asked.course_id) if asked.course_id else None
    lesson = None
    if course is not None and asked.lesson_id:
        lesson = store.lesson(course.id, asked.lesson_id, course.locale_for(locale))
    place, card_text = "", ""
    if asked.quiz_question:
        place = f"quiz question {asked.quiz_question}"
        if lesson is not None and asked.quiz_question <= len(lesson.questions):
            card_text = lesson.questions[asked.quiz_question - 1].text
    elif asked.card:
        place = f"card {asked.card}"
        if lesson is not None and asked.card <= len(lesson.cards):
            card_text = lesson.cards[asked.card - 1].text
    earlier = tuple(q for q in questions.of_learner(store, asked.phone)
                    if q.id != asked.id and q.status != questions.REFUSED
                    and (programs is None or q.program in programs))
    courses = None if programs is None else {
        c.id for c in store.courses() if c.program and c.program in programs}
    return Context(
        question=asked, number=masked(asked.phone),
        language=f"{language_name(locale)} ({locale})" if locale else "unknown",
        course_title=course.title_in(locale) if course else (asked.course_id or ""),
        lesson_title=lesson.title if lesson else (asked.lesson_id or ""),
        place=place, card_text=card_text,
        quiz_answers=tuple(questions.last_quiz_answers(store, asked.phone,
                                                       QUIZ_ANSWERS_SHOWN, courses)),
        earlier=earlier, held_by=_account(store, asked.claimed_by),
        answered_by=_account(store, asked.answered_by),
        closed_by=_account(store, asked.closed_by))


def _account(store: Store, staff_id: int | None) -> StaffAccount | None:
    return accounts.by_id(store, staff_id) if staff_id is not None else None


def tidy(answer: str) -> str:
    """The answer as sent: line ends made plain, spaces around it dropped."""
    return "\n".join(line.rstrip() for line in answer.replace("\r\n", "\n").split("\n")
                     ).strip()


def _sent(learner: LearnerRecord | None, answer: str, locale: str | None = None) -> str:
    return Wording(learner.locale if learner else locale or "en").tutor_answer(answer)


def _edge_estimate(asked: QuestionRecord, text: str) -> AnswerCost:
    """An edge's question whose carrier this hub does not have: the answer as SMS under
    the defaults of a carrier (`max_segments`, `auto` encoding), unpriced: the edge
    sends it through its own carrier."""
    parts = split_messages(text, Carrier.max_segments, "auto")
    segments = sum(count(part, "exact").segments for part in parts)
    return AnswerCost(f"{asked.carrier_id or 'a carrier'} on edge {asked.edge}", "sms",
                      len(parts), segments, 0.0, "", len(parts) == 1)


def preview(store: Store, carriers: Carriers, asked: QuestionRecord, answer: str) -> Preview:
    """How `answer` would reach the learner who asked: the whole text they receive, its
    carrier and cost (none for a learner who sent STOP), and how many characters it must
    lose to fit one message.
    TutoringError for an empty or overlong answer."""
    answer = tidy(answer)
    if not answer:
        raise TutoringError("Write an answer first.")
    if len(answer) > MAX_ANSWER_CHARS:
        raise TutoringError(f"An answer is at most {MAX_ANSWER_CHARS} characters.")
    learner = store.learner(asked.phone)
    # A learner who sent STOP gets no message (the worker would not send it either).
    carrier = None if learner is not None and learner.stopped \
        else answer_carrier(carriers, asked, learner, store=store)
    text = _sent(learner, answer, asked.locale)
    if carrier is None and not asked.edge:
        if asked.channel != "web":
            raise TutoringError(_unreachable(store, carriers, asked, learner), 409)
        return Preview(text, None, 0)

    def priced(sent: str) -> AnswerCost:
        return answer_cost(carrier, sent) if carrier is not None \
            else _edge_estimate(asked, sent)

    cost = priced(text)
    if cost.fits:
        return Preview(text, cost, 0)
    low, high = 0, len(answer)  # the longest start of the answer that fits
    while low < high:
        middle = (low + high + 1) // 2
        if priced(_sent(learner, answer[:middle], asked.locale)).fits:
            low = middle
        else:
            high = middle - 1
    return Preview(text, cost, len(answer) - low)


def _unreachable(store: Store, carriers: Carriers, asked: QuestionRecord,
                 learner: LearnerRecord | None) -> str:
    """Why no message can carry an answer to `asked`: for the tutor, saying what to do."""
    if learner is not None and learner.stopped:
        return "This learner sent STOP: no message reaches them. Close the question instead."
    asked_through = carriers.get(asked.carrier_id)
    if asked_through is not None and window_closed(store, asked_through, asked.phone):
        return ("This learner last wrote on WhatsApp more than 24 hours ago, when WhatsApp "
                f"takes no free-form message, and carrier {asked.carrier_id!r} has no "
                "fallback_carrier for SMS: nothing can be sent. Close the question, or "
                "answer once they write again.")
    return (f"No configured carrier reaches this learner (question {asked.id} came by "
            f"{asked.channel} through {asked.carrier_id!r}): nothing can be sent.")


def _may_act(store: Store, asked: QuestionRecord, actor: StaffAccount, doing: str) -> None:
    """Refuse (409) acting on a question no longer open, or held by another tutor (an
    administrator may)."""
    if asked.status == questions.ANSWERED:
        who = _account(store, asked.answered_by)
        raise TutoringError(f"Question {asked.id} was already answered"
                            f"{' by ' + who.name if who else ''}: nothing was {doing}.", 409)
    if asked.status != questions.OPEN:
        raise TutoringError(f"Question {asked.id} is closed: nothing was {doing}.", 409)
    if asked.claimed_by not in (None, actor.id) and not actor.has_role(ADMIN):
        holder = _account(store, asked.claimed_by)
        raise TutoringError(
            f"{holder.name if holder else 'Another tutor'} holds question {asked.id}: "
            f"they or an administrator may reassign it. Nothing was {doing}.", 409)


def answer_question(store: Store, carriers: Carriers, question_id: int, actor: StaffAccount,
                    answer: str, *, address: str | None = None,
                    relay: Relay | None = None) -> Preview:
    """Answer a learner's question: in one write transaction, check it is open and not
    held by another tutor, that the answer as the learner receives it fits one message
    within the carrier's `max_segments`, mark it answered (answer, by whom, when), queue
    the answer on the channel it was asked on (gateway/outbox/answers.py: a USSD question
    by SMS; a web question through the learner's carrier, if they have one, and on their
    /ask page) and record it in the staff audit. A question asked on an edge (a copy on
    the hub) is answered through `relay` instead (gateway/hub/questions.py relay_answer:
    the edge that asked sends it). Returns what was sent; TutoringError (nothing sent,
    nothing changed) otherwise: an answer sent twice is refused."""
    with store.write():
        asked = question(store, question_id)
        _may_act(store, asked, actor, "sent")
        sent = preview(store, carriers, asked, answer)
        if not sent.fits:
            raise TutoringError(
                f"This answer does not fit in one message: make it {sent.over_by} "
                f"character{'s' if sent.over_by != 1 else ''} shorter.")
        if asked.edge:
            _relay(asked, sent.text, tidy(answer), actor, relay)
        else:
            if not questions.mark_answered(store, asked.id, tidy(answer), actor.id):
                raise TutoringError(f"Question {asked.id} was answered or closed "
                                    "meanwhile: nothing was sent.", 409)
            if sent.cost is not None:
                carrier = carriers.get(sent.cost.carrier_id)
                assert carrier is not None
                queue_answer(store, carrier, asked.phone, sent.text)
        accounts.audit(store, ANSWERED, actor=actor.username, subject=f"question {asked.id}",
                       address=address)
    # Never the question's or the answer's text: they are learner data.
    log.info("question %d answered by %s, %s", asked.id, actor.username,
             f"through {sent.cost.carrier_id}" if sent.cost else "on the web only")
    return sent


def _relay(asked: QuestionRecord, text: str, answer: str, actor: StaffAccount,
           relay: Relay | None) -> None:
    """Hand the answer to an edge's question to the hub's relay, inside the caller's
    transaction; TutoringError when there is no relay here or the copy was settled."""
    if relay is None:
        raise TutoringError(f"Question {asked.id} was asked on edge {asked.edge}: it is "
                            "answered from the hub's inbox.", 409)
    try:
        relayed = relay.answer(asked, text, answer, actor)
    except ValueError as refused:
        raise TutoringError(f"The hub refused this answer: {refused}.") from None
    if not relayed:
        raise TutoringError(f"Question {asked.id} was answered or closed meanwhile: "
                            "nothing was sent.", 409)


def claim(store: Store, question_id: int, actor: StaffAccount, *,
          address: str | None = None) -> None:
    """The actor holds an open question (others see who does); TutoringError (409) if
    it is answered, closed or held by someone else."""
    with store.write():
        asked = question(store, question_id)
        if asked.claimed_by not in (None, actor.id):
            holder = _account(store, asked.claimed_by)
            raise TutoringError(
                f"{holder.name if holder else 'Another tutor'} already holds question "
                f"{asked.id}: they or an administrator may reassign it.", 409)
        _may_act(store, asked, actor, "claimed")
        questions.hold(store, asked.id, actor.id)
        accounts.audit(store, CLAIMED, actor=actor.username, subject=f"question {asked.id}",
                       address=address)


def reassign(store: Store, question_id: int, actor: StaffAccount, to_username: str, *,
             address: str | None = None) -> StaffAccount:
    """Give an open question to another staff account to hold; the account. TutoringError
    for an unknown account, or (409) a question answered, closed or held by someone else
    (its holder or an administrator may reassign it)."""
    with store.write():
        asked = question(store, question_id)
        _may_act(store, asked, actor, "reassigned")
        to = accounts.find(store, to_username.strip()) if len(to_username) <= 200 else None
        if to is None or not (to.has_role(TUTOR) or to.has_role(ADMIN)):
            raise TutoringError(f"There is no tutor {to_username!r}.")
        questions.hold(store, asked.id, to.id)
        accounts.audit(store, REASSIGNED, actor=actor.username,
                       subject=f"question {asked.id} to {to.username}", address=address)
    return to


def close(store: Store, question_id: int, actor: StaffAccount, *,
          address: str | None = None, relay: Relay | None = None) -> None:
    """Close an open question without an answer (nothing is sent; an edge's question
    through `relay`, which closes it on the edge too); TutoringError (409) if it is
    answered, closed or held by someone else."""
    with store.write():
        asked = question(store, question_id)
        _may_act(store, asked, actor, "closed")
        if asked.edge and relay is None:
            raise TutoringError(f"Question {asked.id} was asked on edge {asked.edge}: it "
                                "is closed from the hub's inbox.", 409)
        if not (relay.close(asked, actor) if asked.edge
                else questions.mark_closed(store, asked.id, actor.id)):
            raise TutoringError(f"Question {asked.id} was answered or closed meanwhile.", 409)
        accounts.audit(store, CLOSED, actor=actor.username, subject=f"question {asked.id}",
                       address=address)


def _reply_fields(title: str, text: str) -> tuple[str, str]:
    title, text = " ".join(title.split()), tidy(text)
    if not title or len(title) > MAX_TITLE_CHARS:
        raise TutoringError(f"A saved reply's title is 1 to {MAX_TITLE_CHARS} characters.")
    if not text or len(text) > MAX_ANSWER_CHARS:
        raise TutoringError(f"A saved reply's text is 1 to {MAX_ANSWER_CHARS} characters.")
    return title, text


def save_reply(store: Store, course_id: str, lesson_id: str, title: str, text: str,
               actor: StaffAccount, *, address: str | None = None) -> int:
    """Keep a new saved reply for a lesson of a loaded course; its id. TutoringError for
    an unknown lesson or an empty or long title or text."""
    course = store.course(course_id)
    if course is None or lesson_id not in course.lesson_ids:
        raise TutoringError("Choose a lesson of a loaded course.")
    title, text = _reply_fields(title, text)
    with store.write():
        reply_id = saved_replies.add(store, course_id, lesson_id, title, text, actor.id)
        accounts.audit(store, REPLY_SAVED, actor=actor.username,
                       subject=f"saved reply {reply_id} ({course_id}/{lesson_id})",
                       address=address)
    return reply_id


def change_reply(store: Store, reply_id: int, title: str, text: str, actor: StaffAccount,
                 *, address: str | None = None) -> None:
    """Change a saved reply; TutoringError (404) if there is none, or for bad fields."""
    title, text = _reply_fields(title, text)
    with store.write():
        if not saved_replies.update(store, reply_id, title, text, actor.id):
            raise TutoringError(f"There is no saved reply {reply_id}.", 404)
        accounts.audit(store, REPLY_CHANGED, actor=actor.username,
                       subject=f"saved reply {reply_id}", address=address)


def delete_reply(store: Store, reply_id: int, actor: StaffAccount, *,
                 address: str | None = None) -> None:
    """Delete a saved reply; TutoringError (404) if there is none."""
    with store.write():
        if not saved_replies.delete(store, reply_id):
            raise TutoringError(f"There is no saved reply {reply_id}.", 404)
        accounts.audit(store, REPLY_DELETED, actor=actor.username,
                       subject=f"saved reply {reply_id}", address=address)


def replies_for(store: Store, asked: QuestionRecord) -> list[SavedReply]:
    """The saved replies of the lesson the learner asked from."""
    return saved_replies.of_lesson(store, asked.course_id, asked.lesson_id)
