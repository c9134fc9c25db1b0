"""What the public badge routes cost the gateway (docs/integrations.md, Open Badges): an
anonymous request reads indexes, never the whole certificates table; the revocation list
is built once per change and answered from the process's copy (and with 304 to a
verifier holding its ETag); an assertion is signed once per key and content. Figures:
bench/badges.py."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.learning import badge_signing
from gateway.store import Store
from gateway.store.per_thread import thread_store
from tests.test_badges import (
    ADA,
    COURSE,
    ISSUER,
    OBI,
    PUBLIC,
    _app,
    _carriers,
    badge_of,
    cli,
    passed,
)

CAROL = "+2348030000003"


@pytest.fixture
def app(db_path, tmp_path, twilio_api, monkeypatch):
    """The gateway with badges on, as tests/test_badges.py runs it."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "auth-token-for-tests-0123456789")
    monkeypatch.delenv("LEARNLINE_PUBLIC_URL", raising=False)
    monkeypatch.delenv("LEARNLINE_BADGE_ISSUER", raising=False)
    return _app(db_path, _carriers(tmp_path, twilio_api), PUBLIC_URL=PUBLIC + "/",
                BADGE_ISSUER=ISSUER)


@pytest.fixture
def client(app):
    return app.test_client()


def issued(store: Store, phone: str) -> str:
    """A certificate of the bundled course for `phone`, as the engine issues it; its code."""
    count = len(store.certificates())
    return store.issue_certificate(phone, COURSE, "Start freelancing", "Carol", 5, 5,
                                   lambda: f"TEST{count:06d}").code


def statements(app, during: Callable[[], object]) -> list[str]:
    """The SQL the app's store (this thread's, as a request's) runs during `during()`."""
    connection = thread_store(app).db.conn
    seen: list[str] = []
    connection.set_trace_callback(seen.append)
    try:
        during()
    finally:
        connection.set_trace_callback(None)
    return seen


def plans_on_certificates(store: Store, sql: list[str]) -> list[str]:
    """The query plan lines, of each statement in `sql`, that read the certificates."""
    found = []
    for statement in sql:
        if "certificates" not in statement or not statement.lstrip().upper().startswith(
                ("SELECT", "WITH")):
            continue
        for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + statement):
            if "certificates" in row[3]:
                found.append(row[3])
    return found


def test_public_badge_routes_read_indexes_not_the_certificates_table(app, client, store):
    issued(store, CAROL)
    store.revoke_certificate(store.certificates()[0].code, "Issued in error")
    asked = statements(app, lambda: [
        client.get(path) for path in (
            "/badges/revocations", "/badges/courses/no-such-course",
            "/badges/courses/no-such-course/image.svg", f"/badges/courses/{COURSE}",
            f"/badges/courses/{COURSE}/image.svg")])
    plans = plans_on_certificates(store, asked)
    assert plans, asked
    # A search of an index, never a scan of the table (nor of an index, whole).
    assert all(line.startswith("SEARCH certificates USING") for line in plans), plans
    assert client.get("/badges/courses/no-such-course/image.svg").status_code == 404


def test_the_revocation_list_is_kept_five_minutes_and_answered_304_to_its_etag(
        app, client, store, db_path):
    ada = passed(client, store, ADA)
    first = client.get("/badges/revocations")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=300"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert json.loads(first.data)["revokedAssertions"] == []

    again = client.get("/badges/revocations", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag

    # Gzipped for a client that takes it (the list is mostly one address over and over),
    # under its own tag.
    zipped = client.get("/badges/revocations", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["ETag"] != etag
    assert client.get("/badges/revocations", headers={
        "Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304

    # A repeated request costs the change marker's query, not the list's.
    repeat = statements(app, lambda: client.get("/badges/revocations"))
    marker = statements(app, thread_store(app).certificates_withdrawn_marker)
    assert repeat == marker

    # A revocation (another process: the command) gives a new list and a new tag.
    assert cli(db_path, "certificates", "revoke", ada, "--reason", "Cheating").exit_code == 0
    revoked = client.get("/badges/revocations", headers={"If-None-Match": etag})
    assert revoked.status_code == 200 and revoked.headers["ETag"] != etag
    ada_id = f"{PUBLIC}/badges/assertions/{badge_of(store, ada)}"
    assert json.loads(revoked.data)["revokedAssertions"][0] == {
        "id": ada_id, "revocationReason": "Cheating"}

    # So does an erasure.
    obi = passed(client, store, OBI)
    assert cli(db_path, "learners", "erase", OBI, "--yes").exit_code == 0
    erased = client.get("/badges/revocations",
                        headers={"If-None-Match": revoked.headers["ETag"]})
    assert erased.status_code == 200
    assert erased.headers["ETag"] not in (etag, revoked.headers["ETag"])
    listed = [entry["id"] for entry in json.loads(erased.data)["revokedAssertions"]]
    assert listed == [ada_id, f"{PUBLIC}/badges/assertions/{badge_of(store, obi)}"]


def _verifies(jws: str, key: rsa.RSAPrivateKey) -> bool:
    head, payload, signature = jws.split(".")
    try:
        key.public_key().verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                                f"{head}.{payload}".encode("ascii"), padding.PKCS1v15(),
                                hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_an_assertion_is_signed_once_per_key_and_content():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    document = {"type": "Assertion", "id": f"{PUBLIC}/badges/assertions/{'a' * 32}"}

    first = badge_signing.sign_once(document, key)
    assert first == badge_signing.sign(document, key) and _verifies(first, key)
    # Asked again, the same signature is given, not made again.
    assert badge_signing.sign_once(dict(document), key) is first
    # Another key, or another content, is signed anew.
    by_other = badge_signing.sign_once(document, other)
    assert by_other != first and _verifies(by_other, other) and not _verifies(by_other, key)
    changed = badge_signing.sign_once({**document, "revoked": False}, key)
    assert changed != first and _verifies(changed, key)


def test_a_signed_badge_once_served_answers_410_when_revoked(client, store, db_path):
    code = passed(client, store, ADA)
    badge = badge_of(store, code)
    served = client.get(f"/badges/assertions/{badge}.jws")
    assert served.status_code == 200
    assert client.get(f"/badges/assertions/{badge}.jws").text == served.text
    assert cli(db_path, "certificates", "revoke", code, "--reason", "Cheating").exit_code == 0
    gone = client.get(f"/badges/assertions/{badge}.jws")
    assert gone.status_code == 410 and json.loads(gone.data)["revoked"] is True
