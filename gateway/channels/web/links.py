"""Lessons by link: `/l?k=<token>`, the page a lesson link sent by SMS opens.

The link is the learner's credential for one lesson (a session of kind LESSON kept on the
server, gateway/store/web_sessions.py): no sign-in, no cookie. One page carries the
lesson's cards and its quiz, posted back to the same address; the results follow, with
a link to the next lesson. Every request checks the link anew: unknown, tampered, expired,
ended (STOP, lessons back in full by SMS) or its learner no longer taking lessons by link,
and the answer is one clear page that shows nothing of any learner. The token travels in
the query string, which access logs leave out; this module logs its first characters only.

Forms here carry no CSRF token: the token in the address is the secret a forged post
would need, and no cookie gives a post any authority.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, g, render_template, request
from markupsafe import Markup

from gateway.channels.visits import learner_acted
from gateway.channels.vocabulary import command_words
from gateway.channels.web import http
from gateway.channels.web.bidi import lang_attributes
from gateway.channels.web.pages import count_lesson_bytes
from gateway.content.model import Course, Lesson
from gateway.i18n import available_locales, text_direction
from gateway.learning import Engine
from gateway.learning.certificates import format_code
from gateway.learning.replies import CourseDone
from gateway.learning.timing import Pacing
from gateway.server.whole_numbers import whole_number
from gateway.store import LearnerRecord, Store, web_sessions
from gateway.store.per_thread import get_store
from gateway.urls import lesson_link_path

log = logging.getLogger(__name__)
blueprint = Blueprint("links", __name__, template_folder="templates")
blueprint.after_request(count_lesson_bytes)  # registered first: runs after compression
blueprint.after_request(http.finish)


@blueprint.before_request
def read_the_form_first() -> None:
    """Read a posted form before anything else, as every page does: a body over the size
    limit is refused (413) whatever the link says."""
    if request.method == "POST":
        request.form  # noqa: B018  (parsing it is the point)


def init_app(app: Flask) -> None:
    """Register the lesson-link page."""
    app.register_blueprint(blueprint)


@dataclass(frozen=True)
class _Link:
    """A lesson link that opens: whose, and which lesson."""

    token: str
    learner: LearnerRecord
    course: Course
    position: int
    lesson: Lesson


def _open(store: Store, token: str) -> _Link | str:
    """The lesson a link opens now, or why it does not (for the log)."""
    found = web_sessions.find(store, token, web_sessions.LESSON)
    if found is None or not found.phone or not found.mark:
        return "unknown or expired"
    learner = store.learner(found.phone)
    if learner is None or (learner.created_at or 0) > found.started_at:
        return "no such learner"
    if learner.stopped:
        return "learner stopped"
    if learner.delivery != "link":
        return "lessons not by link"
    course_id, _, lesson_id = found.mark.partition("/")
    at = Engine(store).lesson_at(course_id, lesson_id, learner.locale)
    if at is None:
        return "lesson gone"
    return _Link(token, learner, *at)


def _page(template: str, status: int = 200, **context: Any):
    return render_template(template, css=Markup(http.CSS), locale=g.locale,
                           direction=text_direction(g.locale),
                           lang_attributes=lang_attributes, **context), status


def _refused(token: str, reason: str):
    """One clear page, the same whatever the reason, in the reader's language."""
    log.info("lesson link refused (%s): %s...", reason, token[:4])
    g.locale = request.accept_languages.best_match(available_locales(),
                                                   default=available_locales()[0])
    words = command_words(g.locale)
    return _page("link_refused.html", status=403, link_word=words["link"])


def _answers(lesson: Lesson) -> dict[int, int]:
    """The options chosen in the posted form, question number to option number."""
    answers = {}
    for number, question in enumerate(lesson.questions):
        chosen = whole_number(request.form.get(f"q{number}", ""))
        if chosen is not None and chosen < len(question.options):
            answers[number] = chosen
    return answers


@blueprint.route("/l", methods=["GET", "POST"])
def lesson_link():
    """The lesson a link opens, cards then quiz; posted, the quiz is kept as on every
    channel (the learner's progress moves on) and the results follow."""
    token = request.args.get("k", "")
    store = get_store()
    link = _open(store, token)
    if isinstance(link, str):
        return _refused(token, link)
    g.locale = link.learner.locale
    course, position, lesson = link.course, link.position, link.lesson
    g.lesson_read = (link.learner, {"course_id": course.id, "lesson_id": lesson.id})
    context = {"course_title": course.title_in(g.locale), "lesson": lesson,
               "number": position + 1, "count": len(course.lesson_ids),
               "next_word": command_words(g.locale)["next"]}
    if request.method == "GET":
        return _page("linked.html", **context)
    retry = request.form.get("retry") == "1"
    answers = _answers(lesson)
    if not retry and len(answers) < len(lesson.questions):
        missing = [n + 1 for n in range(len(lesson.questions)) if n not in answers]
        return _page("linked.html", status=400, missing=missing, answers=answers, **context)
    engine = Engine(store, caller_saves_learner=True, channel="web")
    following = None
    with store.write():
        link = _open(store, token)  # again, inside the transaction: a STOP may be in
        if isinstance(link, str):
            return _refused(token, link)
        learner = link.learner
        submitted = engine.submit_quiz(learner, course, position, answers,
                                       first_try=not retry)
        graded, replies = submitted.graded, submitted.replies
        # A lesson scored already is not scored again: this try was a retry, and the
        # link to the next lesson was given with the try that scored it.
        repeated, retry = not retry and not submitted.scored, not submitted.scored
        carrier = current_app.extensions["learnline.carriers"].get(learner.carrier_id)
        learner_acted(engine, learner, "web", carrier.pacing if carrier else Pacing())
        next_lesson, skipped = submitted.going_on(course, position)
        if next_lesson is not None:
            following = lesson_link_path(web_sessions.start_lesson_link(
                store, learner.phone, course.id, next_lesson))
    course_done = next((r for r in replies if isinstance(r, CourseDone)), None)
    return _page("linked_results.html", graded=graded, retry=retry, following=following,
                 repeated=repeated, skipped=skipped, course_done=course_done,
                 certificate=format_code(course_done.certificate)
                 if course_done and course_done.certificate else None, **context)
