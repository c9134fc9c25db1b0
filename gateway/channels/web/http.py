"""What every lite page gets on the way out: compression, validators, cache rules,
security headers, and CSRF checks on the way in.

Pages are small on purpose (every kilobyte costs a learner money on 2G), so they are
compressed (brotli where the client accepts it, else gzip), carry an ETag so a revisit
costs a 304, and are never cached by shared proxies (they hold a learner's progress).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import secrets
from pathlib import Path

import brotli
from flask import Blueprint, Response, abort, g, request, session

CSS = (Path(__file__).with_name("lite.css")).read_text(encoding="utf-8").strip()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_COMPRESSIBLE = ("text/html", "text/css", "text/plain")


def csrf_token() -> str:
    """This browser session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf() -> None:
    """Refuse a POST whose form does not carry this session's token."""
    if request.method != "POST":
        return
    sent = request.form.get("csrf", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")


def _encoding() -> str | None:
    accepted = request.accept_encodings
    if accepted["br"]:
        return "br"
    if accepted["gzip"]:
        return "gzip"
    return None


def finish(response: Response) -> Response:
    """Headers, validators and compression for one page response."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    # frame-ancestors' older form, for the browsers of low-end phones that ignore CSP.
    headers["X-Frame-Options"] = "DENY"
    if g.get("learner") is not None and "Cache-Control" not in headers:
        # A signed-in learner's page (pages.current_learner keeps them in g) names them:
        # on a shared phone, no copy stays for Back to show after sign-out.
        headers["Cache-Control"] = "private, no-store"
    headers.setdefault("Cache-Control", "private, no-cache")
    response.vary.update(("Accept-Encoding", "Accept-Language", "Cookie"))
    # A page finished already (an error page rendered by another blueprint's handler,
    # then passed through this blueprint's hook) is not compressed twice.
    if response.direct_passthrough or "Content-Encoding" in headers \
            or not response.mimetype.startswith(_COMPRESSIBLE):
        return response
    body = response.get_data()
    encoding = _encoding()
    digest = hashlib.sha256(body).hexdigest()[:24]
    etag = f"{digest}-{encoding}" if encoding else digest
    response.set_etag(etag)
    if response.status_code == 200 and request.method in ("GET", "HEAD") and \
            etag in request.if_none_match:
        response.status_code = 304
        response.set_data(b"")
        del response.headers["Content-Length"]
        del response.headers["Content-Type"]
        return response
    if encoding == "br":
        response.set_data(brotli.compress(body, quality=11))
    elif encoding == "gzip":
        response.set_data(gzip.compress(body, compresslevel=9, mtime=0))
    if encoding:
        headers["Content-Encoding"] = encoding
    return response


def install(blueprint: Blueprint) -> None:
    """Hook CSRF checks and response finishing into the pages' blueprint."""
    blueprint.before_request(check_csrf)
    blueprint.after_request(finish)
