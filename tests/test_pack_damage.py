"""Course packs damaged in every way beyond a flipped byte: cut short, with a header that
is not the pack's, a signature that is no signature, a payload that does not inflate or
inflates too far (a zip bomb, even one signed by a trusted key), courses with missing
files; and keys that cannot be used. Each is refused with one line saying what is wrong,
and the gateway's courses stay as they were (docs/sync.md, Course packs)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

import brotli
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.paths import lessons_dir
from gateway.store import Store
from gateway.sync import packs

COURSE = "start-freelancing"


@pytest.fixture(scope="module")
def hub_key():
    return packs.generate_key()


@pytest.fixture(scope="module")
def trusted(hub_key) -> list[bytes]:
    return [packs.public_key_bytes(hub_key)]


@pytest.fixture(scope="module")
def bundled_pack(hub_key) -> bytes:
    return packs.build_pack(lessons_dir(), hub_key, version=100)


@pytest.fixture(scope="module")
def document(bundled_pack) -> dict:
    return packs.read_pack(bundled_pack).document()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "edge.db", migrate=True) as opened:
        yield opened


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def signed(payload: bytes, key, *, compression: str = "brotli", raw_size: int,
           version: int = 500, **changes) -> bytes:
    """A pack around `payload` exactly as docs/sync.md lays one out, signed with `key`
    whatever the payload holds: what a hub with a bug, or a stolen key, could publish."""
    header = {"compression": compression, "created_at": 1_700_000_000,
              "digest": hashlib.sha256(payload).hexdigest(), "format": 1,
              "key_id": packs.key_id(packs.public_key_bytes(key)), "raw_size": raw_size,
              "version": version, **changes}
    unsigned = {k: v for k, v in header.items() if k != "signature"}
    message = packs.MAGIC + canonical(unsigned) + bytes.fromhex(header["digest"])
    header["signature"] = base64.b64encode(key.sign(message)).decode()
    return packs.MAGIC + canonical(header) + b"\n" + payload


def with_header(pack: bytes, **changes) -> bytes:
    """The pack with header fields changed (None: removed), re-written canonically under
    its own magic line."""
    magic = pack[:pack.index(b"\n") + 1]
    end = pack.index(b"\n", len(magic))
    header = json.loads(pack[len(magic):end])
    for name, value in changes.items():
        if value is None:
            header.pop(name)
        else:
            header[name] = value
    return magic + canonical(header) + pack[end:]


def refused(store: Store, data: bytes, trusted: list[bytes], message: str) -> None:
    """Installing `data` is refused with `message` (a regex) and changes nothing."""
    with pytest.raises(packs.PackError, match=message):
        packs.install_pack(store, data, trusted)
    assert packs.installed_pack(store) is None
    assert store.db.execute("SELECT count(*) FROM lessons").fetchone()[0] == 0


# -- cut short --------------------------------------------------------------------------------


@pytest.mark.parametrize(("keep", "message"), [
    (0, r"^not a Learnline pack"),
    (9, r"^not a Learnline pack"),  # inside the magic line
    (len(packs.MAGIC) + 40, r"^tampered or damaged: the header line is missing or too long$"),
    (-1, r"^tampered: the payload does not match the digest in its header$"),
    (-2000, r"^tampered: the payload does not match the digest in its header$"),
])
def test_a_pack_cut_short_is_refused(store, bundled_pack, trusted, keep, message):
    refused(store, bundled_pack[:keep], trusted, message)


def test_a_header_line_longer_than_any_pack_has_is_refused(store, trusted):
    data = packs.MAGIC + b'{"compression": "' + b"x" * packs.MAX_HEADER + b'"}\n'
    refused(store, data, trusted, r"^tampered or damaged: the header line is missing or too long")


def test_a_newer_pack_format_says_which_this_gateway_reads(store, bundled_pack, trusted):
    data = b"LEARNLINE-PACK 3\n" + bundled_pack[len(packs.MAGIC):]
    refused(store, data, trusted,
            r"^unsupported pack format 'LEARNLINE-PACK 3' \(this gateway reads LEARNLINE-PACK 1 "
            r"and LEARNLINE-PACK 2\)")


def test_a_header_whose_format_is_not_its_magic_lines_is_refused(store, bundled_pack, trusted):
    # The bundled course carries an SMS edition, so its pack is format 2.
    assert bundled_pack.startswith(b"LEARNLINE-PACK 2\n")
    data = b"LEARNLINE-PACK 1\n" + bundled_pack[len(packs.MAGIC):]
    refused(store, data, trusted,
            r"^tampered or damaged: the header says format 2, the magic line 1$")


# -- a header that is not the pack's -------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"created_at": None}, r"^tampered or damaged: the header does not have the pack's fields$"),
    ({"signed_by": "hub"}, r"^tampered or damaged: the header does not have the pack's fields$"),
    ({"version": "100"}, r"^tampered or damaged: header field 'version' has the wrong type$"),
    ({"version": True}, r"^tampered or damaged: header field 'version' has the wrong type$"),
    ({"raw_size": 1.5}, r"^tampered or damaged: header field 'raw_size' has the wrong type$"),
    ({"signature": 7}, r"^tampered or damaged: header field 'signature' has the wrong type$"),
    ({"compression": "zstd"}, r"^tampered or damaged: unknown compression 'zstd'$"),
    ({"signature": "not base64 at all!"}, r"^tampered: the signature is not base64$"),
    ({"signature": base64.b64encode(b"short").decode()},
     r"^tampered: the signature does not match"),
])
def test_a_header_that_is_not_the_packs_is_refused(store, bundled_pack, trusted, changes,
                                                    message):
    refused(store, with_header(bundled_pack, **changes), trusted, message)


def test_a_header_that_is_a_list_is_refused(store, trusted):
    refused(store, packs.MAGIC + b"[1, 2, 3]\npayload", trusted,
            r"^tampered or damaged: the header does not have the pack's fields$")


# -- signed, and still damaged -----------------------------------------------------------------
# The signature proves who made a pack, not that it is sound: an edge still checks what
# it inflates and what it installs.


def test_a_signed_zip_bomb_stops_at_the_size_its_header_states(store, hub_key, trusted):
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024), compresslevel=9)  # 20 MB of blanks
    assert len(bomb) < 30_000
    data = signed(bomb, hub_key, compression="gzip", raw_size=1000)
    refused(store, data, trusted,
            r"^damaged: the payload's size is not the one its header states$")


def test_a_signed_brotli_bomb_stops_at_the_size_its_header_states(store, hub_key, trusted):
    bomb = brotli.compress(b" " * (20 * 1024 * 1024), quality=5)
    data = signed(bomb, hub_key, raw_size=1000)
    refused(store, data, trusted,
            r"^damaged: the payload's size is not the one its header states$")


def test_a_signed_pack_stating_a_huge_size_is_refused_before_inflating(store, hub_key,
                                                                        trusted):
    data = signed(gzip.compress(b"{}"), hub_key, compression="gzip",
                  raw_size=packs.MAX_DOCUMENT + 1)
    refused(store, data, trusted,
            rf"^refused: the payload would inflate to {packs.MAX_DOCUMENT + 1} bytes "
            rf"\(at most {packs.MAX_DOCUMENT}\)$")


@pytest.mark.parametrize("compression", ["brotli", "gzip"])
def test_a_signed_payload_that_does_not_inflate_is_refused(store, hub_key, trusted,
                                                           compression):
    data = signed(b"\x1f\x8b\x08\x00 these bytes inflate to nothing", hub_key,
                  compression=compression, raw_size=100)
    refused(store, data, trusted, rf"^damaged: the payload is not valid {compression}$")


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe not text", r"^damaged: the payload is not JSON$"),
    (b"{courses: []}", r"^damaged: the payload is not JSON$"),
    (b'["a", "list"]', r"^damaged: the payload holds no list of courses$"),
    (b'{"format": 1, "courses": {"start-freelancing": {}}}',
     r"^damaged: the payload holds no list of courses$"),
    (b'{"format": 1, "courses": ["start-freelancing"]}',
     r"^damaged: a course in the payload has no valid id or files$"),
    (b'{"format": 1, "courses": [{"id": "Start Freelancing", "files": {}}]}',
     r"^damaged: a course in the payload has no valid id or files$"),
    (b'{"format": 1, "courses": [{"id": "start-freelancing", "files": ["course.toml"]}]}',
     r"^damaged: a course in the payload has no valid id or files$"),
    (b'{"format": 1, "courses": [{"id": "start-freelancing", "files": {"course.toml": 7}}]}',
     r"^damaged: course start-freelancing has an unexpected file 'course.toml'$"),
])
def test_a_signed_payload_that_is_not_a_course_document_is_refused(store, hub_key, trusted,
                                                                   raw, message):
    data = signed(brotli.compress(raw), hub_key, raw_size=len(raw))
    refused(store, data, trusted, message)


def test_a_gzip_pack_made_by_another_tool_installs(store, hub_key, trusted, document):
    data = packs.seal(document, hub_key, version=7, compression="gzip")
    assert packs.read_pack(data).compression == "gzip"
    report = packs.install_pack(store, data, trusted)
    assert report.installed and report.version == 7
    assert COURSE in report.counts and report.counts[COURSE]["added"] > 0


# -- missing files -------------------------------------------------------------------------------


def test_a_course_without_its_course_toml_is_refused(store, hub_key, trusted, document):
    broken = json.loads(json.dumps(document))
    del broken["courses"][0]["files"]["course.toml"]
    refused(store, packs.seal(broken, hub_key, version=8), trusted,
            r"^content refused by this gateway's checks: 1 problem\(s\), first: "
            rf"pack:{COURSE}")


def test_a_course_missing_a_lesson_file_is_refused_naming_it(store, hub_key, trusted,
                                                             document):
    broken = json.loads(json.dumps(document))
    files = broken["courses"][0]["files"]
    del files["en/first-clients.txt"]
    with pytest.raises(packs.PackError, match=r"^content refused by this gateway's checks: "
                       ) as caught:
        packs.install_pack(store, packs.seal(broken, hub_key, version=9), trusted)
    assert any("first-clients" in problem for problem in caught.value.problems)
    assert packs.installed_pack(store) is None


# -- building and keys -----------------------------------------------------------------------------


def test_a_pack_cannot_be_sealed_with_an_unknown_compression_or_version(hub_key, document):
    with pytest.raises(packs.PackError,
                       match=r"^unknown compression 'zip' \(one of brotli, gzip\)"):
        packs.seal(document, hub_key, version=1, compression="zip")
    with pytest.raises(packs.PackError,
                       match=r"^version must be a positive whole number, not 0$"):
        packs.seal(document, hub_key, version=0)


def test_a_signing_key_that_cannot_be_used_is_named(tmp_path: Path):
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(packs.PackError, match=rf"^cannot read the signing key {missing}: "
                       "No such file or directory$"):
        packs.load_private_key(missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(packs.PackError, match=r"is not an unencrypted PEM private key \(make "
                       r"one with `learnline packs keygen`\)$"):
        packs.load_private_key(garbage)
    other = tmp_path / "ecdsa.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(packs.PackError, match=r"ecdsa.pem is not an Ed25519 key"):
        packs.load_private_key(other)
    good = tmp_path / "hub.pem"
    key = packs.generate_key()
    good.write_bytes(packs.private_key_pem(key))
    assert packs.public_key_bytes(packs.load_private_key(good)) == packs.public_key_bytes(key)


@pytest.mark.parametrize("text", ["", "c2hvcnQ=", "not base64!", "A" * 60])
def test_a_trusted_key_that_is_no_ed25519_public_key_is_named(text):
    with pytest.raises(packs.PackError, match="is not a base64 Ed25519 public key"):
        packs.parse_public_key(text)
