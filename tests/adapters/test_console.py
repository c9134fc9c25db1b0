"""The console carrier: the shared contract, its loopback-only default, and printing sends.

In the test carriers file the console carrier (country SN) authenticates by
the `token` query parameter; without a token or allow_ips it accepts loopback only.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from carrier_adapters import CarrierSettings
from carrier_adapters.console import ConsoleAdapter
from gateway import create_app
from gateway.store import Store
from tests.adapters.contract import (
    MISSING,
    RIGHT,
    AdapterContract,
    assert_plain_error,
    outbox_status,
    secret_for,
    sent_message,
    stored_counts,
)
from tests.conftest import CONSOLE_TOKEN

LEARNER = "+221770000000"


class TestConsole(AdapterContract):
    carrier_id = "console"
    required_inbound_fields = ("from", "text")
    required_status_fields = ("id", "status")
    sender_field = "from"
    learner_e164 = LEARNER
    national_sender = "77 000 00 00"
    national_e164 = LEARNER

    def inbound_payload(self, sender, text, message_id):
        return {"from": sender, "text": text, "id": message_id, "to": "Learnline"}

    def status_payload(self, message_id):
        return {"id": message_id, "status": "delivered"}

    def authenticated(self, path, params, auth):
        if auth == MISSING:
            return path, {}
        token = secret_for(auth, CONSOLE_TOKEN)
        return f"{path}?token={token}", {}

    @pytest.fixture
    def outbound(self):
        output = io.StringIO()
        adapter = ConsoleAdapter(CarrierSettings(id="console", adapter="console"), output)

        def delivered():
            blocks = output.getvalue().split("\n[to ")[1:]
            return [tuple(block.rstrip("\n").split("]\n", 1)) for block in blocks]

        return adapter, delivered

    # -- console specifics -----------------------------------------------------------------

    def test_send_prints_to_its_output_stream(self):
        output = io.StringIO()
        adapter = ConsoleAdapter(CarrierSettings(id="console", adapter="console"), output)
        result = adapter.send(LEARNER, "Leçon 1/6\nRépondez SUITE")
        assert output.getvalue() == f"\n[to {LEARNER}]\nLeçon 1/6\nRépondez SUITE\n"
        assert result.carrier_message_id.startswith("console-")

    def test_message_without_id_is_still_taken(self, client, store):
        url, _ = self.authenticated(self.path("sms"), {}, RIGHT)
        response = client.post(url, data={"from": LEARNER, "text": "START"})
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert row["carrier_message_id"]
        assert store.outbox(LEARNER)

    @pytest.mark.parametrize("status", ["queued", "sending", "sent", "delivered",
                                        "undelivered", "failed"])
    def test_normalized_statuses(self, client, store, status):
        outbox_id = sent_message(store, "console", LEARNER, "console-abc")
        response = self.post(client, "status", {"id": "console-abc", "status": status})
        assert response.status_code == 200
        expected = status if status in ("delivered", "undelivered", "failed") else "sent"
        assert outbox_status(store, outbox_id) == expected

    def test_unknown_status_value_is_refused(self, client, store):
        outbox_id = sent_message(store, "console", LEARNER, "console-abc")
        response = self.post(client, "status",
                             {"id": "console-abc", "status": "DeliveredToTerminal"})
        assert response.status_code == 400
        assert "'status'" in response.get_data(as_text=True)
        assert outbox_status(store, outbox_id) == "sent"


def console_client(tmp_path: Path, db_path: Path, table: str):
    """A test client of the gateway with one console carrier configured by `table`."""
    carriers = tmp_path / "console-only.toml"
    carriers.write_text(f'[carriers.console]\nadapter = "console"\ncountry = "SN"\n{table}')
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers)}).test_client()


@pytest.mark.parametrize(("table", "remote_addr", "query", "expected"), [
    # neither token nor allow_ips: loopback only
    ("", "127.0.0.1", "", 200),
    ("", "::1", "", 200),
    ("", "127.0.0.53", "", 200),
    ("", "10.0.0.5", "", 403),
    ("", "41.58.12.7", "", 403),
    # allow_ips replaces the loopback default
    ('allow_ips = ["10.1.0.0/16"]\n', "10.1.2.3", "", 200),
    ('allow_ips = ["10.1.0.0/16"]\n', "127.0.0.1", "", 403),
    # a token alone: any address with the token
    (f'webhook_token = "{CONSOLE_TOKEN}"\n', "41.58.12.7", f"?token={CONSOLE_TOKEN}", 200),
    (f'webhook_token = "{CONSOLE_TOKEN}"\n', "127.0.0.1", "", 403),
    # both: both must pass
    (f'webhook_token = "{CONSOLE_TOKEN}"\nallow_ips = ["10.1.0.0/16"]\n', "10.1.2.3",
     f"?token={CONSOLE_TOKEN}", 200),
    (f'webhook_token = "{CONSOLE_TOKEN}"\nallow_ips = ["10.1.0.0/16"]\n', "41.58.12.7",
     f"?token={CONSOLE_TOKEN}", 403),
    (f'webhook_token = "{CONSOLE_TOKEN}"\nallow_ips = ["10.1.0.0/16"]\n', "10.1.2.3", "", 403),
])
def test_console_authentication_by_address_and_token(tmp_path, db_path, table, remote_addr,
                                                      query, expected):
    client = console_client(tmp_path, db_path, table)
    response = client.post(f"/carriers/console/sms{query}",
                           data={"from": LEARNER, "text": "START", "id": "c-1"},
                           environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == expected
    with Store.open(db_path) as store:
        counts = stored_counts(store)
    if expected == 403:
        assert_plain_error(response)
        assert (counts["inbound"], counts["outbox"]) == (0, 0)
    else:
        assert counts["inbound"] == 1 and counts["outbox"] > 0
