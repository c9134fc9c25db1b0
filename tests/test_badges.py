"""Certificates as Open Badges 2.0: the issuer, badge class, image and assertion served
as JSON-LD under LEARNLINE_PUBLIC_URL, no number in any of them; revoking a certificate
(`learnline certificates revoke`) shows on its assertion, its page and by SMS; a signed-in
learner downloads their badge with its assertion baked in; without the settings, badges
are off. Real webhooks, real SQLite; tests/test_badges_validator.py runs the IMS
validator against a served gateway."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway import create_app
from gateway.cli.main import main
from gateway.config import ConfigError
from gateway.learning.certificates import format_code
from gateway.phones import masked
from gateway.store import Store
from gateway.store import staff as accounts
from tests.conftest import TwilioWebhooks, carriers_toml, web_sign_in
from tests.courses import take_course_by_sms

COURSE = "start-freelancing"
ADA = "+2348030000001"
OBI = "+2348030000002"
PUBLIC = "https://learn.example.org/gateway"
ISSUER = "Learn Kano <badges@learn.example.org>"
SVG = "{http://www.w3.org/2000/svg}"
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre")


def _carriers(tmp_path: Path, twilio_api) -> Path:
    path = tmp_path / "badges.toml"
    path.write_text(carriers_toml(twilio_api.url).replace(
        "tps = 200\n", "tps = 200\ninbound_per_minute = 10000\ninbound_per_hour = 10000\n"))
    return path


def _app(db_path: Path, carriers: Path, **settings: str):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "TESTING": True, "SECRET_KEY": "badges-secret-0123456789",
                       **settings})


@pytest.fixture
def carriers(tmp_path, twilio_api, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", "auth-token-for-tests-0123456789")
    monkeypatch.delenv("LEARNLINE_PUBLIC_URL", raising=False)
    monkeypatch.delenv("LEARNLINE_BADGE_ISSUER", raising=False)
    return _carriers(tmp_path, twilio_api)


@pytest.fixture
def app(db_path, carriers):
    return _app(db_path, carriers, PUBLIC_URL=PUBLIC + "/", BADGE_ISSUER=ISSUER)


@pytest.fixture
def client(app):
    return app.test_client()


def texted(twilio: TwilioWebhooks, store: Store, phone: str, body: str) -> str:
    before = len(store.outbox(phone))
    assert twilio.sms(phone, body).status_code == 200
    return "\n".join(m.body for m in store.outbox(phone)[before:])


def passed(client, store: Store, phone: str = ADA) -> str:
    """The learner takes the bundled course by SMS, every answer right; their
    certificate's canonical code."""
    twilio = TwilioWebhooks(client)
    first = texted(twilio, store, phone, "START")
    take_course_by_sms(lambda body: texted(twilio, store, phone, body), store, COURSE, "en",
                       first, "NEXT", lambda asked, right: "ABCD"[right])
    [held] = store.certificates_of(phone)
    return held.code


def badge_of(store: Store, code: str) -> str:
    return store.certificate(code).badge_id


def fetch_json(client, url: str, status: int = 200) -> dict:
    assert url.startswith(PUBLIC + "/")
    response = client.get(url[len(PUBLIC):])
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "application/ld+json"
    return json.loads(response.data)


def cli(db_path: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"LEARNLINE_DB": str(db_path),
                                                     **(env or {})})


# -- the documents ----------------------------------------------------------------------------


def test_a_passed_course_is_a_hosted_assertion_that_names_no_number(client, store):
    code = passed(client, store)
    badge = badge_of(store, code)
    # Issued well before it is fetched: issuedOn must be the issue, not the fetch.
    issued = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    store.db.execute("UPDATE certificates SET issued_at = ? WHERE code = ?",
                     [issued.timestamp(), code])
    assert re.fullmatch(r"[0-9a-f]{32}", badge)
    assert code.lower() not in badge.lower()

    assertion = fetch_json(client, f"{PUBLIC}/badges/assertions/{badge}")
    assert assertion["@context"] == "https://w3id.org/openbadges/v2"
    assert assertion["type"] == "Assertion"
    assert assertion["id"] == f"{PUBLIC}/badges/assertions/{badge}"
    assert assertion["verification"] == {"type": "hosted"}
    recipient = assertion["recipient"]
    assert recipient["type"] == "telephone" and recipient["hashed"] is True
    # An employer given the number checks it against the hash: sha256(number + salt).
    assert recipient["identity"] == "sha256$" + hashlib.sha256(
        (ADA + recipient["salt"]).encode()).hexdigest()
    assert assertion["issuedOn"] == "2026-03-04T05:06:07+00:00"  # to the second, in UTC

    badge_class = fetch_json(client, assertion["badge"])
    assert badge_class["type"] == "BadgeClass"
    assert badge_class["name"] == store.course(COURSE).title_in("en")
    assert badge_class["criteria"]["narrative"].startswith("Complete every lesson")
    assert badge_class["criteria"]["id"] == f"{PUBLIC}/courses/{COURSE}"
    issuer = fetch_json(client, badge_class["issuer"])
    assert (issuer["type"], issuer["name"], issuer["email"], issuer["url"]) == (
        "Issuer", "Learn Kano", "badges@learn.example.org", PUBLIC + "/")
    image = client.get(badge_class["image"][len(PUBLIC):])
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    svg = ET.fromstring(image.data)
    assert svg.tag == f"{SVG}svg" and not list(svg.iter(f"{SVG}script"))
    assert b"<script" not in image.data and b"@import" not in image.data
    assert b"href" not in image.data  # nothing to fetch

    # No document carries the number, whole or in part.
    for document in (assertion, badge_class, issuer):
        text = json.dumps(document)
        assert ADA[1:] not in text and ADA[-7:] not in text


def test_the_badge_criteria_say_the_pass_mark_counts_first_try_answers(client, store):
    code = passed(client, store)
    course = store.course(COURSE)
    badge_class = fetch_json(client, f"{PUBLIC}/badges/courses/{COURSE}")
    assert badge_class["criteria"]["narrative"] == (
        f"Complete every lesson of the course {course.title_in('en')} and answer at least "
        f"{course.pass_mark}% of its quiz questions right on the first try.")
    assert store.certificate(code).course_id == COURSE


def test_unknown_or_tampered_assertion_ids_are_not_found(client, store):
    badge = badge_of(store, passed(client, store))
    tampered = badge[:-1] + ("0" if badge[-1] != "0" else "1")
    for path in (f"/badges/assertions/{tampered}", f"/badges/assertions/{badge.upper()}",
                 f"/badges/assertions/{badge}x", "/badges/assertions/..%2Fissuer",
                 f"/badges/assertions/{store.certificates_of(ADA)[0].code}"):
        assert client.get(path).status_code == 404, path


def test_a_badge_class_exists_once_a_certificate_of_its_course_does(client, store):
    for path in (f"/badges/courses/{COURSE}", f"/badges/courses/{COURSE}/image.svg",
                 "/badges/courses/no-such-course"):
        assert client.get(path).status_code == 404, path
    passed(client, store)
    assert client.get(f"/badges/courses/{COURSE}").status_code == 200
    assert client.get(f"/badges/courses/{COURSE}/image.svg").status_code == 200
    assert client.get("/badges/courses/no-such-course").status_code == 404


def test_a_badge_image_is_well_formed_whatever_the_title():
    from gateway.learning.badges import badge_image
    for title in ("Tailoring & <Design>", "A \x01\x1b title", "\u062f\u0648\u0631\u0629 " * 9, ""):
        svg = ET.fromstring(badge_image(title))
        assert svg.tag == f"{SVG}svg" and len(list(svg.iter(f"{SVG}text"))) <= 3


def test_each_certificate_has_its_own_badge_id_and_salt(client, store):
    ada = store.certificate(passed(client, store, ADA))
    obi = store.certificate(passed(client, store, OBI))
    assert ada.badge_id != obi.badge_id and ada.badge_salt != obi.badge_salt
    assert len(ada.badge_salt) == 16


# -- revoking ---------------------------------------------------------------------------------


def test_a_revoked_certificate_answers_revoked_everywhere(client, store, db_path):
    code = passed(client, store)
    badge = badge_of(store, code)
    shown = format_code(code)

    result = cli(db_path, "certificates", "revoke", shown.lower(),
                 "--reason", "Issued in error")
    assert result.exit_code == 0, result.output
    assert f"{shown} revoked: Issued in error" in result.output

    gone = fetch_json(client, f"{PUBLIC}/badges/assertions/{badge}", 410)
    assert gone["revoked"] is True and gone["revocationReason"] == "Issued in error"
    assert gone["id"] == f"{PUBLIC}/badges/assertions/{badge}"
    assert "recipient" not in gone

    page = client.get(f"/verify/{shown}").text
    assert "This certificate was revoked by its issuer." in page
    assert "Issued in error" in page and "genuine" not in page
    twilio = TwilioWebhooks(client)
    by_sms = texted(twilio, store, OBI, f"VERIFY {shown}")
    assert "was revoked" in by_sms and "Issued in error" in by_sms
    assert "genuine" not in by_sms

    # It is in the staff audit, and the list says so; a second revocation changes nothing.
    [line] = [row for row in accounts.audit_rows(store) if row.action == "certificate revoked"]
    assert (line.actor, line.subject) == ("terminal", shown)
    again = cli(db_path, "certificates", "revoke", shown, "--reason", "Other")
    assert again.exit_code == 0 and "already revoked" in again.output
    assert store.certificate(code).revocation_reason == "Issued in error"
    listed = cli(db_path, "certificates", "list", "--revoked",
                 env={"LEARNLINE_PUBLIC_URL": PUBLIC, "LEARNLINE_BADGE_ISSUER": ISSUER})
    assert listed.exit_code == 0
    assert shown in listed.output and "revoked" in listed.output
    assert f"{PUBLIC}/badges/assertions/{badge}" in listed.output
    assert ADA not in listed.output


def test_revoking_an_unknown_code_or_without_a_reason_is_refused(client, store, db_path):
    code = passed(client, store)
    unknown = cli(db_path, "certificates", "revoke", "7KQM-2XHD-9P", "--reason", "x")
    assert unknown.exit_code == 1 and "no certificate has the code" in unknown.output
    blank = cli(db_path, "certificates", "revoke", format_code(code), "--reason", "  ")
    assert blank.exit_code == 1 and "--reason" in blank.output
    assert store.certificate(code).revoked_at is None


def test_an_erased_learners_badge_no_longer_stands(client, store, db_path):
    badge = badge_of(store, passed(client, store))
    result = cli(db_path, "learners", "erase", ADA, "--yes")
    assert result.exit_code == 0, result.output
    gone = fetch_json(client, f"{PUBLIC}/badges/assertions/{badge}", 410)
    assert gone["revoked"] is True and "erased" in gone["revocationReason"]
    assert "recipient" not in gone


def test_an_erased_learners_certificate_verifies_but_its_badge_is_withdrawn(
        client, store, db_path):
    code = passed(client, store)
    badge = badge_of(store, code)
    shown = format_code(code)
    assert cli(db_path, "learners", "erase", ADA, "--yes").exit_code == 0
    fetch_json(client, f"{PUBLIC}/badges/assertions/{badge}", 410)

    # The code still proves the course was passed, without a holder; the badge is gone,
    # and the page says why rather than linking to a 410.
    page = client.get(f"/verify/{shown}").text
    assert "This certificate is genuine." in page
    assert "/badges/assertions/" not in page
    assert "Its Open Badge was withdrawn: the holder's record was erased." in page
    assert "<dt>Badge status</dt><dd>Withdrawn</dd>" in page
    assert ADA not in page and ADA[-7:] not in page and digits_of_the_number(page) == []

    listed = cli(db_path, "certificates", "list",
                 env={"LEARNLINE_PUBLIC_URL": PUBLIC, "LEARNLINE_BADGE_ISSUER": ISSUER})
    assert listed.exit_code == 0, listed.output
    [line] = [row for row in listed.output.splitlines() if row.startswith(shown)]
    assert line.split("\t")[4] == "valid"
    assert line.split("\t")[5] == \
        f"withdrawn (erased holder): {PUBLIC}/badges/assertions/{badge}"


def test_the_certificates_list_has_a_header_line(client, store, db_path):
    code = passed(client, store)
    listed = cli(db_path, "certificates", "list")
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.splitlines()
    assert header.split("\t") == ["code", "course", "issued", "score", "status", "badge"]
    assert row.split("\t")[:2] == [format_code(code), COURSE]
    assert cli(db_path, "certificates", "list", "--revoked").output == "no certificates\n"


def test_a_revoked_certificates_page_gives_the_date_and_no_badge_link(client, store, db_path):
    code = passed(client, store)
    shown = format_code(code)
    assert cli(db_path, "certificates", "revoke", shown, "--reason",
               "Issued in error").exit_code == 0
    revoked_at = store.certificate(code).revoked_at
    day = datetime.fromtimestamp(revoked_at, UTC)
    page = client.get(f"/verify/{shown}").text
    assert "This certificate was revoked by its issuer." in page
    assert "/badges/assertions/" not in page
    assert f"<dt>Revoked on</dt><dd>{day:%B} {day.day}, {day.year}</dd>" in page
    # The badge is shown revoked, with the day and the reason, and linked to no more.
    assert (f"<dt>Badge status</dt><dd>Revoked on {day:%B} {day.day}, {day.year}: "
            "Issued in error</dd>") in page
    assert digits_of_the_number(page) == []
    french = client.get(f"/verify/{shown}", headers={"Accept-Language": "fr"}).text
    assert "/badges/assertions/" not in french
    assert f"{day.day} {FRENCH_MONTHS[day.month - 1]} {day.year}" in french


# -- signed badges ---------------------------------------------------------------------------


def claims(jws: str) -> dict:
    """A JWS's payload, read without checking it."""
    payload = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signature_holds(jws: str, public_pem: str) -> bool:
    """Whether `jws` is signed RS256 by the key `public_pem`, checked with the
    cryptography library alone."""
    header, payload, signature = jws.split(".")
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                   f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_a_badge_is_signed_by_the_issuers_published_key(client, store):
    badge = badge_of(store, passed(client, store))
    response = client.get(f"/badges/assertions/{badge}.jws")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-cache"
    jws = response.text
    header = claims("." + jws.split(".")[0] + ".")  # the header, read as a payload
    assert header == {"alg": "RS256"}

    issuer = fetch_json(client, f"{PUBLIC}/badges/issuer")
    assert issuer["publicKey"] == f"{PUBLIC}/badges/key"
    assert issuer["revocationList"] == f"{PUBLIC}/badges/revocations"
    key = fetch_json(client, issuer["publicKey"])
    assert (key["type"], key["id"], key["owner"]) == (
        "CryptographicKey", f"{PUBLIC}/badges/key", issuer["id"])
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in json.dumps(key)
    assert signature_holds(jws, key["publicKeyPem"])
    assert claims(jws)["id"] == f"{PUBLIC}/badges/assertions/{badge}"

    # One payload changed, the signature no longer holds.
    head, _, signature = jws.split(".")
    tampered = dict(claims(jws), issuedOn="2020-01-01T00:00:00+00:00")
    forged_payload = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=")
    assert not signature_holds(f"{head}.{forged_payload.decode()}.{signature}",
                               key["publicKeyPem"])
    # The key the gateway made is kept: the next request, and every process, signs alike.
    assert client.get(f"/badges/assertions/{badge}.jws").text == jws
    assert store.setting("badge_signing_key", lambda: "").startswith("-----BEGIN PRIVATE")

    tampered = badge[:-1] + ("0" if badge[-1] != "0" else "1")
    for path in (f"/badges/assertions/{tampered}.jws", f"/badges/assertions/{badge.upper()}.jws",
                 "/badges/assertions/x.jws"):
        assert client.get(path).status_code == 404, path


def test_the_revocation_list_names_revoked_and_erased_badges_and_no_number(
        client, store, db_path):
    listed = fetch_json(client, f"{PUBLIC}/badges/revocations")
    assert listed["type"] == "RevocationList" and listed["revokedAssertions"] == []
    assert listed["issuer"] == f"{PUBLIC}/badges/issuer"
    ada = passed(client, store, ADA)
    obi = passed(client, store, OBI)
    assert cli(db_path, "certificates", "revoke", ada, "--reason", "Cheating").exit_code == 0
    assert client.get(f"/badges/assertions/{badge_of(store, ada)}.jws").status_code == 410

    # One entry: also by its id alone, so that the list stays a list once compacted.
    listed = fetch_json(client, f"{PUBLIC}/badges/revocations")
    ada_id = f"{PUBLIC}/badges/assertions/{badge_of(store, ada)}"
    assert listed["revokedAssertions"] == [{"id": ada_id, "revocationReason": "Cheating"},
                                           ada_id]
    obi_badge = badge_of(store, obi)
    assert cli(db_path, "learners", "erase", OBI, "--yes").exit_code == 0
    listed = fetch_json(client, f"{PUBLIC}/badges/revocations")
    [first, second] = listed["revokedAssertions"]
    assert first == {"id": ada_id, "revocationReason": "Cheating"}
    assert second["id"] == f"{PUBLIC}/badges/assertions/{obi_badge}"
    assert "erased" in second["revocationReason"]
    key = client.get("/badges/key").text
    for text in (json.dumps(listed), key):
        for phone in (ADA, OBI):
            assert phone[1:] not in text and phone[-7:] not in text


def test_a_signing_key_file_is_used_and_one_that_cannot_be_stops_start_up(
        db_path, carriers, tmp_path):
    from gateway.learning import badge_signing
    pem = badge_signing.generate_key_pem()
    good = tmp_path / "badge-key.pem"
    good.write_text(pem)
    client = _app(db_path, carriers, PUBLIC_URL=PUBLIC, BADGE_ISSUER=ISSUER,
                  BADGE_SIGNING_KEY=str(good)).test_client()
    key = badge_signing.load_key_pem(pem.encode(), "test")
    assert fetch_json(client, f"{PUBLIC}/badges/key")["publicKeyPem"] == \
        badge_signing.public_key_pem(key)

    small = tmp_path / "small.pem"
    small.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=1024)
                      .private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    for path, says in ((tmp_path / "missing.pem", "cannot read"), (garbage, "not an"),
                       (small, "1024 bits")):
        with pytest.raises(ConfigError, match="LEARNLINE_BADGE_SIGNING_KEY") as refused:
            _app(db_path, carriers, PUBLIC_URL=PUBLIC, BADGE_ISSUER=ISSUER,
                 BADGE_SIGNING_KEY=str(path))
        assert says in str(refused.value) and "BEGIN" not in str(refused.value)


def test_doctor_says_which_key_signs_badges_and_refuses_one_it_cannot_use(
        db_path, carriers, tmp_path):
    from gateway.learning import badge_signing
    from gateway.ops.doctor import diagnose
    pem = badge_signing.generate_key_pem()
    good = tmp_path / "badge-key.pem"
    good.write_text(pem)
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    bad.chmod(0o600)

    def said(**env: str) -> list[str]:
        return [str(f) for f in diagnose(db_path, {
            "LEARNLINE_CARRIERS": str(carriers), "LEARNLINE_PUBLIC_URL": PUBLIC,
            "LEARNLINE_BADGE_ISSUER": ISSUER, **env}) if f.subject == "open badges"]

    [_, made] = said()
    assert made.startswith("OK") and "keeps in its database" in made
    good.chmod(0o600)
    [_, configured] = said(LEARNLINE_BADGE_SIGNING_KEY=str(good))
    fingerprint = badge_signing.fingerprint(badge_signing.load_key_pem(pem.encode(), "t"))
    assert configured.startswith("OK") and str(good) in configured
    assert fingerprint in configured and "PRIVATE" not in configured
    good.chmod(0o644)  # anyone on the machine could sign badges with it
    [_, _, loose] = said(LEARNLINE_BADGE_SIGNING_KEY=str(good))
    assert loose.startswith("WARN") and "chmod 600" in loose and str(good) in loose
    [_, refused] = said(LEARNLINE_BADGE_SIGNING_KEY=str(bad))
    assert refused.startswith("FAIL") and "LEARNLINE_BADGE_SIGNING_KEY" in refused
    assert "nonsense" not in refused


# -- the verify page and the learner's download ------------------------------------------------


def digits_of_the_number(text: str, phone: str = ADA) -> list[str]:
    """The forms of `phone` found in `text`: the whole number (E.164, without its +, as
    dialled at home), its masked forms, and any masked run of digits."""
    national = "0" + phone[4:]
    forms = [phone, phone[1:], national, masked(phone), masked(phone)[:6],
             masked(phone)[6:], phone[-7:], national[:5]]
    found = [form for form in forms if form in text]
    found += re.findall(r"\*{2,}\d+|\d+\*{2,}", text)
    return found


def test_the_verify_page_shows_and_links_the_badge_and_no_digit_of_the_number(client, store):
    """The code leads to the badge (its address and what it says: course, issuer, date,
    standing); the page names the holder by no digit of their number, which the badge's
    salted hash would give away in a second beside a masked number. The employer ties the
    badge to the person by the number the person gives them. The holder's own page still
    gives the badge to download and its address."""
    code = passed(client, store)
    badge = f"{PUBLIC}/badges/assertions/{badge_of(store, code)}"
    page = client.get(f"/verify/{format_code(code)}").text
    assert "This certificate is genuine." in page
    assert f'href="{badge}"' in page
    assert "Learn Kano" in page  # the issuer
    assert "<dt>Badge status</dt><dd>Valid</dd>" in page
    assert "ask them for their phone number" in page
    assert "a Learnline learner" in page
    assert digits_of_the_number(page) == []

    assert client.get("/progress").status_code == 200
    assert badge not in client.get("/progress").text  # not signed in: nothing
    web_sign_in(client, store, OBI)
    assert badge not in client.get("/progress").text  # another learner: nothing
    web_sign_in(client, store, ADA)
    own = client.get("/progress").text
    assert f'href="{badge}"' in own
    assert "give it only to people you would give your number to" in own


def test_verify_by_sms_with_badges_on_gives_no_digit_of_the_number(client, store, monkeypatch):
    """The code's page links to the badge: `VERIFY` by SMS, to anyone with the code, must
    not give the masked number that the badge's hash completes. The gateway's processes
    read badges on from the environment."""
    code = passed(client, store)
    monkeypatch.setenv("LEARNLINE_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("LEARNLINE_BADGE_ISSUER", ISSUER)
    by_sms = texted(TwilioWebhooks(client), store, OBI, f"VERIFY {format_code(code)}")
    assert "genuine" in by_sms and "by a Learnline learner," in by_sms
    assert digits_of_the_number(by_sms) == []


def test_name_alone_with_badges_on_says_the_certificates_show_no_number(
        client, store, monkeypatch):
    """`NAME` alone tells the learner what those checking their code see: with badges on,
    no number but "a Learnline learner" until they set a name."""
    passed(client, store)
    monkeypatch.setenv("LEARNLINE_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("LEARNLINE_BADGE_ISSUER", ISSUER)
    said = texted(TwilioWebhooks(client), store, ADA, "NAME")
    assert said == ('Your certificates show "a Learnline learner", not your number. To show '
                    "your name instead, reply NAME and your name.")


def test_the_verify_page_names_a_holder_who_set_a_name(client, store, monkeypatch):
    code = passed(client, store)
    texted(TwilioWebhooks(client), store, ADA, "NAME Ada Obi")
    page = client.get(f"/verify/{format_code(code)}").text
    assert "<dd>Ada Obi</dd>" in page and "a Learnline learner" not in page
    assert digits_of_the_number(page) == []
    monkeypatch.setenv("LEARNLINE_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("LEARNLINE_BADGE_ISSUER", ISSUER)
    by_sms = texted(TwilioWebhooks(client), store, OBI, f"VERIFY {format_code(code)}")
    assert "by Ada Obi" in by_sms and digits_of_the_number(by_sms) == []


def test_a_signed_in_learner_downloads_their_badge_baked(client, store):
    code = passed(client, store)
    path = f"/certificates/{format_code(code)}/badge.svg"
    # Not signed in: to the sign-in page, nothing given.
    response = client.get(path)
    assert response.status_code == 302 and response.location.endswith("/signin")
    # A cookie not signed by the gateway is no sign-in either.
    client.set_cookie("learnline", "eyJzaWQiOiJmb3JnZWQifQ.forged.signature")
    response = client.get(path)
    assert response.status_code == 302 and response.location.endswith("/signin")
    client.delete_cookie("learnline")

    web_sign_in(client, store, ADA)
    progress = client.get("/progress").text
    assert f'href="{path}"' in progress and "Download the badge" in progress
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "attachment" in response.headers["Content-Disposition"]
    svg = ET.fromstring(response.data)
    [baked] = svg.findall("{http://openbadges.org}assertion")
    assert list(svg).index(baked) == 0  # first in the image, as the baking spec says
    badge = badge_of(store, code)
    # The signed assertion (its JWS), as the verify attribute and the content, as the
    # IMS bakery writes a signed badge: the hosted assertion, signed by the issuer's key.
    jws = client.get(f"/badges/assertions/{badge}.jws").text
    assert baked.get("verify") == jws and baked.text == jws
    signed = claims(jws)
    assert signed == {**fetch_json(client, f"{PUBLIC}/badges/assertions/{badge}"),
                      "verification": {"type": "SignedBadge",
                                       "creator": f"{PUBLIC}/badges/key"}}
    assert b"xmlns:openbadges=\"http://openbadges.org\"" in response.data
    assert b"<![CDATA[" in response.data


def test_another_learners_or_a_revoked_badge_is_not_given(client, store, db_path):
    ada = passed(client, store, ADA)
    obi = passed(client, store, OBI)
    web_sign_in(client, store, OBI)
    assert client.get(f"/certificates/{format_code(ada)}/badge.svg").status_code == 404
    assert client.get("/certificates/7KQM-2XHD-9P/badge.svg").status_code == 404
    assert client.get("/certificates/not-a-code/badge.svg").status_code == 404
    assert client.get(f"/certificates/{format_code(obi)}/badge.svg").status_code == 200
    assert cli(db_path, "certificates", "revoke", obi, "--reason", "Cheating").exit_code == 0
    assert client.get(f"/certificates/{format_code(obi)}/badge.svg").status_code == 404
    progress = client.get("/progress").text
    assert "(revoked)" in progress and "Download the badge" not in progress


# -- off without the settings --------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{}, {"PUBLIC_URL": PUBLIC}, {"BADGE_ISSUER": ISSUER}])
def test_without_the_settings_badges_are_off(db_path, carriers, settings):
    client = _app(db_path, carriers, **settings).test_client()
    with Store.open(db_path) as store:
        code = passed(client, store)
        badge = badge_of(store, code)
        web_sign_in(client, store, ADA)
    for path in ("/badges/issuer", f"/badges/courses/{COURSE}",
                 f"/badges/courses/{COURSE}/image.svg", f"/badges/assertions/{badge}",
                 f"/badges/assertions/{badge}.jws", "/badges/key", "/badges/revocations",
                 f"/certificates/{format_code(code)}/badge.svg"):
        assert client.get(path).status_code == 404, path
    assert "badge" not in client.get("/progress").text.lower()
    page = client.get(f"/verify/{format_code(code)}").text
    assert "This certificate is genuine." in page and "/badges/" not in page
    # Without badges the holder is shown as before: their masked number, by SMS too.
    assert "<dd>+23480******01</dd>" in page and "Learnline learner" not in page
    with Store.open(db_path) as store:
        by_sms = texted(TwilioWebhooks(client), store, OBI, f"VERIFY {format_code(code)}")
    assert "by +23480******01," in by_sms


@pytest.mark.parametrize(("settings", "named"), [
    ({"PUBLIC_URL": "learn.example.org", "BADGE_ISSUER": ISSUER}, "LEARNLINE_PUBLIC_URL"),
    ({"PUBLIC_URL": "ftp://learn.example.org", "BADGE_ISSUER": ISSUER},
     "LEARNLINE_PUBLIC_URL"),
    ({"PUBLIC_URL": PUBLIC, "BADGE_ISSUER": "Learn Kano"}, "LEARNLINE_BADGE_ISSUER"),
    ({"PUBLIC_URL": PUBLIC, "BADGE_ISSUER": "<badges@learn.example.org>"},
     "LEARNLINE_BADGE_ISSUER"),
])
def test_a_badge_setting_that_cannot_be_used_stops_start_up(db_path, carriers, settings,
                                                            named):
    with pytest.raises(ConfigError, match=named):
        _app(db_path, carriers, **settings)


def test_doctor_names_a_badge_setting_that_cannot_be_used(db_path, carriers):
    from gateway.ops.doctor import diagnose

    def said(**env: str) -> list[str]:
        return [str(f) for f in diagnose(db_path, {"LEARNLINE_CARRIERS": str(carriers),
                                                   **env}) if f.subject == "open badges"]

    [bad] = said(LEARNLINE_PUBLIC_URL=PUBLIC, LEARNLINE_BADGE_ISSUER="Learn Kano")
    assert bad.startswith("FAIL") and "LEARNLINE_BADGE_ISSUER" in bad
    [alone] = said(LEARNLINE_BADGE_ISSUER=ISSUER)
    assert alone.startswith("WARN") and "badges are off" in alone
    assert "LEARNLINE_PUBLIC_URL is not set" in alone
    [on, _key] = said(LEARNLINE_PUBLIC_URL=PUBLIC, LEARNLINE_BADGE_ISSUER=ISSUER)
    assert on.startswith("OK") and PUBLIC in on and "Learn Kano" in on
    assert said() == []
    # The public address alone (for the LRS, say) is a choice: said, not warned.
    [url_alone] = said(LEARNLINE_PUBLIC_URL=PUBLIC)
    assert url_alone.startswith("OK") and "badges are off" in url_alone
    assert "LEARNLINE_BADGE_ISSUER is not set" in url_alone
