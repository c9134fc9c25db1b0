"""Certificates as Open Badges 2.0: the issuer, badge class, image and assertion served
as JSON-LD under LEARNLINE_PUBLIC_URL, no number in any of them; revoking a certificate
(`learnline certificates revoke`) shows on its assertion, its page and by SMS; a signed-in
learner downloads their badge with its assertion baked in; without the settings, badges
are off. Real webhooks, real SQLite; tests/test_badges_validator.py runs the IMS
validator against a served gateway."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main
from gateway.config import ConfigError
from gateway.learning.certificates import format_code
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
    assert assertion["issuedOn"].startswith("20")

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


# -- the verify page and the learner's download ------------------------------------------------


def test_the_verify_page_links_to_the_badge(client, store):
    code = passed(client, store)
    page = client.get(f"/verify/{format_code(code)}").text
    assert f'href="{PUBLIC}/badges/assertions/{badge_of(store, code)}"' in page
    assert "This certificate is genuine." in page


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
    assert baked.get("verify") == f"{PUBLIC}/badges/assertions/{badge}"
    assert json.loads(baked.text) == fetch_json(client, baked.get("verify"))
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
                 f"/certificates/{format_code(code)}/badge.svg"):
        assert client.get(path).status_code == 404, path
    assert "badge" not in client.get("/progress").text.lower()
    page = client.get(f"/verify/{format_code(code)}").text
    assert "This certificate is genuine." in page and "/badges/" not in page


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
    assert alone.startswith("WARN") and "LEARNLINE_PUBLIC_URL" in alone
    [on] = said(LEARNLINE_PUBLIC_URL=PUBLIC, LEARNLINE_BADGE_ISSUER=ISSUER)
    assert on.startswith("OK") and PUBLIC in on and "Learn Kano" in on
    assert said() == [] and said(LEARNLINE_PUBLIC_URL=PUBLIC) == []
