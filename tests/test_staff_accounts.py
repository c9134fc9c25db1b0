"""Staff accounts on the dashboard: every /admin route walked without an account, as a
tutor, as an administrator, with a wrong password, with an expired session and across
CSRF; sessions ended everywhere; lock-out with backoff per account and per address that
cannot keep an administrator out; the record of who did what; passwords rehashed, never
logged; and `learnline staff` as a real subprocess."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest
from argon2 import PasswordHasher

from gateway import create_app
from gateway.ops import staff
from gateway.store import Store, cohorts, questions, saved_replies
from gateway.store import staff as accounts
from tests.fakes.clock import SimulatedClock

TOKEN = "staff-tests-admin-token-0123456789"
ADMIN_PASSWORD = "admin pass phrase 41"
TUTOR_PASSWORD = "tutor pass phrase 42"
START = 4_102_444_800.0  # 2100-01-01 00:00 UTC: `learnline staff list` reads the real time
# Where staff pages live: every route under these is walked.
STAFF_PREFIXES = ("/admin",)
# Every URL argument of a staff route, with a value to walk it with. A new route with
# an argument not named here fails the walk until it is added.
SAMPLE_ARGUMENTS = {"table": "activity", "question_id": "1", "reply_id": "1",
                    "program": "sun", "program_id": "orange", "cohort_id": "1"}
# Where a route's tables are other than the dashboard's: a cohort's.
SAMPLE_OVERRIDES = {"admin.cohort_table_csv": {"table": "completion"},
                    "admin.program_edges_csv": {"table": "funnel"}}
# A program's pages: this gateway has no programs file, so an administrator finds no
# program "sun" (404); the isolation walk (tests/test_program_figures.py) walks them
# with programs; the figures across edges are a hub's: an edge has none, 404.
PROGRAM_PAGES = {"admin.program", "admin.program_csv", "admin.program_edges_csv"}
# What each role may open, as the documentation says (docs/operations.md): the sign-in
# form and signing out for anyone, the account page for any staff, the tutors' inbox for
# tutors (and administrators), the rest for administrators only.
FOR_ANYONE = {"admin.sign_in", "admin.sign_out"}
FOR_STAFF = {"admin.account"}
FOR_TUTOR = {"admin.inbox", "admin.question", "admin.claim", "admin.answer",
             "admin.reassign", "admin.close", "admin.replies", "admin.add_reply",
             "admin.edit_reply", "admin.delete_reply"}
# What a post by a role that may make it answers with its CSRF token and no other field
# (the walk's question 1 and saved reply 1 exist; one role's post may have closed or
# deleted them before another's): done (303), refused as the question is no longer open
# (409), an empty field (422), nothing left to delete (404). Any other post: 200.
ACTION_STATUSES = {"admin.claim": {303, 409}, "admin.close": {303, 409},
                   "admin.answer": {422}, "admin.reassign": {409, 422},
                   "admin.add_reply": {422}, "admin.edit_reply": {422},
                   "admin.delete_reply": {303, 404},
                   "admin.create_cohort": {400}}  # no file: refused, nothing created


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def app(db_path, carriers_file, clock):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "staff-tests-secret-0123456789", "ADMIN_TOKEN": TOKEN,
                       "CLOCK": clock})


@pytest.fixture
def store(db_path, clock, app):
    with Store.open(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def people(store):
    """An administrator and a tutor."""
    staff.add_account(store, "amina@example.org", "Amina Diallo", "admin", ADMIN_PASSWORD)
    staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD)


def _csrf(client, path: str = "/admin/signin") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def _sign_in(client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post("/admin/signin", data={
        "csrf": _csrf(client), "username": username, "password": password},
        environ_base={"REMOTE_ADDR": address})


def _signed_in(app, username: str, password: str):
    client = app.test_client()
    answer = _sign_in(client, username, password)
    assert answer.status_code == 303, answer.text
    return client


def _admin_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, URL, method) of every staff route, from the app's url_map."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(STAFF_PREFIXES):
            continue
        unknown = set(rule.arguments) - set(SAMPLE_ARGUMENTS)
        assert not unknown, f"{rule.rule}: add a sample value for {unknown} to the walk"
        url = rule.rule
        samples = {**SAMPLE_ARGUMENTS, **SAMPLE_OVERRIDES.get(rule.endpoint, {})}
        for name in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{name}>", samples[name], url)
        for method in sorted(rule.methods & {"GET", "POST"}):
            routes.append((rule.endpoint, url, method))
    return routes


def _get_expected(endpoint: str, who: str) -> int:
    if endpoint in FOR_ANYONE:
        return 200
    if who == "admin" and endpoint in PROGRAM_PAGES:
        return 404
    if who == "admin" or (who == "tutor" and endpoint in FOR_STAFF | FOR_TUTOR):
        return 200
    return 403


def test_every_admin_route_is_refused_as_it_should_be(app, people, clock, store, tmp_path,
                                                      monkeypatch):
    programs_file = tmp_path / "programs.toml"  # the walk's program and its cohort 1
    programs_file.write_text('[programs.orange]\nname = "Orange"\ndefault_locale = "en"\n',
                             encoding="utf-8")
    monkeypatch.setenv("LEARNLINE_PROGRAMS", str(programs_file))
    assert cohorts.create(store, program="orange", name="Intake", course_id="x",
                          starts_on="2100-01-01", carrier_id="console", created_by="amina",
                          members=[("+2348030000000", "")]).id == 1
    routes = _admin_routes(app)
    endpoints = {endpoint for endpoint, _, _ in routes}
    assert {"admin.dashboard", "admin.table_csv", "admin.sign_in", "admin.sign_out",
            "admin.account", "admin.audit"} | FOR_TUTOR <= endpoints
    assert questions.add(store, "+2348030000000", "sms", "twilio", "How much?") == 1
    assert saved_replies.add(store, "start-freelancing", "find-your-skill", "Price",
                             "Count your hours.", None) == 1
    nobody = app.test_client()
    wrong = app.test_client()
    assert _sign_in(wrong, "amina@example.org", "not the password at all").status_code == 403
    token_by_form = app.test_client()
    answer = token_by_form.post("/admin/signin", data={"csrf": _csrf(token_by_form),
                                                       "token": TOKEN})
    assert answer.status_code == 403  # the token signs in by form no more
    clients = {"nobody": nobody, "wrong password": wrong, "token by form": token_by_form,
               "tutor": _signed_in(app, "tunde", TUTOR_PASSWORD),
               "admin": _signed_in(app, "amina@example.org", ADMIN_PASSWORD)}
    for who, client in clients.items():
        role = who if who in ("tutor", "admin") else "nobody"
        for endpoint, url, method in routes:
            if method == "GET":
                status = client.get(url).status_code
                assert status == _get_expected(endpoint, role), (who, url, status)
                continue
            # A post without the session's CSRF token, or with a wrong one, is refused
            # whoever sends it, before anything is done.
            assert client.post(url, data={}).status_code == 400, (who, url)
            assert client.post(url, data={"csrf": "x" * 32}).status_code == 400, (who, url)
            if endpoint not in FOR_ANYONE:
                status = client.post(url, data={"csrf": _csrf(client)}).status_code
                if role == "admin" or (role == "tutor" and endpoint in FOR_TUTOR):
                    assert status in ACTION_STATUSES.get(endpoint, {200}), (who, url, status)
                else:
                    assert status == 403, (who, url, status)
        # Still signed in as they were: no post above changed who they are.
        assert client.get("/admin").status_code == (200 if role == "admin" else 403)

    # A session past its 12 hours is refused on every page, as nobody.
    clock.now += staff.SESSION_SECONDS + 1
    for who in ("tutor", "admin"):
        for endpoint, url, method in routes:
            if method == "GET":
                assert clients[who].get(url).status_code == _get_expected(endpoint, "nobody"), (
                    who, url)

    # Scripts keep the token: every page and CSV with Authorization: Bearer.
    for endpoint, url, method in routes:
        if method == "GET":
            answer = nobody.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == _get_expected(endpoint, "admin"), url
            wrong_bearer = nobody.get(url, headers={"Authorization": "Bearer " + "x" * 34})
            assert wrong_bearer.status_code == _get_expected(endpoint, "nobody"), url


def test_the_tutor_is_told_what_they_may_do(app, people):
    client = app.test_client()
    answer = _sign_in(client, "TUNDE", TUTOR_PASSWORD)
    assert answer.status_code == 303 and answer.location.endswith("/admin/inbox")
    page = client.get("/admin/account").text
    assert "Tunde Bello (tunde): tutor" in page and "tutors' inbox" in page
    refused = client.get("/admin")
    assert refused.status_code == 403 and "Administrators only" in refused.text
    assert "signed in as Tunde Bello" in refused.text
    assert client.get("/admin/activity.csv").status_code == 403
    assert "Who did what" not in page  # no link to an administrators' page


def test_an_administrator_lands_on_the_dashboard(app, people):
    client = app.test_client()
    answer = _sign_in(client, "amina@example.org", ADMIN_PASSWORD)
    assert answer.status_code == 303 and answer.location.endswith("/admin")
    assert client.get("/admin").status_code == 200
    assert client.get("/admin/activity.csv").status_code == 200


def test_signing_out_ends_the_session_in_every_copy_of_the_cookie(app, people):
    client = _signed_in(app, "amina@example.org", ADMIN_PASSWORD)
    copy = app.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert copy.get("/admin").status_code == 200
    assert client.post("/admin/signout", data={"csrf": _csrf(client, "/admin")}
                       ).status_code == 303
    assert client.get("/admin").status_code == 403
    assert copy.get("/admin").status_code == 403


def test_the_learner_pages_sign_out_ends_a_staff_session_in_the_same_cookie(app, people):
    """docs/web.md: "Sign out" on the lite pages ends every session the cookie carried,
    a staff account's included, for every copy of the cookie."""
    client = _signed_in(app, "tunde", TUTOR_PASSWORD)
    copy = app.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert copy.get("/admin/inbox").status_code == 200
    assert client.post("/signout", data={"csrf": _csrf(client, "/")}).status_code == 302
    assert client.get("/admin/inbox").status_code == 403
    assert copy.get("/admin/inbox").status_code == 403


def test_while_no_account_exists_the_token_signs_in_and_then_no_more(app, store):
    """The way from the shared token to accounts: the token's form sign-in works until
    the first account is added, and its sessions end then."""
    client = app.test_client()
    assert 'name="token"' in client.get("/admin/signin").text
    assert client.post("/admin/signin", data={"csrf": _csrf(client), "token": TOKEN}
                       ).status_code == 303
    assert client.get("/admin").status_code == 200
    staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    assert client.get("/admin").status_code == 403
    form = client.get("/admin/signin").text
    assert 'name="username"' in form and 'name="token"' not in form


def test_without_a_token_the_dashboard_opens_once_an_account_exists(
        db_path, carriers_file, clock, monkeypatch):
    monkeypatch.delenv("LEARNLINE_ADMIN_TOKEN", raising=False)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "staff-tests-secret-0123456789", "CLOCK": clock})
    client = app.test_client()
    assert client.get("/admin/signin").status_code == 404
    with Store.open(db_path, clock=clock) as store:
        staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    assert client.get("/admin/signin").status_code == 200
    assert client.get("/admin", headers={"Authorization": "Bearer "}).status_code == 403
    assert _sign_in(client, "amina", ADMIN_PASSWORD).status_code == 303
    assert client.get("/admin").status_code == 200


# -- lock-out and backoff ---------------------------------------------------------------------


def test_failures_in_a_row_lock_the_account_with_a_doubling_wait(app, people, clock):
    client = app.test_client()
    answers = [_sign_in(client, "amina@example.org", f"wrong guess {n}",
                        address=f"198.51.100.{n}").status_code for n in range(5)]
    assert answers == [403] * 5
    # Locked for a minute: even the right password is refused, without a check.
    locked = _sign_in(client, "amina@example.org", ADMIN_PASSWORD, address="198.51.100.50")
    assert locked.status_code == 429 and "try again in 1 minute" in locked.text
    clock.now += 61
    assert _sign_in(client, "amina@example.org", "wrong guess 6",
                    address="198.51.100.6").status_code == 403
    clock.now += 61  # the second lock is two minutes
    assert _sign_in(client, "amina@example.org", ADMIN_PASSWORD,
                    address="198.51.100.51").status_code == 429
    clock.now += 60
    assert _sign_in(client, "amina@example.org", ADMIN_PASSWORD,
                    address="198.51.100.51").status_code == 303
    # Refusals while locked count against the address: it is held back after 20.
    # (A new browser: this one signed in as her, and passes her lock.)
    stranger = app.test_client()
    answers = [_sign_in(stranger, "amina@example.org", "wrong guess",
                        address="198.51.100.60").status_code for n in range(25)]
    assert answers == [403] * 5 + [429] * 20
    clock.now += 120  # the lock (a minute) is over, not this address's 15 minutes
    assert _sign_in(stranger, "amina@example.org", ADMIN_PASSWORD,
                    address="198.51.100.60").status_code == 429
    assert "Too many tries from this address" in _sign_in(
        stranger, "amina@example.org", ADMIN_PASSWORD, address="198.51.100.60").text
    assert _sign_in(client, "amina@example.org", ADMIN_PASSWORD,
                    address="198.51.100.61").status_code == 303
    # A right password forgets the failures: four more wrong ones lock nothing.
    other = app.test_client()
    for n in range(4):
        assert _sign_in(other, "amina@example.org", f"again {n}").status_code == 403
    assert _sign_in(other, "amina@example.org", ADMIN_PASSWORD).status_code == 303


def test_the_lock_never_grows_past_fifteen_minutes(app, people, clock, store):
    client = app.test_client()
    for n in range(12):
        clock.now += staff.MAX_LOCK_SECONDS + 1
        assert _sign_in(client, "tunde", f"wrong guess {n}",
                        address=f"198.51.100.{n}").status_code == 403
    account = accounts.find(store, "tunde")
    assert account.locked_until - clock.now == staff.MAX_LOCK_SECONDS


def test_guessing_cannot_keep_an_administrator_out(app, people, clock, store):
    """Someone guessing Amina's password, one guess each time her lock ends, keeps her
    account locked for new browsers; her own browser (where she signed in before) still
    gets in, and `learnline staff passwd` lifts the lock for any."""
    hers = _signed_in(app, "amina@example.org", ADMIN_PASSWORD)
    hers.post("/admin/signout", data={"csrf": _csrf(hers, "/admin")})
    attacker = app.test_client()
    for n in range(8):
        _sign_in(attacker, "amina@example.org", f"guess {n}", address=f"203.0.113.{n}")
        account = accounts.find(store, "amina@example.org")
        clock.now = max(clock.now, account.locked_until or clock.now) + 1
    _sign_in(attacker, "amina@example.org", "guess 9", address="203.0.113.9")
    new_browser = app.test_client()
    assert _sign_in(new_browser, "amina@example.org", ADMIN_PASSWORD).status_code == 429
    # A forged "known here" cookie is worth nothing.
    forged = app.test_client()
    forged.set_cookie("learnline_staff_known", "1.00000000000000000000000000000000",
                      path="/admin")
    assert _sign_in(forged, "amina@example.org", ADMIN_PASSWORD).status_code == 429
    assert _sign_in(hers, "amina@example.org", ADMIN_PASSWORD).status_code == 303
    assert hers.get("/admin").status_code == 200
    for n in range(5):  # locked again
        _sign_in(attacker, "amina@example.org", f"more {n}", address=f"203.0.113.{20 + n}")
    staff.change_password(store, "amina@example.org", "a new pass phrase 43")
    assert _sign_in(new_browser, "amina@example.org", "a new pass phrase 43"
                    ).status_code == 303
    assert hers.get("/admin").status_code == 403  # a new password ends every session


def test_failures_are_limited_per_address_and_overall_as_before(app, people):
    """The dashboard's address limits hold for passwords: 20 failures from one address
    and it is refused without a check, the right password included; other addresses
    are not held back. Unknown usernames count as failures."""
    client = app.test_client()
    answers = [_sign_in(client, f"nobody{n}", "wrong password here",
                        address="203.0.113.7").status_code for n in range(22)]
    assert answers == [403] * 20 + [429] * 2
    assert _sign_in(client, "amina@example.org", ADMIN_PASSWORD,
                    address="203.0.113.7").status_code == 429
    assert _sign_in(client, "amina@example.org", ADMIN_PASSWORD,
                    address="203.0.113.8").status_code == 303


def test_only_the_password_itself_signs_in(app, people, store):
    """Not the longest password with more after it, nor another case of it; the
    username's case and spaces around it do not matter."""
    client = app.test_client()
    longest = "ab" * 128
    staff.change_password(store, "amina@example.org", longest)
    assert _sign_in(client, "amina@example.org", longest + "z").status_code == 403
    assert _sign_in(client, "amina@example.org", longest).status_code == 303
    assert _sign_in(client, "tunde", TUTOR_PASSWORD.upper()).status_code == 403
    assert _sign_in(client, "  TUNDE ", TUTOR_PASSWORD).status_code == 303


def test_a_right_password_is_not_counted_as_a_failure(app, people):
    for _ in range(25):
        client = app.test_client()
        assert _sign_in(client, "tunde", TUTOR_PASSWORD, address="203.0.113.7"
                        ).status_code == 303


# -- the record of who did what, hashes, logs --------------------------------------------------


def test_the_record_of_who_did_what(app, people, store, clock):
    staff.change_password(store, "tunde", "tutor pass phrase 99")
    _sign_in(app.test_client(), "tunde", "wrong password here", address="198.51.100.9")
    _sign_in(app.test_client(), "someone", "wrong password here", address="198.51.100.9")
    admin = _signed_in(app, "amina@example.org", ADMIN_PASSWORD)
    tutor = _signed_in(app, "tunde", "tutor pass phrase 99")
    tutor.post("/admin/signout", data={"csrf": _csrf(tutor, "/admin/account")})
    staff.remove_account(store, "tunde")
    rows = [(r.actor, r.action, r.subject, r.address)
            for r in reversed(accounts.audit_rows(store))]
    assert rows == [
        (None, "account added", "amina@example.org (admin)", None),
        (None, "account added", "tunde (tutor)", None),
        (None, "password changed", "tunde", None),
        (None, "sign-in failed", "tunde", "198.51.100.9"),
        (None, "sign-in failed", None, "198.51.100.9"),  # no such account: nothing typed kept
        ("amina@example.org", "signed in", None, "192.0.2.10"),
        ("tunde", "signed in", None, "192.0.2.10"),
        ("tunde", "signed out", None, "127.0.0.1"),
        (None, "account removed", "tunde", None),
    ]
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    assert page.text.count("<tr>") == 1 + len(rows)
    assert "sign-in failed" in page.text and "account removed" in page.text


def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(app, people, store):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=2)
    account = accounts.find(store, "tunde")
    accounts.set_password(store, account.id, old.hash(TUTOR_PASSWORD))
    assert "m=8192,t=1,p=2" in accounts.find(store, "tunde").password_hash
    _signed_in(app, "tunde", TUTOR_PASSWORD)
    rehashed = accounts.find(store, "tunde").password_hash
    assert rehashed.startswith("$argon2id$") and "m=19456,t=2,p=1" in rehashed
    assert _sign_in(app.test_client(), "tunde", TUTOR_PASSWORD).status_code == 303


def test_passwords_are_never_logged_or_stored(app, people, store, caplog):
    caplog.set_level(logging.DEBUG)
    _sign_in(app.test_client(), "tunde", "a wrong password 7777")
    _signed_in(app, "tunde", TUTOR_PASSWORD)
    _sign_in(app.test_client(), "a wrong password 8888", "x")  # a password typed as a name
    text = caplog.text
    dump = "\n".join(store.db.conn.iterdump())
    for secret in (TUTOR_PASSWORD, "a wrong password 7777", "a wrong password 8888",
                   ADMIN_PASSWORD):
        assert secret not in text and secret not in dump


# -- learnline staff ----------------------------------------------------------------------------


def _learnline(db_path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEARNLINE_DB": str(db_path)}
    return subprocess.run([sys.executable, "-m", "gateway.cli", "staff", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_staff_commands_add_list_passwd_remove(app, db_path, clock):
    added = _learnline(db_path, "add", "Amina@Example.org", "--name", "Amina Diallo",
                       "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added amina@example.org (Amina Diallo, admin)\n"
    tutor = _learnline(db_path, "add", "tunde", "--name", "Tunde Bello", "--role", "tutor",
                       "--password-stdin", stdin=TUTOR_PASSWORD + "\n")
    assert tutor.returncode == 0, tutor.stderr

    signed = _signed_in(app, "tunde", TUTOR_PASSWORD)
    for n in range(5):
        _sign_in(app.test_client(), "amina@example.org", f"wrong guess {n}")
    listed = _learnline(db_path, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["username", "name", "role", "last", "sign-in", "locked"]
    assert lines[2].split() == ["amina@example.org", "Amina", "Diallo", "admin", "never",
                                "until", "2100-01-01", "00:01", "UTC"]
    assert lines[3].split() == ["tunde", "Tunde", "Bello", "tutor", "2100-01-01", "00:00",
                                "UTC", "no"]
    assert "$argon2" not in listed.stdout and TUTOR_PASSWORD not in listed.stdout

    assert signed.get("/admin/account").status_code == 200
    changed = _learnline(db_path, "passwd", "tunde", "--password-stdin",
                         stdin="tutor pass phrase 77\n")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "new password for tunde; its sessions are ended\n"
    assert signed.get("/admin/account").status_code == 403
    unlocked = _learnline(db_path, "passwd", "amina@example.org", "--password-stdin",
                          stdin="admin pass phrase 78\n")
    assert unlocked.returncode == 0
    assert "until" not in _learnline(db_path, "list").stdout  # the lock is lifted

    signed = _signed_in(app, "tunde", "tutor pass phrase 77")
    removed = _learnline(db_path, "remove", "tunde")
    assert removed.returncode == 0 and removed.stdout == (
        "removed tunde; its sessions are ended\n")
    assert signed.get("/admin/account").status_code == 403
    assert _sign_in(app.test_client(), "tunde", "tutor pass phrase 77").status_code == 403
    for output in (added, tutor, listed, changed, unlocked, removed):
        assert TUTOR_PASSWORD not in output.stdout + output.stderr
        assert ADMIN_PASSWORD not in output.stdout + output.stderr


@pytest.mark.parametrize(("args", "stdin", "error"), [
    (("passwd", "nobody", "--password-stdin"), "long enough password\n",
     "Error: no staff account 'nobody' (`learnline staff list` shows them)"),
    (("remove", "nobody"), None,
     "Error: no staff account 'nobody' (`learnline staff list` shows them)"),
    (("add", "amina", "--name", "A", "--role", "admin", "--password-stdin"), "short\n",
     "Error: the password has 5 characters: at least 12 are needed (a few words make a "
     "good one)"),
    (("add", "amina", "--name", "A", "--role", "admin", "--password-stdin"),
     "my name is amina ok\n", "Error: the password contains the username"),
    (("add", "amina", "--name", "A", "--role", "admin", "--password-stdin"),
     "ab" * 129 + "\n", "Error: the password is longer than 256 characters"),
    (("add", "amina", "--name", "A", "--role", "admin", "--password-stdin"),
     "x" * 20 + "\n", "Error: the password is one character repeated"),
    (("add", "amina", "--name", "A", "--role", "admin", "--password-stdin"), "\n",
     "Error: --password-stdin: standard input has no password"),
    (("add", "amina", "--name", "A", "--role", "admin"), "",
     "Error: no terminal to ask for the password on: give it on standard input with "
     "--password-stdin"),
    (("add", "a b", "--name", "A", "--role", "admin", "--password-stdin"),
     "long enough password\n", "Error: 'a b' is not a username: use 2 to 64 letters a-z, "
     "digits and . _ @ + - (an e-mail address is fine), starting with a letter or digit"),
    (("add", "amina", "--name", "  ", "--role", "admin", "--password-stdin"),
     "long enough password\n", "Error: the name must be 1 to 100 characters"),
])
def test_staff_commands_refuse_bad_input_with_one_line(app, db_path, args, stdin, error):
    result = _learnline(db_path, *args, stdin=stdin)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [error]
    assert result.stdout == ""
    with Store.open(db_path) as store:
        assert accounts.count(store) == 0


def test_staff_add_refuses_a_taken_username(app, db_path, people):
    result = _learnline(db_path, "add", "Tunde", "--name", "T", "--role", "tutor",
                        "--password-stdin", stdin="long enough password\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: there is already a staff account 'tunde'"


def test_staff_add_asks_twice_without_echo_on_a_terminal(app, db_path):
    import pty

    main, replica = pty.openpty()
    env = {**os.environ, "LEARNLINE_DB": str(db_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "staff", "add", "tunde", "--name", "Tunde",
         "--role", "tutor"], env=env, stdin=replica, stdout=replica, stderr=replica,
        start_new_session=True)
    os.close(replica)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        while text not in seen:
            chunk = os.read(main, 1024)
            assert chunk, seen
            seen += chunk

    read_until(b"Password: ")
    os.write(main, (TUTOR_PASSWORD + "\n").encode())
    read_until(b"Repeat the password: ")
    os.write(main, (TUTOR_PASSWORD + "\n").encode())
    read_until(b"added tunde")
    assert process.wait(timeout=30) == 0
    os.close(main)
    assert TUTOR_PASSWORD.encode() not in seen
    assert _sign_in(app.test_client(), "tunde", TUTOR_PASSWORD).status_code == 303


# -- the way from the shared token: doctor and the start-up banner --------------------------


def test_doctor_says_to_add_an_administrator_while_the_token_signs_in(db_path, clock):
    from gateway.ops.doctor import Finding, diagnose

    def staff_findings():
        return [f for f in diagnose(db_path, env={"LEARNLINE_ADMIN_TOKEN": TOKEN})
                if f.subject == "staff"]

    assert staff_findings() == [Finding(
        "warn", "staff", "no staff account: the dashboard's shared token signs in: add an "
        "administrator with `learnline staff add USERNAME --name NAME --role admin` "
        "(docs/operations.md, Staff accounts)")]
    with Store.open(db_path, clock=clock) as store:
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD)
    assert [f.level for f in staff_findings()] == ["warn"]
    assert "no administrator account" in staff_findings()[0].message
    with Store.open(db_path, clock=clock) as store:
        staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    assert staff_findings() == [Finding(
        "ok", "staff", "2 account(s), 1 administrator(s); the dashboard's token no longer "
        "signs in by form")]


def test_serve_says_staff_accounts_sign_in(tmp_path, carriers_file, monkeypatch):
    from tests.served import serve_gateway

    monkeypatch.setenv("LEARNLINE_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("LEARNLINE_DB", str(tmp_path / "served.db"))
    with Store.open(tmp_path / "served.db", migrate=True) as store:
        staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    served = serve_gateway(tmp_path, carriers_file)
    gateway = next(served)
    served.close()
    banner = (tmp_path / "serve.log").read_text()
    assert (f"  dashboard: {gateway.base}/admin (staff accounts sign in: 1; `learnline staff "
            "list` shows them)\n") in banner
    assert (f"  tutors' inbox: {gateway.base}/admin/inbox (staff accounts with the tutor or "
            "admin role)\n") in banner


def test_guesses_sent_at_once_get_no_more_checks_than_the_limit(db_path, carriers_file):
    """30 wrong passwords posted together from one address to a served gateway: each is
    counted before its (slow) check, so at most 20 are checked and the rest are 429."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.web.browser import serve_app

    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "staff-tests-secret-0123456789"})
    with Store.open(db_path) as store:
        staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    with serve_app(app) as base:
        first = requests.get(base + "/admin/signin", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', first.text).group(1)
        start = threading.Barrier(30)

        def guess(n: int) -> int:
            start.wait()
            return requests.post(base + "/admin/signin", cookies=first.cookies, timeout=60,
                                 data={"csrf": csrf, "username": f"someone{n}",
                                       "password": "wrong password here"}).status_code

        with ThreadPoolExecutor(30) as pool:
            answers = sorted(pool.map(guess, range(30)))
    assert answers == [403] * 20 + [429] * 10
    with Store.open(db_path) as store:
        checked = [r for r in accounts.audit_rows(store) if r.action == "sign-in failed"]
    assert len(checked) == 20


def test_a_removed_accounts_id_never_comes_back_whatever_the_order_of_removals(store):
    """Answers, figures and the audit name accounts by id: removing a newer account, then
    an older one, must not let the next account take the newer one's id."""
    made = [accounts.add(store, f"person{n}", f"Person {n}", staff.TUTOR, "x").id
            for n in range(3)]
    accounts.remove(store, made[2])
    accounts.remove(store, made[0])  # a lower id: the highest removed stays the higher one
    assert accounts.add(store, "newcomer", "Newcomer", staff.TUTOR, "x").id > made[2]
