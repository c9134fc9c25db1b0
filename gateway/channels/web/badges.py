"""Open Badges served for verifiers (docs/integrations.md, Open Badges): the issuer's
profile, its public key and revocation list, each course's badge class and image, each
certificate's assertion (hosted JSON-LD, and signed as a JWS), at stable addresses under
`LEARNLINE_PUBLIC_URL` (gateway/learning/badges.py builds them,
gateway/learning/badge_signing.py signs them).

These routes are public by design: an employer, a wallet or a validator follows a badge's
addresses without any account. An assertion's recipient is a salted hash of the number,
which whoever holds the assertion can brute-force (gateway/learning/badges.py): its
address is 128 random bits, so assertions cannot be listed, and it is reached through
the holder (their certificate code's page, their own signed-in page). Without
`LEARNLINE_PUBLIC_URL` and `LEARNLINE_BADGE_ISSUER` every route answers 404.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from flask import Blueprint, Flask, Response, abort, current_app, request

from gateway import environment
from gateway.config import ConfigError
from gateway.i18n import translations
from gateway.learning import badge_signing, badges
from gateway.store.per_thread import get_store
from gateway.store.records import CertificateRecord

log = logging.getLogger(__name__)
blueprint = Blueprint("badges", __name__)

EXTENSION = "learnline.badges"
KEY_EXTENSION = "learnline.badge_key"  # the signing key, once read
_BADGE_ID = re.compile(r"^[0-9a-f]{32}$")
# How long verifiers may keep what does not change with a revocation.
STABLE_SECONDS = 3600
# How long verifiers and proxies may keep the revocation list: a revocation reaches a
# signed badge's verifier within this (the hosted assertion answers 410 at once).
REVOCATIONS_SECONDS = 300
# The revocation list as last built by this process: (badge settings, the store's change
# marker), its ETag, its body, gzipped. Rebuilt only when the marker moves.
_REVOCATIONS = "learnline.badges.revocations"


def init_app(app: Flask) -> None:
    """Read the badge settings (test_config `PUBLIC_URL`, `BADGE_ISSUER`, else the
    environment; ConfigError naming the setting for a bad value) and register the
    routes, which answer 404 while badges are off."""
    public_url = app.config.get("PUBLIC_URL") or environment.get("LEARNLINE_PUBLIC_URL")
    issuer = app.config.get("BADGE_ISSUER") or environment.get("LEARNLINE_BADGE_ISSUER")
    key_path = app.config.get("BADGE_SIGNING_KEY") or environment.get(
        badge_signing.KEY_ENV, "")
    app.config["BADGE_SIGNING_KEY"] = key_path
    try:
        app.extensions[EXTENSION] = badges.read_settings(public_url, issuer)
        if app.extensions[EXTENSION] is not None:
            # A key file that cannot be used stops start-up, not a verifier's request.
            app.extensions[KEY_EXTENSION] = badge_signing.configured_key(key_path)
    except ValueError as problem:
        raise ConfigError(str(problem)) from None
    if app.extensions[EXTENSION] is None and (public_url or "").strip():
        log.info("Open Badges are off: LEARNLINE_BADGE_ISSUER is not set "
                 "(docs/integrations.md, Open Badges)")
    app.register_blueprint(blueprint)


def settings() -> badges.BadgeSettings | None:
    """The app's badge settings, or None while badges are off."""
    return current_app.extensions.get(EXTENSION)


def _on() -> badges.BadgeSettings:
    found = settings()
    if found is None:
        abort(404)
    return found


def signing_key() -> RSAPrivateKey:
    """The key badges are signed with (gateway/learning/badge_signing.py), read once."""
    key = current_app.extensions.get(KEY_EXTENSION)
    if key is None:
        key = badge_signing.gateway_key(get_store(), current_app.config["BADGE_SIGNING_KEY"])
        current_app.extensions[KEY_EXTENSION] = key
    return key


def signed(settings: badges.BadgeSettings, certificate: CertificateRecord) -> str:
    """The certificate's assertion signed, as a JWS (it must stand)."""
    return badge_signing.sign_once(badges.signed_assertion(settings, certificate),
                                   signing_key())


def _json(document: dict[str, Any], status: int = 200, *, stable: bool = False) -> Response:
    response = Response(badges.as_json(document), status,
                        content_type="application/ld+json; charset=utf-8")
    response.headers["Access-Control-Allow-Origin"] = "*"  # wallets read from browsers
    response.headers["X-Content-Type-Options"] = "nosniff"
    # An assertion is asked again each time (a revocation shows at once).
    response.headers["Cache-Control"] = (f"public, max-age={STABLE_SECONDS}" if stable
                                         else "no-cache")
    return response


def _course(course_id: str) -> tuple[str, str, str]:
    """A certified course's name, description and criteria, in its default language
    (404 for a course no certificate names: badge classes exist once earned)."""
    store = get_store()
    certified = store.certificate_title(course_id)
    if certified is None:
        abort(404)
    course = store.course(course_id)
    if course is None:  # no longer taught: what its certificates say of it
        return certified, certified, translations("en").gettext(
            "Complete every lesson of the course and pass its quizzes.")
    locale = course.default_locale
    name = course.title_in(locale)
    criteria = translations(locale).gettext(
        "Complete every lesson of the course %(course)s and answer at least %(mark)d%% of "
        "its quiz questions right on the first try.") % {"course": name,
                                                         "mark": course.pass_mark}
    return name, course.summary_in(locale), criteria


@blueprint.get("/badges/issuer")
def issuer():
    """The issuer's profile."""
    return _json(badges.issuer(_on()), stable=True)


@blueprint.get("/badges/key")
def public_key():
    """The issuer's public key, which signed assertions name as their creator."""
    found = _on()
    return _json(badges.cryptographic_key(found, badge_signing.public_key_pem(signing_key())),
                 stable=True)


def _revocation_list(found: badges.BadgeSettings) -> tuple[str, bytes, bytes]:
    """The revocation list's ETag, body (UTF-8) and body gzipped, rebuilt only when the
    store's change marker (one indexed query) has moved since this process last built
    it."""
    store = get_store()
    marker = (found, store.certificates_withdrawn_marker())
    cached = current_app.extensions.get(_REVOCATIONS)
    if cached is not None and cached[0] == marker:
        return cached[1], cached[2], cached[3]
    body = badges.as_json(badges.revocation_list(
        found, store.certificates_withdrawn())).encode("utf-8")
    # Of the body itself: every process (and a restarted one) gives the same list the
    # same tag.
    etag = hashlib.sha256(body).hexdigest()[:32]
    # Hex ids under one address compress about seven times.
    gzipped = gzip.compress(body, compresslevel=6, mtime=0)
    current_app.extensions[_REVOCATIONS] = (marker, etag, body, gzipped)
    return etag, body, gzipped


@blueprint.get("/badges/revocations")
def revocations():
    """The issuer's revocation list: every assertion that no longer stands, and why; with
    a strong ETag (304 to a verifier that has it), kept up to `REVOCATIONS_SECONDS`,
    gzipped for a client that accepts it."""
    etag, body, gzipped = _revocation_list(_on())
    zipped = bool(request.accept_encodings["gzip"])
    response = Response(gzipped if zipped else body,
                        content_type="application/ld+json; charset=utf-8")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
        etag += "-gzip"  # a strong tag names one representation
    response.vary.add("Accept-Encoding")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = f"public, max-age={REVOCATIONS_SECONDS}"
    response.set_etag(etag)
    return response.make_conditional(request)


@blueprint.get("/badges/courses/<course_id>")
def badge_class(course_id: str):
    """A certified course's badge class; 404 for any other."""
    found = _on()
    name, description, criteria = _course(course_id)
    return _json(badges.badge_class(found, course_id, name, description, criteria),
                 stable=True)


@blueprint.get("/badges/courses/<course_id>/image.svg")
def badge_image(course_id: str):
    """A certified course's badge image (SVG); 404 for any other."""
    _on()
    name, _, _ = _course(course_id)
    response = Response(badges.badge_image(name), content_type="image/svg+xml")
    response.headers["Cache-Control"] = f"public, max-age={STABLE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # An SVG opened on its own runs nothing and loads nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@blueprint.get("/badges/assertions/<badge_id>")
def assertion(badge_id: str):
    """A certificate's assertion; a revoked one (or an erased learner's) answers 410 with
    `revoked` and the reason; 404 for an id no certificate has."""
    found = _on()
    certificate = (get_store().certificate_by_badge(badge_id)
                   if _BADGE_ID.match(badge_id) else None)
    if certificate is None:
        abort(404)
    if not badges.stands(certificate):
        return _json(badges.revoked(found, certificate), 410)
    return _json(badges.assertion(found, certificate))


@blueprint.get("/badges/assertions/<badge_id>.jws")
def signed_assertion(badge_id: str):
    """A certificate's assertion signed by the issuer's key, as a JWS (text); a revoked
    one (or an erased learner's) answers 410 as its hosted form does, and is on the
    revocation list; 404 for an id no certificate has."""
    found = _on()
    certificate = (get_store().certificate_by_badge(badge_id)
                   if _BADGE_ID.match(badge_id) else None)
    if certificate is None:
        abort(404)
    if not badges.stands(certificate):
        return _json(badges.revoked(found, certificate), 410)
    response = Response(signed(found, certificate), content_type="text/plain; charset=ascii")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response
