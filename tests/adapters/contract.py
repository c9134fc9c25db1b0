"""The security and wire-handling contract every carrier adapter's tests inherit.

Like django-anymail's abstract webhook security tests: a subclass names its
carrier and says how to authenticate a request, what a real inbound message and
a real delivery report look like on its wire, and which fields are required;
every case below then runs against that carrier, through the real app, on a
real SQLite file (checked through the Store).

`AdapterContract` has no `Test` prefix so pytest does not collect it alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from gateway import create_app
from gateway.store import Store

RIGHT, WRONG, MISSING = "right", "wrong", "missing"
# A request made with the secret that replaced the configured one (see `rotate`).
ROTATED = "rotated"
ROTATED_SECRET = "rotated-secret-0123456789abcdef"
MAX_BODY = 64 * 1024


def secret_for(auth: str, right: str) -> str:
    """The secret a request carries: the configured one (RIGHT), the one that replaces it
    in a rotation (ROTATED), or one the carrier never had (WRONG)."""
    return {RIGHT: right, ROTATED: ROTATED_SECRET}.get(auth, "not-the-secret-0123456789")


def rotate(toml: str, carrier_id: str, key: str, *, keep_previous: bool) -> str:
    """The carriers file after an operator rotated one carrier's `key`: the new secret in
    `key`, and, while the carrier may still use the old one, the old value (as written,
    `${ENV}` and all) in `previous_<key>`."""
    lines = toml.splitlines(keepends=True)
    start = lines.index(f"[carriers.{carrier_id}]\n")
    for n in range(start + 1, len(lines)):
        if lines[n].startswith("["):
            break
        name, _, value = lines[n].partition("=")
        if name.strip() == key:
            lines[n] = f'{key} = "{ROTATED_SECRET}"\n'
            if keep_previous:
                lines[n] += f"previous_{key} = {value.strip()}\n"
            return "".join(lines)
    raise AssertionError(f"no {key} in [carriers.{carrier_id}]")


def sent_message(store: Store, carrier_id: str, phone: str, carrier_message_id: str,
                 body: str = "Lesson 1/6: Find a skill people pay for") -> int:
    """Put a message in the outbox as the worker leaves it after the carrier accepted it."""
    outbox_id = store.enqueue(carrier_id, phone, body)
    claimed = store.claim_due(carrier_id, lease_seconds=60)
    assert claimed is not None and claimed.id == outbox_id
    store.finish_send(outbox_id, "accepted", carrier_message_id=carrier_message_id)
    assert outbox_status(store, outbox_id) == "sent"
    return outbox_id


def outbox_status(store: Store, outbox_id: int) -> str:
    """The outbox state of one message."""
    return next(m.status for m in store.outbox() if m.id == outbox_id)


def stored_counts(store: Store) -> dict[str, int]:
    """How many rows a request could have left behind, table by table."""
    return {
        table: store.db[table].count
        for table in ("inbound", "outbox", "learners", "status_events")
    }


def assert_plain_error(response: Any) -> None:
    """An error answer is one short plain line: no stack trace, no HTML debugger page."""
    assert response.status_code >= 400
    text = response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain"), response.content_type
    assert "Traceback" not in text
    assert 'File "' not in text
    assert "<html" not in text.lower()
    assert len(text) < 300, text


class AdapterContract:
    """Cases every adapter must pass. Subclasses set the attributes and implement the hooks
    (inbound_payload, status_payload, authenticated, the `outbound` fixture)."""

    # -- what a subclass provides ----------------------------------------------------------
    carrier_id: ClassVar[str]
    # Form fields whose absence must be answered 400 naming the field.
    required_inbound_fields: ClassVar[tuple[str, ...]]
    required_status_fields: ClassVar[tuple[str, ...]]
    # The inbound field holding the learner's number.
    sender_field: ClassVar[str]
    # The key holding the secret the carrier's webhooks are authenticated with.
    rotated_key: ClassVar[str] = "webhook_token"
    # A learner's number in E.164, and one written nationally for the carrier's
    # country with the E.164 number it must be stored as.
    learner_e164: ClassVar[str]
    national_sender: ClassVar[str]
    national_e164: ClassVar[str]

    def inbound_payload(self, sender: str, text: str, message_id: str) -> dict[str, str]:
        """The carrier's real inbound-message form for this sender, text and message id."""
        raise NotImplementedError

    def status_payload(self, message_id: str) -> dict[str, str]:
        """The carrier's real 'delivered' report for one message it accepted from us."""
        raise NotImplementedError

    def wire_id(self, name: str) -> str:
        """The carrier's message id a test calls `name`, in the shape the carrier gives ids
        (a carrier checking that shape overrides this)."""
        return name

    @pytest.fixture
    def outbound(self):
        """(adapter, delivered): an adapter sending to a stand-in for the carrier, and a
        function listing the (to, body) pairs that stand-in received."""
        raise NotImplementedError

    def authenticated(self, path: str, params: dict[str, str],
                      auth: str) -> tuple[str, dict[str, str]]:
        """The URL (path and query) and headers of a request with RIGHT/WRONG/MISSING auth."""
        raise NotImplementedError

    # -- parametrisation from the subclass's attributes ----------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "inbound_field" in metafunc.fixturenames:
            metafunc.parametrize("inbound_field", self.required_inbound_fields)
        if "status_field" in metafunc.fixturenames:
            metafunc.parametrize("status_field", self.required_status_fields)

    # -- helpers -------------------------------------------------------------------------------

    def path(self, kind: str) -> str:
        return f"/carriers/{self.carrier_id}/{kind}"

    def deliver(self, client: Any, url: str, params: dict[str, Any],
                headers: dict[str, str]) -> Any:
        """Make the carrier's webhook request; a form POST unless the carrier says otherwise
        (JSON for Orange, GET with a query string for Kannel)."""
        return client.post(url, data=params, headers=headers)

    def post(self, client: Any, kind: str, params: dict[str, str], auth: str = RIGHT):
        """Call the carrier's webhook as the carrier does; any error answer must be plain."""
        url, headers = self.authenticated(self.path(kind), params, auth)
        response = self.deliver(client, url, params, headers)
        if response.status_code >= 400:
            assert_plain_error(response)
        return response

    # -- authentication: nothing is parsed or stored before it passes ------------------------

    @pytest.mark.parametrize(("auth", "expected"), [(MISSING, 403), (WRONG, 403), (RIGHT, 200)])
    def test_inbound_authentication(self, client, store, auth, expected):
        before = stored_counts(store)
        response = self.post(client, "sms",
                             self.inbound_payload(self.learner_e164, "START", "auth-1"), auth)
        assert response.status_code == expected
        after = stored_counts(store)
        if expected == 403:
            assert after == before
            assert store.learner(self.learner_e164) is None
        else:
            assert after["inbound"] == before["inbound"] + 1
            assert after["outbox"] > before["outbox"]

    @pytest.mark.parametrize("keep_previous", [True, False])
    def test_a_rotated_secret_leaves_the_previous_one_working_until_removed(
            self, carriers_file, db_path, store, keep_previous):
        """Rotating the secret: the carrier may go on with the old one while the new one is
        set on its side, as long as the old one is kept as `previous_<key>`."""
        path = carriers_file.with_name("rotated.toml")
        path.write_text(rotate(carriers_file.read_text(), self.carrier_id, self.rotated_key,
                               keep_previous=keep_previous))
        client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path),
                             "TESTING": True}).test_client()
        expected = {ROTATED: 200, RIGHT: 200 if keep_previous else 403, WRONG: 403,
                    MISSING: 403}
        for n, (auth, status) in enumerate(expected.items()):
            before = stored_counts(store)
            payload = self.inbound_payload(self.learner_e164, "START",
                                           self.wire_id(f"rotation-{n}"))
            assert self.post(client, "sms", payload, auth).status_code == status, auth
            grown = stored_counts(store)["inbound"] - before["inbound"]
            assert grown == (1 if status == 200 else 0), auth

    @pytest.mark.parametrize(("auth", "expected"), [(MISSING, 403), (WRONG, 403), (RIGHT, 200)])
    def test_status_authentication(self, client, store, auth, expected):
        outbox_id = sent_message(store, self.carrier_id, self.learner_e164,
                                 self.wire_id("msg-auth-1"))
        response = self.post(client, "status", self.status_payload(self.wire_id("msg-auth-1")),
                             auth)
        assert response.status_code == expected
        if expected == 403:
            assert outbox_status(store, outbox_id) == "sent"
            assert store.db["status_events"].count == 0
        else:
            assert outbox_status(store, outbox_id) == "delivered"
            assert store.db["status_events"].count == 1

    # -- payload checks ------------------------------------------------------------------------

    def test_inbound_missing_required_field(self, client, store, inbound_field):
        params = self.inbound_payload(self.learner_e164, "START", "missing-1")
        del params[inbound_field]
        before = stored_counts(store)
        response = self.post(client, "sms", params)
        assert response.status_code == 400
        assert f"'{inbound_field}'" in response.get_data(as_text=True)
        assert stored_counts(store) == before

    def test_status_missing_required_field(self, client, store, status_field):
        outbox_id = sent_message(store, self.carrier_id, self.learner_e164,
                                 self.wire_id("msg-missing-1"))
        params = self.status_payload(self.wire_id("msg-missing-1"))
        del params[status_field]
        response = self.post(client, "status", params)
        assert response.status_code == 400
        assert f"'{status_field}'" in response.get_data(as_text=True)
        assert outbox_status(store, outbox_id) == "sent"
        assert store.db["status_events"].count == 0

    def test_sender_that_is_not_a_phone_number(self, client, store):
        before = stored_counts(store)
        response = self.post(client, "sms", self.inbound_payload("Learnline", "START", "nan-1"))
        assert response.status_code == 400
        assert f"'{self.sender_field}'" in response.get_data(as_text=True)
        assert stored_counts(store) == before

    def test_oversized_body_is_refused(self, client, store):
        params = self.inbound_payload(self.learner_e164, "x" * (MAX_BODY + 1), "big-1")
        before = stored_counts(store)
        response = self.post(client, "sms", params)
        assert response.status_code == 413
        assert stored_counts(store) == before

    @pytest.mark.parametrize("kind", ["sms", "status"])
    def test_get_is_not_allowed(self, client, kind):
        url, headers = self.authenticated(self.path(kind), {}, RIGHT)
        response = client.get(url, headers=headers)
        assert response.status_code == 405
        assert_plain_error(response)

    def test_database_down_is_a_plain_503(self, app, client, store, tmp_path, caplog):
        app.config["DATABASE"] = str(tmp_path / "no-such-dir" / "learnline.db")
        response = self.post(client, "sms",
                             self.inbound_payload(self.learner_e164, "START", "down-1"))
        assert response.status_code == 503  # the carrier retries later
        assert response.headers["Retry-After"] == "5"
        assert response.text == "503 Service Unavailable: try again shortly\n"
        assert "database unavailable: unable to open database file" in caplog.text
        assert store.db["inbound"].count == 0

    # -- storing and processing ------------------------------------------------------------

    def test_inbound_is_stored_once_and_a_replay_does_nothing_new(self, client, store):
        params = self.inbound_payload(self.learner_e164, "START", "replay-1")
        first = self.post(client, "sms", params)
        assert first.status_code == 200
        rows = list(store.db["inbound"].rows)
        assert [(r["carrier_message_id"], r["phone"], r["text"], r["status"]) for r in rows] == [
            (self.wire_id("replay-1"), self.learner_e164, "START", "processed")
        ]
        outbox = store.outbox(self.learner_e164)
        assert outbox, "START must queue the first lesson"

        replay = self.post(client, "sms", params)
        assert replay.status_code == 200
        assert replay.get_data() == first.get_data()  # the carrier sees the same answer
        assert store.db["inbound"].count == 1
        assert store.outbox(self.learner_e164) == outbox

    def test_national_number_is_stored_as_e164(self, client, store):
        response = self.post(client, "sms",
                             self.inbound_payload(self.national_sender, "START", "nat-1"))
        assert response.status_code == 200
        [row] = store.db["inbound"].rows
        assert row["phone"] == self.national_e164
        learner = store.learner(self.national_e164)
        assert learner is not None and learner.carrier_id == self.carrier_id
        assert {m.phone for m in store.outbox()} == {self.national_e164}

    def test_status_moves_a_sent_message_to_delivered(self, client, store):
        outbox_id = sent_message(store, self.carrier_id, self.learner_e164,
                                 self.wire_id("msg-dlr-1"))
        response = self.post(client, "status", self.status_payload(self.wire_id("msg-dlr-1")))
        assert response.status_code == 200
        assert outbox_status(store, outbox_id) == "delivered"

    def test_status_for_unknown_message_is_recorded(self, client, store):
        response = self.post(client, "status",
                             self.status_payload(self.wire_id("never-sent-1")))
        assert response.status_code == 200
        [event] = store.db["status_events"].rows
        assert event["carrier_id"] == self.carrier_id
        assert event["carrier_message_id"] == self.wire_id("never-sent-1")
        assert event["outbox_id"] is None
        assert store.outbox() == []

    # -- sending ---------------------------------------------------------------------------

    def test_send_reaches_the_carrier_once_per_message(self, outbound):
        adapter, delivered = outbound
        lesson = "Leçon 1/6 : Trouver un savoir-faire qui paie. Répondez SUITE"
        first = adapter.send(self.learner_e164, lesson)
        second = adapter.send(self.learner_e164, "Reply NEXT")
        assert first.carrier_message_id
        assert second.carrier_message_id not in ("", first.carrier_message_id)
        assert delivered() == [(self.learner_e164, lesson), (self.learner_e164, "Reply NEXT")]

    # -- secrets -----------------------------------------------------------------------------

    def test_secrets_never_reach_the_logs(self, app, client, outbound, caplog):
        """Webhooks refused and accepted, and a send: no secret appears in any log line."""
        import logging

        caplog.set_level(logging.DEBUG)
        adapter, _ = outbound
        secrets = app.extensions["learnline.adapters"][self.carrier_id].secret_values()
        secrets += adapter.secret_values()
        assert secrets, "the carrier under test has no secret to look for"
        self.post(client, "sms", self.inbound_payload(self.learner_e164, "START", "log-1"),
                  WRONG)
        self.post(client, "sms", self.inbound_payload(self.learner_e164, "START", "log-2"))
        adapter.send(self.learner_e164, "Reply NEXT")
        assert caplog.records, "the gateway logged nothing at all"
        for secret in secrets:
            assert secret not in caplog.text
        assert "START" not in caplog.text  # nor a learner's message


class SendContract:
    """Retry-or-fail classification that every adapter sending over HTTP inherits: the
    worker retries what may succeed later and fails what never will. A subclass provides
    the `send_settings` fixture (its carrier's settings); the API address is replaced by
    a stand-in's. Each adapter's send goes through the one call path of the adapter base
    (`CarrierAdapter.call_api`): its timeout, its records, its redaction; the cases below
    show it by behaviour, adapter by adapter (an adapter's class is a row of the table).
    The subclass is an AdapterContract too (its `outbound` fixture: an accepted send)."""

    learner_e164: ClassVar[str]
    # The adapter under test (its registry name): every adapter that sends over HTTP has
    # a class here (tests/adapters/test_send_contract.py checks the registry).
    adapter_name: ClassVar[str]
    # Which refusals of the gateway's credentials (HTTP 401, 403, with an ordinary
    # answer) the carrier's adapter keeps and retries; it fails the others. Either way
    # the gateway reports them as credentials refused.
    retried_refusals: ClassVar[frozenset[int]] = frozenset({401, 403})

    @pytest.fixture
    def send_settings(self):
        """The carrier settings of the adapter under test."""
        raise NotImplementedError

    @staticmethod
    def adapter_for(settings: Any, base_url: str) -> Any:
        import dataclasses

        from carrier_adapters import ADAPTERS

        return ADAPTERS[settings.adapter](dataclasses.replace(settings, api_base_url=base_url))

    def _send(self, settings: Any, base_url: str) -> Any:
        from carrier_adapters import SendError

        with pytest.raises(SendError) as caught:
            self.adapter_for(settings, base_url).send(self.learner_e164, "Reply NEXT")
        return caught.value

    def test_the_settings_are_the_adapters(self, send_settings):
        assert send_settings.adapter == self.adapter_name

    @pytest.mark.parametrize(("status", "retry"), [
        (429, True), (500, True), (502, True), (503, True), (400, False), (404, False),
        (422, False),
    ])
    def test_http_answers_are_retried_or_failed(self, send_settings, status, retry):
        from tests.fakes.status_server import StatusServer

        with StatusServer(status) as server:
            error = self._send(send_settings, server.url)
            assert server.requests >= 1
        assert error.retry is retry, error.detail

    def test_a_refused_connection_is_retried(self, send_settings):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed once the block ends
        assert self._send(send_settings, f"http://127.0.0.1:{port}").retry

    def test_a_carrier_that_never_answers_is_retried(self, send_settings, monkeypatch):
        """The shared timeout (carrier_adapters.base) bounds every adapter's send."""
        import time

        import carrier_adapters.base
        from tests.fakes.status_server import StatusServer

        monkeypatch.setattr(carrier_adapters.base, "API_TIMEOUT_SECONDS", 0.3)
        with StatusServer(200, hang=3.0) as server:
            started = time.monotonic()
            error = self._send(send_settings, server.url)
            assert time.monotonic() - started < 2.5  # the send gave up, not the server
        assert error.retry

    @pytest.mark.parametrize("status", [401, 403])
    def test_refused_credentials_are_reported_as_such(self, send_settings, status):
        from tests.fakes.status_server import StatusServer

        with StatusServer(status) as server:
            error = self._send(send_settings, server.url)
        assert error.refuses_credentials, error.detail
        assert error.retry is (status in self.retried_refusals), error.detail
        assert not error.opted_out

    def test_too_many_requests_with_retry_after_is_retried(self, send_settings):
        from tests.fakes.status_server import StatusServer

        with StatusServer(429, headers={"Retry-After": "120"}) as server:
            error = self._send(send_settings, server.url)
        assert error.retry, error.detail
        assert not error.refuses_credentials and not error.opted_out

    def test_each_attempt_is_recorded_and_no_secret_reaches_a_record_or_an_error(
            self, send_settings, outbound, caplog):
        """A refused send, whose answer echoes the request (credentials and all), and an
        accepted one: each attempt leaves one record naming the carrier and the answer,
        and no secret reaches a log record or the error (which the worker logs and
        keeps)."""
        import logging
        import re

        from carrier_adapters import SendError
        from tests.fakes.status_server import TOKEN, StatusServer

        caplog.set_level(logging.DEBUG)
        with StatusServer(400, echo=True) as server:
            refused = self.adapter_for(send_settings, server.url)
            with pytest.raises(SendError) as caught:
                refused.send(self.learner_e164, "Reply NEXT")
        accepting, delivered = outbound
        accepting.send(self.learner_e164, "Reply NEXT")
        assert delivered() == [(self.learner_e164, "Reply NEXT")]

        carrier = send_settings.id
        records = [r.getMessage() for r in caplog.records if r.name == "carrier_adapters.api"]
        assert any(re.fullmatch(rf"carrier {re.escape(carrier)}: [A-Z]+ \S+: HTTP 400 in "
                                r"[0-9.]+s", r) for r in records), records
        assert any(re.fullmatch(rf"carrier {re.escape(accepting.settings.id)}: [A-Z]+ \S+: "
                                r"HTTP 20[0-2] in [0-9.]+s", r) for r in records), records
        secrets = {*refused.secret_values(), *accepting.secret_values(), TOKEN}
        secrets |= {part for value in server.credentials
                    for part in (value, value.partition(" ")[2]) if len(part) >= 8}
        assert server.credentials and secrets, "the requests carried no credentials"
        for secret in secrets:
            assert secret not in caplog.text, secret
            assert secret not in caught.value.detail, (secret, caught.value.detail)
