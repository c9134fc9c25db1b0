"""The phone simulator in a real browser on a 240×320 phone: it answers in the page's
language, shows each message whole, and keeps the reply in view after each send."""

from __future__ import annotations

from gateway.store import Store
from tests.web.browser import browser, opened_page  # noqa: F401  (browser is a fixture)


def _in_view(page, selector: str) -> bool:
    """Whether the top of the element is inside the viewport (320 px high)."""
    box = page.locator(selector).bounding_box()
    return box is not None and -1 < box["y"] < 320


def _outbound(store: Store) -> list[str]:
    return [m.body for m in store.outbox() if m.phone.startswith("+999")]


def test_the_simulator_speaks_the_pages_language_whole_and_in_view(browser, site,  # noqa: F811
                                                                   store):
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        page.goto(site + "/simulator")
        assert page.locator("html").get_attribute("lang") == "fr"
        for word in ("DEBUT", "SUITE"):
            page.fill("#sms-text", word)
            page.click("button[type=submit]")
            screens = page.locator(".phone .screen").all_inner_texts()
            sent = _outbound(store)
            # Each message as the handset shows it: whole, in one piece, in French.
            assert screens == sent, (screens, sent)
            assert page.evaluate("document.documentElement.scrollWidth") <= 240
            assert _in_view(page, ".phone .screen >> nth=-1"), page.evaluate("window.scrollY")
        assert sent[0].startswith("Bienvenue dans Se lancer en freelance")
        assert "Répondez SUITE" in sent[-1]

        # The page's language changed: the pretend learner's follows.
        page.locator("footer").get_by_text("Português").click()
        assert page.locator("html").get_attribute("lang") == "pt"
        page.fill("#sms-text", "STATUS")
        page.click("button[type=submit]")
        # as the carriers' default policy sends Portuguese: GSM-7, ó and ç folded
        assert _outbound(store)[-1].startswith("Trabalhar por conta propria: 0/6 licoes"), \
            _outbound(store)[-1]
        assert _in_view(page, ".phone .screen >> nth=-1")


def test_the_ussd_screen_stays_in_view_after_each_answer(browser, site):  # noqa: F811
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        page.goto(site + "/simulator?mode=ussd")
        page.click("button[value=dial]")
        assert _in_view(page, ".phone .screen")
        assert "1. Commencer" in page.locator(".phone .screen").inner_text()
        page.fill("#ussd-text", "1")
        page.click("button[value=send]")
        assert _in_view(page, ".phone .screen")
        assert _in_view(page, "#ussd-text")
