"""The lite web through the Flask test client: pages, quiz, sign in by SMS code, limits,
caching, compression and security headers. (Real-browser tests: tests/web/.)"""

from __future__ import annotations

import gzip
import re
import threading
import time

import brotli
import pytest
from flask import request

from gateway import create_app
from gateway.channels.sms import handle_inbound, parse_command
from gateway.channels.web.pages import current_learner
from gateway.config import Carrier
from gateway.i18n import available_locales
from gateway.ops.simulator import whatsapp_markup
from gateway.phones import masked
from gateway.store import Store, privacy
from tests.conftest import TwilioWebhooks, csrf, right_answers, web_sign_in
from tests.fakes.clock import SimulatedClock

COURSE = "/courses/start-freelancing"
LESSON = COURSE + "/find-your-skill"
NIGERIAN = "+2348030000000"
DAY = 86400.0


@pytest.fixture
def web(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    return app.test_client()


def sms(store: Store, text: str, phone: str = NIGERIAN) -> str:
    carrier = Carrier.of(id="twilio", adapter="twilio", country="NG", max_segments=10)
    before = len(store.outbox())
    inbound = store.record_inbound("twilio", f"SM-{before}-{text}", phone, text)
    handle_inbound(store, carrier, inbound)
    return "\n".join(m.body for m in store.outbox()[before:])


def sign_in(client, store: Store, phone: str = NIGERIAN) -> None:
    web_sign_in(client, store, phone)


@pytest.mark.parametrize("path", ["/", COURSE, LESSON, LESSON + "/quiz", "/progress", "/help",
                                  "/signin"])
def test_every_page_is_small_html_without_scripts(web, path):
    response = web.get(path)
    assert response.status_code == 200
    html = response.data.decode()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en" dir="ltr">' in html
    assert "<script" not in html and "<iframe" not in html and "<img" not in html
    assert len(html.encode()) < 14 * 1024
    assert "Language:" in html and 'name="lang" value="fr"' in html


def test_the_browsers_icon_is_there_tiny_and_cached(web):
    response = web.get("/favicon.ico")
    assert response.status_code == 200
    assert response.content_type == "image/x-icon"
    icon = response.data
    assert icon[:6] == b"\x00\x00\x01\x00\x01\x00" and icon[22:30] == b"\x89PNG\r\n\x1a\n"
    assert len(icon) < 400
    assert response.headers["Cache-Control"] == "public, max-age=604800"
    again = web.get("/favicon.ico", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("locale", available_locales())
def test_the_help_page_lists_every_command_as_the_learners_language_reads_it(web, locale):
    """Each SMS command the help page names, in the page's language, is understood when
    texted, and the ones for daily lessons are there too."""
    html = web.get("/help", headers={"Accept-Language": locale}).data.decode()
    items = re.findall(r"<li>(.*?)</li>", html.split("<h2>", 2)[2].split("</ul>")[0])
    understood = []
    for item in items:  # "WORD: what it does", "WORD and ...: ...", "PAUSE, RESUME: ..."
        named = re.sub(r"</?bdi>", "", item).split(":")[0].replace("،", ",")
        understood.append([type(parse_command(part.split()[0])).__name__
                           for part in named.split(",")])
    assert understood == [["Start"], ["Next"], ["Status"], ["Courses"], ["Language"],
                          ["Schedule"], ["Schedule"], ["Pause", "Resume"], ["Stop"],
                          ["SetName"], ["Verify"], ["Ask"]], locale


def test_the_help_page_names_the_number_to_text_and_the_code_to_dial(db_path, carriers_file):
    """From the carriers file: each carrier's SMS number (not a sender name, not the local
    console) and USSD code, with its country in the reader's language."""
    with carriers_file.open("a") as extra:
        extra.write('\n[carriers.at-ke]\nadapter = "africastalking"\ncountry = "KE"\n'
                    'sender = "Learnline"\nussd_code = "*384*12#"\n'
                    'webhook_token = "at-token-0123456789abcdef"\n')
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    english = app.test_client().get("/help").data.decode()
    sms_part, ussd_part = english.split("<h2>", 3)[2:]
    assert "<li>Nigeria: +15005550006</li>" in sms_part
    assert "Learnline</li>" not in sms_part and "Senegal" not in sms_part
    assert "<li>Kenya: *384*12#</li>" in ussd_part
    portuguese = app.test_client().get("/help", headers={"Accept-Language": "pt"}).data.decode()
    assert "<li>Nigéria: +15005550006</li>" in portuguese
    assert "<li>Quênia: *384*12#</li>" in portuguese
    arabic = app.test_client().get("/help", headers={"Accept-Language": "ar"}).data.decode()
    assert '<li>كينيا: <bdi dir="ltr">*384*12#</bdi></li>' in arabic


def test_a_lesson_page_has_every_card_and_the_way_to_the_quiz(web, store):
    html = web.get(LESSON).data.decode()
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    for card in lesson.cards:
        assert card.text.replace('"', "&#34;") in html
    assert '<form method="post" action="/courses/start-freelancing/find-your-skill">' in html
    assert web.post(LESSON, data={"csrf": csrf(web, LESSON)}).location.endswith(
        "/courses/start-freelancing/find-your-skill/quiz")


def test_language_from_the_browser_then_the_learners_choice(web):
    french = web.get("/", headers={"Accept-Language": "fr-SN,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr"' in french.data.decode() and "Se lancer en freelance" in \
        french.data.decode()
    token = csrf(web, "/")
    switched = web.post("/lang", data={"csrf": token, "lang": "en", "next": COURSE},
                        headers={"Accept-Language": "fr"})
    assert switched.status_code == 303 and switched.location.endswith(COURSE)
    again = web.get("/", headers={"Accept-Language": "fr"}).data.decode()
    assert '<html lang="en"' in again  # the choice is remembered over the browser's
    assert web.post("/lang", data={"csrf": token, "lang": "en",
                                   "next": "https://evil.example/"}).location.endswith("/")


def test_anonymous_quiz_with_results_explanations_and_a_retry(web, store):
    answers = right_answers(store)
    wrong = dict(answers, q0=str((int(answers["q0"]) + 1) % 3))
    token = csrf(web, LESSON + "/quiz")
    page = web.post(LESSON + "/quiz", data={"csrf": token, **wrong}).data.decode()
    lesson = store.lesson("start-freelancing", "find-your-skill", "en")
    assert "2 of 3 right." in page
    assert lesson.questions[0].explanation in page and "Not quite: you chose" in page
    assert "Try the ones you missed once more" in page
    progress = web.get("/progress").data.decode()
    assert "1/6 lessons done, 2/3 right." in progress
    assert "kept in this browser only" in progress
    retry = web.post(LESSON + "/quiz", data={"csrf": token, "retry": "1",
                                             "q0": answers["q0"]}).data.decode()
    assert "Right!" in retry and "Try the ones you missed" not in retry
    assert "2/3 right." in web.get("/progress").data.decode()  # the first try counts


def quiz_path(lesson_id: str) -> str:
    return f"{COURSE}/{lesson_id}/quiz"


def test_the_last_lessons_quiz_alone_completes_no_course(web, store):
    """A signed-in learner may answer any lesson's quiz, but the course is complete, and
    its certificate earned, only when every lesson has its score: answering the last one
    first sends them back to the first lesson they skipped."""
    sign_in(web, store)
    lessons = store.course("start-freelancing").lesson_ids
    last = lessons[-1]
    token = csrf(web, quiz_path(last))
    page = web.post(quiz_path(last), data={"csrf": token, **right_answers(store, last)})
    html = page.data.decode()
    assert "3 of 3 right." in html and "Course complete" not in html
    assert "To complete the course, take the lessons you skipped, starting with lesson 1." \
        in html
    assert f'href="{COURSE}/{lessons[0]}"' in html  # the next lesson: the first skipped
    assert store.certificates_of(NIGERIAN) == []
    assert "1/6 lessons done, 3/3 right." in web.get("/progress").data.decode()
    assert "Lesson 1/6" in sms(store, "NEXT")  # by SMS too, the place is the first skipped
    for lesson_id in lessons[:-1]:
        page = web.post(quiz_path(lesson_id),
                        data={"csrf": token, **right_answers(store, lesson_id)})
    # The last lesson skipped on the way has its score: the fifth completes the course.
    assert "Course complete: Start freelancing. Score 19/19." in page.data.decode()
    [certificate] = store.certificates_of(NIGERIAN)
    assert (certificate.score, certificate.total) == (19, 19)
    again = web.post(quiz_path(last), data={"csrf": token, **right_answers(store, last)})
    assert "Your first try is this lesson's score" in again.data.decode()


def test_a_quiz_posted_again_keeps_its_first_try_as_the_score(web, store):
    """Posting a quiz again, without asking for a retry, neither raises nor lowers the
    lesson's score (signed in or not), and offers no second retry."""
    right = right_answers(store)
    wrong = dict(right, q0=str((int(right["q0"]) + 1) % 3))
    token = csrf(web, LESSON + "/quiz")
    for signed_in in (False, True):
        if signed_in:
            sign_in(web, store)
            token = csrf(web, LESSON + "/quiz")
        web.post(LESSON + "/quiz", data={"csrf": token, **wrong})
        again = web.post(LESSON + "/quiz", data={"csrf": token, **right}).data.decode()
        assert "3 of 3 right." in again
        assert "Your first try is this lesson's score: this one does not change it." in again
        assert "Try the ones you missed once more" not in again
        assert "1/6 lessons done, 2/3 right." in web.get("/progress").data.decode()
    assert store.lesson_results(NIGERIAN, "start-freelancing") == {"find-your-skill": (2, 3)}


def test_a_quiz_with_unanswered_questions_is_shown_again(web):
    token = csrf(web, LESSON + "/quiz")
    response = web.post(LESSON + "/quiz", data={"csrf": token, "q0": "1"})
    assert response.status_code == 400
    html = response.data.decode()
    assert "Please answer every question." in html and 'value="1" checked' in html


def test_posts_without_the_csrf_token_are_refused(web):
    for data in ({"phone": NIGERIAN}, {"phone": NIGERIAN, "csrf": "forged"}):
        response = web.post("/signin", data=data)
        assert response.status_code == 400 and "Please try again" in response.data.decode()


def test_sign_in_with_the_code_sent_by_sms(web, store):
    token = csrf(web)
    response = web.post("/signin", data={"csrf": token, "phone": "0803 000 0000"})
    assert response.status_code == 302
    [message] = store.outbox(NIGERIAN)
    assert message.carrier_id == "twilio" and message.to_stopped_ok
    code = re.search(r"Your Learnline code is (\d{6})\.", message.body).group(1)
    page = web.get("/signin/code").data.decode()
    assert masked(NIGERIAN) in page and NIGERIAN not in page
    token = csrf(web, "/signin/code")
    wrong = "000000" if code != "000000" else "111111"
    failed = web.post("/signin/code", data={"csrf": token, "code": wrong})
    assert failed.status_code == 400 and "4 tries left" in failed.data.decode()
    web.post("/signin/code", data={"csrf": token, "code": code})
    assert f"Signed in as {masked(NIGERIAN)}." in web.get("/progress").data.decode()
    assert store.learner(NIGERIAN) is not None
    # single use
    again = web.post("/signin/code", data={"csrf": csrf(web, "/"), "code": code})
    assert again.status_code in (302, 400)


def test_a_code_asked_for_again_leaves_the_first_one_working(web, store):
    """On a slow network the learner asks twice and the first SMS arrives last: its code
    signs in too. A right code ends every code of the number."""
    codes = []
    for _ in range(2):
        web.post("/signin", data={"csrf": csrf(web), "phone": NIGERIAN})
        codes.append(re.search(r"code is (\d{6})", store.outbox(NIGERIAN)[-1].body).group(1))
    web.post("/signin/code", data={"csrf": csrf(web, "/signin/code"), "code": codes[0]})
    assert f"Signed in as {masked(NIGERIAN)}." in web.get("/progress").data.decode()
    other = web.application.test_client()  # another browser, which asks for a code too
    other.post("/signin", data={"csrf": csrf(other), "phone": NIGERIAN})
    for used in codes:
        refused = other.post("/signin/code", data={"csrf": csrf(other, "/signin/code"),
                                                   "code": used})
        assert refused.status_code == 400 and "tries left" in refused.data.decode()


def test_five_wrong_tries_end_a_code(web, store):
    web.post("/signin", data={"csrf": csrf(web), "phone": NIGERIAN})
    first = re.search(r"code is (\d{6})", store.outbox(NIGERIAN)[-1].body).group(1)
    web.post("/signin", data={"csrf": csrf(web), "phone": NIGERIAN})
    code = re.search(r"code is (\d{6})", store.outbox(NIGERIAN)[-1].body).group(1)
    token = csrf(web, "/signin/code")
    wrong = next(c for c in ("000000", "111111", "222222") if c not in (code, first))
    for left in (4, 3, 2, 1):
        assert f"{left} tr" in web.post("/signin/code",
                                        data={"csrf": token, "code": wrong}).data.decode()
    assert "no longer works" in web.post("/signin/code",
                                         data={"csrf": token, "code": wrong}).data.decode()
    for right in (code, first):  # the last try ended every code of the number
        assert "no longer works" in web.post("/signin/code",
                                             data={"csrf": token, "code": right}).data.decode()


def test_an_expired_code_does_not_work(web, store):
    web.post("/signin", data={"csrf": csrf(web), "phone": NIGERIAN})
    code = re.search(r"code is (\d{6})", store.outbox(NIGERIAN)[-1].body).group(1)
    store.db.execute("UPDATE signin_codes SET expires_at = 0")  # ten minutes later
    response = web.post("/signin/code", data={"csrf": csrf(web, "/signin/code"), "code": code})
    assert response.status_code == 400 and "no longer works" in response.data.decode()


def test_the_page_never_tells_whether_a_number_is_a_learner(web, store):
    sms(store, "START")  # NIGERIAN is a learner; the other number is not
    pages = []
    for phone in (NIGERIAN, "+2348030000001"):
        client = web.application.test_client()
        response = client.post("/signin", data={"csrf": csrf(client), "phone": phone})
        assert response.status_code == 302
        html = client.get("/signin/code").data.decode().replace(masked(phone), "NUMBER")
        pages.append(re.sub(r'value="[^"]+"', "", html))
    assert pages[0] == pages[1] and "NUMBER" in pages[0]


@pytest.mark.parametrize(("numbers", "address_count", "expected_sent"), [
    (["+2348030000000"] * 4, 1, 3),  # per number: 3 an hour
    ([f"+234803000{n:04d}" for n in range(12)], 1, 10),  # per block of 10,000
    ([f"+234803{n:02d}00000" for n in range(12)], 1, 10),  # per address
])
def test_limits_stop_sms_pumping(web, store, numbers, address_count, expected_sent):
    statuses = []
    for phone in numbers:
        response = web.post("/signin", data={"csrf": csrf(web), "phone": phone})
        statuses.append(response.status_code)
    assert statuses.count(302) == expected_sent
    assert statuses[-1] == 429
    limited = web.post("/signin", data={"csrf": csrf(web), "phone": numbers[-1]})
    assert limited.status_code == 429 and "no code was sent" in limited.data.decode()
    sent = [m for m in store.outbox() if "code is" in m.body]
    assert len(sent) == expected_sent


def test_signing_in_keeps_anonymous_progress(web, store):
    token = csrf(web, LESSON + "/quiz")
    web.post(LESSON + "/quiz", data={"csrf": token, **right_answers(store)})
    sign_in(web, store)
    assert store.lesson_results(NIGERIAN, "start-freelancing") == {"find-your-skill": (3, 3)}
    assert "Start freelancing: 1/6 lessons done, 3/3 right." in sms(store, "STATUS")
    assert "kept in this browser only" not in web.get("/progress").data.decode()


def test_a_course_begun_with_no_answer_yet_shows_no_zero_of_zero_right(web, store):
    sms(store, "START")
    sign_in(web, store)
    progress = web.get("/progress").data.decode()
    assert "0/6 lessons done." in progress
    assert "0/0 right" not in progress


def test_sms_progress_shows_on_the_web_and_web_progress_by_sms(web, store):
    """The issue's story: started by SMS, signs in, same progress, finishes the quiz on the
    web, STATUS by SMS shows it."""
    sms(store, "START")
    for _ in range(3):
        sms(store, "NEXT")
    sign_in(web, store)
    course = web.get(COURSE).data.decode()
    assert re.search(r"Find a skill people pay for</a> - You are here", course)
    web.post(LESSON, data={"csrf": csrf(web, LESSON)})  # read the rest: "Take the quiz"
    token = csrf(web, LESSON + "/quiz")
    results = web.post(LESSON + "/quiz", data={"csrf": token, **right_answers(store)})
    assert "3 of 3 right." in results.data.decode()
    status = sms(store, "STATUS")
    assert "1/6 lessons done, 3/3 right." in status and "Find your first clients" in status
    assert "Lesson 2/6" in sms(store, "NEXT")


def test_a_stop_texted_while_a_page_is_built_holds(web, store):
    """STOP arrives by SMS (a real signed webhook, on another server thread) after a lesson
    page, a quiz answer or a language switch has read the learner and before it saves
    their place: the page saves on top of what is stored by then, so the learner stays
    stopped, and the page is still served (the web is a session they opened)."""
    sms(store, "START")
    sign_in(web, store)
    app = web.application
    texts = TwilioWebhooks(app.test_client())

    def stop_lands() -> None:
        if request.method == "GET" and request.path == "/progress":
            return
        current_learner()  # the page has read the learner, not yet stopped
        answered = []
        thread = threading.Thread(
            target=lambda: answered.append(texts.sms(NIGERIAN, "STOP").status_code))
        thread.start()
        thread.join()
        assert answered == [200]

    quiz = {"csrf": csrf(web, LESSON + "/quiz"), **right_answers(store)}
    for step in (lambda: web.post(LESSON, data={"csrf": quiz["csrf"]},
                                  follow_redirects=True),
                 lambda: web.post(LESSON + "/quiz", data=quiz),
                 lambda: web.post("/lang", data={"csrf": quiz["csrf"], "lang": "fr",
                                                 "next": "/progress"},
                                  follow_redirects=True)):
        sms(store, "START")
        assert not store.learner(NIGERIAN).stopped
        app.before_request_funcs.setdefault("web", []).append(stop_lands)
        try:
            response = step()
        finally:
            app.before_request_funcs["web"].remove(stop_lands)
        assert response.status_code == 200
        assert store.learner(NIGERIAN).stopped


def test_sign_out(web, store):
    sign_in(web, store)
    response = web.post("/signout", data={"csrf": csrf(web, "/")})
    assert response.status_code == 302
    assert "Sign in" in web.get("/").data.decode()


def signed_in_as(client, phone: str = NIGERIAN) -> bool:
    """Whether /progress says this browser is signed in as the number."""
    return f"Signed in as {masked(phone)}." in client.get("/progress").data.decode()


def test_a_sign_in_lasts_ninety_days_across_browser_restarts(db_path, carriers_file):
    clock = SimulatedClock(1_800_000_000.0)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789", "CLOCK": clock})
    browser = app.test_client()
    with Store.open(db_path, clock=clock) as store:
        sign_in(browser, store)
    cookie = browser.get_cookie("learnline")
    assert cookie.expires is not None  # kept when the browser closes
    lifetime = cookie.expires.timestamp() - time.time()
    assert 89 * DAY < lifetime <= 90 * DAY

    restarted = app.test_client()  # the browser, closed and opened again
    restarted.set_cookie("learnline", cookie.value)
    assert signed_in_as(restarted)
    revisit = restarted.get(LESSON)
    assert revisit.status_code == 200 and "Set-Cookie" not in revisit.headers  # no bytes
    clock.now += 89 * DAY
    assert signed_in_as(restarted)
    clock.now += 1 * DAY
    assert not signed_in_as(restarted)
    assert "Sign in" in restarted.get("/").data.decode()


def test_a_browser_never_sees_the_learner_begun_after_an_erasure(web, store):
    """Erased, the number is texted again (its next owner, once the carrier gave it out
    anew): the browser signed in before the erasure is signed out and stays out."""
    sms(store, "START")
    sign_in(web, store)
    assert signed_in_as(web)
    privacy.erase(store, NIGERIAN)
    assert not signed_in_as(web)
    sms(store, "START")
    sms(store, "NEXT")
    assert not signed_in_as(web)
    web.get(LESSON)
    quiz = {"csrf": csrf(web, LESSON + "/quiz"), **right_answers(store)}
    assert "3 of 3 right." in web.post(LESSON + "/quiz", data=quiz).data.decode()
    assert store.lesson_results(NIGERIAN, "start-freelancing") == {}
    sign_in(web, store)  # the new owner signs in with a code sent to them
    assert signed_in_as(web)


def test_compression_validators_and_a_cheap_revisit(web):
    plain = web.get(LESSON)
    assert "Content-Encoding" not in plain.headers
    assert int(plain.headers["Content-Length"]) == len(plain.data)
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response = web.get(LESSON, headers={"Accept-Encoding": f"{encoding}, deflate"})
        assert response.headers["Content-Encoding"] == encoding
        assert int(response.headers["Content-Length"]) == len(response.data)
        assert decode(response.data) == plain.data
        assert len(response.data) < 6 * 1024
        revisit = web.get(LESSON, headers={"Accept-Encoding": encoding,
                                           "If-None-Match": response.headers["ETag"]})
        assert revisit.status_code == 304 and revisit.data == b""
    assert plain.headers["Cache-Control"] == "private, no-cache"
    assert {"Accept-Encoding", "Cookie"} <= set(plain.headers["Vary"].replace(" ", "")
                                                 .split(","))


def test_a_signed_in_learners_pages_are_kept_by_no_cache(web, store):
    """Every page of a signed-in learner names them (their masked number, their progress,
    their questions): on a phone shared in a family or a kiosk, the browser keeps no copy
    for Back to show after sign-out. Pages for nobody in particular stay revalidated."""
    assert web.get(COURSE).headers["Cache-Control"] == "private, no-cache"
    sign_in(web, store)
    for path in ("/", "/progress", COURSE, LESSON, LESSON + "/quiz", "/ask", "/settings",
                 "/help"):
        response = web.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "private, no-store", path
    web.post("/signout", data={"csrf": csrf(web, "/progress")})
    assert web.get(COURSE).headers["Cache-Control"] == "private, no-cache"


def test_security_headers_and_cookies(web):
    response = web.get("/signin")
    assert response.headers["X-Frame-Options"] == "DENY"  # browsers that ignore CSP's
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "unsafe-inline" not in csp and "style-src 'sha256-" in csp
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = web.get("/signin", base_url="https://learn.example.org")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_a_missing_page_is_a_small_page_and_webhooks_stay_plain(web):
    missing = web.get("/courses/nope")
    assert missing.status_code == 404 and "This page does not exist." in missing.data.decode()
    assert web.get("/carriers/nope/sms").status_code in (404, 405)
    assert "<html" not in web.post("/carriers/nope/sms").data.decode()


def test_the_simulator_is_off_unless_enabled(web):
    assert web.get("/simulator").status_code == 404


def test_the_simulator_runs_sms_and_ussd_through_the_real_channels(db_path, store):
    app = create_app({"DATABASE": str(db_path), "SIMULATOR": True, "SECRET_KEY": "k" * 32})
    client = app.test_client()
    token = csrf(client, "/simulator")
    client.post("/simulator", data={"csrf": token, "mode": "sms", "text": "START"})
    html = client.get("/simulator").data.decode()
    assert "<b>You:</b> START" in html and "Welcome to Start freelancing" in html
    assert re.search(r"\(\d SMS, GSM-7\)", html)
    phone = re.search(r"Pretend number: (\+999\d{9})", html).group(1)
    assert store.learner(phone) is not None
    assert {m.status for m in store.outbox(phone)} == {"sent"}  # nothing left for a carrier
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "action": "dial"})
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "text": "1"})
    screen = client.get("/simulator?mode=ussd").data.decode()
    assert "Lesson 1/6, card 1/3" in screen  # the same learner, where SMS left them
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "action": "hangup"})
    assert "Dial *384*12#" in client.get("/simulator?mode=ussd").data.decode()


def test_the_simulator_runs_whatsapp_through_the_real_channel(db_path, store):
    """As a WhatsApp learner: each card with its bold title and a Next button, each
    question with a button per option, a button sending its id as a tap does; the same
    learner as by USSD, its WhatsApp chat apart from its SMS one."""
    app = create_app({"DATABASE": str(db_path), "SIMULATOR": True, "SECRET_KEY": "k" * 32})
    client = app.test_client()
    token = csrf(client, "/simulator?mode=whatsapp")
    client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": "START"})
    html = client.get("/simulator?mode=whatsapp").data.decode()
    phone = re.search(r"Pretend number: (\+999\d{9})", html).group(1)
    assert "<b>Lesson 1/6: Find a skill people pay for</b>" in html
    assert "*Lesson" not in html
    assert re.findall(r'<button type="submit" name="text" value="(\w+)">([^<]*)</button>',
                      html) == [("NEXT", "NEXT")]
    sent = store.outbox(phone)
    assert {(m.carrier_id, m.status) for m in sent} == {("simulator-whatsapp", "sent")}
    for _ in range(5):  # a tap on Next, as WhatsApp sends it: the button's id (5 cards:
        # WhatsApp teaches the whole lesson, web-only cards too)
        client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": "NEXT"})
    html = client.get("/simulator?mode=whatsapp").data.decode()
    assert "Q1/3: Which skill is the best first bet for earning quickly?" in html
    buttons = re.findall(r'<button type="submit" name="text" value="(\w+)">([^<]*)</button>',
                         html)
    assert [value for value, _ in buttons][-3:] == ["A", "B", "C"]
    assert all(title.startswith(f"{value})") for value, title in buttons[-3:])
    # Typed text still works, and the chat is WhatsApp's alone: SMS mode has none of it.
    client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": "status"})
    assert "0/6 lessons" in client.get("/simulator?mode=whatsapp").data.decode()
    assert "Send START to begin." in client.get("/simulator").data.decode()
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "action": "dial"})
    client.post("/simulator", data={"csrf": token, "mode": "ussd", "text": "1"})
    assert "Q1/3" in client.get("/simulator?mode=ussd").data.decode()  # where WhatsApp left


def test_the_simulator_shows_a_tap_as_the_buttons_title(db_path, store):
    """In WhatsApp mode a tapped button shows in the chat as its title, as WhatsApp shows
    it; the message the gateway reads and keeps is the button's id."""
    app = create_app({"DATABASE": str(db_path), "SIMULATOR": True, "SECRET_KEY": "k" * 32})
    client = app.test_client()
    token = csrf(client, "/simulator?mode=whatsapp")
    client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": "START"})

    def tap(value: str) -> str:
        html = client.get("/simulator?mode=whatsapp").data.decode()
        form = html.split('<form method="post">')[-2]  # the last message's buttons
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
        [title] = re.findall(rf'<button type="submit" name="text" value="{value}">([^<]*)'
                             r"</button>", form)
        client.post("/simulator", data={**fields, "csrf": token, "text": value})
        return title

    for _ in range(5):
        tap("NEXT")
    title = tap("B")
    assert title.startswith("B) ") and title != "B"
    html = client.get("/simulator?mode=whatsapp").data.decode()
    assert f"<b>You:</b> {title}</p>" in html
    assert "<b>You:</b> B</p>" not in html
    phone = re.search(r"Pretend number: (\+999\d{9})", html).group(1)
    [text] = [row["text"] for row in store.db.query(
        "SELECT text FROM inbound WHERE phone = ? ORDER BY id DESC LIMIT 1", [phone])]
    assert text == "B"
    client.post("/simulator", data={"csrf": token, "mode": "whatsapp", "text": "b"})
    assert "<b>You:</b> b</p>" in client.get("/simulator?mode=whatsapp").data.decode()


def test_the_simulator_shows_whatsapps_bold_and_nothing_else_as_markup():
    shown = whatsapp_markup("*Lesson 1/6: <Prices & you>*\n2*3*4 = 24, * not bold *\n<i>x</i>")
    assert str(shown) == ("<b>Lesson 1/6: &lt;Prices &amp; you&gt;</b>\n2*3*4 = 24, "
                          "* not bold *\n&lt;i&gt;x&lt;/i&gt;")


def test_the_simulators_whatsapp_mode_has_the_whatsapp_carriers_settings(db_path,
                                                                           carriers_file):
    """The first WhatsApp carrier's settings, here its inbound limit of 2 a minute, rule
    the WhatsApp mode; the SMS mode keeps the first carrier's."""
    carriers_file.write_text(carriers_file.read_text() + """
[carriers.wa]
adapter = "whatsapp"
country = "NG"
phone_number_id = "106540352242922"
access_token = "EAAG-whatsapp-access-token-0123456789"
app_secret = "whatsapp-app-secret-0123456789"
verify_token = "whatsapp-verify-token-0123456789"
api_base_url = "http://127.0.0.1:9"
inbound_per_minute = 2
""")
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SIMULATOR": True, "SECRET_KEY": "k" * 32})
    client = app.test_client()
    token = csrf(client, "/simulator")
    for mode in ("sms", "whatsapp"):
        for text in ("START", "HELP", "STATUS"):
            client.post("/simulator", data={"csrf": token, "mode": mode, "text": text})
    faster = "You are sending messages faster than we can answer."
    assert faster in client.get("/simulator?mode=whatsapp").data.decode()
    assert faster not in client.get("/simulator").data.decode()


WHATSAPP_CARRIER = """
[carriers.wa]
adapter = "whatsapp"
country = "NG"
phone_number_id = "106540352242922"
access_token = "EAAG-whatsapp-access-token-0123456789"
app_secret = "whatsapp-app-secret-0123456789"
verify_token = "whatsapp-verify-token-0123456789"
api_base_url = "http://127.0.0.1:9"
"""
ON_WHATSAPP = "Your daily lessons and reminders come on WhatsApp."
BY_SMS = "Your daily lessons and reminders come by SMS."
NO_WHATSAPP = "WhatsApp does not reach your number from here"
NO_SMS = "SMS does not reach your number from here"
CHOICE_IN_HELP = "CHANNEL: lessons by SMS or WhatsApp."


def simulator_replies(db_path, carriers_file, store, mode: str, texts: list[str],
                      *, first: str = "", last: str = "") -> list[str]:
    """What the simulator answers, in `mode`, to each of `texts` in turn (its replies
    joined), with `first` and `last` put before and after the test's carriers file."""
    carriers_file.write_text(first + carriers_file.read_text() + last)
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SIMULATOR": True, "SECRET_KEY": "k" * 32})
    client = app.test_client()
    token = csrf(client, f"/simulator?mode={mode}")
    html = client.get(f"/simulator?mode={mode}").data.decode()
    phone = re.search(r"Pretend number: (\+999\d{9})", html).group(1)
    answers = []
    for text in ["START", *texts]:
        before = len(store.outbox(phone))
        client.post("/simulator", data={"csrf": token, "mode": mode, "text": text})
        answers.append("\n".join(m.body for m in store.outbox(phone)[before:]))
    return answers[1:]


def test_the_simulators_whatsapp_mode_offers_sms_as_its_whatsapp_carrier_does(
        db_path, carriers_file, store):
    """In WhatsApp mode the pretend learner is a WhatsApp learner: with the WhatsApp
    carrier falling back to an SMS one, they may choose SMS and come back, and HELP says so."""
    status, help_, to_sms, to_whatsapp = simulator_replies(
        db_path, carriers_file, store, "whatsapp",
        ["CHANNEL", "HELP", "CHANNEL SMS", "CHANNEL WHATSAPP"],
        last=WHATSAPP_CARRIER + 'fallback_carrier = "twilio"\n')
    assert status == ON_WHATSAPP + " Reply CHANNEL SMS to get them by SMS."
    assert CHOICE_IN_HELP in help_
    assert to_sms.startswith(BY_SMS) and "WHATSAPP" in to_sms
    assert to_whatsapp.startswith(ON_WHATSAPP)


@pytest.mark.parametrize("whatsapp_carrier", [WHATSAPP_CARRIER, ""],
                         ids=["no-fallback", "no-whatsapp-carrier"])
def test_the_simulators_whatsapp_mode_stays_on_whatsapp_without_a_fallback(
        db_path, carriers_file, store, whatsapp_carrier):
    """A WhatsApp carrier without an SMS fallback offers no choice: WhatsApp is kept,
    SMS refused, HELP silent about it; so too with no WhatsApp carrier configured."""
    to_whatsapp, to_sms, help_ = simulator_replies(
        db_path, carriers_file, store, "whatsapp", ["CHANNEL WHATSAPP", "CHANNEL SMS", "HELP"],
        last=whatsapp_carrier)
    assert to_whatsapp == ON_WHATSAPP
    assert to_sms.startswith(NO_SMS) and to_sms.endswith("come on WhatsApp.")
    assert "CHANNEL" not in help_


def test_the_simulators_sms_mode_offers_whatsapp_as_its_sms_carrier_does(
        db_path, carriers_file, store):
    """In SMS mode the pretend learner is the first SMS carrier's, even when a WhatsApp
    carrier comes first in the file: WhatsApp is offered because that SMS carrier has a
    WhatsApp partner."""
    to_whatsapp, help_, to_sms = simulator_replies(
        db_path, carriers_file, store, "sms", ["CHANNEL WHATSAPP", "HELP", "CHANNEL SMS"],
        first=WHATSAPP_CARRIER + 'fallback_carrier = "twilio"\n')
    assert to_whatsapp.startswith(ON_WHATSAPP) and "CHANNEL SMS" in to_whatsapp
    assert CHOICE_IN_HELP in help_
    assert to_sms.startswith(BY_SMS)


def test_the_simulators_sms_mode_refuses_whatsapp_without_a_partner(
        db_path, carriers_file, store):
    """An SMS carrier no WhatsApp carrier falls back to offers no choice, even though a
    WhatsApp carrier is configured: WhatsApp is refused, HELP silent about it."""
    to_whatsapp, help_ = simulator_replies(
        db_path, carriers_file, store, "sms", ["CHANNEL WHATSAPP", "HELP"],
        first=WHATSAPP_CARRIER)
    assert to_whatsapp.startswith(NO_WHATSAPP)
    assert "CHANNEL" not in help_
