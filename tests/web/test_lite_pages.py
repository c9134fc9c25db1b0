"""The lite pages in a real browser (headless Chromium, JavaScript off): the learner's
journey across SMS and the web, HTML validity and accessibility of every page type."""

from __future__ import annotations

import re

import pytest

from gateway.channels.sms import handle_inbound
from gateway.config import Carrier
from gateway.store import Store
from tests.conftest import csrf
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations,
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
    serve_app,
    validate_html,
)

pytestmark = pytest.mark.slow
PHONE = "+2348030000000"
COURSE = "/courses/start-freelancing"
LESSON = COURSE + "/find-your-skill"
# Every language the pages are checked in.
LOCALES = ("en", "fr", "pt", "sw", "ar")


def sms(store: Store, text: str) -> str:
    carrier = Carrier.of(id="twilio", adapter="twilio", country="NG", max_segments=10)
    before = len(store.outbox())
    handle_inbound(store, carrier, store.record_inbound("twilio", f"SM{before}", PHONE, text))
    return "\n".join(m.body for m in store.outbox()[before:])


def answer_quiz(page, store: Store, lesson_id: str = "find-your-skill") -> None:
    lesson = store.lesson("start-freelancing", lesson_id, "en")
    for question in lesson.questions:
        page.get_by_role("group", name=re.compile(re.escape(question.text))).get_by_label(
            question.options[question.answer]).check()
    follow(page.get_by_role("button", name="Check my answers"))


def test_a_visitor_browses_reads_and_takes_a_quiz(browser, site, store):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/")
        expect(page.get_by_role("heading", name="Courses")).to_be_visible()
        follow(page.get_by_role("link", name="Start freelancing"))
        follow(page.get_by_role("link", name="Find a skill people pay for"))
        assert page.get_by_role("heading", level=1).inner_text() == (
            "Lesson 1/6: Find a skill people pay for")
        follow(page.get_by_role("button", name="Take the quiz"))
        answer_quiz(page, store)
        expect(page.get_by_text("3 of 3 right.")).to_be_visible()
        follow(page.get_by_role("link", name="My progress"))
        expect(page.get_by_text("1/6 lessons done, 3/3 right.")).to_be_visible()
        expect(page.get_by_text("kept in this browser only")).to_be_visible()


def test_started_by_sms_signs_in_and_finishes_on_the_web(browser, site, store):  # noqa: F811
    """The issue's story, in a real browser with JavaScript off."""
    sms(store, "START")
    sms(store, "NEXT")
    with opened_page(browser, 360, 640) as page:
        page.goto(site + "/")
        follow(page.get_by_role("link", name="Sign in").first)
        page.get_by_label("Your phone number").fill("0803 000 0000")
        follow(page.get_by_role("button", name="Send me a code"))
        code = re.search(r"code is (\d{6})", store.outbox(PHONE)[-1].body).group(1)
        page.get_by_label("Code").fill(code)
        follow(page.get_by_role("button", name="Sign in"))
        expect(page.get_by_role("heading", name="My progress")).to_be_visible()
        expect(page.get_by_text("Next: Find a skill people pay for")).to_be_visible()
        follow(page.get_by_role("link", name="Start freelancing"))
        expect(page.get_by_text("You are here")).to_be_visible()  # the lesson SMS is in
        follow(page.get_by_role("link", name="Find a skill people pay for"))
        follow(page.get_by_role("button", name="Take the quiz"))
        answer_quiz(page, store)
        expect(page.get_by_text("3 of 3 right.")).to_be_visible()
    status = sms(store, "STATUS")
    assert "Start freelancing: 1/6 lessons done, 3/3 right." in status
    assert "Find your first clients" in status


def _documents(app, store: Store) -> dict[str, str]:
    """Every page type, in every language of LOCALES, as the server sends them."""
    documents = {}
    for number, locale in enumerate(LOCALES):
        client = app.test_client()
        client.post("/lang", data={"csrf": csrf(client, "/"), "lang": locale})
        for name, path in [("catalogue", "/"), ("course", COURSE), ("lesson", LESSON),
                           ("quiz", LESSON + "/quiz"), ("progress", "/progress"),
                           ("help", "/help"), ("signin", "/signin"), ("notfound", "/nope"),
                           ("simulator-sms", "/simulator"),
                           ("simulator-ussd", "/simulator?mode=ussd")]:
            documents[f"{locale}-{name}"] = client.get(path).data.decode()
        # The WhatsApp chat at the first question: cards, bold titles, reply buttons.
        for text in ("START", *["NEXT"] * 5):
            client.post("/simulator", data={"csrf": csrf(client, "/simulator"),
                                            "mode": "whatsapp", "text": text})
        documents[f"{locale}-simulator-whatsapp"] = \
            client.get("/simulator?mode=whatsapp").data.decode()
        html = documents[f"{locale}-quiz"]
        token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        results = client.post(LESSON + "/quiz", data={"csrf": token, "q0": "0", "q1": "2",
                                                      "q2": "1"})
        documents[f"{locale}-results"] = results.data.decode()
        documents[f"{locale}-quiz-incomplete"] = client.post(
            LESSON + "/quiz", data={"csrf": token, "q0": "0"}).data.decode()
        documents[f"{locale}-signin-error"] = client.post(
            "/signin", data={"csrf": token, "phone": "not a number"}).data.decode()
        client.post("/signin", data={"csrf": token, "phone": f"+23480300001{number}0"})
        documents[f"{locale}-code"] = client.get("/signin/code").data.decode()
        documents[f"{locale}-code-wrong"] = client.post(
            "/signin/code", data={"csrf": token, "code": "12"}).data.decode()
        documents[f"{locale}-csrf-error"] = client.post("/signin", data={}).data.decode()
        for _ in range(12):
            limited = client.post("/signin", data={"csrf": token, "phone": PHONE})
        assert limited.status_code == 429
        documents[f"{locale}-limited"] = limited.data.decode()
    return documents


def test_every_page_is_valid_html(app, store):
    documents = _documents(app, store)
    assert len(documents) == 18 * len(LOCALES)
    assert validate_html(documents) == []


def test_every_page_passes_an_accessibility_audit(browser, app, site, store):  # noqa: F811
    for path in ("/", COURSE, LESSON, LESSON + "/quiz", "/progress", "/help", "/signin",
                 "/simulator", "/simulator?mode=ussd", "/simulator?mode=whatsapp"):
        assert axe_violations(site + path, 240, 320, browser=browser) == [], path
    for name, html in _documents(app, store).items():
        if name.startswith("en-") and name.split("-", 1)[1] in (
                "results", "quiz-incomplete", "signin-error", "code", "code-wrong",
                "csrf-error", "limited", "notfound", "simulator-whatsapp"):
            assert axe_violations_in_html(html, 240, 320, browser=browser,
                                          base_url=site + "/help") == [], name


# -- certificates (/verify) -----------------------------------------------------------------

CERTIFICATE = "7KQM-2XHD-9P"
# Elements that stick out of the viewport or whose text is cut by their own box.
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) found.push('page: scrolls sideways');
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const what = el.tagName + ' ' + (el.textContent || el.value || '').trim().slice(0, 40);
    if (box.left < -1 || box.right > width + 1) found.push(what + ': outside the viewport');
    if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1
        && el.tagName !== 'INPUT') found.push(what + ': text cut');
  }
  return found;
}"""


def _issue_certificate(store: Store) -> None:
    with store.write():
        store.issue_certificate(PHONE, "start-freelancing", "Start freelancing",
                                "Chiamaka Adaeze Okonkwo-Balogun", 18, 19,
                                lambda: CERTIFICATE.replace("-", ""))


def _verify_documents(app) -> dict[str, str]:
    """The certificate pages, in every language of LOCALES, as the server sends them: the
    form, a certificate, no such certificate, not a code, and over the limit."""
    documents = {}
    for number, locale in enumerate(LOCALES):
        client = app.test_client()
        client.post("/lang", data={"csrf": csrf(client, "/"), "lang": locale})
        address = {"REMOTE_ADDR": f"192.0.2.{number + 1}"}
        for name, path, status in [("verify", "/verify", 200),
                                   ("certificate", f"/verify/{CERTIFICATE}", 200),
                                   ("no-certificate", "/verify/7KQM-2XHD-9Q", 404),
                                   ("not-a-code", "/verify?code=hello", 404)]:
            response = client.get(path, environ_base=address)
            assert response.status_code == status, (locale, path)
            documents[f"{locale}-{name}"] = response.data.decode()
        for _ in range(30):
            limited = client.get(f"/verify/{CERTIFICATE}", environ_base=address)
        assert limited.status_code == 429
        documents[f"{locale}-verify-limited"] = limited.data.decode()
    return documents


def test_a_certificate_is_checked_with_the_form_in_a_browser(browser, site, store):  # noqa: F811
    _issue_certificate(store)
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/help")
        follow(page.get_by_role("link", name="Check a certificate"))
        page.get_by_label("Certificate code").fill("7kqm 2xhd 9p")
        follow(page.get_by_role("button", name="Check"))
        assert page.url == f"{site}/verify/{CERTIFICATE}"
        expect(page.get_by_text("This certificate is genuine.")).to_be_visible()
        expect(page.get_by_text("Chiamaka Adaeze Okonkwo-Balogun")).to_be_visible()
        assert page.evaluate(CLIPPED) == []
        # At 240 px the code is read and copied whole: one line, not broken at a hyphen.
        assert page.locator("h1 .whole").inner_text() == CERTIFICATE
        assert page.evaluate("document.querySelector('h1 .whole').getClientRects().length") == 1
        follow(page.get_by_role("link", name="Check another code"))
        page.get_by_label("Certificate code").fill("7KQM-2XHD-9Q")
        follow(page.get_by_role("button", name="Check"))
        assert page.get_by_role("alert").inner_text() == (
            "No certificate has the code 7KQM-2XHD-9Q. Please check it and try again.")
        assert page.evaluate(CLIPPED) == []


def test_the_certificate_pages_are_valid_accessible_and_unclipped(browser, app, site,  # noqa: F811
                                                                   store):
    _issue_certificate(store)
    documents = _verify_documents(app)
    assert len(documents) == 5 * len(LOCALES)
    assert validate_html(documents) == []
    with opened_page(browser, 240, 320) as page:
        for name, html in documents.items():
            assert axe_violations_in_html(html, 240, 320, browser=browser,
                                          base_url=site + "/help") == [], name
            page.goto(site + "/help")
            page.set_content(html)
            assert page.evaluate(CLIPPED) == [], name
