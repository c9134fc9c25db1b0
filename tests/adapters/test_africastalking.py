"""Africa's Talking USSD: the shared USSD contract, plus its cumulative `text` and CON/END.

Requests are Africa's Talking's documented callback form: sessionId, serviceCode,
phoneNumber, networkCode and text ("" on the first request, then every input of
the session joined by '*'). Replies are text/plain starting "CON " or "END ".
"""

from __future__ import annotations

import pytest

from tests.adapters.ussd_contract import INVALID, UssdAdapterContract, assert_fits

TOKEN = "at-webhook-token-0123456789"
LEARNER = "+254711082000"


class TestAfricasTalking(UssdAdapterContract):
    carrier_id = "africastalking"
    carrier_table = f"""
adapter = "africastalking"
country = "KE"
locale = "en"  # the contract asserts English screens; Kenya defaults to Swahili
webhook_token = "{TOKEN}"
username = "sandbox"
"""
    token = TOKEN
    required_fields = ("sessionId", "serviceCode", "phoneNumber", "text")
    sender_field = "phoneNumber"
    learner_wire = LEARNER
    learner_e164 = LEARNER

    def first_request(self, session_id, phone):
        return self.at_request(session_id, phone, "")

    def next_request(self, session_id, phone, inputs):
        return self.at_request(session_id, phone, "*".join(inputs))

    def drop_request(self, session_id, phone, inputs):
        return None  # Africa's Talking just stops calling

    def send(self, client, url, payload, **kwargs):
        return client.post(url, data=payload, **kwargs)

    def read(self, response):
        assert response.content_type == "text/plain; charset=utf-8"
        body = response.get_data(as_text=True)
        assert body[:4] in ("CON ", "END "), body
        return body[4:], body.startswith("END ")

    @staticmethod
    def at_request(session_id: str, phone: str, text: str) -> dict[str, str]:
        return {"sessionId": session_id, "serviceCode": "*384*1234#", "phoneNumber": phone,
                "networkCode": "63902", "text": text}

    def at_post(self, client, session_id: str, text: str) -> tuple[str, bool]:
        response = self.post(client, self.carrier_id,
                             self.at_request(session_id, LEARNER, text))
        assert response.status_code == 200
        return self.read_screen(response)

    # -- Africa's Talking specifics ---------------------------------------------------------

    @pytest.mark.parametrize(("history", "text", "expected"), [
        # the learner typed one input containing '*': invalid, not its last piece
        ("", "2*1", INVALID),
        ("1", "1*1*1", INVALID),
        ("1", "1*5*5", INVALID),
        ("1", "1*98*1", INVALID),
        # a plain input after the history is followed
        ("1", "1*00", "Learnline\n1. Continue: Start freelancing, lesson 1, card 1/"),
        ("1", "1*1", "Lesson 1/6, card 2/"),
        ("", "1", "Lesson 1/6, card 1/"),
        ("", "3", "You have not started a course yet."),
        # a text that does not continue the stored history cannot be followed
        ("1", "2*1", INVALID),
    ])
    def test_latest_input_comes_from_the_stored_history(self, client, history, text,
                                                        expected):
        session_id = self.new_session_id()
        self.at_post(client, session_id, "")
        before = self.at_post(client, session_id, history) if history else None
        screen, end = self.at_post(client, session_id, text)
        assert end is False
        assert expected in screen
        if expected == INVALID and before is not None:
            assert screen.split("\n")[1:] == before[0].split("\n")[1:]
        elif expected != INVALID:
            assert INVALID not in screen
            assert before is None or screen != before[0]
        assert_fits(screen, 182)
        # the learner's next plain input follows on from the text just sent
        after, _ = self.at_post(client, session_id, text + "*00")
        assert after.startswith("Learnline")

    @pytest.mark.parametrize("texts", [[""], ["", "1"], ["", "1", "1*1"]],
                             ids=["menu", "card", "next-page"])
    def test_a_repeated_request_reshows_the_same_screen(self, client, texts):
        session_id = self.new_session_id()
        for text in texts:
            shown = self.at_post(client, session_id, text)
        assert self.at_post(client, session_id, texts[-1]) == shown
        assert self.at_post(client, session_id, texts[-1]) == shown
        # and the session still moves on from where it was
        moved, _ = self.at_post(client, session_id, f"{texts[-1]}*1" if texts[-1] else "1")
        assert moved != shown[0]
        assert INVALID not in moved

    @pytest.mark.parametrize(("texts", "prefix"), [
        ([""], "CON Learnline"),
        (["", "1"], "CON Lesson 1/6, card 1/"),
        (["", "0"], "END Goodbye! Dial *384*1234# to continue"),
    ])
    def test_replies_are_plain_text_con_or_end(self, client, texts, prefix):
        session_id = self.new_session_id()
        for text in texts:
            response = self.post(client, self.carrier_id,
                                 self.at_request(session_id, LEARNER, text))
        assert response.status_code == 200
        assert response.content_type == "text/plain; charset=utf-8"
        assert response.get_data(as_text=True).startswith(prefix)

    def test_the_same_carrier_takes_sms_too(self, client, store):
        response = client.post(self.url(kind="sms"),
                               data={"from": LEARNER, "to": "12345", "text": "START",
                                     "id": "at-1", "date": "2024-05-06 15:02:00"})
        assert response.status_code == 200
        assert store.db["inbound"].count == 1
        assert store.learner(LEARNER) is not None
