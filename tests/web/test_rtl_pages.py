"""The lite pages in Arabic, in a real browser (headless Chromium, JavaScript off) on a
240x320 phone: every learner page type is right to left (`<html lang="ar" dir="rtl">`, main
text laid out rtl), mirrored (a lesson card's border on the right), has no text clipped and
does not scroll sideways; phone numbers and certificate codes keep their left-to-right order
inside Arabic sentences; the footer's language switch lists every catalog; and every page
passes axe-core at WCAG 2.1 A and AA in Arabic.

Works with or without the Arabic lessons: without them a lesson is the course's English,
marked `lang="en" dir="ltr"` inside the Arabic page, and checked as such.
"""

from __future__ import annotations

import re

import pytest

from gateway.channels.web import http
from gateway.i18n import available_locales, language_name, text_direction
from gateway.learning import Engine
from gateway.phones import masked
from gateway.store import Store
from tests.conftest import csrf, web_sign_in
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations,
    axe_violations_in_html,
    browser,
    follow,
    opened_page,
    serve_app,
)

pytestmark = pytest.mark.slow
PHONE = "+212612345678"
MASKED = masked(PHONE)  # +21261*****78
COURSE = "/courses/start-freelancing"
LESSON = COURSE + "/find-your-skill"
CERTIFICATE = "7KQM-2XHD-9P"

# What is wrong with the page as laid out: direction, clipped text, sideways scrolling.
CHECK = """expected => {
  const html = document.documentElement;
  const width = window.innerWidth;
  const found = [];
  if (html.dir !== expected.dir) found.push('<html dir>: ' + html.dir);
  if (html.lang !== expected.lang) found.push('<html lang>: ' + html.lang);
  if (document.scrollingElement.scrollWidth > width)
    found.push('page scrolls sideways: ' + document.scrollingElement.scrollWidth);
  const main = document.querySelector('main');
  if (getComputedStyle(main).direction !== expected.dir)
    found.push('main: ' + getComputedStyle(main).direction);
  for (const el of document.body.querySelectorAll('*')) {
    const text = (el.innerText || '').trim();
    const box = el.getBoundingClientRect();
    if (!text || !box.width || !box.height) continue;
    const what = el.tagName + ' ' + text.slice(0, 40);
    const style = getComputedStyle(el);
    // Main text in the page's language runs in the page's direction.
    if (main.contains(el) && !el.closest('main [dir], main [lang]')
        && /^(P|H1|H2|LI|LEGEND|LABEL|DT|DD)$/.test(el.tagName)
        && style.direction !== expected.dir) found.push(what + ': direction ' + style.direction);
    if (box.left < -1 || box.right > width + 1) found.push(what + ': outside the viewport');
    if (el.tagName === 'INPUT') continue;
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
      found.push(what + ': text clipped');
    if (/^(block|list-item)$/.test(style.display) && el.clientWidth
        && el.scrollWidth > el.clientWidth + 1) found.push(what + ': text sticks out');
  }
  return found;
}"""

# The characters of an element's text in the order they are seen (top to bottom, then left
# to right on each line): the text itself when it is laid out left to right.
SEEN = """el => {
  const seen = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      if (!node.data[i].trim()) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      seen.push([Math.round(box.top), box.left, node.data[i]]);
    }
  }
  seen.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return seen.map(s => s[2]).join('');
}"""

BORDERS = """el => { const s = getComputedStyle(el);
  return [parseFloat(s.borderLeftWidth), parseFloat(s.borderRightWidth)]; }"""


@pytest.fixture
def carriers_file(carriers_file):
    """The test carriers and one for Morocco, where the Arabic-reading learner lives
    (sign-in codes go only to countries a carrier serves)."""
    carriers_file.write_text(carriers_file.read_text()
                             + '\n[carriers.maroc]\nadapter = "console"\ncountry = "MA"\n')
    return carriers_file


def _issue_certificate(store: Store) -> None:
    with store.write():
        store.issue_certificate(PHONE, "start-freelancing", "Start freelancing",
                                "Chiamaka Adaeze Okonkwo-Balogun", 18, 19,
                                lambda: CERTIFICATE.replace("-", ""))


def _arabic_lessons(store: Store) -> bool:
    return store.course("start-freelancing").locale_for("ar") == "ar"


def _check(page, name: str, lang: str = "ar", direction: str = "rtl") -> None:
    # A loaded machine can still be swapping the document in when goto returns.
    page.wait_for_load_state("load")
    assert page.evaluate(CHECK, {"lang": lang, "dir": direction}) == [], name


def _seen(page, selector: str) -> list[str]:
    """Each matching element's text as laid out, without spaces."""
    return [page.evaluate(SEEN, element) for element in page.locator(selector).element_handles()]


def _in_order(page, selector: str) -> bool:
    """Whether every matching element (at least one) shows its text in its own order."""
    texts = ["".join(text.split()) for text in page.locator(selector).all_inner_texts()]
    return bool(texts) and _seen(page, selector) == texts


def test_arabic_is_a_right_to_left_catalog():
    assert "ar" in available_locales()
    assert text_direction("ar") == "rtl"
    assert {text_direction(loc) for loc in available_locales() if loc != "ar"} == {"ltr"}


def test_every_learner_page_in_arabic_is_right_to_left_and_unclipped(browser, site,  # noqa: F811
                                                                     store):
    """The browser asks for Arabic (Accept-Language), as a phone set to Arabic does."""
    _issue_certificate(store)
    arabic_lessons = _arabic_lessons(store)
    with opened_page(browser, 240, 320, locale="ar-MA") as page:
        for name, path in [("catalogue", "/"), ("course", COURSE), ("lesson", LESSON),
                           ("quiz", LESSON + "/quiz"), ("progress", "/progress"),
                           ("help", "/help"), ("signin", "/signin"), ("verify", "/verify"),
                           ("certificate", f"/verify/{CERTIFICATE}"),
                           ("no-certificate", "/verify/7KQM-2XHD-9Q"),
                           ("not-a-code", "/verify?code=hello"), ("not-found", "/nope"),
                           ("simulator-sms", "/simulator"),
                           ("simulator-ussd", "/simulator?mode=ussd"),
                           ("simulator-whatsapp", "/simulator?mode=whatsapp")]:
            page.goto(site + path)
            _check(page, name)

        # The lesson: its cards mirrored, their border on the reading side.
        page.goto(site + LESSON)
        cards = page.locator(".card")
        assert cards.count() >= 3
        for card in cards.element_handles():
            left, right = page.evaluate(BORDERS, card)
            if arabic_lessons:
                assert (left, right) == (0, 4)
                assert card.get_attribute("dir") is None
            else:  # the course's English, marked as such inside the Arabic page
                assert (card.get_attribute("lang"), card.get_attribute("dir")) == ("en", "ltr")
                assert (left, right) == (4, 0)

        # The quiz answered (every answer wrong: each is then explained and offered again),
        # the results, the missed ones tried again, and the quiz sent incomplete.
        lesson = store.lesson("start-freelancing", "find-your-skill",
                              "ar" if arabic_lessons else "en")
        page.goto(site + LESSON + "/quiz")
        for number, question in enumerate(lesson.questions):
            wrong = (question.answer + 1) % len(question.options)
            page.locator(f"input[name=q{number}][value='{wrong}']").check()
        follow(page.locator("form button[type=submit]"))
        assert page.locator("main h2").count() == len(lesson.questions) + 1
        _check(page, "results")
        page.locator("fieldset input[type=radio]").first.check()
        follow(page.locator("form button[type=submit]"))
        _check(page, "results-retried")
        page.goto(site + LESSON + "/quiz")
        page.locator("fieldset input[type=radio]").first.check()
        follow(page.locator("form button[type=submit]"))
        _check(page, "quiz-incomplete")

        # The simulator's pretend number and USSD code (*384#, not #384*) read left to right.
        page.goto(site + "/simulator?mode=ussd")
        assert _in_order(page, "button bdi[dir=ltr]")
        assert _in_order(page, "main p bdi[dir=ltr]")

        # The certificate's code and score read left to right inside the Arabic heading.
        page.goto(site + f"/verify/{CERTIFICATE}")
        assert page.locator("h1 bdi[dir=ltr]").inner_text() == CERTIFICATE
        assert _seen(page, "h1 bdi") == [CERTIFICATE.replace(" ", "")]
        assert "95" in page.locator("dd bdi").inner_text()
        assert _in_order(page, "dd bdi")


def _submit(page, field: str, value: str) -> None:
    """Type `value` into the form's `field` and send the form."""
    page.locator(field).fill(value)
    follow(page.locator("form button[type=submit]"))


def test_phone_numbers_keep_their_order_in_arabic(browser, site, store):  # noqa: F811
    """Sign in through the language switch: a wrong number (the example number in the
    error), the code page (the masked number), then signed in (the footer's number)."""
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/signin")
        follow(page.locator(f"footer button[lang=ar]:text-is('{language_name('ar')}')"))
        assert page.url == site + "/signin"
        _check(page, "signin")
        _submit(page, "#phone", "not a number")
        _check(page, "signin-error")
        # The example number in the message (whichever the translator chose).
        assert _in_order(page, "#phone-error bdi[dir=ltr]")
        assert page.locator("#phone").get_attribute("dir") == "ltr"

        _submit(page, "#phone", PHONE)
        assert page.url == site + "/signin/code"
        _check(page, "code")
        assert page.locator("main bdi[dir=ltr]").inner_text() == MASKED
        assert _seen(page, "main bdi[dir=ltr]") == [MASKED]
        code = re.search(r"\d{6}", store.outbox(PHONE)[-1].body).group()
        _submit(page, "#code", "000000" if code != "000000" else "111111")
        _check(page, "code-wrong")
        _submit(page, "#code", code)
        assert page.url == site + "/progress"
        _check(page, "progress-signed-in")
        assert page.locator("footer bdi[dir=ltr]").inner_text() == MASKED
        assert _seen(page, "footer bdi[dir=ltr]") == [MASKED]
    assert store.learner(PHONE).locale == "ar"


def test_the_language_switch_lists_every_catalog_and_sets_the_learners_language(app, store):
    client = app.test_client()
    html = client.get("/help", headers={"Accept-Language": "ar"}).data.decode()
    assert '<html lang="ar" dir="rtl">' in html
    footer = html[html.index("<footer>"):]
    assert f"<b>{language_name('ar')}</b>" in footer and "العربية" in footer
    for locale in available_locales():
        if locale == "ar":
            continue
        # Each language in its own name and script, marked with its language; its own
        # direction where that is not the page's (so the list keeps its order).
        assert (f'<button class="link" name="lang" value="{locale}" lang="{locale}" '
                f'dir="ltr">{language_name(locale)}</button>') in footer, locale
    english = client.get("/help", headers={"Accept-Language": "en"}).data.decode()
    assert '<html lang="en" dir="ltr">' in english
    assert ('<button class="link" name="lang" value="ar" lang="ar" dir="rtl">العربية</button>'
            in english)

    # Every language switches the page, and a signed-in learner's one language.
    with store.write():
        Engine(store).learner(PHONE, "twilio", "en")
    web_sign_in(client, store, PHONE)
    for locale in (*available_locales()[1:], available_locales()[0]):
        response = client.post("/lang", data={"csrf": csrf(client, "/progress"),
                                               "lang": locale, "next": "/progress"})
        assert response.status_code == 303 and response.location.endswith("/progress")
        page = client.get("/progress").data.decode()
        assert f'<html lang="{locale}" dir="{text_direction(locale)}">' in page, locale
        assert store.learner(PHONE).locale == locale
    assert client.post("/lang", data={"csrf": csrf(client, "/"), "lang": "xx"}
                       ).status_code == 404


def test_cards_and_menus_mirror_with_and_without_logical_properties(browser):  # noqa: F811
    """The layout comes from the inline style sheet: logical properties where the browser
    has them, and the physical fallback and [dir=rtl] rules alone (Opera Mini, old KaiOS):
    either way a card's border and the menu's spacing are on the reading side, also for a
    card in the other direction inside the page."""
    without_logical = re.sub(r"[a-z-]*-inline-[a-z-]*:[^;}]*;?", "", http.CSS)
    assert "-inline-" not in without_logical and "-inline-" in http.CSS
    body = ('<body><nav><a href="#a">One</a><a href="#b">Two</a></nav><main>'
            '<div class="card" id="same"><p>نص</p></div>'
            '<div class="card" id="other" lang="en" dir="ltr"><p>Text</p></div></main></body>')
    with opened_page(browser, 240, 320) as page:
        page.goto("about:blank")
        for css in (http.CSS, without_logical):
            for direction in ("rtl", "ltr"):
                page.set_content(f'<!DOCTYPE html><html lang="ar" dir="{direction}"><head>'
                                 f'<meta name="viewport" content="width=device-width">'
                                 f'<style>{css}</style></head>{body}</html>')
                same = page.evaluate(BORDERS, page.locator("#same").element_handle())
                assert same == ([0, 4] if direction == "rtl" else [4, 0]), (direction, css)
                margins = page.evaluate("""() => { const s = getComputedStyle(
                    document.querySelector('nav a'));
                    return [parseFloat(s.marginLeft), parseFloat(s.marginRight)]; }""")
                assert (margins[0] > 0, margins[1] > 0) == (direction == "rtl",
                                                            direction == "ltr"), (direction, css)
                if css is http.CSS:  # the nested direction needs logical properties
                    other = page.evaluate(BORDERS, page.locator("#other").element_handle())
                    assert other == [4, 0], (direction, css)


def test_a_number_without_isolation_would_be_reordered(browser):  # noqa: F811
    """The check above is able to fail: bare in an Arabic sentence, a masked number's digit
    groups are laid out right to left; isolated left to right, they are not."""
    with opened_page(browser, 240, 320) as page:
        page.goto("about:blank")
        page.set_content(f'<html lang="ar" dir="rtl"><body><p id="bare">رقم {MASKED} هنا</p>'
                         f'<p id="isolated">رقم <bdi dir="ltr">{MASKED}</bdi> هنا</p>')
        bare = page.evaluate(SEEN, page.locator("#bare").element_handle())
        assert MASKED not in bare
        assert _seen(page, "#isolated bdi") == [MASKED]


def test_every_arabic_page_passes_an_accessibility_audit(browser, app, site, store):  # noqa: F811
    _issue_certificate(store)
    for path in ("/", COURSE, LESSON, LESSON + "/quiz", "/progress", "/help", "/signin",
                 "/verify", f"/verify/{CERTIFICATE}", "/simulator", "/simulator?mode=ussd"):
        assert axe_violations(site + path, 240, 320, browser=browser, locale="ar") == [], path
    # The pages that answer a form or an error, as the server sends them in Arabic.
    client = app.test_client()
    client.post("/lang", data={"csrf": csrf(client, "/"), "lang": "ar"})
    quiz = client.get(LESSON + "/quiz").data.decode()
    token = re.search(r'name="csrf" value="([^"]+)"', quiz).group(1)
    documents = {
        "results": client.post(LESSON + "/quiz", data={"csrf": token, "q0": "0", "q1": "2",
                                                       "q2": "1"}),
        "quiz-incomplete": client.post(LESSON + "/quiz", data={"csrf": token, "q0": "0"}),
        "signin-error": client.post("/signin", data={"csrf": token, "phone": "x"}),
        "not-found": client.get("/nope"),
        "no-certificate": client.get("/verify/7KQM-2XHD-9Q"),
        "not-a-code": client.get("/verify?code=hello"),
        "csrf-error": client.post("/signin", data={}),
    }
    client.post("/signin", data={"csrf": token, "phone": PHONE})
    documents["code"] = client.get("/signin/code")
    documents["code-wrong"] = client.post("/signin/code", data={"csrf": token, "code": "12"})
    for name, response in documents.items():
        html = response.data.decode()
        assert '<html lang="ar" dir="rtl">' in html, name
        assert axe_violations_in_html(html, 240, 320, browser=browser,
                                      base_url=site + "/help") == [], name


def test_values_are_isolated_only_where_the_direction_needs_it(app):
    from flask import g

    from gateway.channels.web.bidi import isolate, isolate_phones, lang_attributes, left_to_right

    with app.test_request_context():
        g.locale = "ar"
        assert left_to_right("+21261*****78") == '<bdi dir="ltr">+21261*****78</bdi>'
        assert isolate("<b>START</b>") == "<bdi>&lt;b&gt;START&lt;/b&gt;</bdi>"
        assert isolate_phones("مثل +20 100 123 4567 أو +٢١٢ ٦١٢ ٣٤٥.") == (
            'مثل <bdi dir="ltr">+20 100 123 4567</bdi> أو <bdi dir="ltr">+٢١٢ ٦١٢ ٣٤٥</bdi>.')
        assert isolate_phones("<i>+1 234 567</i>") == (
            '&lt;i&gt;<bdi dir="ltr">+1 234 567</bdi>&lt;/i&gt;')
        assert lang_attributes("ar") == ""
        assert lang_attributes("en") == ' lang="en" dir="ltr"'
        g.locale = "en"  # a left-to-right page is as it was, but for a right-to-left value
        assert left_to_right("+21261*****78") == "+21261*****78"
        assert isolate("START") == "START" and isolate("ابدأ") == "<bdi>ابدأ</bdi>"
        assert isolate_phones("for example +254 712 345 678.") == "for example +254 712 345 678."
        assert lang_attributes("fr") == ' lang="fr"'
        assert lang_attributes("ar") == ' lang="ar" dir="rtl"'
