"""Staff sign-in in a real browser (headless Chromium, JavaScript off, a 240x320 phone):
an administrator reaches the dashboard and signs out, a tutor is told what they may do
and refused the dashboard, a wrong password is said; the pages are valid, accessible
and fit the screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway import create_app
from gateway.ops import staff
from gateway.store import Store
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

TOKEN = "staff-browser-admin-token-0123456789"
ADMIN_PASSWORD = "admin pass phrase 41"
TUTOR_PASSWORD = "tutor pass phrase 42"


@pytest.fixture
def app(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "staff-browser-secret-0123456789", "ADMIN_TOKEN": TOKEN})
    with Store.open(db_path) as store:
        staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD)
    return app


@pytest.fixture
def site(app) -> Iterator[str]:
    with serve_app(app) as base_url:
        yield base_url


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    follow(page.get_by_role("button", name="Sign in"))


def test_an_administrator_signs_in_and_out(browser, site):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        assert page.goto(site + "/admin").status == 403  # the sign-in form
        _sign_in(page, "amina", "not the password at all")
        assert page.get_by_role("alert").inner_text() == "Wrong username or password."
        _sign_in(page, "amina", ADMIN_PASSWORD)
        expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        follow(page.get_by_role("link", name="Who did what"))
        expect(page.get_by_role("heading", name="Who did what", level=1)).to_be_visible()
        expect(page.get_by_role("cell", name="sign-in failed")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 240
        follow(page.get_by_role("button", name="Sign out"))
        expect(page.get_by_role("heading", name="Operator sign in")).to_be_visible()
        assert page.goto(site + "/admin").status == 403


def test_a_tutor_is_told_what_they_may_do_and_refused_the_dashboard(browser, site):  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(site + "/admin/signin")
        _sign_in(page, "tunde", TUTOR_PASSWORD)
        expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
        follow(page.get_by_role("link", name="tunde"))
        expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
        assert "As a tutor" in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 240
        refused = page.goto(site + "/admin")
        assert refused.status == 403
        expect(page.get_by_role("heading", name="Administrators only")).to_be_visible()
        assert page.goto(site + "/admin/audit").status == 403
        follow(page.get_by_role("button", name="Sign out"))
        expect(page.get_by_role("heading", name="Operator sign in")).to_be_visible()


def test_the_staff_pages_are_valid_and_accessible(browser, app, site):  # noqa: F811
    def signed_in(username: str, password: str):
        client = app.test_client()
        form = client.get("/admin/signin").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/admin/signin", data={"csrf": csrf, "username": username,
                                           "password": password})
        return client

    admin = signed_in("amina", ADMIN_PASSWORD)
    tutor = signed_in("tunde", TUTOR_PASSWORD)
    pages = {"signin": app.test_client().get("/admin/signin").text,
             "dashboard": admin.get("/admin").text,
             "audit": admin.get("/admin/audit").text,
             "account (admin)": admin.get("/admin/account").text,
             "account (tutor)": tutor.get("/admin/account").text,
             "administrators only": tutor.get("/admin").text}
    assert validate_html(pages) == []
    assert axe_violations(site + "/admin/signin", 240, 320, browser=browser) == []
    for name in ("audit", "account (tutor)", "administrators only"):
        assert axe_violations_in_html(pages[name], 240, 320, browser=browser,
                                      base_url=site + "/admin/signin") == [], name
