"""Course packs: every course in one compressed, versioned, content-addressed file, signed
with the hub's Ed25519 key, that an edge verifies and applies in one transaction.

The format is described in docs/sync.md ("Course packs"). In short::

    LEARNLINE-PACK 1\\n                (2 when a lesson carries an SMS edition)
    {"compression": ..., "created_at": ..., "digest": ..., "format": 1, "key_id": ...,
     "raw_size": ..., "signature": ..., "version": ...}\\n
    <payload: the compressed canonical JSON document>

`digest` is the SHA-256 of the payload bytes as stored (the pack's content address);
the signature covers the magic line, the header without its signature, and that digest,
so nothing is decompressed or parsed before it is authenticated.

Importing this module loads neither the SMS renderer (needed only to build; imported
inside `_sms_renditions`) nor the metrics.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import re
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway import environment
from gateway.channels.sms.cost import lesson_messages
from gateway.content import ContentError, load_courses
from gateway.content.importer import CodeTaken, save_courses
from gateway.sms_text import POLICIES, count

# Format 2 is format 1 whose lessons may carry an SMS edition ('[sms]', '[web only]'):
# a gateway that reads format 1 only would take those lines for card text, so a pack is
# written as format 2 only when a lesson has them, and older edges refuse it whole.
MAGICS = {1: b"LEARNLINE-PACK 1\n", 2: b"LEARNLINE-PACK 2\n"}
MAGIC = MAGICS[1]
FORMAT = 2  # the newest this gateway reads and writes
SUFFIX = ".llpack"
TRUSTED_KEYS_ENV = "LEARNLINE_TRUSTED_PACK_KEYS"
SIGNING_KEY_ENV = "LEARNLINE_PACK_SIGNING_KEY"
MAX_HEADER = 4096  # bytes of the header line; a real one is about 400
MAX_DOCUMENT = 64 * 1024 * 1024  # inflated payload: a signed zip bomb still stops here
# brotli: 20% smaller than gzip -9 on the bundled course (10.6 against 13.1 kB); gzip
# stays readable for packs made by other tools.
COMPRESSIONS = ("brotli", "gzip")
_HEADER_KEYS = {"compression", "created_at", "digest", "format", "key_id", "raw_size",
                "signature", "version"}
# Matched whole (fullmatch): `$` would let a trailing newline through.
_COURSE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
# course.toml, or <locale>/<lesson id>.txt: nothing that could leave the course folder.
_FILE_RE = re.compile(r"course\.toml|[A-Za-z0-9_-]{2,20}/[a-z0-9][a-z0-9-]*\.txt")


class PackError(Exception):
    """A pack that cannot be read or is refused; the message is one line for operators.
    `problems` lists content problems (path:line: message) when the content is refused."""

    def __init__(self, message: str, problems: Iterable[object] = ()):
        super().__init__(message)
        self.problems = [str(p) for p in problems]


@dataclass(frozen=True)
class Pack:
    """A pack as read from its bytes: the header's fields and the compressed payload.
    Reading does not verify anything; `verify_pack` does."""

    version: int
    created_at: int
    digest: str  # hex SHA-256 of `payload`
    key_id: str
    signature: bytes
    compression: str
    raw_size: int  # bytes of the canonical JSON before compression
    payload: bytes
    header: dict[str, Any]
    size: int  # bytes of the whole pack

    def document(self) -> dict[str, Any]:
        """The payload decompressed and parsed: {"format", "courses": [...]}. Raises
        PackError when it is not what the header says (call after `verify_pack`)."""
        raw = _decompress(self.payload, self.compression, self.raw_size)
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise PackError("damaged: the payload is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("courses"), list):
            raise PackError("damaged: the payload holds no list of courses")
        if document.get("format", 1) != self.header["format"]:
            raise PackError("damaged: the payload's format is not the header's")
        return document


@dataclass(frozen=True)
class InstallReport:
    """What `install_pack` did. `installed` is False when the same pack was already
    installed (nothing changed). `counts` is per course: lessons added, updated,
    unchanged. `kept` lists courses this gateway has that the pack does not (a pack
    adds and updates courses; it never removes one learners may be enrolled in)."""

    version: int
    digest: str
    installed: bool
    previous: tuple[int, str] | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0


# -- keys ---------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    """A new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (keep the file mode 0600)."""
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; PackError saying why it cannot be used."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PackError(f"cannot read the signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PackError(f"{path} is not an unencrypted PEM private key "
                        "(make one with `learnline packs keygen`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PackError(f"{path} is not an Ed25519 key (make one with `learnline packs keygen`)")
    return key


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key that goes with `private_key`."""
    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)


def key_id(public_key: bytes) -> str:
    """A public key's id: the first 16 hex digits of the SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def parse_public_key(text: str) -> bytes:
    """A base64 public key (32 raw bytes, as `packs keygen` prints it) as bytes;
    PackError when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise PackError(f"{text.strip()[:60]!r} is not a base64 Ed25519 public key "
                        "(32 bytes, as `learnline packs keygen` prints it)")
    return raw


def trusted_keys_from_env() -> list[bytes]:
    """The public keys packs may be signed with: `$LEARNLINE_TRUSTED_PACK_KEYS`, comma-
    separated base64. [] when unset; PackError naming an entry that is not a key."""
    raw = environment.get(TRUSTED_KEYS_ENV, "")
    return [parse_public_key(part) for part in raw.split(",") if part.strip()]


# -- building -------------------------------------------------------------------------------


def pack_document(root: Path) -> dict[str, Any]:
    """Every course under `root` as the pack's payload document: each course's files as
    authored (course.toml, <locale>/<lesson>.txt) and its SMS renditions. Raises
    ContentError (from the parser) when any course has an error."""

    courses, _warnings = load_courses(root, strict=True)
    out = []
    editions = False
    for course in courses:
        folder = root / course.id
        files = {"course.toml": _text(folder / "course.toml")}
        for locale in course.locales:
            for lesson in course.lessons[locale]:
                files[f"{locale}/{lesson.id}.txt"] = _text(Path(lesson.path))
                editions = editions or lesson.has_sms_edition
        out.append({"id": course.id, "files": files, "sms": _sms_renditions(course)})
    return {"format": 2 if editions else 1, "courses": out}


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # the parser has checked it is UTF-8


def _sms_renditions(course) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per locale and lesson: the SMS messages a learner receives going through it (cards,
    questions, feedback; every answer right) and each one's segments under each policy."""

    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for locale in course.locales:
        lessons = out.setdefault(locale, {})
        for number, lesson in enumerate(course.lessons[locale], 1):
            lessons[lesson.id] = [
                {"text": text, "segments": {p: count(text, p).segments for p in POLICIES}}
                for text in lesson_messages(course, lesson, number, locale)
            ]
    return out


def seal(document: dict[str, Any], private_key: Ed25519PrivateKey, version: int | None = None,
         *, created_at: int | None = None, compression: str = "brotli") -> bytes:
    """Compress and sign a payload document (`pack_document`'s shape) into pack bytes.
    `version` defaults to the current Unix time in seconds. The same document and
    compression always give the same payload and digest."""
    raw = _canonical(document)
    payload = _compress(raw, compression)
    now = int(time.time())
    header = {
        "format": document.get("format", 1),
        "version": now if version is None else int(version),
        "created_at": now if created_at is None else int(created_at),
        "compression": compression,
        "raw_size": len(raw),
        "digest": hashlib.sha256(payload).hexdigest(),
        "key_id": key_id(public_key_bytes(private_key)),
    }
    if header["version"] < 1:
        raise PackError(f"version must be a positive whole number, not {version}")
    header["signature"] = base64.b64encode(private_key.sign(_signed_part(header))).decode()
    return MAGICS[header["format"]] + _header_line(header) + payload


def build_pack(root: Path, private_key: Ed25519PrivateKey, version: int | None = None) -> bytes:
    """Compile every course under `root` (all locales, with SMS renditions) into a signed
    pack. Deterministic: the same content gives the same payload digest whatever the
    version or time. Raises ContentError when the content has errors."""
    return seal(pack_document(root), private_key, version)


def suggested_name(data: bytes) -> str:
    """The file name a pack is content-addressed by: `<digest[:16]>.llpack`."""
    return read_pack(data).digest[:16] + SUFFIX


# -- reading and verifying -------------------------------------------------------------------


def read_pack(data: bytes) -> Pack:
    """Split pack bytes into header and payload, checking only their shape (no digest, no
    signature: `verify_pack` does that). PackError when the bytes are not a pack."""
    form = next((number for number, magic in MAGICS.items() if data.startswith(magic)), None)
    if form is None:
        if data.startswith(b"LEARNLINE-PACK "):
            line = data[:40].split(b"\n")[0].decode("ascii", "replace")
            raise PackError(f"unsupported pack format {line!r} (this gateway reads "
                            f"{' and '.join(m.strip().decode() for m in MAGICS.values())})")
        raise PackError("not a Learnline pack (it does not start with "
                        f"{MAGIC.strip().decode()!r})")
    start = len(MAGICS[form])
    end = data.find(b"\n", start, start + MAX_HEADER)
    if end < 0:
        raise PackError("tampered or damaged: the header line is missing or too long")
    try:
        header = json.loads(data[start:end])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PackError("tampered or damaged: the header is not valid JSON") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise PackError("tampered or damaged: the header does not have the pack's fields")
    problems = [name for name, kind in (("version", int), ("created_at", int),
                                         ("raw_size", int), ("format", int),
                                         ("digest", str), ("key_id", str), ("signature", str),
                                         ("compression", str))
                if not isinstance(header[name], kind) or isinstance(header[name], bool)]
    if problems:
        raise PackError(f"tampered or damaged: header field {problems[0]!r} has the wrong type")
    if header["format"] != form:
        raise PackError(f"tampered or damaged: the header says format {header['format']}, "
                        f"the magic line {form}")
    if header["compression"] not in COMPRESSIONS:
        raise PackError(f"tampered or damaged: unknown compression {header['compression']!r}")
    try:
        signature = base64.b64decode(header["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise PackError("tampered: the signature is not base64") from None
    # One header, one spelling: a pack's bytes follow from its fields (no reordered keys,
    # no base64 variants that decode alike), so its file hash is as stable as its digest.
    if data[start:end] != _canonical(header) \
            or base64.b64encode(signature).decode() != header["signature"]:
        raise PackError("tampered: the header is not in its canonical form")
    return Pack(
        version=header["version"], created_at=header["created_at"], digest=header["digest"],
        key_id=header["key_id"], signature=signature, compression=header["compression"],
        raw_size=header["raw_size"], payload=data[end + 1:], header=header, size=len(data),
    )


def verify_pack(data: bytes, trusted: list[bytes]) -> Pack:
    """The pack in `data`, once its payload matches its digest and its signature verifies
    with one of the `trusted` raw public keys. PackError otherwise: "tampered ..." (bytes
    changed after signing), "signed by an untrusted key <id> ...", or no trusted keys."""
    if not trusted:
        raise PackError(_NO_TRUSTED_KEYS)
    pack = read_pack(data)
    if hashlib.sha256(pack.payload).hexdigest() != pack.digest:
        raise PackError("tampered: the payload does not match the digest in its header")
    message = _signed_part(pack.header)
    by_id = {key_id(key): key for key in trusted}
    public = by_id.get(pack.key_id)
    if public is None:
        raise PackError(f"signed by an untrusted key {pack.key_id} (trusted: "
                        f"{', '.join(sorted(by_id))}; set {TRUSTED_KEYS_ENV})")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(pack.signature, message)
    except InvalidSignature:
        raise PackError(f"tampered: the signature does not match (key {pack.key_id})") from None
    return pack


_NO_TRUSTED_KEYS = (f"no trusted pack keys: set {TRUSTED_KEYS_ENV} to the hub's public key "
                    "(base64, as `learnline packs keygen` prints it; several: comma-separated)")


# -- installing --------------------------------------------------------------------------------


def installed_pack(store) -> tuple[int, str] | None:
    """(version, digest) of the pack last installed on this gateway, or None."""
    return store.installed_pack()


def courses_of(pack: Pack) -> list:
    """The pack's courses parsed and checked by this gateway's own parser (so an edge
    refuses content it cannot teach). PackError with `problems` when any has an error."""

    document = pack.document()
    with tempfile.TemporaryDirectory(prefix="learnline-pack-") as folder:
        root = Path(folder)
        seen: set[str] = set()
        for course in document["courses"]:
            files = course.get("files") if isinstance(course, dict) else None
            course_id = course.get("id") if isinstance(course, dict) else None
            if not isinstance(course_id, str) or not _COURSE_ID_RE.fullmatch(course_id) \
                    or not isinstance(files, dict):
                raise PackError("damaged: a course in the payload has no valid id or files")
            if course_id in seen:
                raise PackError(f"damaged: course {course_id} is in the pack twice")
            seen.add(course_id)
            for name, text in files.items():
                if not isinstance(name, str) or not _FILE_RE.fullmatch(name) \
                        or not isinstance(text, str):
                    raise PackError(f"damaged: course {course_id} has an unexpected file "
                                    f"{str(name)[:60]!r}")
                path = root / course_id / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text.encode("utf-8"))
        try:
            courses, _warnings = load_courses(root, strict=True)
        except ContentError as exc:
            prefix = str(root) + os.sep
            problems = [str(p).replace(prefix, "pack:") for p in exc.problems]
            errors = [p for p in exc.problems if not p.warning]
            raise PackError(f"content refused by this gateway's checks: {len(errors)} "
                            f"problem(s), first: {str(errors[0]).replace(prefix, 'pack:')}",
                            problems) from None
    return courses


def install_pack(store, data: bytes, trusted: list[bytes]) -> InstallReport:
    """Verify `data` (`verify_pack`), refuse a pack older than, or as old as, the one
    installed, and apply it in one write transaction: courses and lessons added or updated
    in place (learners' progress kept), the pack's version and digest recorded. Nothing
    changes if anything fails. The same pack again is a no-op (`installed` False)."""
    started = time.perf_counter()
    pack = verify_pack(data, trusted)
    previous = store.installed_pack()
    if previous is not None and previous[1] == pack.digest:
        return InstallReport(pack.version, pack.digest, False, previous,
                             seconds=time.perf_counter() - started)
    _refuse_older(pack, previous)
    courses = courses_of(pack)

    with store.write():
        # Checked again under the write lock: another process may have installed since.
        previous = store.installed_pack()
        if previous is not None and previous[1] == pack.digest:
            return InstallReport(pack.version, pack.digest, False, previous,
                                 seconds=time.perf_counter() - started)
        _refuse_older(pack, previous)
        try:
            counts = save_courses(store, courses)
        except CodeTaken as exc:
            raise PackError(str(exc)) from None
        kept = sorted({c.id for c in store.courses()} - {c.id for c in courses})
        store.record_pack(pack.version, pack.digest)
    return InstallReport(pack.version, pack.digest, True, previous, counts, kept,
                         seconds=time.perf_counter() - started)


def _refuse_older(pack: Pack, previous: tuple[int, str] | None) -> None:
    if previous is None:
        return
    if pack.version < previous[0]:
        raise PackError(f"older than the installed pack (version {pack.version} < "
                        f"{previous[0]})")
    if pack.version == previous[0]:
        raise PackError(f"version {pack.version} is already installed with other content "
                        f"(digest {previous[1][:16]}); build the new pack with a higher version")


# -- the envelope's parts ------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _unsigned(header: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in header.items() if k != "signature"}


def _signed_part(header: dict[str, Any]) -> bytes:
    """What the signature covers: the magic line, the canonical header without its
    signature, and the payload's raw 32-byte digest."""
    try:
        digest = bytes.fromhex(header["digest"])
    except ValueError:
        digest = header["digest"].encode("utf-8", "replace")
    return MAGICS[header["format"]] + _canonical(_unsigned(header)) + digest


def _header_line(header: dict[str, Any]) -> bytes:
    return _canonical(header) + b"\n"


def _compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw, compresslevel=9, mtime=0)
    if compression == "brotli":
        return brotli.compress(raw, quality=11)
    raise PackError(f"unknown compression {compression!r} (one of {', '.join(COMPRESSIONS)})")


def _decompress(payload: bytes, compression: str, raw_size: int) -> bytes:
    if not 0 <= raw_size <= MAX_DOCUMENT:
        raise PackError(f"refused: the payload would inflate to {raw_size} bytes "
                        f"(at most {MAX_DOCUMENT})")
    limit = raw_size + 1
    try:
        if compression == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(payload, limit)
        else:
            raw = _unbrotli(payload, limit)
    except (zlib.error, brotli.error):
        raise PackError(f"damaged: the payload is not valid {compression}") from None
    if len(raw) != raw_size:
        raise PackError("damaged: the payload's size is not the one its header states")
    return raw


def _unbrotli(payload: bytes, limit: int) -> bytes:
    """Decompress, stopping past `limit` bytes (the binding's output limit, brotli >= 1.2:
    a pack is read before its signature is trusted, so a small one must not inflate to
    gigabytes)."""
    return brotli.Decompressor().process(payload, output_buffer_limit=limit)
