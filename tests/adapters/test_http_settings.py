"""More of the generic HTTP adapter's start-up checks (docs/carriers.md, "The generic HTTP
adapter"): each mistake an operator can make in its tables stops the gateway with one
message naming file, carrier and key; and the body shapes it accepts (lists of values in
a form, lists and tables in JSON) go out as written."""

from __future__ import annotations

import json

import pytest

from carrier_adapters.http import HttpAdapter
from gateway.config import ConfigError, load_carriers
from tests.adapters.test_http import MINIMAL, write_carriers
from tests.fakes.loopback import LoopbackServer, QuietHandler

BAD = [
    # (case, replace this, with this, key named, words of the problem)
    ("inbound field with spaces", 'from = "from"\n', 'from = " from"\n', "inbound.from",
     "has spaces around it"),
    ("inbound field not a string", 'from = "from"\n', "from = 7\n", "inbound.from",
     "must be a field name"),
    ("inbound not a table", '[carriers.local.inbound]\nfrom = "from"\ntext = "text"\n',
     'inbound = ["from", "text"]\n', "inbound", "must be a table"),
    ("accepted_when without values", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\naccepted_when = { path = "ok", values = [] }\n',
     "outbound.accepted_when.values", "non-empty list"),
    ("accepted_when with true", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\n'
     'accepted_when = { path = "ok", values = [true] }\n',
     "outbound.accepted_when.values", "non-empty list"),
    ("form list holding a table", 'to = "{to}"', 'to = ["{to}", { n = 1 }]',
     "outbound.body.to", "a form field is a value or a list of values"),
    ("status map not a table", "[carriers.local.outbound]",
     '[carriers.local.status]\nid = "id"\nstatus = "stat"\nmap = "DELIVRD"\n'
     "[carriers.local.outbound]", "status.map", "must be a table"),
    ("status map twice in other case", "[carriers.local.outbound]",
     '[carriers.local.status]\nid = "id"\nstatus = "stat"\n'
     'map = { DELIVRD = "delivered", delivrd = "delivered" }\n[carriers.local.outbound]',
     "status.map.delivrd", "given twice"),
    ("opted_out not a list", "[carriers.local.outbound]",
     '[carriers.local.status]\nid = "id"\nstatus = "stat"\nerror = "err"\n'
     'opted_out = "BLIST"\n[carriers.local.outbound]', "status.opted_out",
     "must be a list of error values"),
    ("outbound url empty", 'url = "https://sms.example.org/send"\n', 'url = ""\n',
     "outbound.url", "must be a URL"),
    ("outbound body not a table", 'body = { to = "{to}", text = "{text}", ref = "{message_id}" }',
     'body = "to={to}&text={text}"', "outbound.body", "must be a table of fields"),
    ("outbound headers not strings", 'url = "https://sms.example.org/send"\n',
     'url = "https://sms.example.org/send"\nheaders = { "X-Retries" = 3 }\n',
     "outbound.headers", "must be a table of strings"),
    ("no outbound table", '[carriers.local.outbound]\nurl = "https://sms.example.org/send"\n'
     'body = { to = "{to}", text = "{text}", ref = "{message_id}" }\n', "", "outbound", ""),
]


@pytest.mark.parametrize(("old", "new", "key", "problem"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_a_mistake_in_the_http_tables_is_refused_naming_file_carrier_and_key(
        tmp_path, old, new, key, problem):
    assert old in MINIMAL
    path = write_carriers(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message and "carrier 'local'" in message
    assert f"key '{key}'" in message
    assert problem in message


class RecordingApi(LoopbackServer):
    """Accepts every POST; keeps its body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        super().__init__()

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            def do_POST(self):
                api.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_json(200, {"id": "m-1"})

        return Handler


def test_list_fields_go_out_as_repeated_form_fields_and_as_json_lists(tmp_path):
    with RecordingApi() as api:
        form = MINIMAL.replace('url = "https://sms.example.org/send"',
                               f'url = "{api.url}/send"').replace(
            'to = "{to}"', 'to = ["{to}", "+254700000001"]')
        adapter = HttpAdapter(load_carriers(write_carriers(tmp_path, form), env={})["local"])
        adapter.send("+254711000001", "Hello")
        as_json = MINIMAL.replace('url = "https://sms.example.org/send"',
                                  f'url = "{api.url}/send"\nformat = "json"').replace(
            'to = "{to}"', 'to = [{ msisdn = "{to}" }, { msisdn = "+254700000001" }]')
        adapter = HttpAdapter(load_carriers(write_carriers(tmp_path, as_json), env={})["local"])
        adapter.send("+254711000001", "Hello")
    assert api.bodies[0].decode().startswith(
        "to=%2B254711000001&to=%2B254700000001&text=Hello&ref=")
    sent = json.loads(api.bodies[1])
    assert sent["to"] == [{"msisdn": "+254711000001"}, {"msisdn": "+254700000001"}]
    assert sent["text"] == "Hello"
