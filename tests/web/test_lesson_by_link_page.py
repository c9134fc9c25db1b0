"""A whole lesson by link in a real browser (headless Chromium, JavaScript off, 240x320): a
French learner who joined by SMS asks for lessons by link, opens the link from the SMS,
reads the cards, answers the quiz on the page and reaches the results; what it cost is
counted in SMS segments."""

from __future__ import annotations

import re

import pytest

from gateway.store import Store
from tests.conftest import PUBLIC_URL, TwilioWebhooks
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations,
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
    validate_html,
)

pytestmark = pytest.mark.slow
FRENCH = "+221770000000"  # Senegal: the learner's language is French
LINK_RE = re.compile(re.escape(PUBLIC_URL) + r"(/l\?k=[A-Za-z0-9_-]+)")
# No element sticks out of a 240 px screen, and nothing scrolls sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) return ['page scrolls sideways'];
  return [...document.body.querySelectorAll('*')].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width && (box.left < -1 || box.right > width + 1);
  }).map(el => el.tagName);
}"""


def segments(store: Store, phone: str) -> int:
    """The SMS segments queued for a learner, as the carrier bills them."""
    return store.db.execute("SELECT coalesce(sum(segments), 0) FROM outbox WHERE phone = ?",
                            [phone]).fetchone()[0]


def test_a_french_learner_takes_a_whole_lesson_by_link(browser, app, site, store):  # noqa: F811
    webhooks = TwilioWebhooks(app.test_client())
    assert webhooks.sms(FRENCH, "DEBUT").status_code == 200
    joined = segments(store, FRENCH)
    assert webhooks.sms(FRENCH, "LIEN").status_code == 200
    sms = store.outbox(FRENCH)[-1].body
    assert "Trouver un savoir-faire qui paie" in sms
    link = LINK_RE.search(sms)
    assert link, sms
    link_segments = segments(store, FRENCH) - joined
    lesson = store.lesson("start-freelancing", "find-your-skill", "fr")
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        # The carrier's public address is this test's server.
        response = page.goto(site + link.group(1))
        assert response.status == 200
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_role("heading", level=1).inner_text() == (
            "Leçon 1/6 : Trouver un savoir-faire qui paie")
        cards = page.locator(".card")
        assert cards.count() == len(lesson.cards)
        for number in range(cards.count()):
            cards.nth(number).scroll_into_view_if_needed()
            expect(cards.nth(number)).to_be_visible()
        assert page.evaluate(OVERFLOW) == []
        html = page.content()
        for question in lesson.questions:
            page.get_by_role("group", name=re.compile(re.escape(question.text[:30]))) \
                .get_by_label(question.options[question.answer], exact=True).check()
        follow(page.get_by_role("button", name="Vérifier mes réponses"))
        count = len(lesson.questions)
        expect(page.get_by_text(f"{count} sur {count} justes.")).to_be_visible()
        assert page.get_by_role("heading", level=1).inner_text().startswith("Résultats")
        assert page.evaluate(OVERFLOW) == []
        results = page.content()
    assert store.lesson_results(FRENCH, "start-freelancing") == {
        "find-your-skill": (len(lesson.questions), len(lesson.questions))}
    # Opening a link changes nothing: the audit opens it again, JavaScript on.
    assert axe_violations(site + link.group(1), 240, 320, browser=browser) == []
    assert axe_violations_in_html(results, 240, 320, browser=browser,
                                  base_url=site + "/help") == []
    refused = app.test_client().get("/l?k=" + "A" * 22)
    assert refused.status_code == 403
    assert axe_violations_in_html(refused.data.decode(), 240, 320, browser=browser,
                                  base_url=site + "/help") == []
    assert validate_html({"lesson": html, "results": results,
                          "refused": refused.data.decode()}) == []
    # Joining (the welcome and the first card) and the link: nothing more by SMS.
    total = segments(store, FRENCH)
    print(f"\nSMS segments: joining {joined}, the link {link_segments}, in all {total}")
    assert link_segments <= 2
    assert total <= joined + 2
    assert len(store.outbox(FRENCH)) == 2
