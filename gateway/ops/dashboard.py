"""The operator's dashboard at /admin: daily active learners, course funnels, quiz
questions, messages, delivery and cost per carrier, the tutors' service to learners'
questions, as SVG charts and tables, and each
table as CSV (/admin/<table>.csv). The figures come from gateway/ops/reports.py, as do those
of `learnline stats`.

Who may open it (docs/operations.md, Staff accounts): staff sign in with their own
accounts (`learnline staff add`; gateway/ops/staff.py and staff_web.py), in a session kept
on the server for staff.SESSION_SECONDS; administrators see every page, a tutor only
their account's page and the tutors' inbox (gateway/ops/inbox.py; every other page
answers them 403). `LEARNLINE_ADMIN_TOKEN`, if
set, is sent as `Authorization: Bearer <token>` by scripts (the CSV files, the page);
it is also the password of the sign-in form, but only while no staff account exists
(the first start-up after an upgrade): once one does, the form takes a username and
password and sessions signed in with the token end. Off (every /admin path 404) while
there is neither a token nor a staff account. Which pages need which role is ACCESS:
a page not named there is for administrators only. Anything else gets 403. English
only: the page is for operators (the tutors' figures' labels go through the catalogs,
in the page's language, `g.locale`).

Failed credentials are limited per client address and overall (gateway/ops/staff.py;
a staff account also by its own failures in a row). An address over its own
limit is refused without a check; while the overall limit is passed, so is every address
that failed in the window, but an address without failures is still checked, at most
one a second between all of them (FRESH_PACE: fresh addresses are cheap, an IPv6 /48
holds 65,536 /64s), so the operator's right token is not locked out by someone else's
guesses, and they are held to one a second. An IPv6 client counts by its /64
(forwarded.limit_key). The right token
never counts. Checking and counting are one write transaction: concurrent guesses take
turns, and no more are checked than the limits allow. The token must be at least
MIN_TOKEN_CHARS long (start-up refuses a shorter one), which puts guessing it out of
reach whatever the limits let through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from gateway import budgets, environment
from gateway.channels.web import http
from gateway.config import ConfigError
from gateway.hub.routes import request_hub
from gateway.i18n import translations
from gateway.ops import charts, reports, staff, staff_web
from gateway.server import body_limits
from gateway.server.health import sync_lines
from gateway.store import staff as accounts
from gateway.store import web_sessions
from gateway.store.per_thread import get_store

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

ADMIN_SESSION_SECONDS = 12 * 3600
MIN_TOKEN_CHARS = 24
AUDIT_ROWS = 200  # lines of the record of who did what on its page
# Who may open each page (its endpoint): ANYONE (the sign-in form, signing out), STAFF
# (any account signed in), a role (gateway/ops/staff.py: ROLES; administrators may open
# every page); a page not named here is for administrators only.
ANYONE = "anyone"
STAFF = "staff"
# A program's page: whole-gateway administrators and the program's own administrators.
PROGRAM_ADMIN = "program admin"
ACCESS = {"admin.sign_in": ANYONE, "admin.sign_out": ANYONE, "admin.account": STAFF}
# Pages that take a body over the gateway's limit from those who may open them (ACCESS):
# endpoint -> (its limit in bytes, the page answered to a body declared over it, given
# the body's size). Anyone else keeps the gateway's limit; see gateway/server/body_limits.py.
LARGE_BODIES: dict[str, tuple[int, Callable[[int], Response | tuple[str, int]]]] = {}
CSS = http.CSS + (
    "table{border-collapse:collapse;font-size:.85em;margin:.3em 0}"
    "th,td{border-bottom:1px solid #ccc;padding:.15em .35em;text-align:right;"
    "vertical-align:top;white-space:nowrap}th{background:#f1f1f1}td.t,th.t{text-align:left}"
    "td.w{white-space:normal;min-width:14em}caption{text-align:left;font-weight:bold}"
    ".scroll{overflow-x:auto}svg{display:block;margin:.4em 0;max-width:24em}"
    "input[type=number]{font:inherit;width:5em}"
    "textarea,select{font:inherit;max-width:100%;box-sizing:border-box}textarea{width:100%}"
    "ol.q{padding-left:1.4em}ol.q li{margin:.5em 0}small{color:#444}"
    "blockquote{margin:.4em 0;padding:.2em .5em;background:#f1f1f1;white-space:pre-wrap}"
)
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = http.CONTENT_SECURITY_POLICY.replace(http.CSS_HASH, CSS_HASH)


def init_app(app: Flask) -> None:
    """Register the dashboard; its token is `$LEARNLINE_ADMIN_TOKEN` unless the app's
    config already gives ADMIN_TOKEN (tests). No token: the dashboard is off (404)."""
    app.config.setdefault("ADMIN_TOKEN", environment.get("LEARNLINE_ADMIN_TOKEN", "").strip())
    check_token(app.config["ADMIN_TOKEN"])
    # The tutors', programs' and cohorts' pages join the blueprint.
    from gateway.ops import cohorts_web, inbox, program_pages  # noqa: F401

    app.register_blueprint(blueprint)
    app.extensions[body_limits.EXTENSION] = {
        endpoint: limit for endpoint, (limit, _) in LARGE_BODIES.items()}


def check_token(token: str | None) -> None:
    """Raise ConfigError (one line, never the token) if a dashboard token is set but
    shorter than MIN_TOKEN_CHARS."""
    token = (token or "").strip()
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"LEARNLINE_ADMIN_TOKEN has {len(token)} characters: at least "
            f"{MIN_TOKEN_CHARS} are needed (make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')")


def _token() -> str:
    return (current_app.config.get("ADMIN_TOKEN") or "").strip()


def _session_mark(token: str) -> str:
    """What the session keeps to show it signed in with this token: changing the token
    (or the secret key) signs every browser out. Never the token itself."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"learnline-admin:" + token.encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _check(given: str) -> bool | None:
    """Whether `given` is the token, or None when this address may not try now (it is
    over its failures, or, while failures overall are over their limit, it failed at all
    or another address without failures was checked less than FRESH_PACE ago).
    A wrong token counts as a failure of this address and overall."""
    store = get_store()
    address = staff_web.address()
    with store.write():
        if staff.address_limited(store, address):
            return None
        if _same(given, _token()):
            return True
        staff.count_failure(store, address)
    return False


def _bearer() -> str | None:
    given = request.headers.get("Authorization", "")
    return given[len("Bearer "):] if given.startswith("Bearer ") else None


def _signed_in(token: str) -> bool:
    signed = web_sessions.find(get_store(), session.get(web_sessions.ADMIN_COOKIE_KEY),
                               web_sessions.ADMIN)
    return signed is not None and _same(signed.mark or "", _session_mark(token))


@blueprint.before_request
def gate() -> Response | None:
    """404 while the dashboard is off; otherwise who is asking (g.staff, the account
    signed in; g.admin, whether they may see administrators' pages), a 429 for an
    address over its attempts, a 400 for a post without the session's CSRF token, and a
    403 for a page the asker may not open (ACCESS)."""
    token = _token()
    g.accounts = accounts.count(get_store()) > 0
    if not token and not g.accounts:
        abort(404)
    g.locale = "en"
    g.staff = None
    given = _bearer()
    if given is not None:
        right = _check(given) if token else False
        if right is None:
            return _plain("429 Too Many Requests: wait and try again\n", 429)
        g.admin = right
    else:
        g.staff = staff_web.current()
        if g.staff is not None:
            g.admin = g.staff.has_role(staff.ADMIN)
        else:  # the token's form sign-in holds only while there is no account
            g.admin = not g.accounts and bool(token) and _signed_in(token)
    need = ACCESS.get(request.endpoint or "", staff.ADMIN)
    allowed = need == ANYONE or g.admin or (g.staff is not None and (
            need == STAFF or g.staff.has_role(need)
            # a tutor's pages scope themselves to the programs of a program's staff
            or (need == staff.TUTOR and (g.staff.holds(staff.TUTOR)
                                         or g.staff.holds(staff.ADMIN)))
            or (need == PROGRAM_ADMIN and _program_admin(g.staff))))
    large = LARGE_BODIES.get(request.endpoint or "")
    if allowed and large is not None and need != ANYONE:
        if current_app.config.get("ROLE") == "hub":
            # A hub takes no cohort file (cohorts are made on an edge): it grants no
            # larger body, and one declared over the request's limit is refused unread.
            if (request.content_length or 0) > body_limits.MAX_REQUEST_BYTES:
                abort(413)
        else:
            answer = _larger_body(*large)
            if answer is not None:
                return answer
    http.check_csrf()  # reads the form: over the request's limit, 413
    return None if allowed else _refused()


def _larger_body(limit: int, too_large: Callable[[int], Response | tuple[str, int]]
                 ) -> Response | None:
    """For one who may open a page taking a larger body: the page saying so when the
    body is declared over `limit` (it is not read), else the request's limit raised to
    `limit`, and the server's preflight answered (gateway/server/body_limits.py)."""
    size = request.content_length or 0
    if size > limit:
        return current_app.make_response(too_large(size))
    request.max_content_length = limit
    if request.environ.get(body_limits.PREFLIGHT):
        return Response(status=204, headers={body_limits.LIMIT_HEADER: str(limit)})
    return None


def _program_admin(account: accounts.StaffAccount) -> bool:
    """Whether `account` is an administrator of the program the URL names."""
    args = request.view_args or {}
    program = args.get("program") or args.get("program_id")
    return bool(program) and account.has_role(staff.ADMIN, program)


def landing(account: accounts.StaffAccount) -> str:
    """Where `account` lands after signing in: the dashboard for a whole-gateway
    administrator, the first of its programs' pages for a program's administrator, else
    the tutors' inbox."""
    if account.has_role(staff.ADMIN):
        return url_for("admin.dashboard")
    mine = sorted(p for role, p in account.roles if role == staff.ADMIN)
    if mine:
        return url_for("admin.program", program=mine[0])
    return url_for("admin.inbox")


def _refused() -> Response:
    """403: as text for a CSV file; for a page, the sign-in form, or for a signed-in
    tutor a page saying the page is for administrators."""
    if request.endpoint in ("admin.table_csv", "admin.program_csv"):
        return _plain("403 Forbidden: sign in at /admin/signin, or send "
                      "Authorization: Bearer <token>\n", 403)
    if g.staff is not None:
        return current_app.make_response(_page("admin_forbidden.html", status=403))
    return current_app.make_response(_signin_page(status=403))


@blueprint.after_request
def finish(response: Response) -> Response:
    """The pages' headers and compression, this page's style hash, and no caching."""
    response.headers["Cache-Control"] = "no-store"
    response = http.finish(response)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


def _days() -> int:
    """`?days=`: a whole number from 1 to MAX_DAYS; DEFAULT_DAYS when absent or empty.
    Anything else is answered 400 saying what is taken: a script asking for a period
    must not get another one without knowing (the page's own form cannot send one)."""
    raw = request.args.get("days", "")
    if not raw:
        return reports.DEFAULT_DAYS
    digits = raw.lstrip("0") if raw.isascii() and raw.isdigit() else ""
    if not digits or len(digits) > 3 or int(digits) > reports.MAX_DAYS:
        abort(_plain(f"days: a whole number from 1 to {reports.MAX_DAYS} (the last N days, "
                     "today included; docs/operations.md, The period)\n", 400))
    return int(digits)


def _report() -> reports.Report:
    return reports.build_report(get_store(), current_app.extensions["learnline.carriers"],
                                _days())


def _page(template: str, status: int = 200, **context) -> tuple[str, int]:
    return render_template(template, css=Markup(CSS), csrf=http.csrf_token,
                           budget_notes=_budget_notes(), **context), status


def _budget_notes() -> list[budgets.Spend]:
    """The programs this page's reader administers whose spend reached 80% of their
    monthly budget or more (the page's banner; docs/programs.md, Budget)."""
    if g.get("staff") is None and not g.get("admin"):
        return []
    if g.staff is not None and not g.staff.holds(staff.ADMIN):  # a tutor: no banner
        return []

    def administers(program_id: str) -> bool:  # the token's administrator: every program
        return g.staff.has_role(staff.ADMIN, program_id) if g.staff is not None else g.admin

    try:
        # Only the reader's budgeted programs: with none, the month's messages are not read.
        mine = budgets.budgeted(of=administers)
    except ConfigError:  # the programs file: /healthz and doctor say what is wrong
        return []
    spends = budgets.spends(get_store(), current_app.extensions["learnline.carriers"], mine)
    return [spend for spend in spends.values() if spend.share is not None
            and spend.share >= budgets.WARN_SHARE]


# -- pages ---------------------------------------------------------------------------------


@blueprint.get("")
def dashboard():
    """Every figure for the last `days` days (default 14): charts, tables, CSV links.
    Without a credential: the sign-in form, answered 403."""
    if not g.admin:
        return _page("admin_signin.html", status=403)
    report = _report()
    gettext = translations(g.locale).gettext
    return _page("admin.html", report=report, tables={
        name: reports.table(report, name, gettext=gettext) for name in reports.TABLES},
        percent=reports.percent, money=reports.money, megabytes=reports.megabytes,
        mode_names=reports.MODE_NAMES,
        charts=_charts(report), generated=reports.generated_at(get_store().clock()),
        days=len(report.period.days), max_days=reports.MAX_DAYS,
        sync_lines=sync_lines(get_store()), hub_edges=_hub_edges(),
        hub_programs=_hub_programs())


def _hub_edges() -> list:
    """On the hub, every edge with its lag (docs/sync.md); [] elsewhere."""
    if current_app.config.get("ROLE") != "hub":
        return []

    return request_hub().stats().edges


def _hub_programs() -> list:
    """On the hub, each program's members per edge (docs/programs.md); [] elsewhere."""
    if current_app.config.get("ROLE") != "hub":
        return []
    return request_hub().program_figures()


@blueprint.get("/<table>.csv")
def table_csv(table: str):
    """One table of the dashboard as CSV, for the same `days`."""
    if not g.admin:
        return _plain("403 Forbidden: sign in at /admin/signin, or send "
                      "Authorization: Bearer <token>\n", 403)
    if table not in reports.TABLES:
        abort(404)
    report = _report()
    period = report.period
    name = f"learnline-{table}-{period.days[0]}-to-{period.days[-1]}.csv"
    return Response(reports.to_csv(report, table), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _signin_page(status: int = 200, **context) -> tuple[str, int]:
    return _page("admin_signin.html", status=status, **context)


@blueprint.route("/signin", methods=["GET", "POST"])
def sign_in():
    """The sign-in form: a username and password (while no staff account exists, the
    dashboard's token); posted right, the session is signed in."""
    if request.method != "POST":  # GET, and HEAD (which Flask routes here too)
        return _signin_page()
    if g.accounts:
        return _staff_sign_in()
    right = _check(request.form.get("token", ""))
    if right is None:
        return _signin_page(status=429, error="limited")
    if not right:
        return _signin_page(status=403, error="wrong")
    web_sessions.end(get_store(), session.get(web_sessions.ADMIN_COOKIE_KEY))
    session[web_sessions.ADMIN_COOKIE_KEY] = web_sessions.start(get_store(), web_sessions.ADMIN,
                                          ADMIN_SESSION_SECONDS, mark=_session_mark(_token()))
    session["csrf"] = secrets.token_urlsafe(24)  # signed in: a new token
    return redirect(url_for("admin.dashboard"), 303)


def _staff_sign_in() -> Response | tuple[str, int]:
    attempt = staff.sign_in(get_store(), request.form.get("username", ""),
                            request.form.get("password", ""), address=staff_web.address(),
                            known=staff_web.known())
    if attempt.outcome == "limited":
        return _signin_page(status=429, error="limited")
    if attempt.outcome == "locked":
        return _signin_page(status=429, error="locked",
                            minutes=max(1, round(attempt.wait / 60)))
    if attempt.outcome != "ok" or attempt.account is None:
        return _signin_page(status=403, error="wrong")
    web_sessions.end(get_store(), session.pop(web_sessions.ADMIN_COOKIE_KEY, None))
    staff_web.start(attempt.account)
    response = redirect(landing(attempt.account), 303)
    staff_web.remember(response, attempt.account)
    return response


@blueprint.post("/signout")
def sign_out():
    """Sign this browser out of the dashboard: its session ends on the server."""
    web_sessions.end(get_store(), session.pop(web_sessions.ADMIN_COOKIE_KEY, None))
    staff_web.end()
    return redirect(url_for("admin.sign_in"), 303)


@blueprint.get("/account")
def account():
    """Who is signed in, with which role, and what that role may do here."""
    return _page("admin_account.html", account=g.staff,
                 session_hours=staff.SESSION_SECONDS // 3600)


@blueprint.get("/audit")
def audit():
    """The record of who did what (administrators): the latest AUDIT_ROWS lines."""
    return _page("admin_audit.html", rows=accounts.audit_rows(get_store(), AUDIT_ROWS),
                 when=_utc)


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


# -- charts --------------------------------------------------------------------------------


def _charts(report: reports.Report) -> dict[str, list[Markup]]:
    """Every chart of the page, by section."""
    period = report.period
    span = f"{period.days[0]} to {period.days[-1]}"
    activity = []
    for channel in reports.CHANNELS:
        name = reports.CHANNEL_NAMES[channel]
        bars = [charts.Bar(row.day[5:], getattr(row, channel),
                           f"{row.day}: {_learners(getattr(row, channel))} by {name}")
                for row in report.activity]
        activity.append(charts.column_chart(
            f"active-{channel}", f"{name}: active learners per day",
            f"Learners active by {name} each day, {span}; the table below has every "
            "figure.", bars))
    funnels = []
    for n, funnel in enumerate(report.funnels):
        bars = [charts.Bar(step, count, f"{step}: {_learners(count)}", str(count))
                for step, count in funnel.steps()]
        funnels.append(charts.bar_chart(
            f"funnel-{n}", f"{funnel.title}: enrollment to completion",
            f"{funnel.enrolled} learners enrolled, {funnel.completed} completed.", bars))
    questions = []
    if report.questions:
        worst = report.questions[:10]
        bars = [charts.Bar(f"{q.lesson_title} Q{q.number}: {q.text}", q.share,
                           f"{q.lesson_id} question {q.number}: {q.right} of "
                           f"{q.first_answers} right first ({reports.percent(q.share)}%)",
                           f"{reports.percent(q.share)}%") for q in worst]
        questions.append(charts.bar_chart(
            "questions", "Right first answers, worst questions first",
            f"The {len(worst)} questions with the smallest share of right first answers.",
            bars, scale=1.0))
    carriers = []
    for n, total in enumerate(report.carrier_totals):
        days = {row.day: row for row in report.carrier_days
                if row.carrier_id == total.carrier_id}
        bars = []
        for day in period.days:
            row = days.get(day)
            segments = row.segments_out if row else 0
            bars.append(charts.Bar(day[5:], segments,
                                   f"{day}: {segments} segments out by {total.carrier_id}"))
        carriers.append(charts.column_chart(
            f"carrier-{n}", f"{total.carrier_id}: SMS segments out per day",
            f"{total.segments_out} segments in {total.messages_out} messages, {span}.", bars))
    return {"activity": activity, "funnel": funnels, "questions": questions,
            "carriers": carriers, "tutors": _tutor_charts(report, span)}


def _tutor_charts(report: reports.Report, span: str) -> list[Markup]:
    """Questions to tutors asked per day, when any was asked in the period (labels in
    the page's language)."""
    service = report.tutors
    if service is None or not service.asked:
        return []
    catalog = translations(g.locale)
    bars = [charts.Bar(day.day[5:], day.asked, catalog.ngettext(
        "%(day)s: %(n)d question asked", "%(day)s: %(n)d questions asked", day.asked)
        % {"day": day.day, "n": day.asked}) for day in service.days]
    return [charts.column_chart(
        "tutor-days", catalog.gettext("Questions to tutors asked per day"),
        catalog.ngettext("%(n)d question asked, %(span)s; the tables below have every "
                         "figure.", "%(n)d questions asked, %(span)s; the tables below have "
                         "every figure.", service.asked) % {"n": service.asked, "span": span},
        bars)]


def _learners(count: int) -> str:
    return f"{count} learner" if count == 1 else f"{count} learners"

