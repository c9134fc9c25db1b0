"""A learner chooses the channel of their daily lessons and reminders, SMS or WhatsApp: by a
command in every shipped language, on the web's settings page and in the USSD menu; the
scheduler then sends through the chosen channel's carrier. Choosing a channel that does
not reach them is answered with why, and changes nothing."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from carrier_adapters import UssdRequest
from gateway import create_app
from gateway.channels.commands import parse_command
from gateway.channels.scheduled import run_scheduled
from gateway.channels.ussd import handle_ussd
from gateway.channels.vocabulary import command_words
from gateway.config import load_carriers
from gateway.learning.intents import Channel
from gateway.store import Store
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml, csrf, web_sign_in
from tests.fakes.graph_api import FakeGraphApi, sign
from tests.test_whatsapp_channel import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    notification,
    whatsapp_carrier,
)

PHONE = "+2348030000000"  # the WhatsApp tests' learner, also writing by SMS here


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


@pytest.fixture
def both_file(tmp_path, graph_api, twilio_api, monkeypatch) -> Path:
    """Twilio for SMS and a WhatsApp carrier that falls back to it."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + whatsapp_carrier(graph_api.url)
                    + 'fallback_carrier = "twilio"\n')
    return path


@pytest.fixture
def both(db_path, both_file):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(both_file),
                       "TESTING": True}).test_client()


def said(store: Store) -> str:
    return store.outbox(PHONE)[-1].body


def bare(text: str) -> str:
    """Accents GSM-7 lacks dropped, as the carrier's `auto` policy sends French and
    Portuguese by SMS."""
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


def scheduled(store: Store, carriers) -> set[str]:
    """The carriers of what the scheduler queues next for the learner (a reminder or the
    day's lesson, at their next checks)."""
    last = store.outbox(PHONE)[-1].id
    for _ in range(10):
        if run_scheduled(store, carriers, store.learner(PHONE).next_check_at):
            break
    return {m.carrier_id for m in store.outbox(PHONE) if m.id > last}


def whatsapp(client, text: str) -> None:
    message = {"from": PHONE[1:], "id": f"wamid.{time.monotonic_ns()}", "type": "text",
               "timestamp": "1749416383", "text": {"body": text}}
    raw = notification(message)
    response = client.post("/carriers/wa/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert response.status_code == 200


# -- the command ------------------------------------------------------------------------------

COMMANDS = [
    ("en", "CHANNEL WHATSAPP", "channel sms",
     "Your daily lessons and reminders come on WhatsApp. Reply CHANNEL SMS to get them by "
     "SMS.",
     "Your daily lessons and reminders come by SMS. Reply CHANNEL WHATSAPP to get them on "
     "WhatsApp."),
    ("fr", "canal whatsapp", "Canal SMS",
     "Vos leçons du jour et rappels arrivent sur WhatsApp. Répondez CANAL SMS pour les "
     "recevoir par SMS.",
     "Vos leçons du jour et rappels arrivent par SMS. Répondez CANAL WHATSAPP pour les "
     "recevoir sur WhatsApp."),
    ("pt", "CANAL WhatsApp", "canal sms",
     "As suas lições diárias e lembretes chegam pelo WhatsApp. Responda CANAL SMS para os "
     "receber por SMS.",
     "As suas lições diárias e lembretes chegam por SMS. Responda CANAL WHATSAPP para os "
     "receber no WhatsApp."),
    ("sw", "njia whatsapp", "NJIA SMS",
     "Masomo yako ya kila siku na vikumbusho huja kwenye WhatsApp. Jibu NJIA SMS kuyapata "
     "kwa SMS.",
     "Masomo yako ya kila siku na vikumbusho huja kwa SMS. Jibu NJIA WHATSAPP kuyapata "
     "kwenye WhatsApp."),
    ("ar", "قناة واتساب", "قناه SMS",
     'تصلك دروسك اليومية وتذكيراتك عبر واتساب. أرسل "قناة SMS" لتصلك عبر الرسائل القصيرة.',
     'تصلك دروسك اليومية وتذكيراتك عبر الرسائل القصيرة. أرسل "قناة WHATSAPP" لتصلك عبر '
     "واتساب."),
]


@pytest.mark.parametrize(("lang", "to_whatsapp", "to_sms", "on_whatsapp", "by_sms"),
                         COMMANDS, ids=[case[0] for case in COMMANDS])
def test_the_channel_command_in_every_language(both, store, lang, to_whatsapp, to_sms,
                                               on_whatsapp, by_sms):
    sms = TwilioWebhooks(both)
    sms.sms(PHONE, "START")
    sms.sms(PHONE, f"LANG {lang}")
    assert store.learner(PHONE).channel is None  # where they last wrote: SMS
    sms.sms(PHONE, to_whatsapp)
    assert bare(said(store)) == bare(on_whatsapp)
    assert store.learner(PHONE).channel == "whatsapp"
    sms.sms(PHONE, to_sms)
    assert bare(said(store)) == bare(by_sms)
    assert store.learner(PHONE).channel == "sms"


def test_whatsapp_where_no_whatsapp_carrier_reaches_gets_a_helpful_answer(client, store):
    sms = TwilioWebhooks(client)
    sms.sms(PHONE, "START")
    sms.sms(PHONE, "CHANNEL")
    assert said(store) == "Your daily lessons and reminders come by SMS."
    sms.sms(PHONE, "CHANNEL WHATSAPP")
    assert said(store) == ("WhatsApp does not reach your number from here: your daily "
                           "lessons and reminders come by SMS.")
    assert store.learner(PHONE).channel is None


HELP_SEGMENTS = {"en": 1, "fr": 1, "pt": 1, "sw": 1, "ar": 2}  # as before CHANNEL was named


@pytest.mark.parametrize("lang", list(HELP_SEGMENTS))
def test_help_names_the_channel_command_where_there_is_a_choice(both, client, store, lang):
    """HELP, in a lesson, tells a learner whose carrier offers WhatsApp how to choose their
    channel, in their language, in no more SMS segments than it took before; a carrier
    with no choice does not mention it."""
    words = command_words(lang)
    sms = TwilioWebhooks(both)
    sms.sms(PHONE, "START")
    sms.sms(PHONE, f"LANG {lang}")
    sms.sms(PHONE, words["help"])
    help_reply = store.outbox(PHONE)[-1]
    assert words["channel"] in help_reply.body
    [segments] = store.db.execute("SELECT segments FROM outbox WHERE id = ?",
                                  [help_reply.id]).fetchone()
    assert segments == HELP_SEGMENTS[lang]
    other = "+2348030000009"
    TwilioWebhooks(client).sms(other, "START")
    TwilioWebhooks(client).sms(other, f"LANG {lang}")
    TwilioWebhooks(client).sms(other, words["help"])
    assert words["channel"] not in store.outbox(other)[-1].body


@pytest.mark.parametrize("lang", list(HELP_SEGMENTS))
def test_the_help_page_names_the_channel_command_where_there_is_a_choice(both, client, lang):
    """The lite web's help lists the command that chooses SMS or WhatsApp, as texted in the
    reader's language, where a carrier offers the choice; elsewhere it does not."""
    html = both.get("/help", headers={"Accept-Language": lang}).data.decode()
    items = [re.sub(r"</?bdi>", "", item) for item in re.findall(r"<li>(.*?)</li>", html)]
    [item] = [item for item in items if "WHATSAPP" in item]
    assert isinstance(parse_command(item.split()[0]), Channel), item
    assert item.split()[0] == command_words(lang)["channel"]
    html = client.get("/help", headers={"Accept-Language": lang}).data.decode()
    assert "WHATSAPP" not in html


# -- the scheduler ----------------------------------------------------------------------------


def test_the_scheduler_sends_by_the_chosen_channel(both, store, both_file):
    carriers = load_carriers(both_file)
    sms = TwilioWebhooks(both)
    sms.sms(PHONE, "START")
    sms.sms(PHONE, "DAILY 9")
    sms.sms(PHONE, "CHANNEL WHATSAPP")
    assert scheduled(store, carriers) == {"wa"}

    # On WhatsApp now, choosing SMS: the WhatsApp carrier's fallback carrier sends.
    whatsapp(both, "CHANNEL SMS")
    assert store.learner(PHONE).carrier_id == "wa"
    assert store.learner(PHONE).channel == "sms"
    assert scheduled(store, carriers) == {"twilio"}


def test_without_a_choice_the_scheduler_sends_where_the_learner_last_wrote(both, store,
                                                                          both_file):
    whatsapp(both, "START")
    whatsapp(both, "DAILY 9")
    assert scheduled(store, load_carriers(both_file)) == {"wa"}


# -- the web ----------------------------------------------------------------------------------


def test_the_settings_page_needs_a_signed_in_learner_and_the_forms_token(both, store):
    TwilioWebhooks(both).sms(PHONE, "START")
    assert both.get("/settings").location.endswith("/signin")
    token = csrf(both, "/")
    refused = both.post("/settings", data={"csrf": token, "channel": "whatsapp"})
    assert refused.status_code == 302 and refused.location.endswith("/signin")
    assert store.learner(PHONE).channel is None
    web_sign_in(both, store, PHONE)
    assert both.post("/settings", data={"channel": "whatsapp"}).status_code == 400
    assert both.post("/settings", data={"csrf": "forged-token", "channel": "whatsapp"}
                     ).status_code == 400
    assert store.learner(PHONE).channel is None
    page = both.get("/settings").get_data(as_text=True)
    assert "Your daily lessons and reminders come by SMS." in page
    assert 'value="whatsapp"' in page and 'value="sms" checked' in page
    chosen = both.post("/settings", data={"csrf": csrf(both, "/settings"),
                                          "channel": "whatsapp"})
    assert chosen.status_code == 200
    assert "Your daily lessons and reminders come on WhatsApp." in chosen.get_data(as_text=True)
    assert store.learner(PHONE).channel == "whatsapp"
    odd = both.post("/settings", data={"csrf": csrf(both, "/settings"), "channel": "fax"})
    assert odd.status_code == 400 and store.learner(PHONE).channel == "whatsapp"
    assert "/settings" in both.get("/progress").get_data(as_text=True)


def test_the_settings_page_says_why_whatsapp_cannot_be_chosen(client, store):
    TwilioWebhooks(client).sms(PHONE, "START")
    web_sign_in(client, store, PHONE)
    page = client.get("/settings").get_data(as_text=True)
    assert "Your daily lessons and reminders come by SMS." in page
    assert 'value="whatsapp"' not in page
    refused = client.post("/settings", data={"csrf": csrf(client, "/settings"),
                                             "channel": "whatsapp"})
    assert refused.status_code == 400
    assert "WhatsApp does not reach your number from here" in refused.get_data(as_text=True)
    assert store.learner(PHONE).channel is None


# -- USSD -------------------------------------------------------------------------------------

KENYA = "+254712345678"
_sessions = itertools.count()


def ussd_carriers(tmp_path: Path, *, whatsapp: bool):
    text = ('[carriers.at]\nadapter = "africastalking"\ncountry = "KE"\nlocale = "en"\n'
            'webhook_token = "0123456789abcdef0"\n')
    if whatsapp:
        text += whatsapp_carrier("http://127.0.0.1:9") + 'fallback_carrier = "at"\n'
    path = tmp_path / "carriers.toml"
    path.write_text(text)
    return load_carriers(path)


def dial(store: Store, carrier, *presses: str) -> str:
    session = f"choice-{next(_sessions)}"
    screen = handle_ussd(store, carrier, UssdRequest(session, KENYA, "*384*12#", "",
                                                     is_new=True, cumulative=False), KENYA)
    for press in presses:
        screen = handle_ussd(store, carrier, UssdRequest(session, KENYA, "*384*12#", press,
                                                         is_new=False, cumulative=False),
                             KENYA)
    return screen.text


def test_the_ussd_menu_offers_the_channel_where_whatsapp_reaches(tmp_path, store):
    carrier = ussd_carriers(tmp_path, whatsapp=True)["at"]
    assert "6. SMS or WhatsApp" in dial(store, carrier)
    shown = dial(store, carrier, "6")
    assert shown.startswith("Your daily lessons and reminders come by SMS.")
    assert "1. SMS" in shown and "2. WhatsApp" in shown
    chosen = dial(store, carrier, "6", "2")
    assert chosen.startswith("Your daily lessons and reminders come on WhatsApp.")
    assert store.learner(KENYA).channel == "whatsapp"


def test_the_ussd_menu_has_no_channel_item_without_whatsapp(tmp_path, store):
    carrier = ussd_carriers(tmp_path, whatsapp=False)["at"]
    assert "SMS or WhatsApp" not in dial(store, carrier)
    assert "SMS or WhatsApp" not in dial(store, carrier, "6")
    assert store.learner(KENYA).channel is None


def test_the_channel_item_fits_an_arabic_ucs2_menu_whole(tmp_path, store):
    carriers = ussd_carriers(tmp_path, whatsapp=True)
    carrier = dataclasses.replace(carriers["at"], locale="ar")
    menu = dial(store, carrier)
    assert len(menu.encode("utf-16-le")) // 2 <= carrier.ussd_ucs2_max_chars
    assert "6. SMS أو واتساب" in menu.splitlines() and menu.splitlines()[-1] == "98 المزيد"
    # No room left for asking a tutor and exit: they go on a second page, behind 98.
    assert not any(line.startswith("7.") for line in menu.splitlines())
    assert dial(store, carrier, "98").splitlines()[:2] == ["7. اسأل", "0. خروج"]
    assert dial(store, carrier, "7").startswith("اكتب سؤالك للمعلمين وأرسله.")
    chosen = dial(store, carrier, "6", "2")
    assert chosen.startswith("تصلك دروسك اليومية وتذكيراتك عبر واتساب.")
    assert store.learner(KENYA).channel == "whatsapp"
