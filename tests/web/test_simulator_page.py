"""The phone simulator in a real browser on a 240×320 phone: it answers in the page's
language, shows each message whole, and keeps the reply in view after each send."""

from __future__ import annotations

from gateway.content.importer import import_courses
from gateway.store import Store
from tests.web.browser import browser, expect, follow, opened_page  # noqa: F401  (browser is a fixture)


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
            follow(page.locator("button[type=submit]"))
            screens = page.locator(".phone .screen").all_inner_texts()
            sent = _outbound(store)
            # Each message as the handset shows it: whole, in one piece, in French.
            assert screens == sent, (screens, sent)
            assert page.evaluate("document.documentElement.scrollWidth") <= 240
            assert _in_view(page, ".phone .screen >> nth=-1"), page.evaluate("window.scrollY")
        assert sent[0].startswith("Bienvenue dans Se lancer en freelance")
        assert "Répondez SUITE" in sent[-1]

        # The page's language changed: the pretend learner's follows.
        follow(page.locator("footer").get_by_text("Português"))
        assert page.locator("html").get_attribute("lang") == "pt"
        page.fill("#sms-text", "STATUS")
        follow(page.locator("button[type=submit]"))
        # as the carriers' default policy sends Portuguese: GSM-7, ó and ç folded
        assert _outbound(store)[-1].startswith("Trabalhar por conta propria: 0/6 licoes"), \
            _outbound(store)[-1]
        assert _in_view(page, ".phone .screen >> nth=-1")

        # LANG on the pretend phone is the learner's choice: it holds, the page unchanged,
        # until the page's language changes again.
        for word in ("LANG fr", "STATUS"):
            page.fill("#sms-text", word)
            follow(page.locator("button[type=submit]"))
        assert page.locator("html").get_attribute("lang") == "pt"
        assert _outbound(store)[-1].startswith("Se lancer en freelance : 0/6"), \
            _outbound(store)[-1]
        follow(page.locator("footer").get_by_text("English"))
        page.fill("#sms-text", "STATUS")
        follow(page.locator("button[type=submit]"))
        assert _outbound(store)[-1].startswith("Start freelancing: 0/6"), _outbound(store)[-1]


def test_the_ussd_screen_stays_in_view_after_each_answer(browser, site):  # noqa: F811
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        page.goto(site + "/simulator?mode=ussd")
        follow(page.locator("button[value=dial]"))
        assert _in_view(page, ".phone .screen")
        assert "1. Commencer" in page.locator(".phone .screen").inner_text()
        page.fill("#ussd-text", "1")
        follow(page.locator("button[value=send]"))
        assert _in_view(page, ".phone .screen")
        assert _in_view(page, "#ussd-text")


LIST_LESSON = """# Choose a trade

Pick the trade you can start this week, with the tools you have.

Ask three neighbours which of these they paid for last month.

Start with the one they named most.

## Quiz

? Which trade can you start this week?
- Sewing
+ Phone repair with the tools you have
- Hair
- Cooking
= You already have the tools.

? Who tells you what sells?
+ Your neighbours
- Nobody
= They pay for it.
"""


def _last_screen(page):
    return page.locator(".phone .screen >> nth=-1")


def test_the_whatsapp_mode_shows_bold_titles_buttons_and_lists(browser, site, store,  # noqa: F811
                                                               tmp_path):
    """As WhatsApp shows them, with no JavaScript: a card's title in bold and its Next
    button, a question's buttons, a list opened to its rows; each tap sends the id."""
    course = tmp_path / "courses" / "trades"
    (course / "en").mkdir(parents=True)
    (course / "course.toml").write_text('code = "TRADES"\ndefault_locale = "en"\n'
                                        'pass_mark = 70\nlessons = ["choose"]\n\n'
                                        '[title]\nen = "Trades"\n', encoding="utf-8")
    (course / "en" / "choose.txt").write_text(LIST_LESSON, encoding="utf-8")
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        page.goto(site + "/simulator?mode=whatsapp")
        page.fill("#wa-text", "DEBUT")
        follow(page.locator("#wa-text ~ button"))
        title = _last_screen(page).locator("b")
        assert title.inner_text().startswith("Leçon 1/6 : "), title.inner_text()
        assert "*" not in _last_screen(page).inner_text()
        assert _in_view(page, ".phone .screen >> nth=-1")
        for number in range(2, 6):  # a tap on the card's Next button
            follow(page.locator("button[value=NEXT] >> nth=-1"))
            assert f"[{number}/5]" in _last_screen(page).inner_text()
        follow(page.locator("button[value=NEXT] >> nth=-1"))
        assert _last_screen(page).inner_text().startswith("Q1/3")
        buttons = page.locator("form").filter(has=page.locator("button[value=A]")).last
        assert [b.get_attribute("value") for b in buttons.locator("button").all()] == \
            ["A", "B", "C"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 240
        lesson = store.lesson("start-freelancing", "find-your-skill", "fr")
        right = "ABC"[lesson.questions[0].answer]
        follow(buttons.locator(f"button[value={right}]"))
        assert _last_screen(page).inner_text().startswith("Bravo !"), \
            _last_screen(page).inner_text()

    # A question of four options: a list, its rows behind its button, as in WhatsApp
    # (another browser: another pretend learner, who chooses that course).
    import_courses(store, tmp_path / "courses")
    with opened_page(browser, 240, 320, locale="fr-FR") as page:
        page.goto(site + "/simulator?mode=whatsapp")
        for text in ("DEBUT", "DEBUT 2"):  # the second course of the list
            page.fill("#wa-text", text)
            follow(page.locator("#wa-text ~ button"))
        for _ in range(3):
            follow(page.locator("button[value=NEXT] >> nth=-1"))
        listed = page.locator(".phone details").last
        assert listed.locator("summary").inner_text() == "Répondez A-D"
        row = listed.locator("button[value=B]")
        expect(row).to_be_hidden()
        listed.locator("summary").click()  # opens the list in place: no page loads
        assert row.inner_text().startswith("B) Phone repair")
        assert row.locator("small").inner_text() == "Phone repair with the tools you have"
        assert page.evaluate("document.documentElement.scrollWidth") <= 240
        follow(row)
        # The chat shows the tapped row by its title, as WhatsApp does.
        assert page.locator("#last").inner_text().endswith("B) Phone repair with…")
        assert "You already have the tools." in _last_screen(page).inner_text()
