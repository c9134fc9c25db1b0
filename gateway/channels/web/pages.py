"""The lite pages: catalogue, course, lesson, quiz, progress, sign in, language, help.

Every page works without JavaScript, CSS or images, and is small enough to arrive in
one round trip. Anonymous learners keep their quiz results in the signed session
cookie; signing in with the phone makes them the same learner as on SMS and USSD.
A sign-in is a session kept on the server (gateway/store/web_sessions.py): the cookie
holds only its token, never the number, and signing out ends it for every copy of the
cookie. No GET changes anything: switching language and marking a lesson read (its
quiz button) are forms posted with the CSRF token. (A signed-in learner's lesson pages
do write one thing, their bytes toward the lesson's cost: `count_lesson_bytes`.)
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from collections.abc import Collection
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from babel.lists import format_list
from babel.numbers import format_percent
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup

from carrier_adapters import ADAPTERS
from gateway import programs
from gateway.channels.visits import learner_acted
from gateway.channels.vocabulary import command_words
from gateway.channels.web import badges, http, signin
from gateway.channels.web.bidi import isolate, isolate_phones, lang_attributes, left_to_right
from gateway.channels.web.typography import keep_numbers_whole, whole
from gateway.channels.wording import Wording
from gateway.i18n import (
    available_locales,
    language_name,
    normalize_locale,
    text_direction,
    translations,
)
from gateway.learning import Engine, asking, intents
from gateway.learning import badges as open_badges
from gateway.learning.certificates import format_code, normalize_code
from gateway.learning.replies import CourseDone, Joined, QuestionReceived
from gateway.learning.timing import Pacing
from gateway.phones import InvalidPhoneNumber, masked, to_e164
from gateway.server import forwarded
from gateway.server.whole_numbers import whole_number
from gateway.store import LearnerRecord, web_sessions
from gateway.store import programs as members
from gateway.store.per_thread import get_store

log = logging.getLogger(__name__)
blueprint = Blueprint("web", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    """Register the pages, their templates' gettext, and the session cookie rules."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.trim_blocks = True  # every byte counts on 2G
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations(g.locale).gettext(message),
        lambda singular, plural, n: translations(g.locale).ngettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.filters.update(bdi=isolate, ltr=left_to_right, phones=isolate_phones,
                                 numbers=keep_numbers_whole, whole=whole)
    app.config["SESSION_COOKIE_NAME"] = "learnline"  # Flask's own default is "session"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=signin.SIGNED_IN_DAYS)
    # The cookie is sent again only when the session changes, not with every page: its
    # bytes count on 2G. The sign-in's own time (`since`) bounds it, not the cookie's.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.session_interface = _SessionInterface()
    app.before_request(forget_old_cookie_keys)
    carriers = app.extensions.get("learnline.carriers")
    if carriers is not None and not signin.available(carriers):
        log.warning(signin.NO_COUNTRY_WARNING.format(
            where=carriers.path or "the carriers file"))
    app.register_blueprint(blueprint)


# What cookies written before sessions lived on the server carried: the number itself.
OLD_COOKIE_KEYS = ("phone", "since", "signin_phone")


def forget_old_cookie_keys() -> None:
    """Drop from the session what earlier releases kept in the cookie (the learner's
    number), so the cookie is written again without it on this response."""
    for key in OLD_COOKIE_KEYS:
        if key in session:
            session.pop(key)


class _SessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, `Secure` whenever the page was served over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or bool(app.config.get("SESSION_COOKIE_SECURE"))


# -- request context ---------------------------------------------------------------------------


@blueprint.before_request
def choose_language() -> None:
    """The page language: the learner's choice, else their browser's, else English."""
    chosen = session.get("lang")
    if chosen not in available_locales():
        learner = current_learner()
        chosen = learner.locale if learner else request.accept_languages.best_match(
            available_locales(), default=available_locales()[0])
    g.locale = chosen


# Pages whose bytes count toward their lesson's cost (docs/operations.md).
LESSON_PAGES = ("web.lesson", "web.quiz")


def count_lesson_bytes(response):
    """A lesson or quiz page read by a known learner counts its bytes as sent (status line,
    headers and compressed body, as the server wrote them) toward that lesson, on the
    learner's carrier: a signed-in learner's lesson and quiz pages, and a lesson link's
    page (which names its learner and lesson in `g.lesson_read`). Registered before the
    blueprint's `http.finish`, so it runs after compression."""
    if response.status_code == 404 or response.direct_passthrough:
        return response
    if "lesson_read" in g:
        learner, args = g.lesson_read
    elif request.endpoint in LESSON_PAGES:
        learner, args = current_learner(), request.view_args or {}
    else:
        return response
    if learner is None:
        return response
    sent = len(response.get_data()) + len(f"HTTP/1.1 {response.status}\r\n\r\n") + sum(
        len(name) + len(value) + 4 for name, value in response.headers.items())
    store = get_store()
    try:
        with store.write():
            store.add_lesson_cost(learner.phone, args["course_id"], args["lesson_id"],
                                  learner.carrier_id, web_bytes=sent)
    except sqlite3.OperationalError:  # busy: the page matters more than its count
        log.warning("bytes of a lesson page not counted: database busy", exc_info=True)
    return response


blueprint.after_request(count_lesson_bytes)
http.install(blueprint)  # after the language: error pages are worded too


def current_learner() -> LearnerRecord | None:
    """The signed-in learner, or None (and a sign-in that no longer holds is forgotten)."""
    if not session.get("sid"):
        return None
    if "learner" not in g:
        g.learner = _signed_in_learner()
    return g.learner


def _signed_in_learner() -> LearnerRecord | None:
    """The number's learner as stored now, if this browser's sign-in still holds for them
    (signin.still_signed_in); otherwise None, and the browser is signed out."""
    store = get_store()
    signed = web_sessions.find(store, session.get("sid"), web_sessions.LEARNER)
    learner = store.learner(signed.phone) if signed and signed.phone else None
    if signed and signin.still_signed_in(learner, signed.started_at, store.clock()):
        return learner
    session.pop("sid", None)
    return None


def page(template: str, status: int = 200, **context: Any):
    """Render a page with what every page needs."""
    learner = current_learner()
    return render_template(
        template,
        css=Markup(http.CSS),
        locale=g.locale,
        direction=text_direction(g.locale),
        languages=[(code, language_name(code), text_direction(code))
                   for code in available_locales()],
        lang_attributes=lang_attributes,
        learner=learner,
        masked_phone=masked(learner.phone) if learner else None,
        # No SMS carrier to send a code through: no page invites to sign in.
        signin_on=signin.available(current_app.extensions["learnline.carriers"]),
        csrf=http.csrf_token,
        here=request.full_path.rstrip("?"),
        **context,
    ), status


def _anonymous_results(course_id: str) -> dict[str, tuple[int, int]]:
    stored = session.get("results", {}).get(course_id, {})
    return {lesson_id: (int(v[0]), int(v[1])) for lesson_id, v in stored.items()}


def _engine() -> Engine:
    return Engine(get_store(), channel="web")


def _learner_now() -> LearnerRecord | None:
    """Inside the caller's write transaction: the signed-in learner as stored now, and the
    learner the page shows from then on. The copy the page read first may be older (a
    STOP texted since), and saving that copy would undo what came in between. None when
    no learner is stored for the number any more (erased): the page goes on anonymous."""
    g.learner = _signed_in_learner() if session.get("sid") else None
    return g.learner


def _studied(engine: Engine, learner: LearnerRecord) -> None:
    """A signed-in learner studied here, inside the caller's write transaction: counted
    active on the web today, and seen (reminders by SMS start again from now), as a
    message or a USSD screen would, paced as the scheduler paces them: by their carrier.
    The one save of the learner (`engine` leaves it to the caller)."""
    carrier = current_app.extensions["learnline.carriers"].get(learner.carrier_id)
    learner_acted(engine, learner, "web", carrier.pacing if carrier else Pacing())


# -- pages ---------------------------------------------------------------------------------------


def _only_visible(engine: Engine, course_id: str) -> None:
    """404, as for a course that does not exist, when the reader may not see the course:
    one of a program they do not belong to (docs/programs.md)."""
    if not any(course.id == course_id for course in engine.courses_for(current_learner())):
        abort(404)


@blueprint.get("/")
def catalogue():
    """Every course, with the learner's progress in each."""
    engine = _engine()
    learner = current_learner()
    outlines = [
        engine.outline(course.id, g.locale, learner, _anonymous_results(course.id))
        for course in engine.courses_for(learner)
    ]
    return page("catalogue.html", outlines=outlines)


@blueprint.get("/courses/<course_id>")
def course(course_id: str):
    """A course's lessons and where the learner stands in each."""
    engine = _engine()
    _only_visible(engine, course_id)
    outline = engine.outline(course_id, g.locale, current_learner(),
                             _anonymous_results(course_id))
    if outline is None:
        abort(404)
    return page("course.html", outline=outline)


@blueprint.route("/courses/<course_id>/<lesson_id>", methods=["GET", "POST"])
def lesson(course_id: str, lesson_id: str):
    """A whole lesson: every card, then the way to its quiz. Reading it changes nothing;
    posted (its quiz button), a signed-in learner has read it: on every channel, what
    comes next is its quiz; then on to the quiz."""
    engine = _engine()
    _only_visible(engine, course_id)
    found = engine.lesson_at(course_id, lesson_id, g.locale)
    if found is None:
        abort(404)
    course_, position, lesson_ = found
    if request.method == "POST":
        if current_learner() is not None:
            engine = Engine(engine.store, caller_saves_learner=True, channel="web")
            with engine.store.write():
                learner = _learner_now()
                if learner is not None:
                    engine.read_lesson(learner, course_, position)
                    _studied(engine, learner)
        return redirect(url_for("web.quiz", course_id=course_id, lesson_id=lesson_id), 303)
    return page("lesson.html", course=course_, course_title=course_.title_in(g.locale),
                lesson=lesson_, number=position + 1, count=len(course_.lesson_ids))


@blueprint.route("/courses/<course_id>/<lesson_id>/quiz", methods=["GET", "POST"])
def quiz(course_id: str, lesson_id: str):
    """The quiz as a form; posted, each question's result and why."""
    engine = _engine()
    _only_visible(engine, course_id)
    found = engine.lesson_at(course_id, lesson_id, g.locale)
    if found is None:
        abort(404)
    course_, position, lesson_ = found
    context = {"course": course_, "course_title": course_.title_in(g.locale),
               "lesson": lesson_, "number": position + 1, "count": len(course_.lesson_ids)}
    if request.method == "GET":
        return page("quiz.html", **context)
    retry = request.form.get("retry") == "1"
    answers = {}
    for number, question in enumerate(lesson_.questions):
        chosen = whole_number(request.form.get(f"q{number}", ""))
        if chosen is not None and chosen < len(question.options):
            answers[number] = chosen
    if not retry and len(answers) < len(lesson_.questions):
        missing = [n + 1 for n in range(len(lesson_.questions)) if n not in answers]
        return page("quiz.html", status=400, missing=missing, answers=answers, **context)
    learner = current_learner()
    following = (course_.lesson_ids[position + 1]
                 if position + 1 < len(course_.lesson_ids) else None)
    skipped = None  # a signed-in learner's first lesson skipped, after the course's last
    repeated = False
    if learner is not None:
        engine = Engine(engine.store, caller_saves_learner=True, channel="web")
        with engine.store.write():
            learner = _learner_now()
            if learner is not None:
                submitted = engine.submit_quiz(learner, course_, position, answers,
                                               first_try=not retry)
                graded, replies = submitted.graded, submitted.replies
                # A lesson scored already is not scored again: this try was a retry.
                repeated, retry = not retry and not submitted.scored, not submitted.scored
                _studied(engine, learner)
                next_lesson, skipped = submitted.going_on(course_, position)
                following = next_lesson or following
    if learner is None:
        graded, replies = engine.grade(lesson_, answers), ()
        kept = session.get("results", {}).get(course_.id, {})
        if not retry and isinstance(kept, dict) and lesson_.id in kept:
            repeated = retry = True  # this browser's first try stands, as a learner's
        if not retry:
            results = session.setdefault("results", {})
            results.setdefault(course_.id, {})[lesson_.id] = [graded.score,
                                                              len(lesson_.questions)]
            session.modified = True
    course_done = next((r for r in replies if isinstance(r, CourseDone)), None)
    return page("results.html", graded=graded, retry=retry, following=following,
                skipped=skipped, repeated=repeated, course_done=course_done,
                certificate=format_code(course_done.certificate)
                if course_done and course_done.certificate else None,
                **context)


@blueprint.get("/progress")
def progress():
    """The learner's progress in every course they started."""
    engine = _engine()
    learner = current_learner()
    outlines = []
    for course_ in engine.courses_for(learner):
        outline = engine.outline(course_.id, g.locale, learner,
                                 _anonymous_results(course_.id))
        if outline and (outline.total or any(lesson.done or (
                learner and lesson.current) for lesson in outline.lessons)):
            outlines.append(outline)
    held = engine.certificates_of(learner) if learner else []
    waiting = engine.open_questions(learner) if learner else None
    settings = badges.settings()
    # The badge (its hashed number) is the holder's to give: here only, never on the
    # certificate's public page (see `verify`).
    return page("progress.html", outlines=outlines,
                certificates=[(format_code(c.code), c,
                               settings.assertion_id(c.badge_id)
                               if settings and not c.revoked else None) for c in held],
                waiting=Wording(g.locale).questions_open(waiting) if waiting else None)


def _paced_engine(learner: LearnerRecord) -> Engine:
    """The web's engine paced by the learner's carrier (their zone when their number does
    not tell one)."""
    carrier = current_app.extensions["learnline.carriers"].get(learner.carrier_id)
    return Engine(get_store(), carrier.pacing if carrier else Pacing(), channel="web")


@blueprint.route("/ask", methods=["GET", "POST"])
def ask():
    """A signed-in learner asks the tutors a question: a short form, its receipt (when to
    expect an answer), how many of their questions are open, and their questions newest
    first with where each stands and the answer once given. A browser not signed in is
    sent to sign in, and its post keeps nothing; an empty question is answered with how
    to ask (400)."""
    if current_learner() is None:
        return redirect(url_for("web.sign_in"))
    wording = Wording(g.locale)
    if request.method == "GET":
        engine = _paced_engine(current_learner())
        waiting = engine.open_questions(current_learner())
        return page("ask.html", said=None, refused=False,
                    waiting=wording.questions_open(waiting) if waiting else None,
                    asked=_listed(engine, current_learner(), wording))
    text = request.form.get("question", "")[:asking.MAX_CHARS * 2]
    if not text.strip():
        return page("ask.html", status=400, said=None, refused=True, waiting=None,
                    asked=_listed(_paced_engine(current_learner()), current_learner(),
                                  wording))
    with get_store().write():
        learner = _learner_now()
        if learner is None:
            return redirect(url_for("web.sign_in"))
        engine = _paced_engine(learner)
        replies = engine.handle(learner, intents.Ask(text), interactive=True).replies
        waiting = engine.open_questions(learner)
        asked = _listed(engine, learner, wording)
    [reply] = replies
    if isinstance(reply, QuestionReceived):
        said, refused = wording.question_received(reply), False
    else:  # past the daily limit
        said, refused = wording.ask_limited(reply.details["limit"]), True
    return page("ask.html", status=429 if refused else 200, said=said, refused=refused,
                waiting=wording.questions_open(waiting) if waiting else None, asked=asked)


def _listed(engine: Engine, learner: LearnerRecord, wording: Wording) -> list[tuple]:
    """The learner's questions for the ask page, newest first: (question, where it
    stands)."""
    return [(asked, wording.question_status(asked)) for asked in engine.asked_questions(learner)]


_CHANNELS = ("sms", "whatsapp")


@blueprint.route("/settings", methods=["GET", "POST"])
def settings():
    """A signed-in learner's settings: the channel their daily lessons and reminders come
    by (SMS or WhatsApp, among those their carrier offers). A browser not signed in is
    sent to sign in, and its post changes nothing; a channel the carrier does not offer
    is refused (400) with why."""
    if current_learner() is None:
        return redirect(url_for("web.sign_in"))
    store = get_store()
    carriers = current_app.extensions["learnline.carriers"]

    def engine_for(learner: LearnerRecord) -> Engine:
        carrier = carriers.get(learner.carrier_id)
        return Engine(store, carrier.pacing if carrier else Pacing(), channel="web")

    if request.method == "GET":
        learner = current_learner()
        shown = engine_for(learner).handle(learner, intents.Channel(None),
                                           interactive=True).replies[0]
        return page("settings.html", shown=shown, said=Wording(g.locale).channel_shown(shown))
    choice = request.form.get("channel", "")
    if choice not in _CHANNELS:
        abort(400, description="channel")
    with store.write():
        learner = _learner_now()
        if learner is None:
            return redirect(url_for("web.sign_in"))
        shown = engine_for(learner).handle(learner, intents.Channel(choice),
                                           interactive=True).replies[0]
    return page("settings.html", status=400 if shown.refused else 200, shown=shown,
                said=Wording(g.locale).channel_shown(shown))


@blueprint.route("/join/<program_id>", methods=["GET", "POST"])
def join(program_id: str):
    """A program's web link (docs/programs.md): a browser not signed in is sent to sign in
    and comes back here; a signed-in learner confirms (a form with its CSRF token) and
    joins, starting the program's first course. 404 for a program not configured."""
    program = programs.current().get(program_id)
    if program is None:
        abort(404)
    if current_learner() is None:
        session["joining"] = program.id
        return redirect(url_for("web.sign_in"))
    store = get_store()
    if request.method == "GET":
        return page("join.html", program=program,
                    member=members.is_member(store, program.id, current_learner().phone))
    carriers = current_app.extensions["learnline.carriers"]
    with store.write():
        learner = _learner_now()
        if learner is None:
            return redirect(url_for("web.sign_in"))
        carrier = carriers.get(learner.carrier_id)
        engine = Engine(store, carrier.pacing if carrier else Pacing(), channel="web")
        replies = engine.handle(learner, intents.Join(program.id, "web"),
                                interactive=True).replies
        g.locale = session.get("lang") or learner.locale
    joined = next((reply for reply in replies if isinstance(reply, Joined)), None)
    course_id = learner.current_course if joined and not joined.already else None
    return page("join.html", program=program, member=True, joined=joined,
                course_id=course_id)


@blueprint.get("/help")
def help_page():
    """How to learn here, by SMS and by USSD: the command words, and the numbers to text
    and codes to dial that the carriers file gives; the command that chooses SMS or
    WhatsApp where a carrier offers that choice."""
    carriers = current_app.extensions["learnline.carriers"]
    sms_numbers, ussd_codes = _where_to_reach(carriers)
    channel_choice = any(len(carrier.pacing.channels) > 1 for carrier in carriers)
    return page("help.html", words=command_words(g.locale), sms_numbers=sms_numbers,
                ussd_codes=ussd_codes, channel_choice=channel_choice)


_NUMBER_RE = re.compile(r"\+?[0-9]{3,15}")  # a number or short code, not a sender name


def _country_names(countries: Collection[str]) -> str:
    """The countries (ISO 3166 codes) named in the reader's language, as one list."""
    territories = Locale.parse(g.locale).territories
    return format_list(sorted(territories.get(code, code) for code in countries),
                       locale=g.locale)


def _where_to_reach(carriers) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(country in the reader's language or "", number) for each carrier that takes SMS
    at a number, and (country, code) for each that gives its USSD code; the local console
    carrier is not one a learner reaches."""

    territories = Locale.parse(g.locale).territories
    sms, ussd = [], []
    for carrier in carriers:
        adapter = ADAPTERS.get(carrier.adapter)
        if adapter is None or carrier.adapter == "console":
            continue
        where = territories.get(carrier.country, "") if carrier.country else ""
        if carrier.carries("sms") and _NUMBER_RE.fullmatch(carrier.sender.replace(" ", "")):
            sms.append((where, carrier.sender))
        if carrier.carries("ussd") and carrier.ussd_code:
            ussd.append((where, carrier.ussd_code))
    return list(dict.fromkeys(sms)), list(dict.fromkeys(ussd))


@blueprint.post("/lang")
def language():
    """Switch language (and remember it); back to the page the learner was on."""
    chosen = normalize_locale(request.form.get("lang", ""))
    if chosen is None:
        abort(404)
    session["lang"] = chosen
    if current_learner() is not None:
        engine = _engine()
        with engine.store.write():
            learner = _learner_now()
            if learner is not None and learner.locale != chosen:
                engine.set_language(learner, chosen)  # recorded: it travels to other edges
    return redirect(_safe_next(request.form.get("next")), 303)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or \
            not target.isprintable() or "\\" in target or urlsplit(target).netloc:
        return url_for("web.catalogue")
    return target


# -- sign in ----------------------------------------------------------------------------------


def _secret() -> bytes:
    key = current_app.secret_key
    return key.encode() if isinstance(key, str) else key


@blueprint.route("/signin", methods=["GET", "POST"])
def sign_in():
    """Ask for the phone number; send a code unless a limit says no. With no SMS
    carrier naming its country, say that sign-in by code is not available (503 to a
    post) and send nothing."""
    carriers = current_app.extensions["learnline.carriers"]
    if not signin.available(carriers):
        return page("signin.html", status=200 if request.method == "GET" else 503,
                    unavailable=True)
    if request.method == "GET":
        return page("signin.html")
    raw = request.form.get("phone", "")
    country = next((c.country for c in carriers if c.country), None)
    try:
        phone = to_e164(raw, country)
    except InvalidPhoneNumber:
        return page("signin.html", status=400, error="number", entered=raw[:30])
    outcome = signin.request_code(get_store(), carriers, _secret(), phone,
                                  forwarded.limit_key(request.remote_addr), g.locale)
    if outcome == signin.UNSERVED:  # a number all right: say which countries are served
        return page("signin.html", status=400, error="country", entered=raw[:30],
                    countries=_country_names(signin.served_countries(carriers)))
    if outcome == signin.UNREACHABLE:
        return page("signin.html", status=400, error="number", entered=raw[:30])
    if outcome == signin.LIMITED:
        return page("limited.html", status=429)
    web_sessions.end(get_store(), session.get("signin"))
    session["signin"] = web_sessions.start(get_store(), web_sessions.SIGNIN,
                                           signin.CODE_SECONDS, phone=phone)
    return redirect(url_for("web.enter_code"))


@blueprint.route("/signin/code", methods=["GET", "POST"])
def enter_code():
    """Enter the code; a right one signs the learner in and keeps anonymous progress."""
    waiting = web_sessions.find(get_store(), session.get("signin"), web_sessions.SIGNIN)
    if waiting is None or not waiting.phone:
        session.pop("signin", None)
        return redirect(url_for("web.sign_in"))
    phone = waiting.phone
    if request.method == "GET":
        return page("code.html", masked_number=masked(phone))
    check = signin.check_code(get_store(), _secret(), phone, request.form.get("code", ""))
    if not check.ok:
        return page("code.html", status=400, masked_number=masked(phone),
                    tries_left=check.tries_left)
    store = get_store()
    carriers = current_app.extensions["learnline.carriers"]
    learner = signin.learner_for(store, carriers, phone, session.get("lang") or g.locale)
    engine = Engine(store, channel="web")
    with store.write():
        for course_id in session.get("results", {}):
            engine.merge_results(learner, course_id, _anonymous_results(course_id))
        store.note_activity(phone, "web")
    session.pop("results", None)
    web_sessions.end(store, session.pop("signin", None))
    web_sessions.end(store, session.get("sid"))
    session["sid"] = web_sessions.start(store, web_sessions.LEARNER,
                                        signin.SIGNED_IN_DAYS * 24 * signin.HOUR, phone=phone)
    session.permanent = True  # kept across browser restarts, for SIGNED_IN_DAYS
    session["csrf"] = secrets.token_urlsafe(24)  # a new session gets a new token
    joining = session.pop("joining", None)  # signing in to join a program: back to it
    if isinstance(joining, str) and programs.current().get(joining) is not None:
        return redirect(url_for("web.join", program_id=joining))
    return redirect(url_for("web.progress"))


@blueprint.post("/signout")
def sign_out():
    """End this browser's sign-in on the server, so no copy of its cookie signs in any
    more (progress stays with the learner); a dashboard session in the same cookie
    (the token's, or a staff account's) ends with it, as the cookie that carried it is
    cleared."""
    lang = session.get("lang")
    for key in ("sid", "signin", web_sessions.ADMIN_COOKIE_KEY,
                web_sessions.STAFF_COOKIE_KEY):
        web_sessions.end(get_store(), session.get(key))
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("web.catalogue"))


# -- certificates ---------------------------------------------------------------------------

# Certificate lookups per client address (codes must not be enumerable).
VERIFY_PER_ADDRESS = (30, 3600.0)


@blueprint.get("/verify")
def verify_form():
    """The form to check a certificate code; `?code=` goes to that code's page (a code
    that cannot be one is answered here, as not found)."""
    asked = request.args.get("code", "").strip()
    if not asked:
        return page("verify.html", words=command_words(g.locale))
    code = normalize_code(asked)
    if code is None:
        return verify(asked)
    return redirect(url_for("web.verify", code=format_code(code)))


@blueprint.get("/verify/<code>")
def verify(code: str):
    """A certificate by its code: course, date, holder and score, when it was revoked;
    404 with the form when no certificate has the code; 429 past the lookups allowed per
    client address. With badges on, its Open Badge too: what it says and whether it
    stands, revoked or withdrawn, linked to its assertion while it stands; and then the
    holder is their name or no one in particular, never digits of their number, which
    the badge's salted hash beside them would give away (r.CertificateShown.public_holder)."""
    address = forwarded.limit_key(request.remote_addr)
    if get_store().take_rate([(f"verify/web:{address}", *VERIFY_PER_ADDRESS)]) is not None:
        return page("limited.html", status=429, reason="verify")
    found = _engine().find_certificate(code)
    words = command_words(g.locale)
    if found is None:
        return page("verify.html", status=404, words=words, asked=code[:24],
                    malformed=normalize_code(code) is None)
    wording = Wording(g.locale)
    settings = badges.settings()
    stands = not found.revoked and not found.erased
    return page("verify.html", words=words, certificate=found,
                code=format_code(found.code), issued=wording.date(found.issued_at),
                revoked_on=(wording.date(found.revoked_at) if found.revoked_at is not None
                            else None),
                holder=found.public_holder(settings is not None),
                badge=settings, issuer=settings.issuer_name if settings else None,
                assertion=settings.assertion_id(found.badge_id) if settings and stands
                else None,
                withdrawn=settings is not None and found.erased and not found.revoked,
                # Babel's own no-break spaces (20 %): a page wraps, an SMS does not.
                percent=format_percent(found.score / found.total if found.total else 1.0,
                                       locale=g.locale))


@blueprint.get("/certificates/<code>/badge.svg")
def baked_badge(code: str):
    """The signed-in learner's certificate as an Open Badge image with its assertion baked
    in, to download (docs/web.md, Certificates). Not signed in: to the sign-in page;
    another's certificate, a revoked one, or badges off: 404."""
    learner = current_learner()
    if learner is None:
        return redirect(url_for("web.sign_in"))
    settings = badges.settings()
    canonical = normalize_code(code)
    found = get_store().certificate(canonical) if canonical and settings else None
    if found is None or found.phone != learner.phone or not open_badges.stands(found):
        abort(404)
    # The signed assertion: the image carries its own proof, checked against the
    # issuer's published key, and fails once the certificate is on the revocation list.
    baked = open_badges.bake(open_badges.badge_image(found.course_title),
                             badges.signed(settings, found))
    response = make_response(baked)
    response.headers["Content-Type"] = "image/svg+xml"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="badge-{format_code(found.code)}.svg"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- errors --------------------------------------------------------------------------------


@blueprint.app_errorhandler(404)
def not_found(exc):
    """A small page for a missing page (webhook routes answer in plain text)."""
    if request.path.startswith("/carriers/"):
        return "404 Not Found\n", 404, {"Content-Type": "text/plain; charset=utf-8"}
    if "locale" not in g:  # a path outside the pages: the language as on any page
        choose_language()
    body, status = page("error.html", status=404, code=404)
    return http.finish(make_response(body, status))


@blueprint.errorhandler(400)
def bad_request(exc):
    """A form that cannot be used (an expired page or a forged post)."""
    return page("error.html", status=400, code=400)
