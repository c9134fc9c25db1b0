"""Certificates as Open Badges 2.0 (hosted and signed verification): the issuer's profile,
its public key and revocation list, a badge class per course, an assertion per
certificate (and the same to be signed, gateway/learning/badge_signing.py), the course's
badge image and a badge image with its assertion baked in (docs/integrations.md, Open
Badges).

Every document is JSON-LD in the Open Badges 2.0 context, its `id` its own address under
the gateway's public address (`LEARNLINE_PUBLIC_URL`). An assertion's address carries its
certificate's `badge_id` (128 random bits), not the certificate's code: the address can
be neither guessed nor used to look a code up. The recipient is a salted SHA-256 of the
learner's number (type `telephone`, `hashed`), the salt published beside it, as Open
Badges defines it. That hides the number from a casual reader, not from a determined
one: a whole country's numbers are 10^9 to 10^10 tries, and a number whose other digits
are known (a masked `+23480******01`) is found in a second. So a badge is given by the
learner, to whom they choose (their certificate code, or the badge from their own
signed-in page), and no page or message that gives the badge shows any digit of the
number (docs/integrations.md, Open Badges).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from gateway import environment
from gateway.store.records import CertificateRecord

CONTEXT = "https://w3id.org/openbadges/v2"
# The baking specification's namespace for the element that carries the assertion.
BAKING_NAMESPACE = "http://openbadges.org"
# The reason an erased learner's assertion gives (their certificate was not revoked).
ERASED_REASON = "The holder's record was erased at their request."

_ISSUER = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+)>\s*$")


@dataclass(frozen=True)
class BadgeSettings:
    """Where badges are served and who issues them: the gateway's public address (no
    trailing slash) and the issuer's name and email (an Open Badges issuer must have
    both)."""

    public_url: str
    issuer_name: str
    issuer_email: str

    def url(self, path: str) -> str:
        """The public address of `path` (which starts with `/`)."""
        return self.public_url + path

    @property
    def issuer_id(self) -> str:
        """The issuer profile's address."""
        return self.url("/badges/issuer")

    def badge_class_id(self, course_id: str) -> str:
        """A course's badge class's address."""
        return self.url(f"/badges/courses/{quote(course_id, safe='')}")

    def image_url(self, course_id: str) -> str:
        """A course's badge image's address."""
        return self.badge_class_id(course_id) + "/image.svg"

    def assertion_id(self, badge_id: str) -> str:
        """A certificate's assertion's address, by the certificate's `badge_id`."""
        return self.url(f"/badges/assertions/{badge_id}")

    @property
    def key_id(self) -> str:
        """The address of the issuer's public key (a CryptographicKey)."""
        return self.url("/badges/key")

    @property
    def revocation_list_id(self) -> str:
        """The address of the issuer's revocation list."""
        return self.url("/badges/revocations")


def environment_settings() -> BadgeSettings | None:
    """`read_settings` of this process's `$LEARNLINE_PUBLIC_URL` and
    `$LEARNLINE_BADGE_ISSUER` (the commands'; the web reads its app's config first)."""
    return read_settings(environment.get("LEARNLINE_PUBLIC_URL"),
                         environment.get("LEARNLINE_BADGE_ISSUER"))


def read_settings(public_url: str | None, issuer: str | None) -> BadgeSettings | None:
    """The badge settings from `LEARNLINE_PUBLIC_URL` and `LEARNLINE_BADGE_ISSUER`
    (`Name <email>`), or None (badges off) when either is unset. ValueError naming the
    setting for a value that cannot be used, set alone or with the other."""
    public_url = (public_url or "").strip()
    issuer = (issuer or "").strip()
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment:
            raise ValueError(f"LEARNLINE_PUBLIC_URL={public_url!r}: the gateway's address "
                             "as http(s)://host[:port][/path], without a query")
    found = _ISSUER.match(issuer) if issuer else None
    if issuer and found is None:
        raise ValueError(f"LEARNLINE_BADGE_ISSUER={issuer!r}: the badges' issuer as "
                         "'Name <email>', e.g. 'Learn Kano <badges@learn.example.org>'")
    if not public_url or found is None:
        return None
    return BadgeSettings(public_url.rstrip("/"), found["name"], found["email"])


def on_by_environment() -> bool:
    """Whether badges are on as `learnline serve` and `learnline worker` read them: both
    `LEARNLINE_PUBLIC_URL` and `LEARNLINE_BADGE_ISSUER` set (a value that cannot be used
    stops start-up, so set is on). For what a message says outside a web request."""
    return all((environment.get(name) or "").strip()
               for name in ("LEARNLINE_PUBLIC_URL", "LEARNLINE_BADGE_ISSUER"))


def recipient_identity(phone: str, salt: str) -> str:
    """The hashed identity of the number `phone` (E.164) with `salt`, as Open Badges
    writes it: `sha256$` and the hex digest of the number followed by the salt. Anyone
    with the identity and the salt can find the number by trying numbers (see above):
    it hides the number from sight, it does not keep it secret."""
    return "sha256$" + hashlib.sha256((phone + salt).encode("utf-8")).hexdigest()


def issuer(settings: BadgeSettings) -> dict[str, Any]:
    """The issuer's profile."""
    return {"@context": CONTEXT, "type": "Issuer", "id": settings.issuer_id,
            "name": settings.issuer_name, "url": settings.url("/"),
            "email": settings.issuer_email, "publicKey": settings.key_id,
            "revocationList": settings.revocation_list_id}


def cryptographic_key(settings: BadgeSettings, public_pem: str) -> dict[str, Any]:
    """The issuer's public key, which signed badges name as their `creator`: its PEM,
    owned by the issuer."""
    return {"@context": CONTEXT, "type": "CryptographicKey", "id": settings.key_id,
            "owner": settings.issuer_id, "publicKeyPem": public_pem}


def revocation_list(settings: BadgeSettings,
                    certificates: Iterable[CertificateRecord]) -> dict[str, Any]:
    """The issuer's revocation list: the assertion of each of `certificates` whose badge
    no longer stands (revoked, or its holder erased), with the reason its 410 answer
    gives."""
    entries: list[Any] = [{"id": settings.assertion_id(c.badge_id),
                           "revocationReason": revoked(settings, c)["revocationReason"]}
                          for c in certificates if not stands(c)]
    if len(entries) == 1:
        # JSON-LD compaction turns a list of one into that one entry, and the IMS
        # validator (openbadges 1.1.2) then looks for the assertion among the entry's
        # keys and misses it. The same assertion by its id alone (the spec allows both
        # forms) keeps the list a list.
        entries.append(entries[0]["id"])
    return {"@context": CONTEXT, "type": "RevocationList",
            "id": settings.revocation_list_id, "issuer": settings.issuer_id,
            "revokedAssertions": entries}


def badge_class(settings: BadgeSettings, course_id: str, name: str, description: str,
                criteria: str) -> dict[str, Any]:
    """A course's badge class: its name and description, its image, and what earns it
    (`criteria`, a sentence; the course's page is the criteria's address)."""
    return {"@context": CONTEXT, "type": "BadgeClass",
            "id": settings.badge_class_id(course_id), "name": name,
            "description": description or name, "image": settings.image_url(course_id),
            "criteria": {"id": settings.url(f"/courses/{quote(course_id, safe='')}"),
                         "narrative": criteria},
            "issuer": settings.issuer_id}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def assertion(settings: BadgeSettings, certificate: CertificateRecord) -> dict[str, Any]:
    """A certificate's assertion (hosted verification). The certificate must have a
    holder's number (an erased learner's has none: see `revoked`)."""
    if certificate.phone is None:
        raise ValueError("an erased learner's certificate has no recipient")
    return {"@context": CONTEXT, "type": "Assertion",
            "id": settings.assertion_id(certificate.badge_id),
            "recipient": {"type": "telephone", "hashed": True, "salt": certificate.badge_salt,
                          "identity": recipient_identity(certificate.phone,
                                                         certificate.badge_salt)},
            "issuedOn": _iso(certificate.issued_at),
            "badge": settings.badge_class_id(certificate.course_id),
            "verification": {"type": "hosted"}}


def signed_assertion(settings: BadgeSettings, certificate: CertificateRecord) -> dict[str, Any]:
    """The certificate's assertion to be signed (gateway/learning/badge_signing.py): the
    hosted one, its verification `SignedBadge` by the issuer's key. Its `id` stays the
    hosted assertion's address, so the two forms are one badge, revoked together."""
    return {**assertion(settings, certificate),
            "verification": {"type": "SignedBadge", "creator": settings.key_id}}


def stands(certificate: CertificateRecord) -> bool:
    """Whether the certificate's assertion answers as issued: not revoked, and its holder
    not erased."""
    return certificate.revoked_at is None and certificate.phone is not None


def revoked(settings: BadgeSettings, certificate: CertificateRecord) -> dict[str, Any]:
    """What a revoked certificate's assertion answers (with HTTP 410, as Open Badges 2.0
    asks of hosted assertions): its id, `revoked` and the reason. An erased learner's
    certificate answers so too: an assertion without its recipient cannot stand."""
    reason = certificate.revocation_reason if certificate.revoked_at is not None \
        else ERASED_REASON
    return {"@context": CONTEXT, "type": "Assertion",
            "id": settings.assertion_id(certificate.badge_id),
            "revoked": True, "revocationReason": reason or "Revoked by the issuer."}


def as_json(document: dict[str, Any]) -> str:
    """A document as compact JSON, with `<`, `>` and `&` escaped so that it can sit in
    XML character data, CDATA or an HTML page unchanged."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _lines(title: str, width: int = 16, most: int = 3) -> list[str]:
    """The title cut into at most `most` lines of about `width` characters, at spaces."""
    lines: list[str] = []
    for word in title.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word[:width * 2])
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][:width - 1] + "\u2026"
    return lines or [""]


def badge_image(title: str) -> str:
    """A course's badge image: a small SVG (a ribbon and a medal with the course's title),
    no fonts to fetch, no scripts."""
    # XML 1.0 allows no control characters but tab and line ends: none belong in a title.
    title = "".join(c for c in title if c.isprintable() or c in " \t")
    lines = _lines(title)
    first = 118 - 11 * (len(lines) - 1)
    text = "".join(
        f'<text x="100" y="{first + 22 * index}">{escape(line)}</text>'
        for index, line in enumerate(lines))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" '
        'viewBox="0 0 200 200" role="img">'
        f"<title>{escape(title)}</title>"
        '<path d="M62 130 45 196l25-12 16 20 14-58zm76 0 17 66-25-12-16 20-14-58z" '
        'fill="#c0392b"/>'
        '<circle cx="100" cy="100" r="84" fill="#f4c542" stroke="#8a6d0b" '
        'stroke-width="6"/>'
        '<circle cx="100" cy="100" r="70" fill="#fff7d6"/>'
        '<path d="M78 62l14 14 30-30" fill="none" stroke="#2e7d32" stroke-width="8" '
        'stroke-linecap="round" stroke-linejoin="round"/>'
        '<g font-family="sans-serif" font-size="17" font-weight="bold" fill="#3b2f05" '
        f'text-anchor="middle">{text}</g>'
        "</svg>")


def bake(svg: str, document: dict[str, Any] | str) -> str:
    """`svg` with the assertion `document` baked in, as the Open Badges baking
    specification says for SVG: an `openbadges:assertion` element first in the `svg`
    element (its namespace declared there). A hosted assertion (a dict): its `verify`
    attribute the assertion's address, the assertion's JSON as CDATA. A signed one (its
    JWS, a str): the JWS as the `verify` attribute and as CDATA, as the IMS bakery
    writes it."""
    opening = re.match(r"<svg\b[^>]*>", svg)
    if opening is None:
        raise ValueError("not an SVG image")
    tag = opening.group(0)
    baked_tag = tag[:-1] + f' xmlns:openbadges="{BAKING_NAMESPACE}">'
    verify, content = ((document, document) if isinstance(document, str)
                       else (document["id"], as_json(document)))
    element = (f"<openbadges:assertion verify={quoteattr(verify)}>"
               f"<![CDATA[{content}]]></openbadges:assertion>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + baked_tag + element + svg[len(tag):]
