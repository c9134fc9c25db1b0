"""French as a French reader expects it: words with their antecedents, one abbreviation
for "for example", and numbers that never break across lines on a page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import create_app
from gateway.channels.sms import render
from gateway.learning import replies as r

NO_BREAK = "\u00a0"
LOCALES = Path(__file__).resolve().parent.parent / "locales"


@pytest.fixture
def web(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    return app.test_client()


def test_pause_says_what_it_holds():
    text = render((r.ScheduleShown("daily", 7),), "fr")
    assert text.endswith("Répondez PAUSE pour suspendre les leçons."), text


def test_for_example_is_written_one_way():
    catalog = (LOCALES / "fr" / "LC_MESSAGES" / "messages.po").read_text()
    translations = "\n".join(re.findall(r'^(?:msgstr )?"(.*)"$', catalog, re.MULTILINE))
    assert "p. ex." not in translations
    assert "par ex." in translations


def test_sign_in_names_the_number_and_says_what_is_wrong_with_it(web):
    page = web.get("/signin", headers={"Accept-Language": "fr"})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    wrong = web.post("/signin", data={"csrf": token, "phone": "77 000 00 00"},
                     headers={"Accept-Language": "fr"}).text
    assert "n'est pas joignable" not in wrong
    assert "Nous ne pouvons pas joindre ce numéro tel qu'il est écrit." in wrong
    sent = web.post("/signin", data={"csrf": token, "phone": "+221770000001"},
                    headers={"Accept-Language": "fr"}, follow_redirects=True).text
    assert "Si le numéro " in sent


def test_a_french_lesson_page_keeps_numbers_and_percentages_whole(web):
    html = web.get("/courses/start-freelancing/set-your-price",
                   headers={"Accept-Language": "fr"}).text
    assert f"6{NO_BREAK}000 FCFA" in html and f"20{NO_BREAK}% de marge" in html
    assert "6 000" not in html and "20 %" not in html


def test_the_simulator_labels_the_learners_message_with_french_spacing():
    catalog = (LOCALES / "fr" / "LC_MESSAGES" / "messages.po").read_text()
    assert f'msgid "You:"\nmsgstr "Vous{NO_BREAK}:"' in catalog
