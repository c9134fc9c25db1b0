"""A loopback HTTP server speaking Orange's SMS API: the OAuth2 token endpoint and the
outbound SMS requests endpoint, with their documented answers and error bodies."""

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

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            _reply = QuietHandler.send_json

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
                self._reply(201, {"outboundSMSMessageRequest": {**request,
                                                                "resourceURL": resource}})

        return Handler
