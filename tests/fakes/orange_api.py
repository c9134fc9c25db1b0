"""A loopback HTTP server speaking Orange's SMS API: the OAuth2 token endpoint, the
outbound SMS requests endpoint and delivery-receipt subscriptions, with their documented
answers and error bodies.

Subscriptions, as Orange documents them: `POST /smsmessaging/v1/outbound/{tel:+SENDER}/
subscriptions` with `{"deliveryReceiptSubscription": {"callbackReference": {"notifyURL"}}}`
answers 201 with the same object and its `resourceURL`
(`.../smsmessaging/v1/outbound/subscriptions/{id}`), which `GET` reads back (404 once
deleted or never made) and `DELETE` removes (204)."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from urllib.parse import parse_qs, unquote

from tests.fakes.loopback import LoopbackServer, QuietHandler

_OUTBOUND = re.compile(r"^/smsmessaging/v1/outbound/([^/]+)/requests$")
_SUBSCRIBE = re.compile(r"^/smsmessaging/v1/outbound/([^/]+)/subscriptions$")
_SUBSCRIPTION = re.compile(r"^/smsmessaging/v1/outbound/subscriptions/([^/]+)$")


class FakeOrangeApi(LoopbackServer):
    """Orange's token and SMS endpoints on 127.0.0.1, recording what they were sent."""

    def __init__(self, client_id: str, client_secret: str):
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens: list[str] = []  # every token handed out
        self.valid_tokens: set[str] = set()
        self.messages: list[dict] = []  # accepted outboundSMSMessageRequest bodies
        self.sender_paths: list[str] = []
        self.failures: deque[tuple[int, dict]] = deque()
        self.token_failures: deque[int] = deque()  # statuses for the next token requests
        self.expires_in = "3600"
        self.subscriptions: dict[str, dict] = {}  # id -> {"sender", "notifyURL"}
        self.resources: list[str] = []  # the resourceURL of every accepted SMS
        self._lock = threading.Lock()
        super().__init__()

    def revoke_tokens(self) -> None:
        """Every token handed out so far stops working (Orange answers 401)."""
        self.valid_tokens.clear()

    def fail_next(self, status: int, message_id: str = "", text: str = "",
                  kind: str = "serviceException") -> None:
        """Answer the next SMS request with an HTTP status and Orange's requestError."""
        body = {"requestError": {kind: {"messageId": message_id, "text": text,
                                        "variables": []}}} if message_id else {}
        self.failures.append((status, body))

    def subscription_body(self, subscription: str) -> dict:
        """A subscription as Orange answers it: its callbackReference and resourceURL."""
        found = self.subscriptions[subscription]
        return {"deliveryReceiptSubscription": {
            "callbackReference": {"notifyURL": found["notifyURL"]},
            "resourceURL": f"{self.url}/smsmessaging/v1/outbound/subscriptions/{subscription}"}}

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            _reply = QuietHandler.send_json

            def _authorized(self) -> bool:
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                return token in api.valid_tokens

            def do_GET(self):
                match = _SUBSCRIPTION.match(self.path)
                if not match:
                    return self._reply(404, {"code": 60, "message": "Resource not found"})
                if not self._authorized():
                    return self._reply(401, {"code": 42, "message": "Expired credentials"})
                found = api.subscriptions.get(match.group(1))
                if found is None:
                    return self._reply(404, {"requestError": {"serviceException": {
                        "messageId": "SVC0004", "text": "No valid subscription for %1",
                        "variables": [match.group(1)]}}})
                self._reply(200, api.subscription_body(match.group(1)))

            def do_DELETE(self):
                match = _SUBSCRIPTION.match(self.path)
                if not match or not self._authorized():
                    return self._reply(404 if not match else 401, {})
                api.subscriptions.pop(match.group(1), None)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _subscribe(self, sender: str, body: bytes):
                if not self._authorized():
                    return self._reply(401, {"code": 42, "message": "Expired credentials"})
                try:
                    reference = json.loads(body)["deliveryReceiptSubscription"][
                        "callbackReference"]
                    notify = reference["notifyURL"]
                except (ValueError, KeyError, TypeError):
                    return self._reply(400, {"requestError": {"serviceException": {
                        "messageId": "SVC0002", "text": "Invalid input value for %1",
                        "variables": ["deliveryReceiptSubscription"]}}})
                subscription = uuid.uuid4().hex
                with api._lock:
                    api.subscriptions[subscription] = {"sender": sender, "notifyURL": notify}
                self._reply(201, api.subscription_body(subscription))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                subscribe = _SUBSCRIBE.match(self.path)
                if subscribe:
                    return self._subscribe(unquote(subscribe.group(1)), body)
                if self.path == "/oauth/v3/token" and api.token_failures:
                    return self._reply(api.token_failures.popleft(), {"error": "server_error"})
                if self.path == "/oauth/v3/token":
                    expected = base64.b64encode(
                        f"{api.client_id}:{api.client_secret}".encode()).decode()
                    grant = parse_qs(body.decode()).get("grant_type", [""])[0]
                    if self.headers.get("Authorization") != f"Basic {expected}":
                        return self._reply(401, {"error": "invalid_client",
                                                 "error_description": "Invalid credentials"})
                    if grant != "client_credentials":
                        return self._reply(400, {"error": "unsupported_grant_type"})
                    token = uuid.uuid4().hex
                    with api._lock:
                        api.tokens.append(token)
                        api.valid_tokens.add(token)
                    return self._reply(200, {"token_type": "Bearer", "access_token": token,
                                             "expires_in": api.expires_in})
                match = _OUTBOUND.match(self.path)
                if not match:
                    return self._reply(404, {"code": 60, "message": "Resource not found"})
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in api.valid_tokens:
                    return self._reply(401, {"code": 42, "message": "Expired credentials"})
                with api._lock:
                    failure = api.failures.popleft() if api.failures else None
                if failure:
                    return self._reply(*failure)
                request = json.loads(body)["outboundSMSMessageRequest"]
                sender = unquote(match.group(1))
                if request.get("senderAddress") != sender:
                    return self._reply(400, {"requestError": {"serviceException": {
                        "messageId": "SVC0002", "text": "Invalid input value for %1",
                        "variables": ["senderAddress"]}}})
                with api._lock:
                    api.messages.append(request)
                    api.sender_paths.append(match.group(1))
                resource = f"{api.url}{self.path}/{uuid.uuid4().hex}"
                with api._lock:
                    api.resources.append(resource)
                self._reply(201, {"outboundSMSMessageRequest": {**request,
                                                                "resourceURL": resource}})

        return Handler
