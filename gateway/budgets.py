"""Programs' monthly budgets (docs/programs.md, "Budget"): what each program's messages
cost this month as its carriers bill them, which programs reached their budget, and the
notice their administrators get.

A program's spend is counted over the calendar month in UTC: the messages created this
month that are attributed to it (`outbox.program`), replies included, priced as the
dashboard prices them (segments the carrier accepted times its `price_per_segment`, each
WhatsApp message delivered at its category's price). Only what was sent counts: a message
still queued has cost nothing yet and may never go (the worker cancels a stopped program's
unsolicited ones), and a cancelled one never costs; the spend may pass the budget by what
the senders accept within one round. Once it reaches `monthly_budget`,
unsolicited messages of the program stop (the scheduler does not queue them, an
announcement is refused, the outbox worker cancels those already queued); replies to
learners and the notices of this module never stop. A new month lifts the stop by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway import programs as configured
from gateway.config import Carrier, Carriers
from gateway.i18n import translations
from gateway.outbox.queue import queue_text
from gateway.phones import masked
from gateway.programs import Program, Programs
from gateway.store import Store
from gateway.store import programs as members
from gateway.store import staff as accounts

log = logging.getLogger(__name__)

# Outbox kinds a reached budget never stops: answers to a learner, and notices to staff.
NEVER_STOPPED = ("reply", "report")
# The error a message cancelled for its program's budget carries, as operators read it.
STOPPED_DETAIL = "program budget reached"
WARN_SHARE = 0.8  # the administrators are told once at 80% of the budget, once at 100%


@dataclass(frozen=True)
class Spend:
    """A program's spend this month, in its budget's currency."""

    program: Program
    spent: float
    month: str  # 'YYYY-MM', UTC

    @property
    def budget(self) -> float | None:
        """The program's monthly budget (None: none)."""
        return self.program.monthly_budget

    @property
    def reached(self) -> bool:
        """Whether the spend reached the budget: the program's unsolicited messages stop."""
        return self.budget is not None and self.spent >= self.budget

    @property
    def share(self) -> float | None:
        """The spend as a share of the budget (None: no budget; a zero budget is 1.0)."""
        if self.budget is None:
            return None
        return 1.0 if self.budget == 0 else self.spent / self.budget


def month_of(now: float) -> tuple[float, float, str]:
    """The calendar month in UTC holding `now`: (its start, the next month's start, its
    label 'YYYY-MM')."""
    day = datetime.fromtimestamp(now, UTC)
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp(), start.strftime("%Y-%m")


def price(carrier: Carrier | None, segments: int, service: int, utility: int,
          marketing: int) -> float:
    """What a carrier bills for these counts (a carrier no longer configured: nothing)."""
    if carrier is None:
        return 0.0
    return (segments * carrier.price_per_segment
            + service * carrier.price_per_whatsapp_service
            + utility * carrier.price_per_whatsapp_utility
            + marketing * carrier.price_per_whatsapp_marketing)


def currency_mismatches(programs: Programs, carriers: Carriers) -> list[str]:
    """A budget adds its carriers' prices up as if they were in its own currency: one line
    for each budgeted program and each carrier with a price a budget counts whose
    currencies differ, naming both files, the program, the carrier and both currencies."""
    lines = []
    for program in programs:
        if program.monthly_budget is None or not program.currency:
            continue
        for carrier in carriers:
            if price(carrier, 1, 1, 1, 1) and carrier.currency \
                    and carrier.currency.upper() != program.currency.upper():
                lines.append(
                    f"{programs.path}: program '{program.id}' counts its monthly_budget "
                    f"in {program.currency}, but {carriers.path}: carrier '{carrier.id}' "
                    f"prices its messages in {carrier.currency}: its spend would add "
                    f"{carrier.currency} to {program.currency}. Give the carrier's prices "
                    f"in {program.currency}, or the budget in {carrier.currency}")
    return lines


def budgeted(programs: Programs | None = None,
             of: Callable[[str], bool] | None = None) -> Programs:
    """The programs (default: the configured ones) that have a monthly budget; with
    `of`, only those whose id it accepts."""
    programs = configured.current() if programs is None else programs
    return Programs({p.id: p for p in programs if p.monthly_budget is not None
                     and (of is None or of(p.id))}, programs.path)


def spends(store: Store, carriers: Carriers, programs: Programs | None = None,
           now: float | None = None) -> dict[str, Spend]:
    """Every configured program's spend this month, by program id (one read of the
    month's counts, a few rows however many messages the month holds)."""
    programs = configured.current() if programs is None else programs
    if not programs:
        return {}
    now = store.clock() if now is None else now
    _, _, month = month_of(now)
    spent = {program.id: 0.0 for program in programs}
    for program_id, carrier_id, *counts in members.month_counts(store, month):
        if program_id in spent:
            spent[program_id] += price(carriers.get(carrier_id), *counts)
    return {p.id: Spend(p, round(spent[p.id], 6), month) for p in programs}


def stopped(store: Store, carriers: Carriers, now: float | None = None) -> frozenset[str]:
    """The programs whose spend reached their budget this month."""
    return frozenset(pid for pid, spend in spends(store, carriers, budgeted(), now).items()
                     if spend.reached)


def is_stopped(store: Store, carriers: Carriers, program: str) -> bool:
    """Whether `program` ('' none: never) reached its budget this month: its unsolicited
    messages (lessons, reminders, announcements, invitations) are not to be queued."""
    if not program:
        return False
    found = configured.current().get(program)
    if found is None or found.monthly_budget is None:
        return False
    return program in stopped(store, carriers)


def held_back(kind: str, program: str, stopped_programs: Iterable[str]) -> bool:
    """Whether a message of `kind` about `program` is stopped by its program's budget."""
    return bool(program) and kind not in NEVER_STOPPED and program in stopped_programs


def check(store: Store, carriers: Carriers) -> frozenset[str]:
    """The programs stopped by their budget now; tells each one's administrators, once a
    month, that it reached 80% and that it reached its budget (tell_administrators). The
    outbox worker runs it once a round."""
    found = spends(store, carriers, budgeted())  # none: the month's messages are not read
    for spend in found.values():
        tell_administrators(store, carriers, spend)
    return frozenset(pid for pid, spend in found.items() if spend.reached)


def tell_administrators(store: Store, carriers: Carriers, spend: Spend) -> bool:
    """At 80% of the budget, then at 100%, once each a month: a line in the staff audit
    and an SMS (kind 'report') to each of the program's `contacts`, in the program's
    language. Returns whether anything was told now."""
    share = spend.share
    if share is None or share < WARN_SHARE:
        return False
    level = "100%" if spend.reached else "80%"
    program = spend.program
    if members.budget_told(store, program.id, spend.month, level):  # most rounds: no write
        return False
    with store.write():
        if members.budget_told(store, program.id, spend.month, level):
            return False
        accounts.audit(store, f"program budget {level}",
                       subject=f"{program.id} {spend.month}")
        text = notice(program, spend)
        carrier = contact_carrier(program, carriers)
        for phone in program.contacts if carrier is not None else ():
            queue_text(store, carrier, phone, text, kind="report", to_stopped_ok=False)
    log.warning("program %s: spent %.2f %s of its %.2f budget for %s%s", program.id,
                spend.spent, program.currency, spend.budget, spend.month,
                "; its unsolicited messages stop" if spend.reached else "")
    if program.contacts and carrier is None:
        log.error("program %s: no SMS carrier to tell its contacts (%s)", program.id,
                  ", ".join(masked(p) for p in program.contacts))
    return True


def notice(program: Program, spend: Spend) -> str:
    """The few words a program's contacts are sent, in the program's language."""
    catalog = translations(program.default_locale)
    values = {"name": program.name, "spent": f"{spend.spent:.2f}",
              "budget": f"{spend.budget:.2f}", "currency": program.currency or "",
              "month": spend.month}
    if spend.reached:
        return catalog.gettext(
            "%(name)s has reached its budget for %(month)s: %(spent)s of %(budget)s "
            "%(currency)s. Lessons, reminders, announcements and invitations stop until next "
            "month; replies to learners continue.") % values
    return catalog.gettext(
        "%(name)s has spent %(spent)s of its %(budget)s %(currency)s budget for %(month)s. "
        "At the budget, lessons, reminders, announcements and invitations stop until next "
        "month.") % values


def contact_carrier(program: Program, carriers: Carriers) -> Carrier | None:
    """The carrier a program's contacts are told through: the first SMS carrier the
    program names in its file, else the first SMS carrier configured."""
    named = [carriers.get(carrier_id) for carrier_id in program.carriers]
    for carrier in [c for c in named if c is not None] + list(carriers):
        if carrier.carries("sms"):
            return carrier
    return None
