"""The tutors' service figures on the dashboard in a real browser (headless Chromium,
JavaScript off, a 240x320 phone), signed in as an administrator, on the seeded week of
tests/test_tutor_figures.py: the chart and tables are there and fit the screen, the page
is valid HTML, passes the accessibility audit, and stays within its page budget."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from bench.pages import ENCODINGS, PAGE_BUDGET, fetch
from tests.test_tutor_figures import ADMIN_PASSWORD, PER_TUTOR_ROWS, _sign_in, page_table
from tests.test_tutor_figures import admin as admin  # fixtures
from tests.test_tutor_figures import app as app
from tests.test_tutor_figures import clock as clock
from tests.test_tutor_figures import store as store
from tests.test_tutor_figures import week as week
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
    serve_app,
    validate_html,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def site(app, week) -> Iterator[str]:
    with serve_app(app) as base_url:
        yield base_url


def test_the_tutors_figures_in_a_browser(browser, site):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/admin/signin")
        page.get_by_label("Username").fill("amina@example.org")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        follow(page.get_by_role("button", name="Sign in"))
        page.get_by_role("heading", name="Dashboard", level=1).wait_for()
        page.goto(site + "/admin?days=7")
        expect(page.get_by_role("heading", name="Questions to tutors", level=2)).to_be_visible()
        chart = page.get_by_role("img", name="Questions to tutors asked per day")
        assert chart.is_visible() and chart.bounding_box()["width"] <= 240
        assert page.get_by_role("cell", name="removed account #4").count() == 1
        expect(page.get_by_role("link", name="tutors.csv")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 240


def test_the_page_is_valid_accessible_and_within_budget(app, site, browser):  # noqa: F811
    client = _sign_in(app)
    html = client.get("/admin?days=7").text
    assert page_table(html, "tutors") == PER_TUTOR_ROWS
    assert validate_html({"dashboard": html}) == []
    assert axe_violations_in_html(html, 240, 320, browser=browser,
                                  base_url=site + "/admin/signin") == []
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    sizes = {}
    for label, encoding in ENCODINGS.items():
        status, head, body = fetch(urlsplit(site).port, "/admin?days=7", encoding=encoding,
                                   headers={"Cookie": cookie})
        assert status == 200
        sizes[label] = len(head) + len(body)
    print(f"\ndashboard bytes on the wire (a week of questions): {sizes}")
    assert max(sizes["gzip"], sizes["brotli"]) <= PAGE_BUDGET
