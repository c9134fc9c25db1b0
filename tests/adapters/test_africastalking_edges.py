"""Africa's Talking at its edges: a premium short code missing what it must have refused
at start-up naming the key; a USSD-only carrier (no username or API key) that is asked
to send an SMS or to prove its credentials fails without retrying and says why; a
carrier without a sender lets the account's default stand; empty ids are a 400."""

from __future__ import annotations

import dataclasses

import pytest

from carrier_adapters import SendError
from carrier_adapters.africastalking import AfricasTalkingAdapter
from gateway import create_app
from gateway.config import ConfigError, load_carriers
from tests.adapters.test_africastalking_sms import (
    API_KEY,
    LEARNER,
    TOKEN,
    USERNAME,
    premium_carriers,
    settings,
)
from tests.fakes.aggregator import FakeAggregator


@pytest.fixture
def at_api():
    with FakeAggregator(API_KEY, USERNAME) as api:
        yield api


@pytest.mark.parametrize(("remove", "key"), [
    ('username = "learnline"\n', "username"),
    ('api_key = "atsk_0123456789abcdef0123456789abcdef"\n', "api_key"),
    ('sender = "21525"\n', "sender"),
])
def test_a_premium_carrier_without_what_it_sends_with_is_refused(tmp_path, at_api, remove,
                                                                 key):
    text = premium_carriers(at_api)
    assert remove in text
    path = tmp_path / "premium.toml"
    path.write_text(text.replace(remove, ""))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path)
    message = str(caught.value)
    assert str(path) in message and "carrier 'at-ke'" in message and f"key '{key}'" in message


def test_a_ussd_only_carrier_asked_to_send_an_sms_fails_saying_why(at_api):
    adapter = AfricasTalkingAdapter(dataclasses.replace(settings(at_api), credentials={}))
    with pytest.raises(SendError) as caught:
        adapter.send(LEARNER, "Hello")
    assert (str(caught.value), caught.value.retry) == (
        "carrier has no username/api_key for SMS", False)
    with pytest.raises(SendError, match=r"^no username/api_key configured \(USSD needs none\)$"):
        adapter.check_credentials()
    assert at_api.attempts == []


def test_without_a_sender_the_accounts_default_sender_is_used(at_api):
    adapter = AfricasTalkingAdapter(dataclasses.replace(settings(at_api), sender=""))
    adapter.send(LEARNER, "Hello")
    [message] = at_api.messages
    assert "from" not in message["fields"] and message["text"] == "Hello"


def test_the_credential_check_reads_the_balance_and_names_a_refusal(at_api):
    assert AfricasTalkingAdapter(settings(at_api)).check_credentials() == \
        "balance KES 1785.5000"
    wrong = AfricasTalkingAdapter(settings(at_api, api_key="atsk_wrong"))
    with pytest.raises(SendError, match=r"^HTTP 401$"):
        wrong.check_credentials()


@pytest.mark.parametrize(("route", "form", "field"), [
    ("sms", {"from": LEARNER, "to": "21525", "text": "START", "id": "  "}, "id"),
    ("ussd", {"sessionId": " ", "serviceCode": "*384#", "phoneNumber": LEARNER, "text": ""},
     "sessionId"),
])
def test_an_empty_id_is_a_400_naming_the_field(tmp_path, db_path, route, form, field):
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(f'[carriers.at-ke]\nadapter = "africastalking"\ncountry = "KE"\n'
                        f'webhook_token = "{TOKEN}"\n')
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                         "TESTING": True}).test_client()
    answer = client.post(f"/carriers/at-ke/{route}?token={TOKEN}", data=form)
    assert answer.status_code == 400
    assert field in answer.get_data(as_text=True)
