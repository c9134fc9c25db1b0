"""The USSD main menu keeps every item reachable on the smallest screens a carrier may set
(`ussd_max_chars` 100 in GSM-7, `ussd_ucs2_max_chars` 40 in UCS-2): what does not fit goes
on further pages behind `98 More`, and each item's number works on every page."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.channels.ussd.wording import Wording
from gateway.sms_text import encoding_for, septets, ucs2_units
from gateway.store import Store
from tests.test_channel_choice import dial, ussd_carriers

# Every item of a menu with the channel choice, by number: 1 continue ... 7 ask, 0 exit.
NUMBERS = ("1", "2", "3", "4", "5", "6", "7", "0")


def menu_pages(store: Store, carrier) -> list[str]:
    """The main menu's screens, from the first through `98` until a page offers no more."""
    pages, presses = [], []
    while True:
        pages.append(dial(store, carrier, *presses))
        if not pages[-1].splitlines()[-1].startswith("98 "):
            return pages
        presses.append("98")
        assert len(pages) < 8, pages


@pytest.mark.parametrize(("locale", "key", "limit"), [
    ("ar", "ussd_ucs2_max_chars", 40), ("ar", "ussd_ucs2_max_chars", 60),
    ("ar", "ussd_ucs2_max_chars", 80),
    ("en", "ussd_max_chars", 100), ("fr", "ussd_max_chars", 100),
    ("pt", "ussd_max_chars", 100), ("sw", "ussd_max_chars", 100),
])
def test_every_main_menu_item_is_reachable_on_the_smallest_screens(
        tmp_path, store: Store, locale: str, key: str, limit: int):
    carrier = dataclasses.replace(ussd_carriers(tmp_path, whatsapp=True)["at"],
                                  locale=locale, **{key: limit})
    pages = menu_pages(store, carrier)
    for page in pages:
        if locale == "ar":
            assert encoding_for(page) == "UCS-2" and ucs2_units(page) <= limit, page
        else:
            assert encoding_for(page) == "GSM-7" and septets(page) <= limit, page
        assert "..." not in page, page  # nothing cut
    shown = [line.split(".", 1)[0] for page in pages for line in page.splitlines()
             if line[:1].isdigit() and not line.startswith("98 ")]
    assert sorted(shown) == sorted(NUMBERS), pages  # each item once, none left out
    prompt = Wording(locale).ask_prompt().split()[0]
    for pressed in range(len(pages)):  # the ask item's number works from any page
        assert dial(store, carrier, *["98"] * pressed, "7").startswith(prompt)
    assert dial(store, carrier, *["98"] * (len(pages) - 1), "00") == pages[0]
