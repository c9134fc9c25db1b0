"""Programs' budgets at scale: what reading the month's spend costs with `--messages` of
the programs' messages this month, and what it adds to sending a program's message.

- spend: `gateway.budgets.spends` for three budgeted programs (the read the worker makes
  every scheduling round and every page an administrator of a budgeted program opens,
  for its banner), the median of `--runs` reads;
- writes: queueing `--writes` of a program's messages and marking each sent and then
  delivered (the outbox's life of a message), per message, against the same for
  messages of no program, alternated in rounds (medians).

The messages are spread over the month so far, on two carriers (SMS priced per segment,
WhatsApp per delivered message by category), a tenth of them still queued or cancelled.

    PYTHONPATH=. python bench/budgets.py [--messages 1000000] [--runs 5] [--writes 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cohorts import CARRIERS as SMS_CARRIER  # noqa: E402
from gateway import budgets  # noqa: E402
from gateway.config import load_carriers  # noqa: E402
from gateway.programs import current  # noqa: E402
from gateway.store import Store  # noqa: E402

PROGRAMS = "".join(
    f'[programs.{name}]\nname = "{name.title()} Academy"\ndefault_locale = "en"\n'
    f'country = "NG"\nmonthly_budget = 100000\ncurrency = "USD"\n'
    f'keywords = ["JOIN {name.upper()}"]\n\n' for name in ("orange", "sun", "sky"))
# The cohorts benchmark's Twilio carrier, priced, and a WhatsApp carrier.
CARRIERS = SMS_CARRIER.replace("tps = 200\n", 'tps = 200\nprice_per_segment = 0.01\n'
                               'currency = "USD"\n') + """
[carriers.wa]
adapter = "whatsapp"
country = "NG"
phone_number_id = "106540352242922"
access_token = "EAAG-bench-access-token-0123456789"
app_secret = "0123456789abcdef0123456789abcdef"
verify_token = "learnline-verify-token-0123"
api_base_url = "http://127.0.0.1:9"
price_per_whatsapp_service = 0.004
price_per_whatsapp_utility = 0.004
price_per_whatsapp_marketing = 0.0225
currency = "USD"
"""
STATUSES = ["sent"] * 5 + ["delivered"] * 4 + ["queued", "cancelled"]


def seed(store: Store, messages: int, now: float) -> None:
    """`messages` of the three programs' messages, created over the month so far."""
    start, _, _ = budgets.month_of(now)
    rng = random.Random(7)
    stored, billed = [], []  # each message as queued, then its status and carrier's id
    for n in range(messages):
        created = start + (now - start) * n / messages
        whatsapp = n % 3 == 0
        payload = json.dumps({"template": {"name": "lesson", "category": "utility"}}) \
            if whatsapp and n % 2 else None
        stored.append(("wa" if whatsapp else "twilio", f"+23480{n % 200_000:08d}", "",
                       created, created, created, 1 if whatsapp else 2, payload,
                       ("orange", "sun", "sky")[n // 3 % 3]))
        status = rng.choice(STATUSES)
        billed.append((status, f"SM{n:032x}" if status in ("sent", "delivered") else None))
    with store.write():  # stored queued, then billed by an update, as the worker does
        first = store.db.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM outbox").fetchone()[0]
        store.db.conn.executemany(
            "INSERT INTO outbox (carrier_id, phone, body, due_at, created_at, updated_at, "
            "segments, payload, program) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", stored)
        store.db.conn.executemany(
            "UPDATE outbox SET status = ?, carrier_message_id = ? WHERE id = ?",
            [(*bill, first + n) for n, bill in enumerate(billed)])


def spend_seconds(store: Store, carriers, runs: int) -> tuple[float, dict]:
    times, found = [], {}
    for _ in range(runs):
        began = time.perf_counter()
        found = budgets.spends(store, carriers, budgets.budgeted())
        times.append(time.perf_counter() - began)
    return statistics.median(times), {pid: spend.spent for pid, spend in found.items()}


def write_seconds(store: Store, program: str, count: int) -> float:
    """Per message: queue one, mark it sent, then delivered (each its own transaction)."""
    began = time.perf_counter()
    for n in range(count):
        with store.write():
            message = store.enqueue("twilio", f"+23481{n:08d}", "A lesson", kind="lesson",
                                    program=program, segments=2)
        with store.write():
            store.db.execute("UPDATE outbox SET status = 'sent', carrier_message_id = ? "
                             "WHERE id = ?", [f"SMbench{n}", message])
        with store.write():
            store.db.execute("UPDATE outbox SET status = 'delivered' WHERE id = ?", [message])
    return (time.perf_counter() - began) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="learnline-budgets-"))
    (folder / "programs.toml").write_text(PROGRAMS, encoding="utf-8")
    (folder / "carriers.toml").write_text(CARRIERS, encoding="utf-8")
    os.environ["LEARNLINE_PROGRAMS"] = str(folder / "programs.toml")
    current()
    carriers = load_carriers(folder / "carriers.toml", env={})
    with Store.open(folder / "bench.db", migrate=True) as store:
        now = store.clock()
        began = time.perf_counter()
        seed(store, args.messages, now)
        print(f"seeded {args.messages:,} messages of 3 programs this month in "
              f"{time.perf_counter() - began:.1f} s")
        seconds, spent = spend_seconds(store, carriers, args.runs)
        print(f"spend of 3 budgeted programs: {seconds * 1000:.1f} ms (median of "
              f"{args.runs}); spent {spent}")
        rounds = {"program": [], "none": []}
        for n in range(6):
            for label in (("program", "none") if n % 2 == 0 else ("none", "program")):
                rounds[label].append(write_seconds(
                    store, "orange" if label == "program" else "", args.writes // 6))
        print("queue, sent, delivered, per message (median of 6 rounds): "
              f"a program's {statistics.median(rounds['program']) * 1e6:.0f} us, "
              f"no program's {statistics.median(rounds['none']) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
