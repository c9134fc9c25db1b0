"""Staff sign-in on the web, for any blueprint of staff pages (the dashboard today): who
is signed in on this request, starting and ending their session, and the browser's
"known here" cookie that lets an account's own browser past its lock-out
(gateway/ops/staff.py).

The session is a web session kept on the server (gateway/store/web_sessions.py, kind
`staff`, its mark the account's id): the cookie holds a random token only, and signing
out, a new password or a removed account ends it in every copy of the cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Response, current_app, request, session

from gateway.ops import staff
from gateway.server import forwarded
from gateway.server.whole_numbers import whole_number
from gateway.store import staff as accounts
from gateway.store import web_sessions
from gateway.store.per_thread import get_store
from gateway.store.staff import StaffAccount

SESSION_KEY = web_sessions.STAFF_COOKIE_KEY
KNOWN_COOKIE = "learnline_staff_known"
KNOWN_DAYS = 180
KNOWN_MAX = 8  # accounts remembered per browser


def address() -> str:
    """This client's address as the limits count it (an IPv6 client by its /64)."""
    return forwarded.limit_key(request.remote_addr)


def current() -> StaffAccount | None:
    """The account signed in on this request's session, or None (no session, ended,
    expired, or its account removed)."""
    store = get_store()
    found = web_sessions.find(store, session.get(SESSION_KEY), accounts.STAFF)
    if found is None or not (found.mark or "").isdigit():
        return None
    return accounts.by_id(store, int(found.mark))


def start(account: StaffAccount) -> None:
    """Sign this browser in as `account`: a new session (any earlier one of this browser
    ends) and a new CSRF token."""
    store = get_store()
    web_sessions.end(store, session.get(SESSION_KEY))
    session[SESSION_KEY] = web_sessions.start(store, accounts.STAFF, staff.SESSION_SECONDS,
                                              mark=str(account.id))
    session["csrf"] = secrets.token_urlsafe(24)


def end() -> StaffAccount | None:
    """End this browser's staff session on the server; the account it was, if any."""
    account = current()
    web_sessions.end(get_store(), session.pop(SESSION_KEY, None))
    if account is not None:
        staff.signed_out(get_store(), account, address())
    return account


def _signature(staff_id: int) -> str:
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"learnline-staff-known:{staff_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def known() -> frozenset[int]:
    """The accounts that signed in before in this browser (the signed cookie's ids)."""
    ids = set()
    for item in request.cookies.get(KNOWN_COOKIE, "").split("_")[:KNOWN_MAX]:
        number, _, signature = item.partition(".")
        staff_id = whole_number(number)
        if staff_id is not None and hmac.compare_digest(signature.encode(),
                                                        _signature(staff_id).encode()):
            ids.add(staff_id)
    return frozenset(ids)


def remember(response: Response, account: StaffAccount) -> None:
    """Add the account to this browser's known-here cookie."""
    ids = [account.id, *sorted(known() - {account.id})][:KNOWN_MAX]
    value = "_".join(f"{n}.{_signature(n)}" for n in ids)
    response.set_cookie(KNOWN_COOKIE, value, max_age=KNOWN_DAYS * 86400, path="/admin",
                        secure=request.is_secure, httponly=True, samesite="Lax")
