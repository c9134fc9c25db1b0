"""Messages and money per completed lesson: the bundled course in French, taken whole by
one simulated learner over WhatsApp and by another over SMS, on the real channels
(`receive_whatsapp`, `receive_inbound`: the engine, the wording, WhatsApp's cards and
buttons, SMS splitting and packing) over a scratch database, as
gateway/channels/sms/cost.py's CostWalker does for SMS. The learners answer every question
right, the WhatsApp one by tapping its buttons (Next, A-D). The money is the operator's own
figure: the dashboard's cost per completed lesson by mode (`gateway.ops.reports`), from
what each lesson counted, at the prices below. Not part of `bench/run`.

    python bench/whatsapp_costs.py

Assumed prices, in USD, for learners on Kenyan numbers (Meta's "Rest of Africa" market):

- WhatsApp, Meta's per-message rates in force from 1 July 2025 for Rest of Africa:
  marketing 0.0225, utility 0.0040 per template delivered; service messages (free-form,
  inside the 24-hour window) free. Source: the rate table "effective July 1, 2025" in
  docs.sent.dm/docs/guides/whatsapp-pricing (Algeria, Angola and the other Rest of
  Africa markets at 0.0225 / 0.0040), and Meta's pricing page
  (developers.facebook.com/docs/whatsapp/pricing: non-template messages free inside an
  open customer service window; utility templates free inside it).
- WhatsApp from 1 October 2026: service messages billed at the market's utility rate
  (0.0040), per Meta's announcement of 1 July 2026 as its partners relay it (YCloud,
  "WhatsApp service messages: 24-hour window pricing", 2 July 2026; ChakraHQ, "Non-template
  (service) messages will now be charged from October 2026"). Both columns are printed.
- SMS: KES 1.00 per segment through a local aggregator (Africa's Talking, as its API
  reports the cost of one Kenyan SMS in the kenya-sms package's documentation on PyPI),
  at KES 129 to the dollar: USD 0.0078. No current published SMS rate card was found;
  this is the assumption with the least support, and SMS cost scales with it.

Messages the learner sends are free to the school on both channels (Meta does not bill
them; an SMS learner pays their own).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COURSE = "start-freelancing"
LOCALE = "fr"
WA_PHONE, SMS_PHONE = "+254712000001", "+254712000002"
USD_PER_KES = 1 / 129
SMS_SEGMENT = round(1.00 * USD_PER_KES, 4)  # 0.0078
RATES = {"from July 2025": {"service": 0.0, "utility": 0.0040, "marketing": 0.0225},
         "from Oct 2026": {"service": 0.0040, "utility": 0.0040, "marketing": 0.0225}}

CARRIERS = f"""
[carriers.wa-ke]
adapter = "whatsapp"
country = "KE"
locale = "{LOCALE}"
phone_number_id = "106540352242922"
access_token = "EAAG-bench-access-token-0123456789"
app_secret = "0123456789abcdef0123456789abcdef"
verify_token = "learnline-verify-token-0123"
api_base_url = "http://127.0.0.1:9"
inbound_per_minute = 100000
inbound_per_hour = 100000
currency = "USD"

[carriers.sms-ke]
adapter = "console"
country = "KE"
locale = "{LOCALE}"
webhook_token = "bench-console-token-0123456789"
price_per_segment = {SMS_SEGMENT}
currency = "USD"
"""


def walk(store, carrier, phone: str, receive) -> int:
    """One learner through the whole course: START, then Next, or the right answer's letter
    while a question waits, until the course is complete. How many messages they sent."""
    from gateway.channels.texts import LETTERS

    text = "START"
    for sent in range(1, 10_000):
        receive(store, carrier, f"{carrier.id}-{sent}", phone, text)
        enrollment = store.enrollment(phone, COURSE)
        if enrollment is None or enrollment.completed:
            return sent
        text = "NEXT"
        if enrollment.quiz is not None and enrollment.quiz.queue:
            lesson_id = store.course(COURSE).lesson_ids[enrollment.position]
            lesson = store.lesson(COURSE, lesson_id, LOCALE)
            text = LETTERS[lesson.questions[enrollment.quiz.queue[0]].answer]
    raise RuntimeError("the course did not end after 10,000 messages")


def main() -> None:
    from gateway.channels.sms.conversation import receive_inbound
    from gateway.channels.whatsapp.conversation import receive_whatsapp
    from gateway.config import load_carriers
    from gateway.content.importer import import_courses
    from gateway.ops import reports
    from gateway.store import Store

    folder = Path(tempfile.mkdtemp(prefix="learnline-whatsapp-costs-"))
    (folder / "carriers.toml").write_text(CARRIERS, encoding="utf-8")
    carriers = load_carriers(folder / "carriers.toml", env={})
    with Store.open(folder / "bench.db", migrate=True) as store:
        import_courses(store)
        sent = {"whatsapp": walk(store, carriers["wa-ke"], WA_PHONE, receive_whatsapp),
                "sms": walk(store, carriers["sms-ke"], SMS_PHONE, receive_inbound)}
        lessons = len(store.course(COURSE).lesson_ids)
        received = {mode: store.db.execute(
            "SELECT count(*), sum(segments) FROM outbox WHERE phone = ?", [phone]).fetchone()
            for mode, phone in (("whatsapp", WA_PHONE), ("sms", SMS_PHONE))}
        by_regime = {}
        for regime, rates in RATES.items():
            priced = [dataclasses.replace(
                carriers["wa-ke"], price_per_whatsapp_service=rates["service"],
                price_per_whatsapp_utility=rates["utility"],
                price_per_whatsapp_marketing=rates["marketing"]), carriers["sms-ke"]]
            report = reports.build_report(store, priced, days=1)
            by_regime[regime] = {row.value: row for row in report.lesson_costs
                                 if row.grouping == "mode"}

    print(f"Bundled course '{COURSE}' in French, {lessons} lessons, every question answered "
          f"right; USD; SMS at {SMS_SEGMENT} a segment, WhatsApp at Meta's Rest of Africa "
          "rates (bench/whatsapp_costs.py says where each price comes from).")
    header = ("mode", "lessons", "to learner", "per lesson", "from learner", "SMS segments",
              *(f"USD/lesson {regime}" for regime in RATES))
    rows = []
    for mode, name in (("whatsapp", "WhatsApp"), ("sms", "full SMS")):
        first = by_regime[next(iter(RATES))][mode]
        messages, segments = received[mode]
        rows.append((name, str(first.lessons), str(messages),
                     f"{messages / first.lessons:.1f}", str(sent[mode]),
                     str(segments if mode == "sms" else 0),
                     *(reports.money(by_regime[regime][mode].per_lesson, blank="0")
                       for regime in RATES)))
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print("  ".join(cell.ljust(width) if n == 0 else cell.rjust(width)
                        for n, (cell, width) in enumerate(zip(line, widths, strict=True))))
    print("(to learner: every message the learner received, the course list and its end "
          "included; USD/lesson: the dashboard's cost per completed lesson, which counts a "
          "lesson's own messages, from its first card to its end.)")


if __name__ == "__main__":
    main()
