"""Make the lite pages' screenshots in docs/screenshots/ (240x320 and 360x640).

Runs the app on a fresh database in a temporary folder, drives headless Chromium with
JavaScript off (as on the phones the pages are for), and saves one PNG per page and size:

    python docs/screenshots.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway import create_app  # noqa: E402
from gateway.content.importer import import_courses  # noqa: E402
from gateway.store import Store  # noqa: E402
from tests.web.browser import (  # noqa: E402
    close_browser,
    opened_page,
    screenshot,
    serve_app,
    shared_browser,
)

OUT = ROOT / "docs" / "screenshots"
SIZES = ((240, 320), (360, 640))
LESSON = "/courses/start-freelancing/find-your-skill"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="learnline-shots-"))
    with Store.open(folder / "shots.db", migrate=True) as store:
        import_courses(store)
        answers = {n: q.answer for n, q in enumerate(
            store.lesson("start-freelancing", "find-your-skill", "en").questions)}
    app = create_app({"DATABASE": str(folder / "shots.db"), "SIMULATOR": True,
                      "SECRET_KEY": "screenshots"})
    browser = shared_browser()
    made = []
    with serve_app(app) as site:
        for width, height in SIZES:
            with opened_page(browser, width, height) as page:
                def shot(name: str, page=page, size=f"{width}x{height}") -> None:
                    made.append(screenshot(page, OUT / f"{name}-{size}.png"))

                page.goto(site + "/")
                shot("catalogue")
                page.goto(site + LESSON)
                shot("lesson")
                page.goto(site + LESSON + "/quiz")
                shot("quiz")
                for number, answer in answers.items():
                    wrong = (answer + 1) % 3 if number == 0 else answer
                    page.locator(f'input[name="q{number}"][value="{wrong}"]').check()
                page.get_by_role("button", name=re.compile("Check")).click()
                shot("results")
                page.goto(site + "/progress")
                shot("progress")
                page.goto(site + "/signin")
                shot("signin")
                page.goto(site + "/simulator?mode=ussd")
                page.get_by_role("button", name=re.compile("Dial")).click()
                shot("simulator-ussd")
                page.goto(site + "/simulator?mode=whatsapp")
                page.fill("#wa-text", "START")
                page.click("#wa-text ~ button")
                for _ in range(5):  # a tap on each card's Next button, to the quiz
                    page.locator("button[value=NEXT] >> nth=-1").click()
                shot("simulator-whatsapp")
                page.goto(site + "/courses/start-freelancing")
                page.locator("footer button[lang=fr]").click()
                shot("course-fr")
    close_browser()
    for path in made:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
