"""The operator's dashboard at /admin: daily active learners, course funnels, quiz
questions, messages, delivery and cost per carrier, as SVG charts and tables, and each
table as CSV (/admin/<table>.csv). The figures come from gateway/ops/reports.py, as do those
of `learnline stats`.

Off unless `LEARNLINE_ADMIN_TOKEN` is set: without it every /admin path is 404. With it,
the token is the password of the sign-in form (/admin/signin, which starts a session kept
on the server for ADMIN_SESSION_SECONDS: signing out ends it for every copy of the
cookie), or is sent as `Authorization: Bearer
<token>` by scripts. Anything else gets 403. English only: the page is for operators.

Failed credentials are limited per client address and overall. An address over its own
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

from gateway import environment
from gateway.channels.web import http
from gateway.config import ConfigError
from gateway.hub.routes import _hub
from gateway.ops import charts, reports
from gateway.server import forwarded
from gateway.server.health import sync_lines
from gateway.store import web_sessions
from gateway.store.per_thread import get_store

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

ADMIN_SESSION_SECONDS = 12 * 3600
# Failed credentials (sign-in form, or a bearer token): per client address, and overall.
FAILURES_PER_ADDRESS = (20, 15 * 60.0)
FAILURES_OVERALL = (100, 15 * 60.0)
# Past FAILURES_OVERALL, checks from addresses without failures, between them all.
FRESH_PACE = (1, 1.0)
MIN_TOKEN_CHARS = 24
CSS = http.CSS + (
    "table{border-collapse:collapse;font-size:.85em;margin:.3em 0}"
    "th,td{border-bottom:1px solid #ccc;padding:.15em .35em;text-align:right;"
    "vertical-align:top;white-space:nowrap}th{background:#f1f1f1}td.t,th.t{text-align:left}"
    "td.w{white-space:normal;min-width:14em}caption{text-align:left;font-weight:bold}"
    ".scroll{overflow-x:auto}svg{display:block;margin:.4em 0;max-width:24em}"
    "input[type=number]{font:inherit;width:5em}"
)
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = http.CONTENT_SECURITY_POLICY.replace(http.CSS_HASH, CSS_HASH)


def init_app(app: Flask) -> None:
    """Register the dashboard; its token is `$LEARNLINE_ADMIN_TOKEN` unless the app's
    config already gives ADMIN_TOKEN (tests). No token: the dashboard is off (404)."""
    app.config.setdefault("ADMIN_TOKEN", environment.get("LEARNLINE_ADMIN_TOKEN", "").strip())
    check_token(app.config["ADMIN_TOKEN"])
    app.register_blueprint(blueprint)


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
    address = f"admin-signin/address:{forwarded.limit_key(request.remote_addr)}"
    per_address, window = FAILURES_PER_ADDRESS
    overall, overall_window = FAILURES_OVERALL
    with store.write():
        failed_here = store.rate_used(address, window)
        if failed_here >= per_address:
            return None
        if store.rate_used("admin-signin/overall", overall_window) >= overall and (
                failed_here or store.take_rate([("admin-signin/fresh", *FRESH_PACE)])):
            return None
        if _same(given, _token()):
            return True
        store.take_rate([(address, per_address, window),
                         ("admin-signin/overall", 2**62, overall_window)])
    return False


def _bearer() -> str | None:
    given = request.headers.get("Authorization", "")
    return given[len("Bearer "):] if given.startswith("Bearer ") else None


def _signed_in(token: str) -> bool:
    signed = web_sessions.find(get_store(), session.get("admin"), web_sessions.ADMIN)
    return signed is not None and _same(signed.mark or "", _session_mark(token))


@blueprint.before_request
def gate() -> Response | None:
    """404 while the dashboard is off; otherwise who is asking (g.admin), and a 429 for
    an address over its attempts. Posts need the session's CSRF token."""
    token = _token()
    if not token:
        abort(404)
    g.locale = "en"
    given = _bearer()
    if given is not None:
        right = _check(given)
        if right is None:
            return _plain("429 Too Many Requests: wait and try again\n", 429)
        g.admin = right
    else:
        g.admin = _signed_in(token)
    http.check_csrf()
    return None


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
    raw = request.args.get("days", "")
    return int(raw) if raw.isascii() and raw.isdigit() else reports.DEFAULT_DAYS


def _report() -> reports.Report:
    return reports.build_report(get_store(), current_app.extensions["learnline.carriers"],
                                _days())


def _page(template: str, status: int = 200, **context) -> tuple[str, int]:
    return render_template(template, css=Markup(CSS), csrf=http.csrf_token,
                           **context), status


# -- pages ---------------------------------------------------------------------------------


@blueprint.get("")
def dashboard():
    """Every figure for the last `days` days (default 14): charts, tables, CSV links.
    Without a credential: the sign-in form, answered 403."""
    if not g.admin:
        return _page("admin_signin.html", status=403)
    report = _report()
    return _page("admin.html", report=report, tables={
        name: reports.table(report, name) for name in reports.TABLES},
        percent=reports.percent, money=reports.money, megabytes=reports.megabytes,
        mode_names=reports.MODE_NAMES,
        charts=_charts(report), generated=reports.generated_at(get_store().clock()),
        days=len(report.period.days), max_days=reports.MAX_DAYS,
        sync_lines=sync_lines(get_store()), hub_edges=_hub_edges())


def _hub_edges() -> list:
    """On the hub, every edge with its lag (docs/sync.md); [] elsewhere."""
    if current_app.config.get("ROLE") != "hub":
        return []

    return _hub().stats().edges


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


@blueprint.route("/signin", methods=["GET", "POST"])
def sign_in():
    """The sign-in form; posted with the right token, the session is signed in."""
    if request.method != "POST":  # GET, and HEAD (which Flask routes here too)
        return _page("admin_signin.html")
    right = _check(request.form.get("token", ""))
    if right is None:
        return _page("admin_signin.html", status=429, error="limited")
    if not right:
        return _page("admin_signin.html", status=403, error="wrong")
    web_sessions.end(get_store(), session.get("admin"))
    session["admin"] = web_sessions.start(get_store(), web_sessions.ADMIN,
                                          ADMIN_SESSION_SECONDS, mark=_session_mark(_token()))
    session["csrf"] = secrets.token_urlsafe(24)  # signed in: a new token
    return redirect(url_for("admin.dashboard"), 303)


@blueprint.post("/signout")
def sign_out():
    """Sign this browser out of the dashboard: its session ends on the server."""
    web_sessions.end(get_store(), session.pop("admin", None))
    return redirect(url_for("admin.sign_in"), 303)


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
            "carriers": carriers}


def _learners(count: int) -> str:
    return f"{count} learner" if count == 1 else f"{count} learners"

