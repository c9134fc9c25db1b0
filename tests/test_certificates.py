"""Certificates: a learner who passes a course gets a code by SMS; anyone checks it by SMS
(VERIFY) or on a lite page (/verify), within rate limits. Real webhooks, real SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import create_app
from gateway.channels.sms import parse_command, render
from gateway.channels.ussd.wording import Wording as UssdWording
from gateway.learning import Engine
from gateway.learning import intents as i
from gateway.learning import replies as r
from gateway.learning.certificates import (
    ALPHABET,
    clean_display_name,
    format_code,
    new_code,
    normalize_code,
)
from gateway.phones import masked
from gateway.store import Store
from tests.conftest import CONSOLE_TOKEN, TwilioWebhooks, carriers_toml
from tests.fakes.clock import SimulatedClock

COURSE = "start-freelancing"
ADA = "+2348030000001"  # Nigeria: English
EMPLOYER = "+2348030000002"  # Nigeria: checks codes
AWA = "+221770000003"  # Senegal: French
# 4 March 2025, 10:00 UTC: the day every certificate here is issued.
ISSUED = datetime(2025, 3, 4, 10, 0, tzinfo=UTC).timestamp()
WEB_URL = "https://learn.example.org"  # the carrier's web_url (given with a final slash)
CODE_RE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2})\b")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(ISSUED)


@pytest.fixture
def app(db_path: Path, tmp_path: Path, twilio_api, carriers_file: Path, clock: SimulatedClock):
    """The gateway on a clock the test turns; a course takes about 60 messages from one
    number, so the inbound limits (tests/test_ratelimit.py) are lifted, as an operator may."""
    carriers = tmp_path / "certificates.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"
                       f'web_url = "{WEB_URL}/"\n'))
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "TESTING": True, "CLOCK": clock,
                       "SECRET_KEY": "certificates-secret-0123456789"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def twilio(client) -> TwilioWebhooks:
    return TwilioWebhooks(client)


def say(twilio: TwilioWebhooks, store: Store, phone: str, text: str) -> str:
    """One SMS through the signed Twilio webhook; the text of every reply it queued."""
    before = len(store.outbox(phone))
    assert twilio.sms(phone, text).status_code == 200
    return "\n".join(m.body for m in store.outbox(phone)[before:])


def take_course(twilio: TwilioWebhooks, store: Store, phone: str, *, right: bool) -> str:
    """START, then NEXT through every card and answer every question (all right, or all
    wrong), by SMS; the replies to the last answer."""
    say(twilio, store, phone, "START")
    course = store.course(COURSE)
    for _ in range(300):
        enrollment = store.enrollment(phone, COURSE)
        if enrollment.quiz is not None and enrollment.quiz.queue:
            locale = store.learner(phone).locale
            lesson = store.lesson(COURSE, course.lesson_ids[enrollment.position],
                                  course.locale_for(locale))
            question = lesson.questions[enrollment.quiz.queue[0]]
            choice = question.answer if right else (question.answer + 1) % len(
                question.options)
            last = say(twilio, store, phone, "ABCD"[choice])
            if store.enrollment(phone, COURSE).completed:
                return last
        else:
            say(twilio, store, phone, "NEXT")
    raise AssertionError("the course never ended")


def code_in(text: str) -> str:
    """The one certificate code a text shows (however many times it shows it)."""
    [code] = set(CODE_RE.findall(text))
    return code


def certificates(store: Store) -> list[dict]:
    return list(store.db.query("SELECT * FROM certificates ORDER BY issued_at"))


# -- codes ------------------------------------------------------------------------------------


def test_codes_are_ten_crockford_symbols_drawn_at_random():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000  # 50 bits: no repeats in a few thousand
    for code in codes:
        assert len(code) == 10 and set(code) <= set(ALPHABET)
        assert not set(code) & set("ILOU")
        assert normalize_code(code) == code
    # every symbol turns up, in every position (not a fixed or narrow pattern)
    assert {c for code in codes for c in code} == set(ALPHABET)
    assert all(len({code[n] for code in codes}) > 20 for n in range(10))
    assert format_code("7KQM2XHD9P") == "7KQM-2XHD-9P"


@pytest.mark.parametrize(("typed", "canonical"), [
    ("7KQM-2XHD-9P", "7KQM2XHD9P"),
    ("7kqm-2xhd-9p", "7KQM2XHD9P"),
    ("7KQM2XHD9P", "7KQM2XHD9P"),
    ("  7KQM 2XHD 9P ", "7KQM2XHD9P"),
    ("7 k q m 2 x h d 9 p", "7KQM2XHD9P"),
    ("7KQM\u20132XHD\u20149P", "7KQM2XHD9P"),  # dashes a phone's keyboard substitutes
    ("O1IL-oiLl-00", "0111011100"),  # O is 0; I and L are 1
    ("1O2I-3L4o-5i", "1021314051"),
])
def test_a_code_is_read_in_any_case_with_separators_and_confusables(typed, canonical):
    assert normalize_code(typed) == canonical


@pytest.mark.parametrize("typed", [
    None, "", "   ", "7KQM-2XHD-9", "7KQM-2XHD-9PP", "7KQM-2XHD-9U", "7KQM-2XHD-9*",
    "7KQM/2XHD/9P", "<script>", "7KQM-2XHD-9P" * 5, "7ＫQM-2XHD-9P",
])
def test_what_cannot_be_a_code_is_refused(typed):
    assert normalize_code(typed) is None


def test_a_display_name_is_trimmed_cleaned_and_short():
    assert clean_display_name("  Ada   Obi ") == "Ada Obi"
    assert clean_display_name("Ada\nObi\t") == "Ada Obi"
    assert clean_display_name("A\x07da\x00 \x1bObi") == "Ada Obi"
    assert clean_display_name("Ada \u202eibO") == "Ada ibO"  # no bidirectional override
    assert clean_display_name("Zoe\u0301") == "Zoé"  # composed (NFC)
    assert clean_display_name("x" * 60) == "x" * 40
    assert clean_display_name("Ada " + "x" * 36 + " Obi") == "Ada " + "x" * 36
    assert clean_display_name("\x07 \x08") is None and clean_display_name(None) is None


def test_a_display_name_hides_nothing_invisible_and_stacks_no_tall_marks():
    """What a name shows is what it is: no bidirectional marks, zero-width spaces, BOM or
    tag characters to hide behind, no tower of combining marks to overprint the line;
    the joiners Persian and emoji need stay where they join."""
    hidden = "A\u200fd\u200ba\u061c \ufeffO\u200eb\U000e0041i\u2060"
    assert clean_display_name(hidden) == "Ada Obi"
    tower = "Z" + "\u0301\u0300\u0302\u0303\u0304" * 4  # Z with acute composes (NFC)
    assert clean_display_name(tower + " Obi") == "\u0179\u0300\u0302\u0303 Obi"
    assert clean_display_name("\u0645\u064e\u0651\u062f") == "\u0645\u064e\u0651\u062f"
    assert clean_display_name("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == \
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # Persian's ZWNJ, between letters
    assert clean_display_name("\U0001f469\u200d\U0001f4bb Ada") == "Ada"  # no emoji
    # Nothing a VERIFY reply could read as a score or a sentence of its own.
    assert clean_display_name("Ada Obi, score 19/19 (100%). Top") == "Ada Obi score . Top"
    assert clean_display_name("Zoé N'Diaye-Sow Jr.") == "Zoé N'Diaye-Sow Jr."
    assert clean_display_name("देवनागरी नाम") == "देवनागरी नाम"  # spacing marks (Mc) kept
    assert clean_display_name("\u200dAda\u200d\u200d Obi\u200c") == "Ada Obi"
    assert clean_display_name("\ue000\U000f0000Ada") == "Ada"  # private use
    assert clean_display_name("\u3164 \u115f\u1160\uffa0\u034f") is None  # blank "letters"
    assert clean_display_name("A\u034fda\u3164") == "Ada"


# -- the commands --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "intent"), [
    ("NAME Ada Obi", i.SetName("Ada Obi")),
    ("name  Zoé N'Diaye ", i.SetName("Zoé N'Diaye")),
    ("Name: Ada", i.SetName("Ada")),
    ("NAME", i.SetName(None)),
    ("nom Awa Diop", i.SetName("Awa Diop")),
    ("NOM", i.SetName(None)),
    ("VERIFY 7kqm-2xhd-9p", i.Verify("7KQM-2XHD-9P")),
    ("verify", i.Verify(None)),
    ("VERIFIER 7KQM 2XHD 9P", i.Verify("7KQM 2XHD 9P")),
    ("vérifier 7kqm2xhd9p", i.Verify("7KQM2XHD9P")),
])
def test_name_and_verify_in_english_and_french(text, intent):
    assert parse_command(text) == intent


# -- issuing by SMS ---------------------------------------------------------------------------


def test_passing_the_course_by_sms_sends_a_certificate_code(twilio, store):
    last = take_course(twilio, store, ADA, right=True)
    assert "Well done, you passed!" in last
    shown = code_in(last)
    [issued] = certificates(store)
    assert issued["code"] == shown.replace("-", "")
    assert issued["phone"] == ADA and issued["course_id"] == COURSE
    assert issued["course_title"] == "Start freelancing"
    assert issued["holder"] == masked(ADA)  # no NAME set: the masked number
    assert issued["score"] == issued["total"] > 0 and issued["issued_at"] == ISSUED
    # The page's whole address, under the carrier's web_url: a path alone is no use in an SMS.
    assert f"VERIFY {shown}, or open {WEB_URL}/verify/{shown} on the" in last
    assert say(twilio, store, ADA, "NEXT") == ("You finished Start freelancing. Reply COURSES "
                                               "to choose another course.")
    assert say(twilio, store, ADA, "STATUS").endswith("Course complete.")


def test_a_failing_score_gets_no_certificate(twilio, store):
    last = take_course(twilio, store, ADA, right=False)
    assert "The pass mark is 70%" in last
    assert certificates(store) == []
    assert not CODE_RE.search(last) and "certificate" not in last.lower()


def test_a_course_finished_below_the_pass_mark_says_so_afterwards(twilio, store):
    """After a failing score, NEXT and STATUS keep saying the course is not passed and
    how to take it again, by SMS and on USSD, instead of looking like a finished one."""
    take_course(twilio, store, ADA, right=False)
    retake = "The pass mark is 70%. Reply START to take it again."
    assert say(twilio, store, ADA, "NEXT") == f"You finished Start freelancing. {retake}"
    status = say(twilio, store, ADA, "STATUS")
    assert status.endswith(f"Course complete. {retake}") and "6/6 lessons done" in status
    ussd = UssdWording("en")
    engine = Engine(store)
    learner = store.learner(ADA)
    assert ussd.reply(engine.handle(learner, i.Next(), interactive=True).replies[0]) \
        == "You finished Start freelancing. Pass mark: 70%."
    assert ussd.reply(engine.handle(learner, i.Status(), interactive=True).replies[0]) \
        .endswith("Course complete. Pass mark: 70%.")
    assert say(twilio, store, ADA, "START").startswith(
        "Welcome back to Start freelancing.\nLesson 1/6")  # taken again from the start


def test_completing_again_does_not_issue_another_code(twilio, store, clock):
    first = code_in(take_course(twilio, store, ADA, right=True))
    clock.now += 86400
    second = code_in(take_course(twilio, store, ADA, right=True))
    assert first == second  # the learner is reminded of the code they have
    [issued] = certificates(store)
    assert issued["issued_at"] == ISSUED


def test_name_shows_on_certificates_issued_after_it(twilio, store):
    assert say(twilio, store, ADA, "NAME") == (
        f"Your certificates show your number as {masked(ADA)}. To show your name instead, "
        "reply NAME and your name.")
    assert say(twilio, store, ADA, "NAME  \x07Ada\u202e   Obi ") == (
        "Saved. Certificates you earn from now on show the name Ada Obi.")
    assert store.learner(ADA).display_name == "Ada Obi"
    assert say(twilio, store, ADA, "name") == (
        "Your certificates show the name Ada Obi. To change it, reply NAME and your name.")
    code = code_in(take_course(twilio, store, ADA, right=True))
    assert certificates(store)[0]["holder"] == "Ada Obi"
    assert "by Ada Obi," in say(twilio, store, EMPLOYER, f"VERIFY {code}")
    long_name = "Ngozi " + "Adaeze" * 10
    say(twilio, store, ADA, f"NAME {long_name}")
    assert store.learner(ADA).display_name == long_name[:40]


def test_a_french_learner_sets_a_name_with_nom(twilio, store):
    assert say(twilio, store, AWA, "NOM").startswith(
        f"Vos certificats montrent votre numéro, {masked(AWA)}.")
    assert say(twilio, store, AWA, "nom Awa Diop") == (
        "C'est noté. Les certificats que vous obtiendrez porteront le nom Awa Diop.")
    last = take_course(twilio, store, AWA, right=True)
    code = code_in(last)
    assert f"Code de votre certificat : {code}." in last and f"VERIFIER {code}" in last
    assert certificates(store)[0]["holder"] == "Awa Diop"
    assert certificates(store)[0]["course_title"] == "Se lancer en freelance"


# -- checking by SMS -----------------------------------------------------------------------------


def test_verify_by_sms_in_english_and_french(twilio, store):
    code = code_in(take_course(twilio, store, ADA, right=True))
    total = certificates(store)[0]["total"]
    assert say(twilio, store, EMPLOYER, f"VERIFY {code.lower()}") == (
        f"Certificate {code} is genuine: Start freelancing, completed on March 4, 2025 by "
        f"{masked(ADA)}, score {total}/{total} (100%).")
    typed = code.replace("-", " ").replace("0", "O").replace("1", "l")
    assert say(twilio, store, AWA, f"VÉRIFIER {typed}") == (
        f"Le certificat {code} est authentique : Start freelancing, terminé le 4 mars 2025 "
        f"par {masked(ADA)}, score {total}/{total} (100 %).")
    unknown = "7KQM-2XHD-9P" if code != "7KQM-2XHD-9P" else "7KQM-2XHD-9Q"
    assert say(twilio, store, EMPLOYER, f"VERIFY {unknown}") == (
        f"No certificate has the code {unknown}. Please check it and try again.")
    assert say(twilio, store, AWA, f"VERIFIER {unknown}") == (
        f"Aucun certificat n'a le code {unknown}. Vérifiez-le et réessayez.")
    assert say(twilio, store, EMPLOYER, "VERIFY 12345") == (
        "12345 is not a certificate code. Codes have 10 letters and digits, like 7KQM-2XHD-9P.")
    assert say(twilio, store, EMPLOYER, "VERIFY") == (
        "To check a certificate, reply VERIFY and its code, e.g. VERIFY 7KQM-2XHD-9P.")
    assert say(twilio, store, AWA, "VERIFIER").startswith(
        "Pour vérifier un certificat, répondez VERIFIER et son code")


def test_verify_by_sms_is_rate_limited_per_number(twilio, store, clock):
    code = code_in(take_course(twilio, store, ADA, right=True))
    for n in range(9):
        assert "No certificate" in say(twilio, store, EMPLOYER, f"VERIFY 7KQM-2XHD-{n}P")
    assert "is genuine" in say(twilio, store, EMPLOYER, f"VERIFY {code}")  # the 10th
    assert say(twilio, store, EMPLOYER, f"VERIFY {code}") == (
        "You have checked many codes this hour. Please try again later.")
    assert "is genuine" in say(twilio, store, "+2348030000009", f"VERIFY {code}")
    clock.now += 3601
    assert "is genuine" in say(twilio, store, EMPLOYER, f"VERIFY {code}")


# -- the lite pages --------------------------------------------------------------------------


def test_the_verify_form(client):
    response = client.get("/verify")
    assert response.status_code == 200
    html = response.text
    assert '<form method="get" action="/verify">' in html
    assert re.search(r'<label for="code">Certificate code</label>\s*<input type="text" '
                     r'id="code" name="code" required', html)
    assert "<script" not in html and "By SMS: send VERIFY and the code." in html
    assert len(html.encode()) < 14 * 1024
    french = client.get("/verify", headers={"Accept-Language": "fr"}).text
    assert "Vérifier un certificat" in french and "VERIFIER" in french


def test_a_certificate_page(twilio, store, client):
    code = code_in(take_course(twilio, store, ADA, right=True))
    total = certificates(store)[0]["total"]
    response = client.get(f"/verify/{code}")
    assert response.status_code == 200
    html = response.text
    assert f'<h1>Certificate <span class="whole">{code}</span></h1>' in html
    assert "This certificate is genuine." in html
    for label, value in [("Course", "Start freelancing"), ("Completed by", masked(ADA)),
                         ("Date", "March 4, 2025"),
                         ("Score", f"{total}/{total} right (100%)")]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    # The form sends any spelling of the code to its page.
    typed = code.lower().replace("-", " ")
    redirect = client.get("/verify", query_string={"code": typed})
    assert redirect.status_code == 302 and redirect.location == f"/verify/{code}"
    assert client.get(f"/verify/{code.lower().replace('-', '')}").status_code == 200
    french = client.get(f"/verify/{code}", headers={"Accept-Language": "fr"}).text
    assert "<dt>Date</dt><dd>4 mars 2025</dd>" in french and "authentique" in french


def test_no_certificate_is_a_404_page_with_the_form_again(twilio, store, client):
    response = client.get("/verify/7KQM-2XHD-9P")
    assert response.status_code == 404
    html = response.text
    assert "No certificate has the code 7KQM-2XHD-9P." in html
    assert 'name="code"' in html and 'value="7KQM-2XHD-9P"' in html
    malformed = client.get("/verify", query_string={"code": "<b>oops</b>"})
    assert malformed.status_code == 404
    assert "&lt;b&gt;oops&lt;/b&gt; is not a certificate code." in malformed.text
    assert "<b>oops" not in malformed.text
    assert client.get("/verify/12345").status_code == 404
    assert client.get("/verify", query_string={"code": " "}).status_code == 200  # the form


def test_verify_pages_are_rate_limited_per_client_address(twilio, store, client, clock):
    code = code_in(take_course(twilio, store, ADA, right=True))
    elsewhere = {"REMOTE_ADDR": "198.51.100.7"}
    for n in range(29):
        assert client.get(f"/verify/7KQM-2XHD-{n % 10}P").status_code == 404
    assert client.get("/verify", query_string={"code": "nope"}).status_code == 404  # 30th
    assert client.get("/verify").status_code == 200  # the bare form costs nothing
    limited = client.get(f"/verify/{code}")
    assert limited.status_code == 429
    assert "Too many certificate codes were checked from here." in limited.text
    assert client.get(f"/verify/{code}", environ_base=elsewhere).status_code == 200
    clock.now += 3601
    assert client.get(f"/verify/{code}").status_code == 200


def test_verify_lookups_from_one_ipv6_64_share_one_limit(client):
    answers = [client.get(f"/verify/7KQM-2XHD-{n % 10}P",
                          environ_base={"REMOTE_ADDR": f"2001:db8:5:6::{n + 1:x}"}).status_code
               for n in range(31)]
    assert answers == [404] * 30 + [429]
    assert client.get("/verify/7KQM-2XHD-0P",
                      environ_base={"REMOTE_ADDR": "2001:db8:5:7::1"}).status_code == 404


def test_the_web_results_page_shows_the_code_of_a_course_finished_there(
        twilio, store, client):
    """Five lessons by SMS, the last quiz on the web after signing in."""
    say(twilio, store, ADA, "START")
    course = store.course(COURSE)
    while store.enrollment(ADA, COURSE).position < len(course.lesson_ids) - 1:
        enrollment = store.enrollment(ADA, COURSE)
        if enrollment.quiz is not None and enrollment.quiz.queue:
            lesson = store.lesson(COURSE, course.lesson_ids[enrollment.position], "en")
            say(twilio, store, ADA, "ABCD"[lesson.questions[enrollment.quiz.queue[0]].answer])
        else:
            say(twilio, store, ADA, "NEXT")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    client.post("/signin", data={"csrf": token, "phone": ADA})
    sign_in_code = re.search(r"code is (\d{6})", store.outbox(ADA)[-1].body).group(1)
    assert client.post("/signin/code", data={"csrf": token, "code": sign_in_code}
                       ).status_code == 302
    last = store.lesson(COURSE, course.lesson_ids[-1], "en")
    quiz = f"/courses/{COURSE}/{last.id}/quiz"
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(quiz).text).group(1)
    answers = {f"q{n}": str(q.answer) for n, q in enumerate(last.questions)}
    html = client.post(quiz, data={"csrf": token, **answers}).text
    [issued] = certificates(store)
    shown = format_code(issued["code"])
    assert f'Your certificate code: <span class="whole">{shown}</span>.' in html
    assert f'href="/verify/{shown}"' in html


# -- wording on every channel ------------------------------------------------------------------


SAMPLES = [
    r.CourseDone("C", 19, 19, 70, True, certificate="7KQM2XHD9P"),
    r.NameShown(None, "+23480******01"), r.NameShown("Ada", "+23480******01"),
    r.NameShown("Ada", "+23480******01", changed=True),
    r.NameShown("Ada", "+23480******01", changed=True, certificates=1),
    r.CertificateShown("7KQM2XHD9P", "C", "Ada", 15, 19, ISSUED),
    r.Notice("verify_how"), r.Notice("verify_limited"),
    r.Notice("no_certificate", {"code": "X", "malformed": True}),
    r.Notice("no_certificate", {"code": "7KQM-2XHD-9P", "malformed": False}),
]


@pytest.mark.parametrize("reply", SAMPLES, ids=lambda reply: type(reply).__name__)
def test_every_certificate_reply_is_worded_in_english_and_french(reply):
    english, french = render((reply,), "en"), render((reply,), "fr")
    assert english and french and english != french
    assert "%(" not in english + french and "\u202f" not in french


def test_the_certificate_page_is_a_path_without_the_carriers_web_url():
    done = SAMPLES[0]
    assert "open /verify/7KQM-2XHD-9P on the Learnline website" in render((done,), "en")
    assert f"open {WEB_URL}/verify/7KQM-2XHD-9P on the" in render((done,), "en", WEB_URL + "/")


def test_ussd_shows_the_certificate_code_when_the_course_is_done():
    done = SAMPLES[0]
    assert "Your certificate code: 7KQM-2XHD-9P." in UssdWording("en").reply(done)
    assert "Code de votre certificat : 7KQM-2XHD-9P." in UssdWording("fr").reply(done)
    failed = r.CourseDone("C", 5, 19, 70, False)
    assert "7KQM" not in UssdWording("en").reply(failed)


# -- completions are counted from events ------------------------------------------------------


def test_a_course_retaken_after_its_certificate_still_counts_as_completed(app, twilio,
                                                                          db_path: Path):
    from gateway.ops.reports import build_report

    with Store.open(db_path) as store:
        take_course(twilio, store, ADA, right=True)
        assert len(certificates(store)) == 1
        say(twilio, store, ADA, "START")  # a retake clears the enrollment's completion
        assert not store.enrollment(ADA, COURSE).completed
        [funnel] = [f for f in build_report(store, []).funnels
                    if f.course_id == COURSE]
    assert funnel.completed == 1
    assert funnel.started == 1


# -- a learner's certificates after they are issued ----------------------------------------------


def test_name_after_a_certificate_puts_the_name_on_it(twilio, store):
    code = code_in(take_course(twilio, store, ADA, right=True))
    assert certificates(store)[0]["holder"] == masked(ADA)
    assert say(twilio, store, ADA, "NAME Ada Obi") == (
        "Saved. Your certificates now show the name Ada Obi.")
    assert certificates(store)[0]["holder"] == "Ada Obi"
    assert "by Ada Obi," in say(twilio, store, EMPLOYER, f"VERIFY {code}")
    assert say(twilio, store, AWA, "NOM Awa") == (
        "C'est noté. Les certificats que vous obtiendrez porteront le nom Awa.")


def test_the_progress_page_shows_the_learners_certificates(twilio, store, client):
    shown = code_in(take_course(twilio, store, ADA, right=True))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    client.post("/signin", data={"csrf": token, "phone": ADA})
    sign_in_code = re.search(r"code is (\d{6})", store.outbox(ADA)[-1].body).group(1)
    assert client.post("/signin/code", data={"csrf": token, "code": sign_in_code}
                       ).status_code == 302
    html = client.get("/progress").text
    assert "Certificates" in html and shown in html
    assert f'href="/verify/{shown}"' in html


def test_without_web_url_the_certificate_sms_gives_the_public_address(
        tmp_path, db_path, twilio_api, carriers_file, clock):
    from tests.conftest import PUBLIC_URL

    carriers = tmp_path / "public-only.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                      "TESTING": True, "CLOCK": clock,
                      "SECRET_KEY": "certificates-secret-0123456789"})
    with Store.open(db_path) as store:
        last = take_course(TwilioWebhooks(app.test_client()), store, ADA, right=True)
    shown = code_in(last)
    assert f"open {PUBLIC_URL}/verify/{shown} on the" in last


class ConsoleWebhooks:
    """Inbound SMS through the console carrier's webhook (a carrier with neither
    `web_url` nor `public_url`)."""

    def __init__(self, client):
        self.client = client

    def sms(self, phone: str, body: str):
        return self.client.post(f"/carriers/console/sms?token={CONSOLE_TOKEN}",
                                data={"from": phone, "text": body})


def test_without_the_carriers_addresses_the_certificate_sms_gives_the_gateways(
        tmp_path, db_path, twilio_api, carriers_file, clock, monkeypatch):
    carriers = tmp_path / "console-only.toml"
    carriers.write_text(carriers_toml(twilio_api.url).replace(
        f'webhook_token = "{CONSOLE_TOKEN}"\n',
        f'webhook_token = "{CONSOLE_TOKEN}"\ninbound_per_minute = 10000\n'
        "inbound_per_hour = 10000\n"))
    monkeypatch.setenv("LEARNLINE_PUBLIC_URL", "https://learn.example.net/learnline/")
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                      "TESTING": True, "CLOCK": clock,
                      "SECRET_KEY": "certificates-secret-0123456789"})
    with Store.open(db_path) as store:
        last = take_course(ConsoleWebhooks(app.test_client()), store, AWA, right=True)
    shown = code_in(last)
    # A Senegalese number: worded in French, the address whole all the same.
    assert f"https://learn.example.net/learnline/verify/{shown} sur le" in last


# -- results a learner earns only by answering ---------------------------------------------


def _signed_in(client, store: Store, phone: str) -> str:
    """Sign `client` in as `phone`; its CSRF token."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    client.post("/signin", data={"csrf": token, "phone": phone})
    code = re.search(r"code is (\d{6})", store.outbox(phone)[-1].body).group(1)
    assert client.post("/signin/code", data={"csrf": token, "code": code}).status_code == 302
    # Signed in, the session has a new token.
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/progress").text).group(1)


def _right(store: Store, lesson_id: str) -> dict[str, str]:
    lesson = store.lesson(COURSE, lesson_id, "en")
    return {f"q{n}": str(q.answer) for n, q in enumerate(lesson.questions)}


def test_a_course_taken_again_completes_on_that_attempts_scores_alone(twilio, store, client,
                                                                      clock):
    """A failed course taken again (START): the earlier attempt's lesson scores do not count
    towards it, so answering two lessons' quizzes earns nothing; STATUS counts this
    attempt's lessons. The earlier attempt's rows stay for the reports."""
    assert "certificate" not in take_course(twilio, store, ADA, right=False).lower()
    assert store.certificates_of(ADA) == []
    clock.now += 3600
    say(twilio, store, ADA, "START")  # taken again
    assert store.db.execute("SELECT count(*) FROM lesson_results").fetchone()[0] == 6
    assert "0/6 lessons done" in say(twilio, store, ADA, "STATUS")
    token = _signed_in(client, store, ADA)
    lessons = store.course(COURSE).lesson_ids
    for lesson_id in lessons[-2:]:
        page = client.post(f"/courses/{COURSE}/{lesson_id}/quiz",
                           data={"csrf": token, **_right(store, lesson_id)}).text
    assert "Course complete" not in page
    assert "starting with lesson 1" in page
    assert store.certificates_of(ADA) == []
    assert "2/6 lessons done, 7/7 right" in say(twilio, store, ADA, "STATUS")


def test_a_quiz_half_answered_by_sms_keeps_its_first_tries_on_the_web(twilio, store, client):
    """Answered wrong by SMS (the feedback tells the right answer), a question cannot get
    a fresh first try by posting the same lesson's quiz on the web."""
    say(twilio, store, ADA, "START")
    course = store.course(COURSE)
    lesson = store.lesson(COURSE, course.lesson_ids[0], "en")
    while store.enrollment(ADA, COURSE).quiz is None:
        say(twilio, store, ADA, "NEXT")
    first = lesson.questions[store.enrollment(ADA, COURSE).quiz.queue[0]]
    say(twilio, store, ADA, "ABCD"[(first.answer + 1) % len(first.options)])  # wrong
    token = _signed_in(client, store, ADA)
    client.post(f"/courses/{COURSE}/{lesson.id}/quiz",
                data={"csrf": token, **_right(store, lesson.id)})
    assert store.lesson_results(ADA, COURSE) == {lesson.id: (len(lesson.questions) - 1,
                                                             len(lesson.questions))}
    first_tries = [row["correct"] for row in store.db.query(
        "SELECT correct FROM answers WHERE phone = ? AND question = 0 AND first_try = 1",
        [ADA])]
    assert first_tries == [0]  # one first try for the question, the wrong one


def test_results_kept_at_sign_in_complete_the_course_with_its_certificate(store, client):
    """Every lesson's quiz taken in a browser before signing in: signing in completes the
    course with its certificate, where it used to be complete without one (no way to
    get it but taking the whole course again)."""
    lessons = store.course(COURSE).lesson_ids
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    for lesson_id in lessons:
        client.post(f"/courses/{COURSE}/{lesson_id}/quiz",
                    data={"csrf": token, **_right(store, lesson_id)})
    _signed_in(client, store, ADA)
    assert store.enrollment(ADA, COURSE).completed
    [certificate] = store.certificates_of(ADA)
    assert (certificate.score, certificate.total) == (19, 19)


def test_a_last_lesson_kept_at_sign_in_is_not_asked_again(twilio, store, client):
    """Only the last lesson taken before signing in: the learner's place is the first
    lesson without a score, not the last one again (whose score a second try by SMS
    would have replaced)."""
    lessons = store.course(COURSE).lesson_ids
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
    wrong = {name: str((int(value) + 1) % 3) for name, value in
             _right(store, lessons[-1]).items()}
    client.post(f"/courses/{COURSE}/{lessons[-1]}/quiz", data={"csrf": token, **wrong})
    _signed_in(client, store, ADA)
    assert store.enrollment(ADA, COURSE).position == 0
    assert "Lesson 1/6" in say(twilio, store, ADA, "NEXT")
