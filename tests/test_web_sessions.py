"""Web sessions live on the server: signing out ends them (a copied cookie stops
working), the cookie never carries the phone number, and no GET changes anything."""

from __future__ import annotations

import base64
import json
import re
import zlib
from urllib.parse import urlsplit

import pytest

from gateway import create_app
from gateway.channels.sms import handle_inbound
from gateway.store import Store
from tests.conftest import csrf, right_answers, web_sign_in

PHONE = "+2348030000000"
ADMIN_TOKEN = "sessions-admin-token-0123456789"
LESSON = "/courses/start-freelancing/find-your-skill"


@pytest.fixture
def app(db_path, carriers_file):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "sessions-secret-key-0123456789",
                       "ADMIN_TOKEN": ADMIN_TOKEN})


def texted(store: Store, text: str, phone: str = PHONE) -> None:
    from gateway.config import Carrier

    carrier = Carrier.of(id="twilio", adapter="twilio", country="NG", max_segments=10)
    inbound = store.record_inbound("twilio", f"SM-{len(store.outbox())}-{text}", phone, text)
    handle_inbound(store, carrier, inbound)


def cookie_payload(client) -> str:
    """What the browser's session cookie says, decoded (it is signed, not encrypted)."""
    value = client.get_cookie("learnline").value
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def signed_in(client) -> bool:
    return "Signed in as" in client.get("/progress").text


def test_signing_out_ends_the_session_for_a_copied_cookie_too(app, store):
    browser = app.test_client()
    web_sign_in(browser, store, PHONE)
    copied = browser.get_cookie("learnline").value
    thief = app.test_client()
    thief.set_cookie("learnline", copied)
    assert signed_in(thief)
    browser.post("/signout", data={"csrf": csrf(browser, "/")})
    assert not signed_in(browser)
    assert not signed_in(thief)
    assert "Sign in" in thief.get("/").text


def test_an_administrators_sign_out_ends_the_session_for_a_copied_cookie_too(app):
    browser = app.test_client()
    html = browser.get("/admin/signin").text
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert browser.post("/admin/signin", data={"csrf": token, "token": ADMIN_TOKEN}
                        ).status_code == 303
    copied = browser.get_cookie("learnline").value
    thief = app.test_client()
    thief.set_cookie("learnline", copied)
    assert thief.get("/admin").status_code == 200
    dashboard = browser.get("/admin").text
    token = re.search(r'name="csrf" value="([^"]+)"', dashboard).group(1)
    browser.post("/admin/signout", data={"csrf": token})
    assert browser.get("/admin").status_code == 403
    assert thief.get("/admin").status_code == 403


def test_the_session_cookie_never_carries_the_phone_number(app, store):
    browser = app.test_client()
    browser.post("/signin", data={"csrf": csrf(browser), "phone": PHONE})
    digits = PHONE[1:]
    assert digits[-9:] not in cookie_payload(browser)  # waiting for the code
    code = re.search(r"code is (\d{6})", store.outbox(PHONE)[-1].body).group(1)
    browser.post("/signin/code", data={"csrf": csrf(browser, "/signin/code"), "code": code})
    assert signed_in(browser)
    assert digits[-9:] not in cookie_payload(browser)  # signed in
    assert PHONE not in json.dumps(cookie_payload(browser))


def _snapshot(store: Store) -> dict[str, list]:
    return {table: store.db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("learners", "enrollments", "lesson_results", "events", "activity",
                          "web_sessions" if "web_sessions" in store.db.table_names()
                          else "settings")}


def test_following_every_link_changes_nothing(app, store):
    """A signed-in learner part-way through lesson 2 (by SMS): opening every page and
    following every link of the site (as a crawler, or a link on another site, would)
    leaves their language, place, progress and activity as they were."""
    texted(store, "START")
    for _ in range(8):
        texted(store, "NEXT")
    browser = app.test_client()
    web_sign_in(browser, store, PHONE)
    before = _snapshot(store)
    seen, queue = set(), ["/", "/progress", "/help", LESSON]
    while queue and len(seen) < 80:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = browser.get(path)
        assert response.status_code in (200, 302, 303, 404, 405), path
        for href in re.findall(r'href="([^"#]+)"', response.text):
            href = href.replace("&amp;", "&")
            if not urlsplit(href).netloc and href.startswith("/") and href not in seen:
                queue.append(href)
    assert any(path.startswith("/courses/start-freelancing/") for path in seen)
    assert _snapshot(store) == before
    assert signed_in(browser)


def test_the_language_switch_is_a_form(app, store):
    texted(store, "START")
    browser = app.test_client()
    web_sign_in(browser, store, PHONE)
    html = browser.get("/help").text
    assert 'href="/lang/' not in html
    form = re.search(r'<form method="post" action="/lang">(.*?)</form>', html, re.DOTALL)
    assert form and '<input type="hidden" name="next" value="/help">' in form.group(1)
    assert 'name="lang" value="fr"' in form.group(1)
    token = csrf(browser, "/help")
    refused = browser.post("/lang", data={"lang": "fr", "next": "/help"})  # no CSRF token
    assert refused.status_code == 400 and store.learner(PHONE).locale == "en"
    moved = browser.post("/lang", data={"csrf": token, "lang": "fr", "next": "/help"})
    assert moved.status_code == 303 and moved.location.endswith("/help")
    assert store.learner(PHONE).locale == "fr"
    assert '<html lang="fr"' in browser.get("/help").text
    away = browser.post("/lang", data={"csrf": token, "lang": "en",
                                       "next": "https://evil.example/"})
    assert urlsplit(away.location).path == "/" and not urlsplit(away.location).netloc
    assert browser.post("/lang", data={"csrf": token, "lang": "xx"}).status_code == 404


def test_taking_the_quiz_is_what_marks_a_lesson_read(app, store):
    """Opening a lesson page moves nothing; its "Take the quiz" button (a form) makes the
    quiz what comes next on every channel."""
    texted(store, "START")
    browser = app.test_client()
    web_sign_in(browser, store, PHONE)
    place = store.enrollment(PHONE, "start-freelancing")
    html = browser.get(LESSON).text
    assert store.enrollment(PHONE, "start-freelancing") == place
    form = re.search(r'<form method="post" action="([^"]+)">', html)
    assert form and form.group(1) == LESSON
    read = browser.post(LESSON, data={"csrf": csrf(browser, LESSON)})
    assert read.status_code == 303 and read.location.endswith(LESSON + "/quiz")
    assert store.enrollment(PHONE, "start-freelancing").card == 4  # every card read
    quiz = {"csrf": csrf(browser, LESSON + "/quiz"), **right_answers(store)}
    assert "3 of 3 right." in browser.post(LESSON + "/quiz", data=quiz).text


@pytest.mark.parametrize("target", ["/\r\nX-Injected: 1", "/\nSet-Cookie: pwned=1",
                                    "/\\evil.example", "/\t/evil.example",
                                    "https://evil.example/", "//evil.example/"])
def test_the_language_switch_goes_back_only_to_this_site(app, target):
    browser = app.test_client()
    answer = browser.post("/lang", data={"csrf": csrf(browser, "/"), "lang": "fr",
                                         "next": target})
    assert answer.status_code == 303 and answer.location == "/"
    assert "X-Injected" not in answer.headers and "pwned" not in str(answer.headers)


def test_a_learners_sign_out_also_ends_an_administrators_session_in_the_same_cookie(app, store):
    browser = app.test_client()
    html = browser.get("/admin/signin").text
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    browser.post("/admin/signin", data={"csrf": token, "token": ADMIN_TOKEN})
    web_sign_in(browser, store, PHONE)
    assert browser.get("/admin").status_code == 200
    copied = browser.get_cookie("learnline").value
    browser.post("/signout", data={"csrf": csrf(browser, "/")})
    thief = app.test_client()
    thief.set_cookie("learnline", copied)
    assert thief.get("/admin").status_code == 403
    assert not signed_in(thief)


def test_a_cookie_from_before_server_sessions_stops_carrying_the_number(app):
    """A browser still holding a cookie written by an earlier release (the number in
    `phone` and `signin_phone`, the sign-in time in `since`) gets it rewritten on its
    next page, without them."""
    browser = app.test_client()
    browser.get("/")
    with browser.session_transaction() as old:
        old["phone"] = PHONE
        old["signin_phone"] = PHONE
        old["since"] = 1_700_000_000
        old["lang"] = "fr"
    assert PHONE[-9:] in cookie_payload(browser)
    assert browser.get("/help").status_code == 200
    payload = cookie_payload(browser)
    assert PHONE[-9:] not in payload
    assert "since" not in payload
    assert '"lang":"fr"' in payload.replace(" ", "")


def test_starting_a_session_reads_no_table_whole(store: Store):
    """Every sign-in forgets expired sessions inside the write transaction every writer
    waits for: it finds them through an index, not by reading every session there is."""
    from gateway.store import web_sessions

    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        web_sessions.start(store, "learner", 3600, phone=PHONE)
    finally:
        store.db.conn.set_trace_callback(None)
    deletes = [sql for sql in statements if sql.lstrip().upper().startswith("DELETE")]
    assert deletes
    for sql in deletes:
        plan = [row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not [step for step in plan if step.startswith("SCAN")], (sql, plan)
