"""Sign in with the phone: a one-time code by SMS, with limits against SMS pumping.

Codes are 6 digits, valid 10 minutes, single use, at most 5 wrong tries, and kept only
as an HMAC; a code asked for again leaves the earlier ones working until they expire.

A code goes only to a mobile or fixed line of a country an SMS carrier names as its
`country` (with none named, web sign-in is off and sends no code at all): never to
premium-rate, shared-cost, toll-free or non-geographic numbers (satellite +881,
international premium +979), where SMS pumping pays. Then the request must fit every
limit: per number and per client address (over them: 429, no SMS), and, for a number
that is not yet a learner, per number block (an attacker pumping a range uses many
numbers of one block) and overall for new numbers. Past those two the answer is the same
as when a code went out, but none does: learners keep their own overall budget, so an
attack on other numbers never stops a learner signing in, and the page never tells
whether a number is already a learner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from gateway.channels.visits import comes_back
from gateway.config import Carrier, Carriers
from gateway.i18n import default_locale, translations
from gateway.outbox.queue import queue_text
from gateway.phones import is_personal_line, masked, region_of
from gateway.store import LearnerRecord, Store

log = logging.getLogger(__name__)

CODE_SECONDS = 10 * 60
MAX_TRIES = 5
HOUR = 3600.0
# (what, how many, per how many seconds)
LIMITS_PER_NUMBER = ((3, HOUR), (6, 24 * HOUR))
LIMIT_PER_BLOCK = (10, HOUR)  # new numbers sharing all but their last 4 digits
LIMIT_PER_ADDRESS = (10, HOUR)
LIMIT_NEW_NUMBERS = (500, HOUR)  # codes to numbers that are not yet learners, overall
LIMIT_LEARNERS = (2000, HOUR)  # codes to learners' numbers, overall

# What request_code did.
SENT = "sent"
LIMITED = "limited"  # over the number's or the address's limit: say so
UNREACHABLE = "unreachable"  # no code goes to such a number
UNSERVED = "unserved"  # a mobile or fixed line, of a country no carrier here serves
# A browser stays signed in this long after entering its code, across browser restarts:
# each sign-in is an SMS the operator pays for, and a learner reads on and off for weeks.
SIGNED_IN_DAYS = 90


@dataclass(frozen=True)
class CodeCheck:
    """The result of entering a code: `ok`, or how many tries are left (0: ask again)."""

    ok: bool
    tries_left: int


def _digest(secret: bytes, phone: str, code: str) -> str:
    return hmac.new(secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def sms_carrier_for(store: Store, carriers: Carriers, phone: str) -> Carrier | None:
    """The carrier to reach a number by SMS: the learner's own, else one of the number's
    country, else the first that sends SMS."""
    sms = [c for c in carriers if c.carries("sms") and c.adapter != "simulator"]
    learner = store.learner(phone)
    if learner is not None:
        for carrier in sms:
            if carrier.id == learner.carrier_id:
                return carrier
    region = region_of(phone)
    for carrier in sms:
        if carrier.country and carrier.country == region:
            return carrier
    return sms[0] if sms else None


def served_countries(carriers: Carriers) -> frozenset[str]:
    """The countries (ISO 3166) the SMS carriers serve: each one's `country`. A carrier's
    `languages` table maps countries to languages and says nothing of where it delivers,
    so it adds none. Empty when no carrier names one: then no sign-in code goes anywhere."""
    return frozenset(carrier.country.upper() for carrier in carriers
                     if carrier.country and carrier.carries("sms")
                     and carrier.adapter != "simulator")


NO_COUNTRY_WARNING = ("no SMS carrier names its country (`country` in {where}): sign-in "
                      "codes go to no number, so web sign-in is off")


def available(carriers: Carriers) -> bool:
    """Whether web sign-in can send a code to anyone: some SMS carrier names its country.
    Without one it fails closed, rather than let codes go to every country."""
    return bool(served_countries(carriers))


def why_no_code(carriers: Carriers, phone: str) -> str | None:
    """Why no sign-in code may go to `phone` (None: one may): UNREACHABLE for no mobile or
    fixed line (phones.is_personal_line), UNSERVED for one of a country the carriers do
    not serve (none when no carrier names one)."""
    if not is_personal_line(phone):
        return UNREACHABLE
    return None if region_of(phone) in served_countries(carriers) else UNSERVED


def request_code(store: Store, carriers: Carriers, secret: bytes, phone: str,
                 address: str, locale: str) -> str:
    """Send a sign-in code to `phone` if it may receive one and the limits allow it.
    Returns SENT (also when a limit on new numbers held the code back: the page must
    not tell learners apart), LIMITED, UNREACHABLE or UNSERVED (why_no_code)."""
    refused = why_no_code(carriers, phone)
    if refused is not None:
        log.warning("sign-in code refused for %s: not a mobile or fixed line of a served "
                    "country", masked(phone))
        return refused
    limits = [(f"number/{window:.0f}s:{phone}", count, window)
              for count, window in LIMITS_PER_NUMBER]
    limits.append((f"address:{address}", *LIMIT_PER_ADDRESS))
    over = store.take_rate(limits)
    if over is None:
        if store.learner(phone) is not None:
            over = store.take_rate([("learners", *LIMIT_LEARNERS)])
        else:
            over = store.take_rate([(f"block:{phone[:-4]}", *LIMIT_PER_BLOCK),
                                    ("new numbers", *LIMIT_NEW_NUMBERS)])
        if over is not None:
            log.warning("sign-in code held back for %s: limit %s", masked(phone),
                        over.split(":")[0])
            return SENT
    if over is not None:
        log.warning("sign-in code refused for %s: limit %s", masked(phone), over.split(":")[0])
        return LIMITED
    carrier = sms_carrier_for(store, carriers, phone)
    if carrier is None:
        log.error("no SMS carrier configured: cannot send a sign-in code")
        return SENT  # the page must not differ; operators see the error
    code = f"{secrets.randbelow(10**6):06d}"
    with store.write():
        store.save_signin_code(phone, _digest(secret, phone, code), store.clock() + CODE_SECONDS)
        learner = store.learner(phone)
        language = learner.locale if learner else locale
        text = translations(language).gettext(
            "Your Learnline code is %(code)s. It expires in 10 minutes. Never share it."
        ) % {"code": code}
        queue_text(store, carrier, phone, text, to_stopped_ok=True)
    log.info("sign-in code sent to %s via %s", masked(phone), carrier.id)
    return SENT


def check_code(store: Store, secret: bytes, phone: str, code: str) -> CodeCheck:
    """Check an entered code against every code of the number still unexpired (the
    learner may have asked twice and got the first SMS last: at most three an hour, by
    LIMITS_PER_NUMBER). Tries count on the newest, at most MAX_TRIES; a right code, or
    the last try, ends them all: each is single use.

    Reading the codes, comparing and counting the try are one write transaction, so
    concurrent guesses take their turns: however many arrive at once, at most MAX_TRIES
    are ever compared."""
    entered = _digest(secret, phone, "".join(c for c in code if c.isdigit()))
    with store.write():
        live = store.live_signin_codes(phone)
        if not live:
            return CodeCheck(False, 0)
        if live[0]["tries"] >= MAX_TRIES:  # a code from before tries ended them all
            store.end_signin_codes(phone)
            return CodeCheck(False, 0)
        ok = any([hmac.compare_digest(row["code_hash"], entered) for row in live])
        tries = store.spend_signin_try(live[0]["id"], used=False)
        if ok or tries >= MAX_TRIES:
            store.end_signin_codes(phone)
    return CodeCheck(ok, 0 if ok else max(MAX_TRIES - tries, 0))


def learner_for(store: Store, carriers: Carriers, phone: str, locale: str) -> LearnerRecord:
    """The learner who just signed in, created if the web is their first channel."""
    learner = store.learner(phone)
    if learner is None:
        carrier = sms_carrier_for(store, carriers, phone)
        learner = LearnerRecord(phone=phone, locale=locale or (
            default_locale(phone, carrier) if carrier else "en"),
            carrier_id=carrier.id if carrier else "web")
        with store.write():
            # Signing in is an explicit act: an erased number comes back as a fresh
            # learner (docs/privacy.md).
            comes_back(store, phone)
            store.save_learner(learner)
    return learner


def still_signed_in(learner: LearnerRecord | None, since: object, now: float) -> bool:
    """Whether a browser that signed in as this number at `since` (the store's clock, as
    kept in its session) is still signed in as `learner`, the number's learner now: not
    after SIGNED_IN_DAYS, and never as a learner begun after the sign-in. That one is
    somebody else: the number was erased and texted again, perhaps by its next owner once
    the carrier gave it out anew, and must not see the old browser's way in."""
    if learner is None or not isinstance(since, int | float) or isinstance(since, bool):
        return False
    begun = learner.created_at if learner.created_at is not None else since
    return begun <= since and now < since + SIGNED_IN_DAYS * 24 * HOUR
