"""A long question typed over several USSD inputs, through the carriers' real webhooks:
after each piece the screen shows the question so far (its end, within the screen) and
offers to send it, add more or cancel, up to the question limit; a dropped session keeps
the draft for the resume window."""

from __future__ import annotations

import itertools
import json

import pytest

from gateway import create_app
from gateway.learning import asking
from gateway.sms_text import encoding_for, septets, ucs2_units
from gateway.store import Store
from tests.test_ussd import Phone

CARRIERS = """
[carriers.at-ke]
adapter = "africastalking"
country = "KE"
locale = "en"
webhook_token = "at-token-0123456789abcdef"

[carriers.at-ma]
adapter = "africastalking"
country = "MA"  # Moroccan numbers start in Arabic
webhook_token = "at-ma-token-0123456789abcdef"
ussd_ucs2_max_chars = {ucs2}

[carriers.hubtel-gh]
adapter = "hubtel"
country = "GH"
locale = "en"
webhook_token = "hubtel-token-0123456789abcdef"
ussd_max_chars = 160
"""
KENYA, MOROCCO, GHANA = "+254712345678", "+212612345678", "+233200585542"
_ids = itertools.count()


def app_with(tmp_path, db_path, ucs2: int = 80):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(CARRIERS.format(ucs2=ucs2))
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "TESTING": True})


class AfricasTalking:
    """A session as Africa's Talking drives it: every input so far joined by '*'; each
    screen checked within the carrier's limit (GSM-7 182, or UCS-2 for Arabic)."""

    def __init__(self, client, carrier: str, token: str, phone: str, ucs2: int | None = None):
        self.client, self.url = client, f"/carriers/{carrier}/ussd?token={token}"
        self.phone, self.ucs2 = phone, ucs2
        self.dial()

    def dial(self) -> str:
        self.session, self.inputs = f"ATUid_{next(_ids)}", []
        return self.press(None)

    def press(self, choice: str | None) -> str:
        if choice is not None:
            self.inputs.append(choice)
        response = self.client.post(self.url, data={
            "sessionId": self.session, "serviceCode": "*384*12#", "phoneNumber": self.phone,
            "networkCode": "63902", "text": "*".join(self.inputs)})
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and body.startswith(("CON ", "END ")), body
        screen = body[4:]
        if self.ucs2:
            assert encoding_for(screen) == "UCS-2" and ucs2_units(screen) <= self.ucs2, screen
        else:
            assert encoding_for(screen) == "GSM-7" and septets(screen) <= 182, screen
        return screen


class Hubtel:
    """A session as Hubtel drives it: JSON, the latest input alone, a sequence number."""

    def __init__(self, client):
        self.client, self.session, self.sequence = client, f"hub{next(_ids)}", 0
        self.first = self.send("Initiation", "*713#")

    def send(self, kind: str, message: str) -> str:
        self.sequence += 1
        response = self.client.post(
            "/carriers/hubtel-gh/ussd?token=hubtel-token-0123456789abcdef",
            data=json.dumps({"Type": kind, "Mobile": GHANA[1:], "SessionId": self.session,
                             "ServiceCode": "713", "Message": message, "Operator": "mtn",
                             "Sequence": self.sequence, "ClientState": "",
                             "Platform": "USSD"}), content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        screen = response.get_json()["Message"]
        assert encoding_for(screen) == "GSM-7" and septets(screen) <= 160, screen
        return screen

    def press(self, text: str) -> str:
        return self.send("Response", text)


def asked(store: Store, phone: str) -> list[tuple[str, str]]:
    return store.db.execute("SELECT channel, text FROM questions WHERE phone = ? ORDER BY id",
                            [phone]).fetchall()


FIRST = ("When a client asks for a price before seeing my work, should I give one price "
         "for the whole job or a price for each part of it, and what if they")
SECOND = "say it is too much? *I* live in Kisumu and most of my clients pay by M-Pesa."


def test_a_long_question_spans_africastalking_screens(tmp_path, db_path):
    client = app_with(tmp_path, db_path).test_client()
    phone = AfricasTalking(client, "at-ke", "at-token-0123456789abcdef", KENYA)
    phone.press("1")  # the first card: the question is asked from there
    phone.press("00")
    prompt = phone.press("6")
    assert prompt.startswith("Type your question for the tutors and send it. You can add "
                             "more after.")
    draft = phone.press(FIRST).splitlines()
    assert draft[0] == f"Your question ({len(FIRST)}/{asking.MAX_CHARS}):"
    assert draft[-3:] == ["1. Send", "2. Add more", "0. Cancel"]
    assert draft[1].startswith("...") and FIRST.endswith(draft[1][3:])  # its end
    assert phone.press("2").startswith("Type the next part of your question.")
    draft = phone.press(SECOND).splitlines()
    whole = f"{FIRST} {SECOND}"
    assert draft[0] == f"Your question ({len(whole)}/{asking.MAX_CHARS}):"
    assert draft[1].startswith("...") and whole.endswith(draft[1][3:])
    with Store.open(db_path) as store:
        assert asked(store, KENYA) == []  # nothing sent yet
    assert phone.press("1").startswith("Your question reached the tutors.")
    with Store.open(db_path) as store:
        assert asked(store, KENYA) == [("ussd", whole)]
        [(lesson, card)] = store.db.execute("SELECT lesson_id, card FROM questions").fetchall()
        assert (lesson, card) == ("find-your-skill", 1)


def test_a_long_question_spans_hubtel_screens_and_nothing_typed_is_lost(tmp_path, db_path):
    client = app_with(tmp_path, db_path).test_client()
    phone = Hubtel(client)
    phone.press("6")
    phone.press("Is it *fair* to ask")
    assert phone.press("0").startswith("Learnline\n")  # cancelled: the menu, nothing kept
    phone.press("6")
    assert phone.press("Is it *fair* to ask").splitlines() == [
        f"Your question (19/{asking.MAX_CHARS}):", "Is it *fair* to ask", "1. Send",
        "2. Add more", "0. Cancel"]
    # Text typed straight on this screen is more of the question, not a wrong choice.
    assert "Is it *fair* to ask for half before I start?" in phone.press(
        "for half before I start?")
    again = phone.press("5")  # a number that is no choice here: said so, the draft kept
    assert again.startswith("Invalid choice. Try again.\n")
    assert "half before I start?" in again
    assert phone.press("1").startswith("Your question reached the tutors.")
    with Store.open(db_path) as store:
        assert asked(store, GHANA) == [("ussd", "Is it *fair* to ask for half before I start?")]


def test_a_hubtel_session_that_times_out_keeps_the_question_for_the_next_dial(
        tmp_path, db_path):
    client = app_with(tmp_path, db_path).test_client()
    phone = Hubtel(client)
    phone.press("6")
    phone.press("What should I charge")
    phone.send("Timeout", "")  # the network gave up on the session
    again = Hubtel(client)  # dialled again: a new session, back on the question so far
    assert again.first.splitlines()[:2] == [f"Your question (20/{asking.MAX_CHARS}):",
                                            "What should I charge"]
    screen = again.press("2")
    assert screen.startswith("Type the next part of your question.")
    assert "What should I charge for a CV?" in again.press("for a CV?")
    again.press("1")
    with Store.open(db_path) as store:
        assert asked(store, GHANA) == [("ussd", "What should I charge for a CV?")]


@pytest.mark.parametrize("limit", [40, 80])
def test_an_arabic_question_spans_ucs2_screens_within_the_limit(tmp_path, db_path, limit):
    client = app_with(tmp_path, db_path, ucs2=limit).test_client()
    phone = AfricasTalking(client, "at-ma", "at-ma-token-0123456789abcdef", MOROCCO,
                           ucs2=limit)
    phone.press("6")  # asking (no channel choice here): its number works on every page
    first = "كيف أحدد سعرا عادلا لعملي الأول عندما لا أعرف كم يدفع الناس في حيي"
    second = "وهل أطلب نصف المبلغ قبل أن أبدأ؟"
    screen = phone.press(first)
    assert "إرسال" in screen and "إلغاء" in screen
    assert "حيي" in screen  # the end of what they typed
    phone.press("2")
    screen = phone.press(second)
    assert "أبدأ؟" in screen
    received = phone.press("١")  # Arabic-Indic 1 on the keypad: send
    assert received.startswith("وصل سؤالك")  # the receipt, on pages of its own at 40
    with Store.open(db_path) as store:
        assert asked(store, MOROCCO) == [("ussd", f"{first} {second}")]


def test_a_question_stops_at_the_limit(tmp_path, db_path):
    client = app_with(tmp_path, db_path).test_client()
    phone = AfricasTalking(client, "at-ke", "at-token-0123456789abcdef", KENYA)
    phone.press("6")
    piece = "a" * 9 + " " + "word " * 30  # 160 characters, as a network carries
    screen, pieces = phone.press(piece), 1
    while "2. Add more" in screen:
        phone.press("2")
        screen, pieces = phone.press(piece), pieces + 1
    assert pieces == 7
    assert screen.splitlines()[0] == f"Your question ({asking.MAX_CHARS}/{asking.MAX_CHARS}):"
    assert screen.splitlines()[-2:] == ["1. Send", "0. Cancel"]
    phone.press("1")
    with Store.open(db_path) as store:
        [(_, text)] = asked(store, KENYA)
    assert text == " ".join((piece * pieces).split())[:asking.MAX_CHARS].strip()


def test_a_dropped_session_keeps_the_draft_for_the_resume_window(store: Store):
    phone = Phone(store)
    phone.dial()
    phone.press("6")
    phone.press("How do I price")
    phone.drop()  # the network ends the session: the learner dials again
    assert phone.dial().text.splitlines()[:2] == [
        f"Your question (14/{asking.MAX_CHARS}):", "How do I price"]
    phone.press("2")
    phone.press("a logo design?")  # and while adding more, it drops again
    phone.drop()
    phone.wait(60)
    assert "How do I price a logo design?" in phone.dial().text
    phone.press("1")
    assert asked(store, phone.phone) == [("ussd", "How do I price a logo design?")]
    phone.dial()
    phone.press("6")
    phone.press("Never sent")
    phone.drop()
    phone.wait(16 * 60)  # after the resume window: the menu, the draft gone
    assert phone.dial().text.startswith("Learnline\n")
    assert len(asked(store, phone.phone)) == 1
