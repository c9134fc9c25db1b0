"""The tutors' inbox at /admin/inbox: learners' open questions oldest first, a question's
page with the learner's context (claim, answer with a cost preview, reassign, close),
and saved replies per lesson at /admin/replies. Lite pages without JavaScript, as the
learner's web: a tutor's cheap phone is enough. The rules are gateway/ops/tutoring.py's;
these routes join the dashboard's blueprint, so its gate (sign-in, roles, CSRF) holds:
any staff account opens them (ACCESS: tutor; administrators may open every page).

Answering takes two steps: "Check cost" shows the text the learner receives (worded in
their language), its carrier, segments and price, or how many characters too long it is;
only then does a "Send" button post the same text. A saved reply is inserted by a button
that posts the answer form and renders it again with the reply's text added, to edit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, g, redirect, request, url_for

from gateway.hub.questions import relay_answer, relay_close
from gateway.hub.routes import request_hub
from gateway.ops import reports, staff, staff_web, tutoring
from gateway.ops.dashboard import ACCESS, _page, blueprint
from gateway.server.whole_numbers import whole_number
from gateway.store import Store, questions, saved_replies
from gateway.store import staff as accounts
from gateway.store.per_thread import get_store
from gateway.store.programs import program_of_course
from gateway.store.questions import QuestionRecord
from gateway.store.staff import StaffAccount

INBOX_ROWS = 100  # open questions listed, oldest first
ENDPOINTS = ("admin.inbox", "admin.question", "admin.claim", "admin.answer",
             "admin.reassign", "admin.close", "admin.replies", "admin.add_reply",
             "admin.edit_reply", "admin.delete_reply")
ACCESS.update(dict.fromkeys(ENDPOINTS, staff.TUTOR))


def _carriers():
    return current_app.extensions["learnline.carriers"]


def _actor():
    """The staff account acting; 403 when the browser signed in with the dashboard's
    token or a script sends it (actions are recorded against an account)."""
    if g.staff is None:
        abort(403, description="Sign in with a staff account to act on questions.")
    return g.staff


def _when(at: float | None) -> str:
    if not at:
        return ""
    try:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):  # a moment an edge's bad clock gave
        return "(unknown date)"


def _age(at: float) -> str:
    minutes = max(0, int(get_store().clock() - at) // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


@blueprint.get("/inbox")
def inbox():
    """Every open question, oldest first, with who asked (masked), how, in which
    language and lesson, and who holds it."""
    store = get_store()
    mine = _programs()
    shown = []
    for asked in questions.open_questions(store, INBOX_ROWS, mine):
        shown.append(tutoring.context(store, asked, mine))
    return _page("admin_inbox.html", shown=shown, total=questions.open_count(store, mine),
                 age=_age)


def _programs() -> set[str] | None:
    """The programs whose questions the asker may see (None: every question)."""
    return g.staff.programs() if g.staff is not None else None


@blueprint.before_request
def _only_programs_questions() -> None:
    """After the dashboard's gate: 404, as for a question that does not exist, for a
    question of a program the signed-in account does not serve (docs/programs.md)."""
    values = request.view_args
    if request.endpoint not in ENDPOINTS or not values:
        return
    mine = _programs()
    if mine is None:
        return
    if "question_id" in values:
        asked = questions.get(get_store(), values["question_id"])
        if asked is not None and asked.program not in mine:
            abort(404)
    if "reply_id" in values:  # a saved reply belongs to its course's program
        reply = saved_replies.get(get_store(), values["reply_id"])
        if reply is not None and not _serves(reply.course_id):
            abort(404)


def _serves(course_id: str) -> bool:
    """Whether the signed-in account serves the program of course `course_id` (every
    course for an account of the whole gateway; none of no program for a program's)."""
    mine = _programs()
    return mine is None or program_of_course(get_store(), course_id) in mine


def _question_page(question_id: int, *, status: int = 200, answer: str = "",
                   error: str = "", preview: tutoring.Preview | None = None,
                   said: str = ""):
    store = get_store()
    try:
        asked = tutoring.question(store, question_id)
    except tutoring.TutoringError:
        abort(404)
    tutors = [account for account in accounts.every(store)
              if account.has_role(staff.TUTOR) or account.has_role(staff.ADMIN)]
    return _page("admin_question.html", status=status,
                 c=tutoring.context(store, asked, _programs()),
                 replies=tutoring.replies_for(store, asked), tutors=tutors, answer=answer,
                 error=error, preview=preview, said=said, when=_when, age=_age,
                 money=reports.money)


@blueprint.get("/inbox/<int:question_id>")
def question(question_id: int):
    """One question: the learner's context, their earlier questions and answers, and
    (while it is open) the forms to claim, answer, reassign and close it."""
    said = {"claimed": "You hold this question.", "reassigned": "Reassigned.",
            "closed": "Closed without an answer.", "sent": "Answer sent."
            }.get(request.args.get("done", ""), "")
    return _question_page(question_id, said=said)


def _done(question_id: int, what: str):
    return redirect(url_for("admin.question", question_id=question_id, done=what), 303)


@blueprint.post("/inbox/<int:question_id>/claim")
def claim(question_id: int):
    """Hold the question (others still see it, and who holds it)."""
    try:
        tutoring.claim(get_store(), question_id, _actor(), address=staff_web.address())
    except tutoring.TutoringError as refused:
        return _refused(question_id, refused)
    return _done(question_id, "claimed")


@blueprint.post("/inbox/<int:question_id>/answer")
def answer(question_id: int):
    """The answer form posted: with `insert`, rendered again with that saved reply's
    text added; with `send=yes`, the answer sent (tutoring.answer_question); else its
    cost previewed, with a Send button when it fits in one message."""
    store = get_store()
    text = request.form.get("answer", "")[:tutoring.MAX_ANSWER_CHARS * 2]
    actor = _actor()
    insert = request.form.get("insert", "")
    if insert:
        reply_id = whole_number(insert)
        reply = saved_replies.get(store, reply_id) if reply_id is not None else None
        if reply is None or not _serves(reply.course_id):  # another program's: as gone
            return _question_page(question_id, status=422, answer=text,
                                  error="That saved reply is gone; choose another.")
        text = tutoring.tidy(text)
        return _question_page(question_id, answer=f"{text}\n{reply.text}" if text
                              else reply.text)
    try:
        if request.form.get("send") == "yes":
            tutoring.answer_question(store, _carriers(), question_id, actor, text,
                                     address=staff_web.address(), relay=_relay())
            return _done(question_id, "sent")
        asked = tutoring.question(store, question_id)
        previewed = tutoring.preview(store, _carriers(), asked, text)
    except tutoring.TutoringError as refused:
        return _refused(question_id, refused, answer=text)
    if not previewed.fits:
        return _question_page(
            question_id, status=422, answer=text, preview=previewed,
            error=f"This answer does not fit in one message: make it {previewed.over_by} "
                  f"character{'s' if previewed.over_by != 1 else ''} shorter.")
    return _question_page(question_id, answer=tutoring.tidy(text), preview=previewed)


@blueprint.post("/inbox/<int:question_id>/reassign")
def reassign(question_id: int):
    """Give the question to another tutor to hold."""
    try:
        tutoring.reassign(get_store(), question_id, _actor(), request.form.get("to", ""),
                          address=staff_web.address())
    except tutoring.TutoringError as refused:
        return _refused(question_id, refused)
    return _done(question_id, "reassigned")


@blueprint.post("/inbox/<int:question_id>/close")
def close(question_id: int):
    """Close the question without an answer (nothing is sent to the learner)."""
    try:
        tutoring.close(get_store(), question_id, _actor(), address=staff_web.address(),
                       relay=_relay())
    except tutoring.TutoringError as refused:
        return _refused(question_id, refused)
    return _done(question_id, "closed")


def _refused(question_id: int, refused: tutoring.TutoringError, answer: str = ""):
    if refused.status == 404:
        abort(404)
    return _question_page(question_id, status=refused.status if refused.status != 400
                          else 422, answer=answer, error=str(refused))


# -- saved replies ---------------------------------------------------------------------------


def _replies_page(status: int = 200, error: str = "", said: str = ""):
    store = get_store()
    lessons = [(course, lesson_id, _lesson_title(course, lesson_id))
               for course in store.courses() if _serves(course.id)
               for lesson_id in course.lesson_ids]
    titles = {(course.id, lesson_id): f"{course.title_in(course.default_locale)}: {title}"
              for course, lesson_id, title in lessons}
    return _page("admin_replies.html", status=status,
                 replies=[r for r in saved_replies.every(store) if _serves(r.course_id)],
                 lessons=lessons, titles=titles, error=error, said=said)


def _lesson_title(course, lesson_id: str) -> str:
    lesson = get_store().lesson(course.id, lesson_id, course.default_locale)
    return lesson.title if lesson else lesson_id


@blueprint.get("/replies")
def replies():
    """Every saved reply by lesson, each to edit or delete, and a form to add one."""
    said = {"added": "Saved reply added.", "changed": "Saved reply changed.",
            "deleted": "Saved reply deleted."}.get(request.args.get("done", ""), "")
    return _replies_page(said=said)


def _replies_done(what: str):
    return redirect(url_for("admin.replies", done=what), 303)


def _replies_refused(refused: tutoring.TutoringError):
    if refused.status == 404:
        abort(404)
    return _replies_page(status=422, error=str(refused))


@blueprint.post("/replies")
def add_reply():
    """Add a saved reply for a lesson (`lesson`: "course/lesson")."""
    course_id, _, lesson_id = request.form.get("lesson", "").partition("/")
    if course_id and not _serves(course_id):  # as a course that is not loaded
        return _replies_page(status=422, error="Choose a lesson of a loaded course.")
    try:
        tutoring.save_reply(get_store(), course_id, lesson_id, request.form.get("title", ""),
                            request.form.get("text", ""), _actor(),
                            address=staff_web.address())
    except tutoring.TutoringError as refused:
        return _replies_refused(refused)
    return _replies_done("added")


@blueprint.post("/replies/<int:reply_id>")
def edit_reply(reply_id: int):
    """Change a saved reply's title and text."""
    try:
        tutoring.change_reply(get_store(), reply_id, request.form.get("title", ""),
                              request.form.get("text", ""), _actor(),
                              address=staff_web.address())
    except tutoring.TutoringError as refused:
        return _replies_refused(refused)
    return _replies_done("changed")


@blueprint.post("/replies/<int:reply_id>/delete")
def delete_reply(reply_id: int):
    """Delete a saved reply."""
    try:
        tutoring.delete_reply(get_store(), reply_id, _actor(), address=staff_web.address())
    except tutoring.TutoringError as refused:
        return _replies_refused(refused)
    return _replies_done("deleted")


def _relay() -> tutoring.Relay | None:
    """On a hub, the way an answer to (or the close of) an edge's question goes: to the
    edge that asked (docs/sync.md, Questions); elsewhere none."""
    if current_app.config.get("ROLE") != "hub":
        return None
    return _HubRelay(get_store())


class _HubRelay:
    """tutoring.Relay on this request's hub store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def answer(self, asked: QuestionRecord, text: str, answer: str,
               actor: StaffAccount) -> bool:
        """Relay the answer to the edge that asked."""
        return relay_answer(request_hub(), self.store, asked.id, text, actor.id,
                            answer=answer)

    def close(self, asked: QuestionRecord, actor: StaffAccount) -> bool:
        """Relay the close to the edge that asked."""
        return relay_close(request_hub(), self.store, asked.id, actor.id)
