"""End to end through a real Kannel (bearerbox, smsbox, fakesmsc) and `learnline serve`.

A learner's text goes in at the fake SMSC; Learnline's replies come out at the fake
SMSC, in the coding the carrier's encoding policy calls for; Kannel's delivery reports
move them forward in the store. See tests/kannel/harness.py for how Kannel is run.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_from_bytes, urlencode

import pytest
import requests

from carrier_adapters import SendError
from carrier_adapters.kannel import KannelAdapter
from gateway.config import load_carriers
from gateway.sms_text import normalize
from gateway.store import Store
from tests.kannel.harness import (
    BEARERBOX,
    SMSBOX,
    WEBHOOK_TOKEN,
    KannelCarrier,
    KannelStack,
    free_port,
    kannel_stack,
    require_kannel,
    wait_for,
)

pytestmark = pytest.mark.slow

# A Kenyan shortcode in English (Kenya's numbers default to Swahili).
ENGLISH = KannelCarrier("kannel", "22141", "KE", locale="en")
FRENCH_EXACT = KannelCarrier("kannel-exact", "22142", "SN", "exact")
FRENCH_GSM7 = KannelCarrier("kannel-gsm7", "22143", "SN", "gsm7")
# A Moroccan shortcode under the gsm7 policy: Arabic cannot be folded, so it goes as UCS-2.
ARABIC = KannelCarrier("kannel-ar", "22144", "MA", "gsm7")


@pytest.fixture(scope="module")
def kannel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KannelStack]:
    with kannel_stack(tmp_path_factory.mktemp("kannel"),
                      (ENGLISH, FRENCH_EXACT, FRENCH_GSM7, ARABIC)) as stack:
        yield stack


def outbox(kannel: KannelStack, phone: str):
    with Store.open(kannel.db_path) as store:
        return store.outbox(phone)


def converse(kannel: KannelStack, phone: str, text: str, carrier: KannelCarrier, **kwargs):
    """Text `text` from `phone` to the carrier's number; return the outbox messages it
    caused and what the fake SMSC received for them (same order)."""
    before = len(outbox(kannel, phone))
    kannel.smsc.inject(phone, text, carrier.shortcode, **kwargs)
    queued = wait_for(lambda: outbox(kannel, phone)[before:], f"replies to {phone} queued")
    received = kannel.smsc.wait_messages(phone, before + len(queued))[before:]
    return queued, received


def test_start_at_the_fake_smsc_brings_the_first_lesson_back(kannel: KannelStack):
    phone = "+254712345678"
    queued, received = converse(kannel, phone, "START", ENGLISH)
    assert received[0].text.startswith(
        "Welcome to Start freelancing: 6 lessons.\nLesson 1/6: Find a skill people pay for\n")
    assert [m.text for m in received] == [m.body for m in queued]
    assert all(m.coding == 0 and m.sender == ENGLISH.shortcode for m in received)
    assert received[0].parts > 1  # Kannel concatenated it; the parts came back whole

    with Store.open(kannel.db_path) as store:
        [inbound] = store.db.query("SELECT * FROM inbound WHERE phone = ?", [phone])
        learner = store.learner(phone)
    assert inbound["text"] == "START" and inbound["status"] == "processed"
    assert len(inbound["carrier_message_id"]) == 36  # Kannel's %I, a UUID
    assert learner is not None and learner.carrier_id == ENGLISH.id

    # smsbox answered nothing itself (our get-url answer is empty, max-messages = 0):
    # after a moment, the fake SMSC still has exactly the outbox's messages.
    next_phone = "+254712345679"
    converse(kannel, next_phone, "HELP", ENGLISH)
    assert len(kannel.smsc.messages(phone)) == len(queued)
    assert "No reply sent" in kannel.log("smsbox")


def test_a_french_reply_under_exact_arrives_as_ucs2_with_its_accents(kannel: KannelStack):
    queued, received = converse(kannel, "+221771234567", "DEBUT", FRENCH_EXACT)
    assert received[0].text.startswith("Bienvenue dans Se lancer en freelance : 6 leçons.\n")
    assert [m.text for m in received] == [m.body for m in queued]
    assert all(m.coding == 2 for m in received)
    assert "ç" in received[0].text


def test_a_french_reply_under_gsm7_arrives_as_gsm7_with_accents_folded(kannel: KannelStack):
    queued, received = converse(kannel, "+221771234568", "DEBUT", FRENCH_GSM7)
    assert received[0].text.startswith("Bienvenue dans Se lancer en freelance : 6 lecons.\n")
    assert [m.text for m in received] == [m.body for m in queued]
    assert all(m.coding == 0 for m in received)
    _, exact = converse(kannel, "+221771234569", "DEBUT", FRENCH_EXACT)
    assert [m.text for m in received] == [normalize(m.text, "gsm7") for m in exact]
    assert "é" in "".join(m.text for m in received)  # GSM-7 has é: kept


def test_an_arabic_learner_is_answered_in_ucs2_through_kannel(kannel: KannelStack):
    # A learner's keypad sends Arabic as UCS-2; the replies go back as UCS-2, intact,
    # each concatenated message within the carrier's segment limit.
    queued, received = converse(kannel, "+212612345670", "ابدأ", ARABIC, ucs2=True)
    title = "ابدأ العمل الحر"
    assert title in received[0].text
    assert [m.text for m in received] == [m.body for m in queued]
    assert all(m.coding == 2 for m in received)
    queued, received = converse(kannel, "+212612345670", "التالي", ARABIC, ucs2=True)
    assert received and [m.text for m in received] == [m.body for m in queued]


def test_delivery_reports_from_kannel_move_messages_to_delivered(kannel: KannelStack):
    phone = "+254712345670"
    converse(kannel, phone, "START", ENGLISH)
    ids = {m.carrier_message_id for m in outbox(kannel, phone)}  # the ids our sends made
    assert None not in ids

    def reported():
        with Store.open(kannel.db_path) as store:
            events = [e for e in store.db["status_events"].rows
                      if e["carrier_message_id"] in ids]
            states = {m.status for m in store.outbox(phone)}
        seen = {(e["carrier_message_id"], e["status"]) for e in events}
        done = states == {"delivered"} and all((i, t) in seen for i in ids for t in ("1", "8"))
        return events if done else None

    events = wait_for(reported, "Kannel's delivery reports (types 8 and 1)")
    assert {e["state"] for e in events} == {"sent", "delivered"}
    assert all(e["outbox_id"] is not None and e["carrier_id"] == ENGLISH.id for e in events)


def test_a_ucs2_text_from_a_phone_is_stored_intact(kannel: KannelStack):
    phone = "+254712345671"
    text = "Habari ☺ ça va? €5 «oui»  ok"
    kannel.smsc.inject(phone, text, ENGLISH.shortcode, ucs2=True)

    def stored():
        with Store.open(kannel.db_path) as store:
            return list(store.db.query("SELECT text FROM inbound WHERE phone = ?", [phone]))
    [row] = wait_for(stored, "the UCS-2 message stored")
    assert row["text"] == text


def test_a_long_ucs2_message_fits_the_served_request_line(kannel: KannelStack):
    """A phone's 10-part UCS-2 message, joined by Kannel, comes as smsbox sends it: the
    UTF-16 bytes %-encoded in the get-url's query (%b), over 4 KB of request line. The
    gateway as deployed (deploy/gunicorn.conf.py) takes it whole; gunicorn's old limit
    of 4094 answered with an HTML 414 smsbox could not act on."""
    text = ("أبتث جد " * 84)[:670]  # letters whose UTF-16 bytes are all %-encoded
    query = urlencode({"token": WEBHOOK_TOKEN, "from": "+254712345674", "to": "22141",
                       "coding": "2", "charset": "UTF-16BE", "id": "long-ucs2-1",
                       "time": "1796000303"})
    url = (f"{kannel.gateway_base}/carriers/{ENGLISH.id}/sms?{query}"
           f"&text={quote_from_bytes(text.encode('utf-16-be'), safe='')}")
    assert len(url) > 4096
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text[:200]
    with Store.open(kannel.db_path) as store:
        [row] = store.db.query("SELECT text FROM inbound WHERE phone = '+254712345674'")
    assert row["text"] == text


def test_credentials_and_errors_against_the_real_smsbox(kannel: KannelStack):
    carrier = load_carriers(kannel.env["LEARNLINE_CARRIERS"], env=kannel.env)[ENGLISH.id].wire
    assert "knows user" in KannelAdapter(carrier).check_credentials()
    wrong = dataclasses.replace(carrier, credentials={**carrier.credentials,
                                                      "password": "not-the-password"})
    with pytest.raises(SendError) as caught:
        KannelAdapter(wrong).send("+254712345672", "Hi")
    assert (caught.value.code, caught.value.retry) == ("403", True)
    assert "Authorization failed" in caught.value.detail
    with pytest.raises(SendError) as caught:
        KannelAdapter(wrong).check_credentials()
    nobody = dataclasses.replace(carrier, sender="")  # no from, and no global-sender
    with pytest.raises(SendError) as caught:
        KannelAdapter(nobody).send("+254712345672", "Hi")
    assert (caught.value.code, caught.value.retry) == ("400", False)
    assert "Sender missing" in caught.value.detail


def test_the_example_configuration_starts(tmp_path: Path):
    """deploy/kannel/kannel.conf, placeholders filled, is accepted by bearerbox and smsbox
    (the SMPP link has no SMSC to reach here: it retries, and sendsms still answers)."""
    require_kannel()
    conf = (Path(__file__).resolve().parents[2] / "deploy" / "kannel" / "kannel.conf").read_text()
    ports = {"13000": free_port(), "13001": free_port(), "13013": free_port(),
             "<smsc-port>": free_port()}
    for old, new in {**{k: str(v) for k, v in ports.items()}, "<smsc-host>": "127.0.0.1",
                     "/var/log/kannel/": f"{tmp_path}/", "/var/spool/kannel/": f"{tmp_path}/",
                     "<sendsms-password>": "sp-0123"}.items():
        conf = conf.replace(old, new)
    settings = [line for line in conf.splitlines() if not line.startswith("#")]
    assert all("<" not in line or "password>" in line or "<system-id>" in line
               or "<webhook-token>" in line for line in settings)
    (tmp_path / "store").mkdir()
    (tmp_path / "kannel.conf").write_text(conf)
    boxes = []
    try:
        for box in (BEARERBOX, SMSBOX):
            boxes.append(subprocess.Popen([str(box), "kannel.conf"], cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_for(lambda: boxes[-1].poll() is not None or _answers(ports["13013"]),
                     f"{box.name} to start") if box == SMSBOX else time.sleep(0.5)
        assert [b.poll() for b in boxes] == [None, None]
        answer = requests.post(f"http://127.0.0.1:{ports['13013']}/cgi-bin/sendsms",
                               headers={"X-Kannel-Username": "learnline",
                                        "X-Kannel-Password": "sp-0123",
                                        "Content-Type": "text/plain"}, timeout=5)
        assert (answer.status_code, answer.text) == (400, "Missing receiver(s) number(s), "
                                                           "rejected")
        log = (tmp_path / "bearerbox.log").read_text()
        assert "PANIC" not in log and "SMPP[kannel-ke]" in log
    finally:
        for box in reversed(boxes):
            box.terminate()
            box.wait(10)


def _answers(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=0.5)
        return True
    except requests.RequestException:
        return False
