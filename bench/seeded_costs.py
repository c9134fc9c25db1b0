"""Cost per completed lesson by mode on a seeded run: the dashboard's CSV for the learners of
tests/test_lesson_costs.py (a French learner by SMS, a Kenyan by USSD and one on the lite
web) and a fourth, in Senegal, who takes lesson 1 by link (LIEN, then the page). Senegal's
carrier gets a public web address and a price per MB. Not part of `bench/run`: it prints the
figures quoted for cost per completed lesson.

    python bench/seeded_costs.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LINK_LEARNER = "+221770000401"


def main() -> None:
    import tests.test_lesson_costs as seeded
    from gateway import create_app
    from gateway.store import Store
    from tests.conftest import right_answers

    folder = Path(tempfile.mkdtemp(prefix="learnline-seeded-costs-"))
    carriers = seeded.seeded_carriers(folder)
    carriers.write_text(carriers.read_text().replace(
        'currency = "XOF"\n',
        'currency = "XOF"\npublic_url = "https://learn.example.sn"\nprice_per_web_mb = 500\n',
        1))
    database = folder / "learnline.db"
    clock = seeded.Clock()
    app = create_app({"DATABASE": str(database), "CARRIERS_FILE": str(carriers),
                      "SECRET_KEY": "seeded-costs-secret-0123456789", "CLOCK": clock,
                      "ADMIN_TOKEN": seeded.TOKEN})
    store = Store.open(str(database), clock=clock)
    try:
        seeded._sms_learner(app.test_client(), store)
        clock.now += 600
        seeded._ussd_learner(app.test_client(), store)
        clock.now += 600
        seeded._web_learner(app.test_client(), store)
        clock.now += 600
        browser = app.test_client()
        for text in ("DEBUT", "LIEN"):
            answer = browser.post(f"/carriers/console/sms?token={seeded.SMS_TOKEN}",
                                  data={"from": LINK_LEARNER, "text": text})
            assert answer.status_code == 200, answer.text
        linked = [m.body for m in store.outbox(LINK_LEARNER) if "/l?k=" in m.body][-1]
        path = re.search(r"(/l\?k=[A-Za-z0-9_-]+)", linked).group(1)
        compressed = {"Accept-Encoding": "br, gzip"}
        browser.get(path, headers=compressed)
        results = browser.post(path, data=right_answers(store), headers=compressed)
        assert results.status_code == 200, results.text
    finally:
        store.close()
    print(app.test_client().get("/admin/lesson_costs.csv?days=1", headers=seeded.BEARER).text)


if __name__ == "__main__":
    main()
