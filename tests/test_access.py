"""Who may call what: every carrier route refuses unauthenticated calls, operators'
routes need their credential, and a new route cannot slip in unreviewed."""

from __future__ import annotations

import pytest

from gateway import create_app
from gateway.server import webhooks
from tests.adapters.contract import stored_counts

# Routes anyone may open: the learner's lite pages, health, static files.
PUBLIC = {
    "/", "/courses/<course_id>", "/courses/<course_id>/<lesson_id>",
    "/courses/<course_id>/<lesson_id>/quiz", "/help", "/lang", "/progress",
    "/signin", "/signin/code", "/signout", "/healthz", "/readyz", "/static/<path:filename>",
    "/verify", "/verify/<code>",  # anyone checks a certificate (rate-limited per address)
    "/favicon.ico",  # a tiny icon, so browsers find one
    # Open Badges for verifiers, public by design (an employer, a wallet or a validator
    # follows them without an account); 404 unless badges are on. An assertion's address
    # is 128 random bits and names no number (tests/test_badges.py).
    "/badges/issuer", "/badges/courses/<course_id>", "/badges/courses/<course_id>/image.svg",
    "/badges/assertions/<badge_id>",
    # Signed badges: an assertion as a JWS (the same 128-bit address), the issuer's
    # public key and its revocation list, which name no number (tests/test_badges.py).
    "/badges/assertions/<badge_id>.jws", "/badges/key", "/badges/revocations",
    # The operator's sign-in form and sign-out: 404 unless LEARNLINE_ADMIN_TOKEN is set.
    "/admin/signin", "/admin/signout",
}
CARRIER = {"/carriers/<carrier_id>/sms", "/carriers/<carrier_id>/status",
           "/carriers/<carrier_id>/ussd", "/carriers/<carrier_id>/whatsapp"}
# /metrics: this machine, or a bearer token; the dashboard: LEARNLINE_ADMIN_TOKEN, as a
# bearer token or signed in with it (and 404 unless it is set).
OPERATORS = {"/metrics", "/admin", "/admin/<table>.csv"}
# Staff accounts' own pages: a signed-in account (the audit, administrators only); every
# /admin route is walked with each role, a wrong password, an expired session and without
# CSRF in tests/test_staff_accounts.py.
STAFF = {"/admin/account", "/admin/audit"}
# The tutors' inbox and saved replies: a signed-in tutor or administrator (walked with
# the rest in tests/test_staff_accounts.py).
TUTORS = {"/admin/inbox", "/admin/inbox/<int:question_id>",
          "/admin/inbox/<int:question_id>/claim", "/admin/inbox/<int:question_id>/answer",
          "/admin/inbox/<int:question_id>/reassign", "/admin/inbox/<int:question_id>/close",
          "/admin/replies", "/admin/replies/<int:reply_id>",
          "/admin/replies/<int:reply_id>/delete"}
# Programs' own pages and their cohorts: whole-gateway administrators and the program's
# administrators (the isolation walk, tests/test_program_figures.py, walks them with each
# role of another program; the cohorts' with the rest in tests/test_staff_accounts.py and
# tests/test_cohorts.py).
PROGRAM_ADMINS = {"/admin/programs", "/admin/programs/<program>",
                  "/admin/programs/<program>/<table>.csv",
                  "/admin/programs/<program>/edges/<table>.csv",
                  "/admin/programs/<program_id>/cohorts",
                  "/admin/programs/<program_id>/cohorts/<int:cohort_id>",
                  "/admin/programs/<program_id>/cohorts/<int:cohort_id>.csv",
                  "/admin/programs/<program_id>/cohorts/<int:cohort_id>/<table>.csv"}
ADMIN_TOKEN = "admin-token-for-access-tests-0123456789"
SIMULATOR = {"/simulator"}  # pretend +999 numbers only; off unless asked for
# A lesson by link: the token in the address is the credential (walked without, with a
# wrong, another learner's, an expired and an ended one in tests/test_lesson_by_link.py).
LESSON_LINK = {"/l"}
# A signed-in learner's own settings and questions to tutors: a browser not signed in is
# sent to sign in, and its post changes nothing (walked without a sign-in, without and
# with a wrong CSRF token in tests/test_channel_choice.py and tests/test_asking.py); a
# program's join link likewise, and 404 for a program not configured (tests/test_programs.py).
# A learner's badge to download: to sign in without a sign-in, 404 for another's
# certificate (tests/test_badges.py).
SIGNED_IN = {"/settings", "/ask", "/join/<program_id>", "/certificates/<code>/badge.svg"}

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
PAYLOAD = {"From": "+2348030000000", "To": "+15005550006", "Body": "START",
           "MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "sessionId": "ATs1",
           "phoneNumber": "+2348030000000", "serviceCode": "*384*12#", "text": "",
           "networkCode": "62120"}


def every_rule(app) -> list:
    """Flask's routes and the carrier webhooks answered in front of Flask."""
    return [*app.url_map.iter_rules(), *webhooks.RULES]


@pytest.fixture
def simulating_app(db_path, carriers_file):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "TESTING": True, "SIMULATOR": True})


def test_every_route_is_known_to_be_public_a_carrier_route_or_protected(simulating_app):
    rules = {rule.rule for rule in every_rule(simulating_app)}
    unknown = (rules - PUBLIC - CARRIER - OPERATORS - STAFF - TUTORS - PROGRAM_ADMINS
               - SIMULATOR - LESSON_LINK - SIGNED_IN)
    assert unknown == set(), ("a new route: decide who may call it, protect it, and list it "
                              "here")


def test_a_lesson_link_without_its_token_opens_nothing(simulating_app):
    client = simulating_app.test_client()
    for path in ("/l", "/l?k=", "/l?k=" + "A" * 22):
        assert client.get(path, environ_base=OUTSIDE).status_code == 403
        assert client.post(path, data={"q0": "0"}, environ_base=OUTSIDE).status_code == 403


def test_no_carrier_route_answers_an_unauthenticated_call(simulating_app, store):
    client = simulating_app.test_client()
    carriers = list(simulating_app.extensions["learnline.adapters"])
    assert carriers
    tried = 0
    for rule in every_rule(simulating_app):
        if rule.rule not in CARRIER:
            continue
        for carrier_id in carriers:
            path = rule.rule.replace("<carrier_id>", carrier_id)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for source in (OUTSIDE, {}):  # from outside, and from this machine
                    if method == "GET":
                        response = client.get(path, query_string=PAYLOAD, environ_base=source)
                    else:
                        response = client.open(path, method=method, data=PAYLOAD,
                                               environ_base=source)
                    tried += 1
                    assert response.status_code in (403, 404, 405), (path, method, source)
                    if response.status_code == 404:  # only a channel the carrier lacks
                        assert not simulating_app.extensions["learnline.adapters"][
                            carrier_id].carries(rule.rule.rsplit("/", 1)[-1])
    assert tried >= 2 * len(carriers) * 5
    assert stored_counts(store) == {key: 0 for key in stored_counts(store)}


def test_operators_routes_refuse_the_outside_without_their_credential(simulating_app):
    simulating_app.config["ADMIN_TOKEN"] = ADMIN_TOKEN
    client = simulating_app.test_client()
    for path in OPERATORS:
        for source in (OUTSIDE, {}) if path.startswith("/admin") else (OUTSIDE,):
            assert client.get(path, environ_base=source).status_code == 403, (path, source)
            assert client.get(path, environ_base=source, headers={
                "Authorization": "Bearer wrong-" + ADMIN_TOKEN}).status_code == 403, path


def test_the_tutors_routes_refuse_the_outside_without_an_account(simulating_app, store):
    from gateway.store import questions

    simulating_app.config["ADMIN_TOKEN"] = ADMIN_TOKEN
    asked = questions.add(store, "+2348030000000", "sms", "twilio", "How much?")
    client = simulating_app.test_client()
    for rule in TUTORS:
        path = rule.replace("<int:question_id>", str(asked)).replace("<int:reply_id>", "1")
        for source in (OUTSIDE, {}):
            if path.endswith(("claim", "answer", "reassign", "close", "delete", "/1")) \
                    and not path.endswith(f"inbox/{asked}"):
                posted = client.post(path, data={"answer": "x", "send": "yes", "to": "x"},
                                     environ_base=source)
                assert posted.status_code in (400, 403), (path, source)
            else:
                assert client.get(path, environ_base=source).status_code == 403, path
                assert client.get(path, environ_base=source, headers={
                    "Authorization": "Bearer wrong-" + ADMIN_TOKEN}).status_code == 403, path
    assert questions.get(store, asked).status == "open"


def test_the_programs_pages_refuse_the_outside_without_an_account(simulating_app, store):
    simulating_app.config["ADMIN_TOKEN"] = ADMIN_TOKEN
    client = simulating_app.test_client()
    for rule in PROGRAM_ADMINS:
        path = rule.replace("<program>", "orange").replace("<table>", "funnel").replace(
            "<program_id>", "orange").replace("<int:cohort_id>", "1")
        for source in (OUTSIDE, {}):
            assert client.get(path, environ_base=source).status_code in (403, 404), path
            assert client.get(path, environ_base=source, headers={
                "Authorization": "Bearer wrong-" + ADMIN_TOKEN}).status_code in (403, 404)
            assert client.post(path, data={"name": "x"},
                               environ_base=source).status_code in (400, 403, 404, 405), path
    assert store.db.execute("SELECT count(*) FROM cohorts").fetchone()[0] == 0


def test_the_dashboard_is_off_without_its_token(simulating_app):
    assert not simulating_app.config["ADMIN_TOKEN"]
    client = simulating_app.test_client()
    for path in ("/admin", "/admin/activity.csv", "/admin/signin"):
        for source in (OUTSIDE, {}):
            assert client.get(path, environ_base=source).status_code == 404, (path, source)
    assert client.post("/admin/signin", data={"token": ""}).status_code == 404


def test_web_pages_carry_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    headers = response.headers
    assert "default-src" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] \
        or headers.get("X-Frame-Options") == "DENY"
    assert headers["Referrer-Policy"]


def test_a_database_that_cannot_be_written_asks_the_carrier_to_retry(app):
    """Past the busy timeout nothing was stored: 503 with Retry-After, never a trace."""
    import sqlite3

    @app.get("/test-only/locked")
    def locked():
        raise sqlite3.OperationalError("database is locked")

    response = app.test_client().get("/test-only/locked")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.text == "503 Service Unavailable: try again shortly\n"
