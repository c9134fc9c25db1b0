"""WhatsApp's 24-hour window on Twilio's WhatsApp: outside it, the scheduler's messages go
as the carrier's Content templates, approved by WhatsApp, sent by their `ContentSid` with
the parameters as `ContentVariables`; the daily lesson's quick reply comes back as
`ButtonPayload=START` and opens the lesson free-form; a message with no template goes
once by SMS through the fallback carrier. Through the real signed webhook, scheduler and
worker against the loopback Twilio API (tests/fakes/twilio_api.py), on a clock the test
turns: the same days as tests/test_whatsapp_window.py on the Cloud API."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carrier_adapters import CarrierSettings, SendError, WebRequest
from carrier_adapters.twilio import TwilioAdapter
from gateway import create_app
from gateway.config import ConfigError, load_carriers
from gateway.ops.announcements import announce
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, carriers_toml
from tests.fakes.clock import SimulatedClock
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi

WA_SENDER = "whatsapp:+14155238886"
AWA = "+221770000555"  # Dakar (UTC+0), in French
DAKAR = ZoneInfo("Africa/Dakar")
MONDAY = datetime(2026, 12, 7, tzinfo=ZoneInfo("UTC")).timestamp()
HOUR = 3600.0
COURSE = "start-freelancing"

# The bodies docs/carriers.md gives for the Cloud API's templates, in French.
DAILY_LESSON = ("Bonjour {{1}}, votre leçon du jour est prête : leçon {{2}}, {{3}}. "
                "Appuyez sur Commencer (ou répondez START) pour commencer.")
REMINDER = ("Vous vous êtes arrêté au milieu de {{1}}. Appuyez sur Continuer (ou répondez "
            "START) pour reprendre, ou répondez PAUSE pour ne plus avoir de rappels.")


def templates_toml(daily_lesson: str, reminder: str) -> str:
    return f"""
[carriers.twa.templates.daily_lesson]
category = "utility"
parameters = ["learner_name", "lesson_number", "lesson_title"]
content_sids = {{ fr = "{daily_lesson}" }}

[carriers.twa.templates.reminder]
category = "utility"
parameters = ["lesson_title"]
content_sids = {{ fr = "{reminder}" }}
"""


def carrier_toml(api_url: str, extra: str = "") -> str:
    return f"""
[carriers.twa]
adapter = "twilio"
sender = "{WA_SENDER}"
country = "SN"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{TEST_TWILIO_AUTH_TOKEN}}"
api_base_url = "{api_url}"
public_url = "{PUBLIC_URL}"
inbound_per_minute = 10000
inbound_per_hour = 10000
{extra}"""


class Days:
    """A learner on Twilio's WhatsApp, day after day: she writes through the signed
    webhook; the worker schedules and sends at each moment the test turns the clock to."""

    _sids = itertools.count(1)

    def __init__(self, tmp_path: Path, db_path: Path, twilio_api: FakeTwilioApi,
                 carriers: str):
        self.twilio_api = twilio_api
        self.carriers = tmp_path / "carriers.toml"
        self.carriers.write_text(carriers)
        self.clock = SimulatedClock(MONDAY)
        self.client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(self.carriers),
                                  "TESTING": True, "CLOCK": self.clock}).test_client()
        self.worker = OutboxWorker(db_path, load_carriers(self.carriers),
                                   wall_clock=self.clock, schedule_seconds=0)
        self.store = Store.open(db_path, clock=self.clock)

    def at(self, day: int, hour: int, minute: int = 0) -> float:
        start = datetime.fromtimestamp(MONDAY, DAKAR)
        return start.replace(day=start.day + day, hour=hour, minute=minute).timestamp()

    def post(self, body: str, **extra: str) -> None:
        sid = f"SM{next(self._sids):032x}"
        params = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Awa",
                  "MessageType": "text", "SmsSid": sid, "WaId": AWA[1:],
                  "SmsStatus": "received", "Body": body, "To": WA_SENDER,
                  "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
                  "AccountSid": ACCOUNT_SID, "From": "whatsapp:" + AWA,
                  "ApiVersion": "2010-04-01", **extra}
        path = "/carriers/twa/whatsapp"
        response = self.client.post(path, data=params, headers={
            "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)})
        assert response.status_code == 200, response.get_data(as_text=True)

    def say(self, text: str) -> None:
        self.post(text)

    def tap_quick_reply(self, payload: str, text: str) -> None:
        """A quick reply tapped, as Twilio posts it: its id as ButtonPayload."""
        self.post(text, MessageType="button", ButtonPayload=payload, ButtonText=text)

    def run_worker(self) -> None:
        self.worker.run(drain=True, poll_seconds=0.001)

    def shown(self) -> list[dict]:
        """What Awa was shown on WhatsApp, message by message."""
        return self.twilio_api.shown_to(AWA)

    def take_first_lesson(self) -> None:
        """START, then the first lesson read and answered right."""
        self.say("START")
        course = self.store.course(COURSE)
        for _ in range(40):
            enrollment = self.store.enrollment(AWA, COURSE)
            if enrollment.position == 1:
                return
            if enrollment.quiz is None or not enrollment.quiz.queue:
                self.say("NEXT")
                continue
            lesson = self.store.lesson(COURSE, course.lesson_ids[0], "fr")
            self.say("ABCD"[lesson.questions[enrollment.quiz.queue[0]].answer])
        raise AssertionError("the lesson never ended")

    def scheduled(self, kind: str = "lesson") -> list[dict]:
        return [dict(row) for row in self.store.db.query(
            "SELECT carrier_id, status, body, payload, error FROM outbox WHERE kind = ? "
            "ORDER BY id", [kind])]

    def second_lesson(self):
        return self.store.lesson(COURSE, self.store.course(COURSE).lesson_ids[1], "fr")


@pytest.fixture
def sids(twilio_api) -> dict[str, str]:
    """The daily lesson's and the reminder's French Content templates, approved."""
    return {
        "daily_lesson": twilio_api.register_template(
            "fr", DAILY_LESSON, name="learnline_daily_lesson_fr",
            quick_replies=(("START", "Commencer"),)),
        "reminder": twilio_api.register_template(
            "fr", REMINDER, name="learnline_reminder_fr",
            quick_replies=(("START", "Continuer"),)),
    }


@pytest.fixture
def days(tmp_path, db_path, twilio_api, sids, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    found = Days(tmp_path, db_path, twilio_api, carrier_toml(
        twilio_api.url, templates_toml(sids["daily_lesson"], sids["reminder"])))
    yield found
    found.store.close()


def daily_lesson_at(days: Days, hour: int, *, learned_at: float) -> None:
    """Awa takes the first lesson at `learned_at`, asks for daily lessons at `hour`, and
    gets her answers."""
    days.clock.now = learned_at
    days.take_first_lesson()
    days.say(f"TIME {hour}")
    days.run_worker()
    learner = days.store.learner(AWA)
    assert (learner.schedule, learner.schedule_hour) == ("daily", hour)


def test_a_daily_lesson_due_30_hours_after_the_last_message_goes_as_its_content_template(
        days, sids):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    sent_before = len(days.twilio_api.messages)
    days.clock.now = days.at(1, 16, 1)  # Tuesday 16:01: 30 hours after her last message
    days.run_worker()
    [template] = days.twilio_api.messages[sent_before:]
    lesson = days.second_lesson()
    assert template["ContentSid"] == sids["daily_lesson"] and "Body" not in template
    assert json.loads(template["ContentVariables"]) == {"1": "ami", "2": "2",
                                                        "3": lesson.title}
    assert template["shown"] == {
        "kind": "template", "sid": sids["daily_lesson"], "language": "fr",
        "body": f"Bonjour ami, votre leçon du jour est prête : leçon 2, {lesson.title}. "
                "Appuyez sur Commencer (ou répondez START) pour commencer.",
        "buttons": [{"id": "START", "title": "Commencer"}]}
    [queued] = days.scheduled()
    assert queued["status"] == "sent"
    assert json.loads(queued["payload"]) == {"template": {
        "content_sid": sids["daily_lesson"], "language": "fr", "category": "utility",
        "parameters": ["ami", "2", lesson.title], "quick_replies": ["START"]}}
    assert f"*Leçon 2/6 : {lesson.title}*" in queued["body"]  # the lesson, for operators


def test_the_start_tap_on_the_template_opens_the_lesson_free_form(days):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    days.clock.now = days.at(1, 16, 1)
    days.run_worker()
    assert days.shown()[-1]["kind"] == "template"  # the invitation to reply
    sent_before = len(days.shown())
    days.clock.now = days.at(1, 18)
    days.tap_quick_reply("START", "Commencer")
    days.run_worker()
    [card] = days.shown()[sent_before:]
    lesson = days.second_lesson()
    assert card["kind"] == "quick-reply"
    assert f"*Leçon 2/6 : {lesson.title}*\n{lesson.cards[0].text}" in card["body"], card
    assert card["buttons"][0]["id"] == "NEXT"
    enrollment = days.store.enrollment(AWA, COURSE)
    assert (enrollment.position, enrollment.card, enrollment.quiz) == (1, 0, None)
    # The lesson goes on free-form: NEXT shows its second card.
    days.tap_quick_reply("NEXT", "Suivant")
    days.run_worker()
    assert days.shown()[-1]["kind"] == "quick-reply"
    assert days.store.enrollment(AWA, COURSE).card == 1


def test_within_the_window_the_daily_lesson_goes_free_form_with_its_button(days):
    daily_lesson_at(days, 16, learned_at=days.at(0, 10))
    days.clock.now = days.at(1, 9)
    days.say("STATUS")  # Tuesday 9:00: she writes; the window is open until Wednesday 9:00
    days.run_worker()
    sent_before = len(days.twilio_api.messages)
    days.clock.now = days.at(1, 16, 1)
    days.run_worker()
    [lesson] = days.twilio_api.messages[sent_before:]
    assert lesson["shown"]["kind"] == "quick-reply"
    assert lesson["shown"]["body"].startswith("Votre leçon du jour")
    assert lesson["shown"]["buttons"][0]["id"] == "NEXT"
    [queued] = days.scheduled()
    assert "template" not in json.loads(queued["payload"])  # what went: no template


def test_a_reminder_outside_the_window_goes_as_its_content_template(days, sids):
    days.clock.now = days.at(0, 10)
    days.say("START")  # in the middle of lesson 1, and silent: reminded two days later
    days.run_worker()
    sent_before = len(days.twilio_api.messages)
    days.clock.now = days.at(2, 10, 1)
    days.run_worker()
    [reminder] = days.twilio_api.messages[sent_before:]
    lesson = days.store.lesson(COURSE, days.store.course(COURSE).lesson_ids[0], "fr")
    assert reminder["ContentSid"] == sids["reminder"]
    assert json.loads(reminder["ContentVariables"]) == {"1": lesson.title}
    assert reminder["shown"]["buttons"] == [{"id": "START", "title": "Continuer"}]


def test_without_a_template_the_daily_lesson_goes_once_by_sms_through_the_fallback(
        tmp_path, db_path, twilio_api, monkeypatch):
    """No template for the daily lesson: not free-form on WhatsApp outside the window, but
    once by SMS through the WhatsApp carrier's fallback."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    days = Days(tmp_path, db_path, twilio_api,
                carriers_toml(twilio_api.url)
                + carrier_toml(twilio_api.url, 'fallback_carrier = "twilio"\n'))
    try:
        daily_lesson_at(days, 16, learned_at=days.at(0, 10))
        sent_before = len(days.shown())
        days.clock.now = days.at(1, 16, 1)
        days.run_worker()
        assert days.shown()[sent_before:] == []  # nothing free-form outside the window
        sms = twilio_api.bodies_to(AWA)
        lesson = days.second_lesson()
        assert sms and lesson.title in "\n".join(sms) and "*" not in "\n".join(sms)
        [original, copy] = days.scheduled()
        assert (original["carrier_id"], original["status"]) == ("twa", "failed")
        assert original["error"].startswith("outside WhatsApp's 24-hour window and no "
                                            "template 'daily_lesson' for fr")
        assert original["error"].endswith("sent as SMS through twilio")
        assert copy["carrier_id"] == "twilio"
        days.run_worker()
        assert twilio_api.bodies_to(AWA) == sms  # once
    finally:
        days.store.close()


def test_a_template_whatsapp_has_not_approved_goes_once_by_sms_through_the_fallback(
        tmp_path, db_path, twilio_api, monkeypatch):
    """The daily lesson's Content template was rejected: Twilio refuses it (63016), and
    the lesson goes once by SMS through the fallback carrier."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    rejected = twilio_api.register_template("fr", DAILY_LESSON, name="learnline_daily_fr",
                                            quick_replies=(("START", "Commencer"),),
                                            status="rejected")
    days = Days(tmp_path, db_path, twilio_api,
                carriers_toml(twilio_api.url)
                + carrier_toml(twilio_api.url, 'fallback_carrier = "twilio"\n'
                               + templates_toml(rejected, rejected)))
    try:
        daily_lesson_at(days, 16, learned_at=days.at(0, 10))
        sent_before = len(days.shown())
        days.clock.now = days.at(1, 16, 1)
        days.run_worker()
        assert days.shown()[sent_before:] == []
        [refused] = [a for a in twilio_api.attempts if a.get("ContentSid") == rejected]
        assert "Body" not in refused
        sms = twilio_api.bodies_to(AWA)
        assert sms and days.second_lesson().title in "\n".join(sms)
        [original, copy] = days.scheduled()
        assert original["status"] == "failed" and "code 63016" in original["error"]
        assert original["error"].endswith("sent as SMS through twilio")
        assert copy["carrier_id"] == "twilio"
        days.run_worker()
        assert twilio_api.bodies_to(AWA) == sms  # once
    finally:
        days.store.close()


def test_an_announcement_outside_the_window_goes_as_its_marketing_template(
        tmp_path, db_path, twilio_api, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    news = twilio_api.register_template(
        "fr", "Nouvelles de {{1}} : {{2}} Répondez STOP pour ne plus recevoir de messages.",
        name="learnline_announcement_fr", category="MARKETING")
    days = Days(tmp_path, db_path, twilio_api, carrier_toml(twilio_api.url, f"""
[carriers.twa.templates.announcement]
category = "marketing"
parameters = ["course_title", "text"]
content_sids = {{ fr = "{news}" }}
"""))
    try:
        days.say("START")
        days.run_worker()
        sent_before = len(days.shown())
        days.clock.now += 3 * 24 * HOUR
        announce(days.store, load_carriers(days.carriers), COURSE,
                 "Bonjour !\nLa leçon de demain porte sur les prix.")
        days.clock.now = days.at(3, 12)
        days.run_worker()
        [shown] = [m for m in days.shown()[sent_before:] if m["kind"] == "template"]
        title = days.store.course(COURSE).title_in("fr")
        assert shown == {"kind": "template", "sid": news, "language": "fr", "buttons": [],
                         "body": f"Nouvelles de {title} : Bonjour ! La leçon de demain "
                                 "porte sur les prix. Répondez STOP pour ne plus recevoir "
                                 "de messages."}
        [queued] = days.scheduled("announcement")
        assert json.loads(queued["payload"])["template"]["category"] == "marketing"
    finally:
        days.store.close()


@pytest.mark.parametrize(("code", "refusal"), [
    (21655, "The ContentSid is Invalid"),
    (63016, "Failed to send freeform message because you are outside the allowed window"),
    (63027, "Template does not exist for a language and locale"),
    (63028, "Number of parameters provided does not match the expected number"),
])
def test_a_template_twilio_refuses_may_go_through_the_fallback(twilio_api, code, refusal):
    twilio_api.fail_next(400, code, refusal)
    adapter = TwilioAdapter(load_settings(twilio_api))
    payload = {"template": {"content_sid": "HX" + "0" * 32, "language": "fr",
                            "category": "utility", "parameters": ["Leçon 2"]}}
    with pytest.raises(SendError) as caught:
        adapter.send(AWA, "*Leçon 2/6*", payload=payload)
    assert (caught.value.retry, caught.value.fallback, caught.value.code) == (
        False, True, str(code))
    assert twilio_api.content_requests == []  # a template is not made, it is named


def test_a_template_deleted_or_not_approved_goes_through_the_fallback(twilio_api, sids):
    """The fake's own answers: an unknown ContentSid (21655), a template WhatsApp has not
    approved (63016)."""
    adapter = TwilioAdapter(load_settings(twilio_api))
    pending = twilio_api.register_template("fr", "Bonjour {{1}}", name="learnline_pending",
                                           status="pending")
    for sid, code in (("HX" + "f" * 32, "21655"), (pending, "63016")):
        with pytest.raises(SendError) as caught:
            adapter.send(AWA, "Bonjour", payload={"template": {
                "content_sid": sid, "language": "fr", "category": "utility",
                "parameters": ["Awa"]}})
        assert (caught.value.fallback, caught.value.code) == (True, code)
    assert twilio_api.messages == []


def test_a_failed_template_reported_later_may_go_through_the_fallback(twilio_api):
    """Twilio may accept a template and report its refusal in a status callback."""
    adapter = TwilioAdapter(load_settings(twilio_api))
    sid = "SM" + "1" * 32
    for code, fallback in (("63027", True), ("63028", True), ("30008", False)):
        status = adapter.parse_status(form_request({
            "MessageSid": sid, "SmsSid": sid, "MessageStatus": "failed", "ErrorCode": code,
            "AccountSid": ACCOUNT_SID, "To": "whatsapp:" + AWA, "From": WA_SENDER,
            "ApiVersion": "2010-04-01"}))
        assert status.fallback is fallback, code


def test_a_cloud_api_template_left_in_the_outbox_is_not_sent_free_form(twilio_api):
    """A template payload without a Content SID cannot go as a Twilio template: it is not
    sent as text (which Twilio refuses outside the window) but left to the fallback."""
    adapter = TwilioAdapter(load_settings(twilio_api))
    with pytest.raises(SendError) as caught:
        adapter.send(AWA, "Bonjour", payload={"template": {
            "name": "learnline_daily_lesson", "language": "fr", "category": "utility",
            "parameters": ["Awa"]}})
    assert (caught.value.retry, caught.value.fallback) == (False, True)
    assert twilio_api.attempts == []


# -- configuration ---------------------------------------------------------------------------

GOOD_SID = "HX" + "0123456789abcdef" * 2


def load_settings(twilio_api: FakeTwilioApi) -> CarrierSettings:
    return CarrierSettings(id="twa", adapter="twilio", sender=WA_SENDER,
                           api_base_url=twilio_api.url,
                           credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN})


def form_request(form: dict[str, str]) -> WebRequest:
    return WebRequest("POST", PUBLIC_URL + "/carriers/twa/status", {},
                      {key: [value] for key, value in form.items()}, {}, b"", "127.0.0.1")


def test_content_sids_are_read_per_learner_language(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carrier_toml("http://127.0.0.1:9", templates_toml(GOOD_SID, GOOD_SID)))
    daily = load_carriers(path)["twa"].template("lesson")
    assert daily.content_sids == {"fr": GOOD_SID}
    assert (daily.category, daily.quick_reply) == ("utility", True)


@pytest.mark.parametrize(("template", "key", "said"), [
    ('category = "utility"\ncontent_sids = { fr = "HX123" }',
     "templates.daily_lesson.content_sids.fr", "HX and 32 hex digits"),
    ('category = "utility"\ncontent_sids = { xx = "' + GOOD_SID + '" }',
     "templates.daily_lesson.content_sids.xx", "not a learner language"),
    ('category = "utility"\ncontent_sids = {}',
     "templates.daily_lesson.content_sids", "Content SID"),
    ('category = "utility"',
     "templates.daily_lesson.content_sids", "missing"),
    ('name = "learnline_daily_lesson"\ncategory = "utility"\ncontent_sids = { fr = "'
     + GOOD_SID + '" }', "templates.daily_lesson.name", "Meta's Cloud API"),
    ('name = "learnline_daily_lesson"\ncategory = "utility"\nlanguage_codes = { fr = "fr" }',
     "templates.daily_lesson.name", "content_sids"),
])
def test_a_twilio_template_that_cannot_work_fails_at_start_up(tmp_path, monkeypatch,
                                                              template, key, said):
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carrier_toml("http://127.0.0.1:9",
                                 f"[carriers.twa.templates.daily_lesson]\n{template}\n"))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    message = str(caught.value)
    assert f"{path}: carrier 'twa': key '{key}'" in message, message
    assert said in message, message


def test_content_sids_belong_to_twilios_whatsapp_only(tmp_path):
    path = tmp_path / "carriers.toml"
    path.write_text('[carriers.wa]\nadapter = "whatsapp"\nphone_number_id = "106540352242922"\n'
                    'access_token = "EAAG-token-0123456789"\n'
                    'app_secret = "0123456789abcdef0123456789abcdef"\n'
                    'verify_token = "verify-token-0123"\n'
                    '[carriers.wa.templates.daily_lesson]\ncategory = "utility"\n'
                    f'content_sids = {{ fr = "{GOOD_SID}" }}\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert "carrier 'wa': key 'templates.daily_lesson.content_sids'" in message, message
    assert "Twilio" in message, message


def test_the_documented_twilio_templates_are_a_valid_configuration(tmp_path, monkeypatch):
    """docs/carriers.md's example of a Twilio WhatsApp sender's templates is read as
    written."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    text = (Path(__file__).resolve().parent.parent / "docs" / "carriers.md").read_text(
        encoding="utf-8")
    section = text[text.index("### Templates on Twilio's WhatsApp"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", 10)]
    path = tmp_path / "carriers.toml"
    path.write_text(example)
    carrier = load_carriers(path)["twilio-wa"]
    assert sorted(carrier.templates) == ["announcement", "daily_lesson", "reminder", "review"]
    assert all(set(t.content_sids) == {"en", "fr", "pt", "sw", "ar"}
               for t in carrier.templates.values())


def test_the_operators_templates_are_not_counted_as_the_gateways_layouts(twilio_api, sids):
    """`learnline carriers check --live` counts the Content objects the gateway made; the
    operator's templates, named learnline_... too, are theirs, and never sent as a layout."""
    adapter = TwilioAdapter(load_settings(twilio_api))
    assert adapter.check_credentials().endswith("(0 layouts of buttons or lists made)")
    adapter.send(AWA, "Q1", payload={"buttons": [{"id": "A", "title": "A) Couture"}]})
    assert twilio_api.messages[-1]["ContentSid"] not in sids.values()
    assert TwilioAdapter(load_settings(twilio_api)).check_credentials().endswith(
        "(1 layout of buttons or lists made)")
