"""The key that signs certificates' Open Badges, and the signing (docs/integrations.md,
Open Badges: signed badges).

A signed badge is the assertion as a JWS in compact form (RFC 7515), RS256: RSA PKCS#1
v1.5 with SHA-256, the algorithm every Open Badges 2.0 verifier reads. The key is the PEM
file `LEARNLINE_BADGE_SIGNING_KEY` names (an RSA private key of 2048 bits or more,
unencrypted), else one RSA key made on first use and kept in the database beside the
gateway's other secrets (the session and pseudonym keys; the database file is its owner's
only), so every process signs with the same key. The private key never leaves this module
but as a signature: it is not logged, and `describe` says which key is in use by its
fingerprint only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway import environment

if TYPE_CHECKING:
    from gateway.store.store import Store

KEY_ENV = "LEARNLINE_BADGE_SIGNING_KEY"
KEY_SETTING = "badge_signing_key"
KEY_BITS = 2048
ALGORITHM = "RS256"
# How many signed documents a process keeps (about 1 KB each): an RSA signature costs
# milliseconds, and anyone holding a badge's address may ask for it again and again.
SIGNED_KEPT = 2048

_signed: OrderedDict[tuple[str, str], str] = OrderedDict()
_signed_lock = threading.Lock()


def generate_key_pem() -> str:
    """A new RSA private key (2048 bits) as unencrypted PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def load_key_pem(data: bytes, where: str) -> rsa.RSAPrivateKey:
    """The RSA private key in PEM `data`; ValueError naming `where` when it is not an
    unencrypted RSA private key of at least 2048 bits (the message never quotes the
    key)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{where} is not an unencrypted PEM private key (make one with "
                         "`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`)"
                         ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{where} is not an RSA key: Open Badges are signed RS256")
    if key.key_size < KEY_BITS:
        raise ValueError(f"{where} is an RSA key of {key.key_size} bits: use at least "
                         f"{KEY_BITS}")
    return key


def configured_key(path: str | None = None) -> rsa.RSAPrivateKey | None:
    """The key in the file `path` (else `$LEARNLINE_BADGE_SIGNING_KEY`), or None when
    neither is set; ValueError naming the setting and the file when it cannot be read or
    is not a usable key."""
    path = (path if path is not None else environment.get(KEY_ENV, "") or "").strip()
    if not path:
        return None
    where = f"{KEY_ENV}={path}"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{where}: cannot read it ({exc.strerror})") from None
    return load_key_pem(data, where)


def gateway_key(store: Store, path: str | None = None) -> rsa.RSAPrivateKey:
    """The key badges are signed with on this gateway: the configured file's (`path`,
    else `$LEARNLINE_BADGE_SIGNING_KEY`), else one made once and kept in the database."""
    configured = configured_key(path)
    if configured is not None:
        return configured
    return load_key_pem(store.setting(KEY_SETTING, generate_key_pem).encode("ascii"),
                        "the badge signing key kept in the database")


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    """The public half of `key` as SubjectPublicKeyInfo PEM, as Open Badges'
    CryptographicKey `publicKeyPem` carries it."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def fingerprint(key: rsa.RSAPrivateKey) -> str:
    """The key's fingerprint, safe to show: the first 16 hex digits of the SHA-256 of its
    public half (DER)."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def readable_by_others(path: str | None = None) -> bool:
    """Whether the configured key file (`path`, else `$LEARNLINE_BADGE_SIGNING_KEY`) can
    be read by users other than its owner (its mode is not 0600 or stricter)."""
    path = (path if path is not None else environment.get(KEY_ENV, "") or "").strip()
    try:
        return bool(path) and bool(Path(path).stat().st_mode & 0o077)
    except OSError:
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(document: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """`document` as a JWS in compact form (`header.payload.signature`, base64url without
    padding), signed RS256 with `key`. The payload is the document's JSON."""
    header = _b64(json.dumps({"alg": ALGORITHM}, separators=(",", ":")).encode("utf-8"))
    payload = _b64(json.dumps(document, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8"))
    signature = key.sign(f"{header}.{payload}".encode("ascii"), padding.PKCS1v15(),
                         hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


def sign_once(document: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """As `sign`, but the same document signed by the same key (by its fingerprint) is
    signed once per process: the JWS is kept (the last `SIGNED_KEPT`) and given again.
    RS256 signatures are deterministic, so what is given is what `sign` would give."""
    wanted = (fingerprint(key), json.dumps(document, ensure_ascii=False))
    with _signed_lock:
        found = _signed.get(wanted)
        if found is not None:
            _signed.move_to_end(wanted)
            return found
    made = sign(document, key)
    with _signed_lock:
        _signed[wanted] = made
        while len(_signed) > SIGNED_KEPT:
            _signed.popitem(last=False)
    return made


def describe(path: str | None = None) -> str:
    """Which key signs badges, for `learnline doctor`: the file and the key's fingerprint,
    or that the gateway keeps its own in the database. ValueError as `configured_key`."""
    path = (path if path is not None else environment.get(KEY_ENV, "") or "").strip()
    configured = configured_key(path)
    if configured is None:
        return (f"signed with a key the gateway made and keeps in its database "
                f"({KEY_ENV} unset)")
    return (f"signed with the RSA key in {KEY_ENV}={(path or '').strip()} "
            f"({configured.key_size} bits, fingerprint {fingerprint(configured)})")
