"""Hubtel Programmable Services USSD: the shared USSD contract, plus its JSON wire.

Requests are Hubtel's documented JSON: Type (Initiation, Response, Release,
Timeout), Mobile (no '+'), SessionId, ServiceCode, Message ("*713#" on
Initiation, then the learner's latest input), Operator, Sequence, ClientState,
Platform. Answers are JSON: SessionId, Type (Response continues, Release ends),
Message, Label, ClientState, DataType, FieldType.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.adapters.ussd_contract import UssdAdapterContract, assert_resumed, stored

TOKEN = "hubtel-webhook-token-0123456789"
MOBILE = "233200585542"
LEARNER = "+233200585542"
SESSION = "3c796dac28174f739de4262d08409c51"


def hubtel_request(session_id: str, mobile: str, kind: str, message: str,
                   sequence: int) -> dict[str, object]:
    return {"Type": kind, "Mobile": mobile, "SessionId": session_id, "ServiceCode": "713",
            "Message": message, "Operator": "vodafone", "Sequence": sequence,
            "ClientState": "", "Platform": "USSD"}


class TestHubtel(UssdAdapterContract):
    carrier_id = "hubtel"
    carrier_table = f"""
adapter = "hubtel"
country = "GH"
webhook_token = "{TOKEN}"
"""
    token = TOKEN
    required_fields = ("SessionId", "Type", "Mobile")
    sender_field = "Mobile"
    learner_wire = MOBILE
    learner_e164 = LEARNER

    def first_request(self, session_id, phone):
        return hubtel_request(session_id, phone, "Initiation", "*713#", 1)

    def next_request(self, session_id, phone, inputs):
        return hubtel_request(session_id, phone, "Response", inputs[-1], len(inputs) + 1)

    def drop_request(self, session_id, phone, inputs):
        # the learner stopped answering: Hubtel times the session out
        return hubtel_request(session_id, phone, "Timeout", "", len(inputs) + 2)

    def send(self, client, url, payload, **kwargs):
        return client.post(url, json=payload, **kwargs)

    def read(self, response):
        assert response.content_type == "application/json; charset=utf-8"
        body = response.get_json()
        assert body["Type"] in ("Response", "Release"), body
        assert isinstance(body["Message"], str)
        return body["Message"], body["Type"] == "Release"

    @staticmethod
    def send_raw(client, url, body, content_type):
        return client.post(url, data=body, content_type=content_type)

    # -- Hubtel specifics ------------------------------------------------------------------

    @pytest.mark.parametrize(("inputs", "kind", "data_type", "starts"), [
        ([], "Response", "input", "Learnline"),
        (["1"], "Response", "input", "Lesson 1/6, card 1/"),
        # Hubtel's ServiceCode is "713": the learner is told what to dial, "*713#"
        (["0"], "Release", "display", "Goodbye! Dial *713# to continue"),
    ])
    def test_response_fields_and_types(self, client, inputs, kind, data_type, starts):
        response = self.post(client, self.carrier_id, self.first_request(SESSION, MOBILE))
        for n, choice in enumerate(inputs, 2):
            response = self.post(client, self.carrier_id,
                                 hubtel_request(SESSION, MOBILE, "Response", choice, n))
        assert response.status_code == 200
        assert response.content_type == "application/json; charset=utf-8"
        body = response.get_json()
        assert set(body) >= {"SessionId", "Type", "Message", "Label", "ClientState",
                             "DataType", "FieldType"}
        assert body["SessionId"] == SESSION
        assert body["Type"] == kind
        assert body["DataType"] == data_type
        assert body["FieldType"] == "text"
        assert body["Label"] == "Learnline"
        assert isinstance(body["ClientState"], str)
        assert body["Message"].startswith(starts), body["Message"]

    def test_mobile_without_plus_is_stored_as_e164(self, client, store):
        response = self.post(client, self.carrier_id, self.first_request(SESSION, MOBILE))
        assert response.status_code == 200
        learner = store.learner(LEARNER)
        assert learner is not None and learner.carrier_id == "hubtel"
        assert store.ussd_session("hubtel", SESSION).phone == LEARNER
        assert [row["phone"] for row in store.db["learners"].rows] == [LEARNER]

    @pytest.mark.parametrize(("body", "content_type", "says"), [
        (b'{"Type": "Initiation", "Mobile": ', "application/json", "not JSON"),
        (b"Type=Initiation&Mobile=233200585542", "application/x-www-form-urlencoded",
         "not JSON"),
        (b"\xff\xfe{}", "application/json", "not JSON"),
        (json.dumps([hubtel_request(SESSION, MOBILE, "Initiation", "*713#", 1)]).encode(),
         "application/json", "not a JSON object"),
        (b'"Initiation"', "application/json", "not a JSON object"),
        (json.dumps(hubtel_request(SESSION, MOBILE, "Restart", "*713#", 1)).encode(),
         "application/json", "'Type'"),
        (json.dumps(hubtel_request(SESSION, MOBILE, "", "*713#", 1)).encode(),
         "application/json", "'Type'"),
        (json.dumps(hubtel_request(SESSION, MOBILE, ["Initiation"], "*713#", 1)).encode(),
         "application/json", "'Type'"),
        (json.dumps(hubtel_request("", MOBILE, "Initiation", "*713#", 1)).encode(),
         "application/json", "'SessionId'"),
    ], ids=["truncated", "form", "not-utf8", "array", "string", "unknown-type", "empty-type",
            "list-type", "empty-session"])
    def test_bodies_that_are_not_a_hubtel_request(self, client, store, body, content_type,
                                                  says):
        before = stored(store)
        response = self.send_raw(client, self.url(), body, content_type)
        self.assert_refused(response, 400, store, before)
        assert says in response.get_data(as_text=True)

    @pytest.mark.parametrize("kind", ["Release", "Timeout"])
    def test_network_end_is_answered_with_release(self, client, store, kind):
        session = self.session(client)
        session.dial()
        session.press("1")
        response = self.post(client, self.carrier_id,
                             hubtel_request(session.session_id, MOBILE, kind, "", 3))
        ended_at = time.time()
        assert response.status_code == 200
        body = response.get_json()
        assert (body["Type"], body["DataType"]) == ("Release", "display")
        assert body["SessionId"] == session.session_id
        assert body["Message"].startswith("Goodbye! Dial *713# ")
        assert store.ussd_session("hubtel", session.session_id).expires_at <= ended_at

    def test_timeout_mid_lesson_then_a_new_dial_resumes_the_card(self, client):
        first = self.session(client)
        first.dial()
        first.press("1")
        card, _ = first.next_card()
        assert card.startswith("Lesson 1/6, card 2/")
        timeout = self.post(client, self.carrier_id,
                            hubtel_request(first.session_id, MOBILE, "Timeout", "", 4))
        assert timeout.get_json()["Type"] == "Release"

        response = self.post(client, self.carrier_id,
                             self.first_request("a1b2c3d4e5f60718293a4b5c6d7e8f90", MOBILE))
        body = response.get_json()
        assert body["Type"] == "Response"
        assert_resumed(body["Message"], card)

    def test_a_release_for_an_unknown_session_is_still_a_release(self, client, store):
        response = self.post(client, self.carrier_id,
                             hubtel_request("never-initiated", MOBILE, "Release", "", 2))
        assert response.status_code == 200
        assert response.get_json()["Type"] == "Release"
        assert store.ussd_session("hubtel", "never-initiated") is None

    @pytest.mark.parametrize("kind", ["Query", "Favorite", "query", "FAVORITE"])
    def test_request_types_not_served_get_a_valid_release(self, client, store, kind):
        """Hubtel also sends types a learning service has no use for (a query about the
        service, a learner adding it to favourites): they get a well-formed Hubtel answer
        that ends the exchange and names the code to dial, not an error."""
        before = stored(store)
        response = self.post(client, self.carrier_id,
                             hubtel_request("hubtel-" + kind, MOBILE, kind, "", 1))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert (body["Type"], body["DataType"], body["FieldType"]) == (
            "Release", "display", "text")
        assert body["SessionId"] == "hubtel-" + kind
        assert "Dial *713#" in body["Message"]
        assert stored(store) == before

    def test_a_type_hubtel_never_sends_is_still_refused(self, client, store):
        response = self.post(client, self.carrier_id,
                             hubtel_request("hubtel-odd", MOBILE, "Shout", "", 1))
        assert response.status_code == 400 and "'Type'" in response.get_data(as_text=True)

    @pytest.mark.parametrize(("service_code", "dial"), [
        ("713", "*713#"), ("*713#", "*713#"), ("713*4", "*713*4#"), ("713#", "*713#"),
    ])
    def test_goodbye_names_the_code_as_the_learner_dials_it(self, client, service_code,
                                                            dial):
        request = self.first_request(SESSION, MOBILE)
        self.post(client, self.carrier_id, {**request, "ServiceCode": service_code})
        response = self.post(client, self.carrier_id,
                             {**hubtel_request(SESSION, MOBILE, "Response", "0", 2),
                              "ServiceCode": service_code})
        body = response.get_json()
        assert body["Type"] == "Release"
        assert body["Message"] == f"Goodbye! Dial {dial} to continue where you left off."

    def test_a_retried_request_is_not_taken_for_a_second_press(self, client):
        """Hubtel numbers its requests: the same Sequence again is a retry, not a new choice."""
        def post(kind, message, sequence):
            payload = hubtel_request(SESSION, MOBILE, kind, message, sequence)
            return self.post(client, self.carrier_id, payload).get_json()["Message"]

        post("Initiation", "*713#", 1)
        first = post("Response", "1", 2)
        assert "card 1/3" in first  # the SMS edition: three short cards
        assert post("Response", "1", 2) == first
        assert post("Response", "1", 3) != first

    @pytest.mark.parametrize("sequence", ["9" * 4301, 2**70, -(2**70)])
    def test_a_counter_no_database_holds_is_no_counter(self, client, sequence):
        """4,301 digits (more than Python reads) or over 2**63: answered as a request
        without a counter, never a 500."""
        self.post(client, self.carrier_id, self.first_request(SESSION, MOBILE))
        answer = self.post(client, self.carrier_id,
                           hubtel_request(SESSION, MOBILE, "Response", "1", sequence))
        assert answer.status_code == 200
        assert "card 1/3" in answer.get_json()["Message"]

    def test_a_repeated_initiation_shows_the_same_screen(self, client):
        first = self.post(client, self.carrier_id, self.first_request(SESSION, MOBILE))
        again = self.post(client, self.carrier_id, self.first_request(SESSION, MOBILE))
        assert again.get_json()["Message"] == first.get_json()["Message"]

