"""The operator's dashboard in a real browser (headless Chromium, JavaScript off, a
240x320 phone): sign in with the token, charts drawn from seeded traffic, valid HTML, an
accessibility audit, a screenshot, and the page's weight on the wire."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.pages import ENCODINGS, PAGE_BUDGET, fetch
from tests.test_dashboard import BEARER, TOKEN, Clock, make_app, seed
from tests.test_dashboard import clock as clock  # fixtures
from tests.test_dashboard import priced_carriers as priced_carriers
from tests.web.browser import (  # noqa: F401  (browser is a fixture)
    axe_violations,
    axe_violations_in_html,
    browser,
    expect,
    follow,
    opened_page,
    screenshot,
    serve_app,
    validate_html,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded_app(db_path, priced_carriers, clock: Clock):
    app = make_app(db_path, priced_carriers, clock)
    seed(app, clock)
    return app


@pytest.fixture
def site(seeded_app) -> Iterator[str]:
    with serve_app(seeded_app) as base_url:
        yield base_url


def test_the_dashboard_in_a_browser(browser, seeded_app, site, tmp_path):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        response = page.goto(site + "/admin?days=3")
        assert response.status == 403  # the sign-in form
        page.get_by_label("Token").fill(TOKEN)
        follow(page.get_by_role("button", name="Sign in"))
        heading = page.get_by_role("heading", name="Dashboard", level=1)
        heading.wait_for()  # the sign-in's redirect has landed
        expect(heading).to_be_visible()

        charts = page.locator("svg[role=img]")
        assert charts.count() == 8
        for name in ("SMS: active learners per day", "USSD: active learners per day",
                     "Web: active learners per day", "WhatsApp: active learners per day",
                     "twilio: SMS segments out per day",
                     "Right first answers, worst questions first"):
            assert page.get_by_role("img", name=name).is_visible(), name
        bars = page.locator("svg rect title").all_text_contents()
        for expected in ("2025-03-04: 2 learners by SMS", "2025-03-05: 1 learner by USSD",
                         "Finished 1. Find a skill people pay for: 2 learners",
                         "find-your-skill question 1: 1 of 2 right first (50.0%)"):
            assert expected in bars, expected
        # A chart's scale says its largest value: 2 learners by SMS; none on WhatsApp
        # (not "max 1", a learner nobody was).
        scales = {name: page.get_by_role("img", name=name).locator("text").nth(1).text_content()
                  for name in ("SMS: active learners per day",
                               "WhatsApp: active learners per day")}
        assert scales == {"SMS: active learners per day": "max 2",
                          "WhatsApp: active learners per day": "max 0"}, scales
        # Drawn, not just present: a bar with learners has height, and fits the phone.
        sms_bar = charts.nth(0).locator("rect").nth(13)  # today, 14 days shown
        box = sms_bar.bounding_box()
        assert box is not None and box["height"] > 10
        for n in range(charts.count()):
            assert charts.nth(n).bounding_box()["width"] <= 240
        assert page.evaluate("document.documentElement.scrollWidth") <= 240

        # LEARNLINE_SCREENSHOT_DIR keeps the picture (docs/screenshots/ holds the last one).
        folder = Path(os.environ.get("LEARNLINE_SCREENSHOT_DIR") or tmp_path)
        shot = screenshot(page, folder / "dashboard-240x320.png", full_page=True)
        print(f"\ndashboard screenshot: {shot}")
        assert shot.stat().st_size > 1000
        expect(page.get_by_role("link", name="activity.csv")).to_be_visible()


def test_the_dashboard_is_valid_accessible_and_small(browser, seeded_app, site):  # noqa: F811
    client = seeded_app.test_client()
    html = client.get("/admin?days=3", headers=BEARER).text
    signin = client.get("/admin/signin").text
    assert validate_html({"dashboard": html, "signin": signin}) == []
    assert axe_violations(site + "/admin/signin", 240, 320, browser=browser) == []
    assert axe_violations_in_html(html, 240, 320, browser=browser,
                                  base_url=site + "/admin/signin") == []

    port = urlsplit(site).port
    sizes = {}
    for label, encoding in ENCODINGS.items():
        status, head, body = fetch(port, "/admin?days=3", encoding=encoding, headers=BEARER)
        assert status == 200
        sizes[label] = len(head) + len(body)
    print(f"\ndashboard bytes on the wire (3 days seeded): {sizes}")
    assert max(sizes["gzip"], sizes["brotli"]) <= PAGE_BUDGET
