"""The key that signs Open Badges and the signing itself (gateway/learning/badge_signing.py),
checked with the cryptography library: a JWS RS256 that the published key verifies and no
other does; the key from LEARNLINE_BADGE_SIGNING_KEY, or one made once and kept in the
database; a key file that cannot be used refused, naming the setting, never quoting the
key."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.learning import badge_signing

DOCUMENT = {"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
            "id": "https://learn.example.org/badges/assertions/" + "a" * 32,
            "badge": "https://learn.example.org/badges/courses/caf\u00e9"}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return badge_signing.load_key_pem(badge_signing.generate_key_pem().encode(), "test")


def test_a_document_is_signed_rs256_as_a_compact_jws(key):
    jws = badge_signing.sign(DOCUMENT, key)
    header, payload, signature = jws.split(".")
    assert "=" not in jws and "+" not in jws and "/" not in jws  # base64url, unpadded
    assert json.loads(_unb64(header)) == {"alg": "RS256"}
    assert json.loads(_unb64(payload)) == DOCUMENT
    public = serialization.load_pem_public_key(badge_signing.public_key_pem(key).encode())
    public.verify(_unb64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(),
                  hashes.SHA256())  # raises if it does not hold
    assert badge_signing.sign(DOCUMENT, key) == jws  # PKCS#1 v1.5: the same each time


def test_another_key_or_a_changed_payload_does_not_verify(key):
    jws = badge_signing.sign(DOCUMENT, key)
    header, payload, signature = jws.split(".")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidSignature):
        other.verify(_unb64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(),
                     hashes.SHA256())
    changed = base64.urlsafe_b64encode(json.dumps({**DOCUMENT, "id": "x"}).encode())
    with pytest.raises(InvalidSignature):
        key.public_key().verify(_unb64(signature), f"{header}.".encode() + changed,
                                padding.PKCS1v15(), hashes.SHA256())


def test_the_public_key_and_fingerprint_give_nothing_private(key):
    public = badge_signing.public_key_pem(key)
    assert public.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in public
    assert len(badge_signing.fingerprint(key)) == 16
    other = badge_signing.load_key_pem(badge_signing.generate_key_pem().encode(), "test")
    assert badge_signing.fingerprint(other) != badge_signing.fingerprint(key)


def test_the_gateway_makes_one_key_and_keeps_it(store, monkeypatch):
    monkeypatch.delenv(badge_signing.KEY_ENV, raising=False)
    made = badge_signing.gateway_key(store)
    again = badge_signing.gateway_key(store)
    assert made.key_size == 2048
    assert badge_signing.fingerprint(again) == badge_signing.fingerprint(made)
    assert "keeps in its database" in badge_signing.describe()


def test_the_configured_key_file_is_used(store, tmp_path, monkeypatch, key):
    path = tmp_path / "badge-key.pem"
    path.write_bytes(_pem(key))
    monkeypatch.setenv(badge_signing.KEY_ENV, str(path))
    used = badge_signing.gateway_key(store)
    assert badge_signing.fingerprint(used) == badge_signing.fingerprint(key)
    described = badge_signing.describe()
    assert str(path) in described and badge_signing.fingerprint(key) in described
    assert store.setting(badge_signing.KEY_SETTING, lambda: "none made") == "none made"


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read"),
    (b"not a key\n", "not an unencrypted PEM private key"),
    ("encrypted", "not an unencrypted PEM private key"),
    ("ec", "not an RSA key"),
    ("small", "1024 bits"),
])
def test_a_key_file_that_cannot_be_used_is_refused_naming_the_setting(tmp_path, content,
                                                                      says):
    path = tmp_path / "badge-key.pem"
    if content == "encrypted":
        content = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"))
    elif content == "ec":
        content = _pem(ec.generate_private_key(ec.SECP256R1()))
    elif content == "small":
        content = _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=says) as refused:
        badge_signing.configured_key(str(path))
    message = str(refused.value)
    assert message.startswith(f"{badge_signing.KEY_ENV}={path}")
    assert "BEGIN" not in message and "MII" not in message
