"""SMS pumping through the web sign-in, replayed: how many codes go out, and whether a real
learner still gets one afterwards.

An attacker asks for sign-in codes for premium-rate and satellite numbers (+44 909,
+1 900, +979, +881, +374) from many client addresses in a short time; then a learner who
studies by SMS asks for a code from their own address. Runs the app in-process (the
Flask test client, each request with its own client address) on a fresh database, with
carriers serving Nigeria, the United Kingdom and the United States.

    python bench/pumping.py [--requests 500] [--addresses 120]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CARRIERS = """
[carriers.ng]
adapter = "console"
sender = "Learnline"
country = "NG"
webhook_token = "pumping-bench-token-0123456789"

[carriers.gb]
adapter = "console"
sender = "Learnline"
country = "GB"
webhook_token = "pumping-bench-token-0123456789"

[carriers.us]
adapter = "console"
sender = "Learnline"
country = "US"
webhook_token = "pumping-bench-token-0123456789"
"""
# Premium rate (UK 909, North America 900), international premium rate (+979),
# satellite (+881), and a country no carrier here serves (+374, Armenia).
# (prefix, digits after it), numbers as long as each range's are.
RANGES = (("+44909", 7), ("+1900", 7), ("+979", 8), ("+8816", 8), ("+37477", 6))
LEARNER = "+2348030000000"


def attack_numbers(count: int) -> list[str]:
    """`count` different numbers spread over the pumped ranges and over their blocks (as
    a pumping attack spreads them, so that no block or number stands out)."""
    pick = random.Random(17)
    numbers: set[str] = set()
    while len(numbers) < count:
        prefix, digits = RANGES[len(numbers) % len(RANGES)]
        numbers.add(prefix + f"{pick.randrange(10 ** digits):0{digits}d}")
    return sorted(numbers, key=lambda number: pick.random())


def _csrf(client, path: str = "/signin") -> str:
    html = client.get(path).data.decode()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def codes_sent(store) -> int:
    """Sign-in codes queued to any number."""
    return sum(1 for m in store.outbox() if "code is" in m.body)


def replay(app, store, requests: int = 500, addresses: int = 120) -> dict[str, object]:
    """The attack, then the learner's own sign-in: codes sent to the attacked numbers,
    the learner's answer, and whether a code was queued for the learner."""
    client = app.test_client()
    token = _csrf(client)
    statuses: dict[int, int] = {}
    for n, phone in enumerate(attack_numbers(requests)):
        address = f"198.51.{n % addresses // 250}.{n % addresses % 250 + 1}"
        status = client.post("/signin", data={"csrf": token, "phone": phone},
                             environ_base={"REMOTE_ADDR": address}).status_code
        statuses[status] = statuses.get(status, 0) + 1
    attacked = codes_sent(store)
    learner = app.test_client()
    answer = learner.post("/signin", data={"csrf": _csrf(learner), "phone": LEARNER},
                          environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
    got_code = any("code is" in m.body for m in store.outbox(LEARNER))
    return {"attack_codes_sent": attacked, "attack_answers": statuses,
            "learner_answer": answer, "learner_got_code": got_code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--addresses", type=int, default=120)
    args = parser.parse_args()
    from gateway import create_app
    from gateway.content.importer import import_courses
    from gateway.store import LearnerRecord, Store

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "learnline.db"
        carriers = Path(folder) / "carriers.toml"
        carriers.write_text(CARRIERS)
        with Store.open(db, migrate=True) as store:
            import_courses(store)
            with store.write():
                store.save_learner(LearnerRecord(phone=LEARNER, locale="en", carrier_id="ng"))
        app = create_app({"DATABASE": str(db), "CARRIERS_FILE": str(carriers),
                          "SECRET_KEY": "pumping-bench-secret-key-0123456789"})
        with Store.open(db) as store:
            result = replay(app, store, args.requests, args.addresses)
    print(f"attack: {args.requests} sign-in requests from {args.addresses} addresses")
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
