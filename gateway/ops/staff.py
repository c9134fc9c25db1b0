"""Staff accounts and the rules of signing in, for the dashboard's pages (and, later, the
tutors'): adding, removing and changing passwords (`learnline staff`), checking a
sign-in against the limits, and the record of who did what.

Failed sign-ins are held back three ways (docs/operations.md, Staff accounts):

- per client address and overall (FAILURES_PER_ADDRESS, FAILURES_OVERALL, FRESH_PACE),
  the dashboard's limits for its token too: an address over its own limit is refused
  without a check; past the overall limit an address that failed is refused, and
  addresses without failures are checked at most one a second between them all;
- per account: after FREE_FAILURES failures in a row, each failure locks the account for
  FIRST_LOCK_SECONDS, doubling, at most MAX_LOCK_SECONDS. A locked account's sign-ins are
  refused without a check, except from a browser where that account signed in before
  (`known`: the dashboard keeps a signed cookie of the accounts that signed in there).
  So someone guessing an administrator's password cannot keep them out: their own
  browser still gets in, and `learnline staff passwd` on the server always does;
- every attempt is counted before the password is checked (argon2 is slow on purpose,
  and is not run inside the write transaction), and taken back once found right, so
  concurrent guesses never get more checks than the limits allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway import programs
from gateway.ops import passwords
from gateway.store import staff as accounts
from gateway.store.staff import StaffAccount
from gateway.store.store import Store

ADMIN = "admin"
TUTOR = "tutor"
ROLES = (ADMIN, TUTOR)
SESSION_SECONDS = 12 * 3600  # a staff session, from sign-in; signing out ends it sooner

# Failed credentials (sign-in form, or the dashboard's bearer token): per client address,
# and overall; past FAILURES_OVERALL, checks from addresses without failures, between them.
FAILURES_PER_ADDRESS = (20, 15 * 60.0)
FAILURES_OVERALL = (100, 15 * 60.0)
FRESH_PACE = (1, 1.0)
ADDRESS_KEY = "admin-signin/address:"
OVERALL_KEY = "admin-signin/overall"
FRESH_KEY = "admin-signin/fresh"
# An account's failures in a row before it locks, and how long it locks.
FREE_FAILURES = 5
FIRST_LOCK_SECONDS = 60.0
MAX_LOCK_SECONDS = 15 * 60.0

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{1,63}")
MAX_NAME_CHARS = 100

# What the record says (the tutors' inbox adds its own: answered, reassigned, closed).
SIGNED_IN = "signed in"
SIGN_IN_FAILED = "sign-in failed"
SIGN_IN_LOCKED = "sign-in refused: account locked"
SIGNED_OUT = "signed out"
ACCOUNT_ADDED = "account added"
ACCOUNT_REMOVED = "account removed"
PASSWORD_CHANGED = "password changed"


class StaffError(Exception):
    """Bad input for an account (one sentence saying what to change)."""


def check_username(username: str) -> str:
    """The username in lower case, or StaffError: 2 to 64 of a-z 0-9 . _ @ + -, starting
    with a letter or digit (an e-mail address is fine)."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise StaffError(f"{username!r} is not a username: use 2 to 64 letters a-z, digits "
                         "and . _ @ + - (an e-mail address is fine), starting with a letter "
                         "or digit")
    return name


def check_name(name: str) -> str:
    """The name with its spaces tidied, or StaffError if empty or over MAX_NAME_CHARS."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise StaffError(f"the name must be 1 to {MAX_NAME_CHARS} characters")
    return name


def _account(store: Store, username: str) -> StaffAccount:
    account = accounts.find(store, username)
    if account is None:
        raise StaffError(f"no staff account {username!r} (`learnline staff list` shows them)")
    return account


def _password(password: str, username: str) -> str:
    problem = passwords.weakness(password, username)
    if problem:
        raise StaffError(problem)
    return passwords.hash_password(password)


def add_account(store: Store, username: str, name: str, role: str, password: str,
                *, actor: str | None = None, program: str = "") -> StaffAccount:
    """Add an account holding `role` for the whole gateway, or for `program` alone (a
    configured program, docs/programs.md); StaffError for a bad or taken username, an
    empty or long name, an unknown role or program, or a weak password."""
    username = check_username(username)
    name = check_name(name)
    if role not in ROLES:
        raise StaffError(f"{role!r} is not a role: {' or '.join(ROLES)}")
    if program and programs.current().get(program) is None:
        known = ", ".join(sorted(programs.current().by_id)) or "none (set LEARNLINE_PROGRAMS)"
        raise StaffError(f"no program {program!r} is configured (programs: {known})")
    if accounts.find(store, username) is not None:
        raise StaffError(f"there is already a staff account {username!r}")
    try:
        account = accounts.add(store, username, name, role, _password(password, username),
                               program=program)
    except accounts.AccountExists:
        raise StaffError(f"there is already a staff account {username!r}") from None
    accounts.audit(store, ACCOUNT_ADDED, actor=actor,
                   subject=f"{username} ({role}{f', program {program}' if program else ''})")
    return account


def remove_account(store: Store, username: str, *, actor: str | None = None) -> None:
    """Remove the account and end its sessions; StaffError if there is none."""
    account = _account(store, username)
    accounts.remove(store, account.id)
    accounts.audit(store, ACCOUNT_REMOVED, actor=actor, subject=account.username)


def change_password(store: Store, username: str, password: str,
                    *, actor: str | None = None) -> None:
    """Give the account a new password: its sessions end, its lock is lifted;
    StaffError for an unknown account or a weak password."""
    account = _account(store, username)
    accounts.set_password(store, account.id, _password(password, account.username))
    accounts.audit(store, PASSWORD_CHANGED, actor=actor, subject=account.username)


def lock_seconds(failures: int) -> float:
    """How long `failures` failed sign-ins in a row lock an account (0: not locked)."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(FIRST_LOCK_SECONDS * 2 ** min(failures - FREE_FAILURES, 20), MAX_LOCK_SECONDS)


def address_limited(store: Store, address: str) -> bool:
    """Whether this client address may not try now; inside the caller's write
    transaction (it may count a check of a fresh address against FRESH_PACE)."""
    per_address, window = FAILURES_PER_ADDRESS
    overall, overall_window = FAILURES_OVERALL
    failed_here = store.rate_used(ADDRESS_KEY + address, window)
    if failed_here >= per_address:
        return True
    return bool(store.rate_used(OVERALL_KEY, overall_window) >= overall and (
        failed_here or store.take_rate([(FRESH_KEY, *FRESH_PACE)])))


def count_failure(store: Store, address: str) -> None:
    """Count one failed (or not yet checked) attempt of this address, and overall."""
    per_address, window = FAILURES_PER_ADDRESS
    store.take_rate([(ADDRESS_KEY + address, per_address, window),
                     (OVERALL_KEY, 2**62, FAILURES_OVERALL[1])])


@dataclass(frozen=True)
class Attempt:
    """What a sign-in came to: "ok" (with the account), "wrong" (no such account, or not
    its password), "limited" (this address may not try now) or "locked" (the account's
    backoff; `wait` seconds left)."""

    outcome: str
    account: StaffAccount | None = None
    wait: float = 0.0


def sign_in(store: Store, username: str, password: str, *, address: str,
            known: frozenset[int] = frozenset()) -> Attempt:
    """Check a sign-in from client `address` (its limit key) against the limits, then the
    password; `known` holds the ids of accounts that signed in before in this browser
    (they pass their account's lock). Records it in the audit either way; a right
    password made with older hash parameters is hashed again."""
    now = store.clock()
    with store.write():
        if address_limited(store, address):
            return Attempt("limited")
        account = accounts.find(store, username.strip()) if len(username) <= 200 else None
        if (account is not None and account.locked_until is not None
                and account.locked_until > now and account.id not in known):
            # Counted against the address (not overall): a refusal is not a guess, but
            # an address repeating them is held back, and so is the record's growth.
            store.take_rate([(ADDRESS_KEY + address, *FAILURES_PER_ADDRESS)])
            accounts.audit(store, SIGN_IN_LOCKED, subject=account.username, address=address)
            return Attempt("locked", account, account.locked_until - now)
        count_failure(store, address)  # taken back below if right
        failures = accounts.count_attempt(store, account.id) if account else 0
    right = passwords.verify(account.password_hash if account else None, password)
    if account is not None and right:
        rehashed = (passwords.hash_password(password)
                    if passwords.needs_rehash(account.password_hash) else None)
        with store.write():
            accounts.forget_rate_event(store, ADDRESS_KEY + address)
            accounts.forget_rate_event(store, OVERALL_KEY)
            accounts.signed_in(store, account.id, rehashed)
            accounts.audit(store, SIGNED_IN, actor=account.username, address=address)
        return Attempt("ok", accounts.by_id(store, account.id))
    with store.write():
        if account is not None and lock_seconds(failures):
            accounts.lock(store, account.id, now + lock_seconds(failures))
        accounts.audit(store, SIGN_IN_FAILED, subject=account.username if account else None,
                       address=address)
    return Attempt("wrong", account)


def signed_out(store: Store, account: StaffAccount, address: str) -> None:
    """Record a sign-out (the session itself is ended by the caller)."""
    accounts.audit(store, SIGNED_OUT, actor=account.username, address=address)
