"""The IMS Open Badges validator (the `openbadges` package, in its own venv built by `make
install-test`: tests/tools/openbadges-requirements.txt) checks a learner's badge on a real
`learnline serve` on loopback: the assertion of a course passed by SMS is valid, hosted
and signed (a JWS), so is the badge image the learner downloads with it baked in; once
revoked, the signed badge fails "revoked" by the issuer's revocation list; a badge signed
with another key fails; an id no certificate has is not found."""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.learning import badge_signing
from gateway.learning.certificates import format_code
from gateway.store import Store
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, carriers_toml
from tests.courses import take_course_by_sms
from tests.fakes.twilio_api import FakeTwilioApi
from tests.ports import free_port
from tests.served import PHONE, Gateway, serve_gateway

pytestmark = pytest.mark.slow

COURSE = "start-freelancing"
TOOLS = Path(__file__).parent / "tools"
VALIDATOR = TOOLS / "openbadges-venv" / "bin" / "python"
ISSUER = "Learn Kano <badges@learn.example.org>"


def validate(target: str) -> dict:
    """The validator's report on an assertion's URL or a baked image's path."""
    assert VALIDATOR.exists(), "the Open Badges validator is missing: run make install-test"
    result = subprocess.run([str(VALIDATOR), str(TOOLS / "openbadges_verify.py"), target],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def fetch(url: str, opener=None) -> tuple[int, bytes]:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read()


def serve_with_a_certificate(folder: Path, **settings: str) -> Iterator[tuple[Gateway, str]]:
    """A served gateway whose public address is its loopback one (and the environment
    `settings`), and the certificate code of a learner who passed the bundled course by
    SMS there."""
    port = free_port()
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as twilio_api, \
            pytest.MonkeyPatch.context() as env:
        for name, value in settings.items():
            env.setenv(name, value)
        carriers = folder / "carriers.toml"
        carriers.write_text(carriers_toml(twilio_api.url).replace(
            "tps = 200\n",
            "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))
        env.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        env.setenv("LEARNLINE_PUBLIC_URL", f"http://127.0.0.1:{port}")
        env.setenv("LEARNLINE_BADGE_ISSUER", ISSUER)
        running = serve_gateway(folder, carriers, port=port)
        gateway = next(running)
        try:
            with Store.open(gateway.env["LEARNLINE_DB"]) as store:
                sids = iter(range(1, 10_000))

                def text(body: str) -> str:
                    before = len(store.outbox(PHONE))
                    status, _ = gateway.sms(body, f"SM{next(sids):032x}")
                    assert status == 200
                    return "\n".join(m.body for m in store.outbox(PHONE)[before:])

                take_course_by_sms(text, store, COURSE, "en", text("START"), "NEXT",
                                   lambda asked, right: "ABCD"[right])
                [held] = store.certificates_of(PHONE)
            yield gateway, held.code
        finally:
            running.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Gateway, str]]:
    """A gateway signing with the key it made itself, and a learner's certificate."""
    yield from serve_with_a_certificate(tmp_path_factory.mktemp("badges"))


@pytest.fixture(scope="module")
def signing(tmp_path_factory) -> Iterator[tuple[Gateway, str]]:
    """A gateway signing with the key in LEARNLINE_BADGE_SIGNING_KEY, and a learner's
    certificate."""
    folder = tmp_path_factory.mktemp("signed")
    key = folder / "badge-key.pem"
    key.write_text(badge_signing.generate_key_pem())
    key.chmod(0o600)
    yield from serve_with_a_certificate(folder, LEARNLINE_BADGE_SIGNING_KEY=str(key))


def assertion_url(gateway: Gateway, code: str) -> str:
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        return f"{gateway.base}/badges/assertions/{store.certificate(code).badge_id}"


def signed_in(gateway: Gateway):
    """A browser signed in as the learner on the served pages."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def csrf(path: str) -> str:
        _, page = fetch(gateway.base + path, opener)
        return re.search(r'name="csrf" value="([^"]+)"', page.decode()).group(1)

    def post(path: str, fields: dict[str, str]) -> None:
        data = urllib.parse.urlencode(fields).encode()
        with opener.open(gateway.base + path, data=data, timeout=10) as response:
            assert response.status == 200

    post("/signin", {"csrf": csrf("/signin"), "phone": PHONE})
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        code = re.search(r"code is (\d{6})", store.outbox(PHONE)[-1].body).group(1)
    post("/signin/code", {"csrf": csrf("/signin/code"), "code": code})
    return opener


def test_an_issued_badge_passes_the_validator_and_a_revoked_one_fails_as_revoked(
        served, tmp_path):
    gateway, code = served
    url = assertion_url(gateway, code)

    report = validate(url)
    assert report["report"]["valid"] is True, report["report"]["messages"]
    assert report["report"]["errorCount"] == 0 and report["report"]["warningCount"] == 0
    assert report["report"]["openBadgesVersion"] == "2.0"
    assert report["report"]["validationSubject"] == url
    kinds = {node["type"] for node in report["graph"]}
    # The issuer names the key its signed badges are checked with: it is fetched too.
    assert kinds == {"Assertion", "BadgeClass", "Issuer", "CryptographicKey"}

    # The badge the learner downloads: the bakery takes the assertion out of the image
    # and the validator checks it on the gateway.
    status, baked = fetch(f"{gateway.base}/certificates/{format_code(code)}/badge.svg",
                          signed_in(gateway))
    assert status == 200
    image = tmp_path / "badge.svg"
    image.write_bytes(baked)
    from_image = validate(str(image))
    assert from_image["report"]["valid"] is True, from_image["report"]["messages"]
    assert from_image["report"]["validationSubject"] == url

    revoked = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "certificates", "revoke", format_code(code),
         "--reason", "Issued in error"],
        env=gateway.env, capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    status, body = fetch(url)
    assert status == 410 and json.loads(body)["revoked"] is True

    report = validate(url)
    assert report["report"]["valid"] is False and report["report"]["errorCount"] > 0
    # What the validator read of the assertion, in its report: revoked, and why.
    [read] = [node for node in report["graph"] if node["id"] == url]
    assert read["revoked"] is True and read["revocationReason"] == "Issued in error"
    assert "revoked" in json.dumps(report)
    assert validate(str(image))["report"]["valid"] is False


def test_an_id_no_certificate_has_is_not_found_and_invalid(served):
    gateway, code = served
    url = assertion_url(gateway, code)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert fetch(tampered)[0] == 404
    report = validate(tampered)
    assert report["report"]["valid"] is False and report["report"]["errorCount"] > 0


def messages(report: dict) -> str:
    return "\n".join(m["result"] for m in report["report"]["messages"])


def revoke(gateway: Gateway, code: str, reason: str) -> None:
    revoked = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "certificates", "revoke", format_code(code),
         "--reason", reason], env=gateway.env, capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr


def test_a_signed_badge_passes_the_validator_and_fails_revoked_once_revoked(
        signing, tmp_path):
    gateway, code = signing
    url = assertion_url(gateway, code)
    status, jws = fetch(url + ".jws")
    assert status == 200
    signed = tmp_path / "badge.jws"
    signed.write_bytes(jws)

    report = validate(str(signed))
    assert report["report"]["valid"] is True, report["report"]["messages"]
    assert report["report"]["errorCount"] == 0 and report["report"]["warningCount"] == 0
    assert report["report"]["validationSubject"] == url
    # Checked as signed: with the issuer's key and against its revocation list (the
    # report lists failures only; what it fetched shows which checks ran).
    kinds = {node["type"] for node in report["graph"]}
    assert kinds == {"Assertion", "BadgeClass", "Issuer", "CryptographicKey",
                     "RevocationList"}
    [read] = [node for node in report["graph"] if node["id"] == url]
    assert read["verification"] == {"type": "SignedBadge",
                                    "creator": f"{gateway.base}/badges/key"}

    # The image the learner downloads carries the signed assertion.
    status, baked = fetch(f"{gateway.base}/certificates/{format_code(code)}/badge.svg",
                          signed_in(gateway))
    assert status == 200 and f'verify="{jws.decode()}"'.encode() in baked
    image = tmp_path / "badge.svg"
    image.write_bytes(baked)
    from_image = validate(str(image))
    assert from_image["report"]["valid"] is True, from_image["report"]["messages"]
    assert from_image["report"]["validationSubject"] == url

    revoke(gateway, code, "Issued in error")
    # The same JWS, handed out before: the revocation list fails it, naming the reason.
    for target in (signed, image):
        report = validate(str(target))
        assert report["report"]["valid"] is False and report["report"]["errorCount"] > 0
        assert (f"Assertion {url} has been revoked in RevocationList "
                f"{gateway.base}/badges/revocations with reason: Issued in error"
                ) in messages(report)
    # And the gateway signs it no more.
    status, body = fetch(url + ".jws")
    assert status == 410 and json.loads(body)["revoked"] is True


def test_a_badge_signed_with_another_key_fails(signing, tmp_path):
    gateway, code = signing
    url = assertion_url(gateway, code)
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        certificate = store.certificate(code)
    # The same assertion, naming the issuer's key, signed by someone else's.
    document = {"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
                "id": url, "badge": f"{gateway.base}/badges/courses/{COURSE}",
                "recipient": {"type": "telephone", "hashed": True,
                              "salt": certificate.badge_salt,
                              "identity": "sha256$" + "0" * 64},
                "issuedOn": "2026-01-05T10:00:00+00:00",
                "verification": {"type": "SignedBadge",
                                 "creator": f"{gateway.base}/badges/key"}}
    other = badge_signing.load_key_pem(badge_signing.generate_key_pem().encode(), "test")
    forged = tmp_path / "forged.jws"
    forged.write_text(badge_signing.sign(document, other))

    report = validate(str(forged))
    assert report["report"]["valid"] is False and report["report"]["errorCount"] > 0
    assert f"Signature for node {url} failed verification" in messages(report)
