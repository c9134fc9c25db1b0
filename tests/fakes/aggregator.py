"""A loopback HTTP server speaking two SMS aggregators' send APIs, for the generic adapter.

- `POST /version1/messaging`: Africa's Talking's SMS API. A form (`username`, `to`,
  `message`, optional `from`), the key in the `apiKey` header, `Accept:
  application/json`; answers 201 with Africa's Talking's documented
  `SMSMessageData` JSON (one entry in `Recipients` per number), or 401 with its
  plain-text "The supplied authentication is invalid" for a wrong key or username.
- `POST /v2/sms`: "Kilimo SMS", a made-up aggregator with nested JSON both ways:
  `{"sender": ..., "destination": {"msisdn": ...}, "content": {"body": ...},
  "callback": {"url": ..., "reference": ...}}` with `Authorization: Bearer <key>`;
  answers 202 `{"result": {"messages": [{"ref": "KLM-...", "state": "ACCEPTED"}]}}`.

Both record the messages they accept, and can be told to fail the next requests
with an HTTP status, hang past the client's timeout, or (Africa's Talking) refuse
the recipient inside a 201, as the real API does for a bad number.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

from tests.fakes.loopback import LoopbackServer, QuietHandler

AT_PATH = "/version1/messaging"
KILIMO_PATH = "/v2/sms"
AT_AUTH_FAILED = "The supplied authentication is invalid"


@dataclass
class Behaviour:
    """What the fake does with one request: accept it, answer an HTTP error, refuse the
    recipient (Africa's Talking's per-recipient status), or wait first."""

    kind: str = "ok"  # ok | http | recipient | raw
    status: int = 201
    recipient_status: str = ""
    status_code: int = 0
    delay: float = 0.0
    body: str = ""
    content_type: str = "application/json"


class FakeAggregator(LoopbackServer):
    """Africa's Talking's and Kilimo's send APIs on 127.0.0.1."""

    def __init__(self, api_key: str, username: str = "learnline"):
        self.api_key = api_key
        self.username = username
        self.messages: list[dict] = []  # accepted: {"to", "text", "from", "id", "fields"}
        self.attempts: list[dict] = []  # every request that reached the API
        self.headers: list[dict[str, str]] = []  # their headers, in order
        self.script: deque[Behaviour] = deque()
        self.received = threading.Event()
        self._lock = threading.Lock()
        self._ids = iter(range(1, 1_000_000))
        super().__init__()

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with this HTTP status."""
        for _ in range(times):
            self.script.append(Behaviour("http", status))

    def refuse_next(self, recipient_status: str, status_code: int) -> None:
        """Answer the next request 201 with the recipient refused, e.g. InvalidPhoneNumber
        (403), UserInBlacklist (406), InsufficientBalance (405)."""
        self.script.append(Behaviour("recipient", 201, recipient_status, status_code))

    def answer_next(self, status: int, body: str,
                    content_type: str = "application/json") -> None:
        """Answer the next request with exactly this (an API changed under us)."""
        self.script.append(Behaviour("raw", status, body=body, content_type=content_type))

    def hang_next(self, seconds: float) -> None:
        """Hold the next request for `seconds` (after recording it), then accept it."""
        self.script.append(Behaviour("ok", delay=seconds))

    def texts_to(self, phone: str) -> list[str]:
        """The texts of the accepted messages to one number, in order."""
        return [m["text"] for m in self.messages if m["to"] == phone]

    def _next(self, attempt: dict, headers: dict[str, str]) -> Behaviour:
        with self._lock:
            self.attempts.append(attempt)
            self.headers.append(headers)
            behaviour = self.script.popleft() if self.script else Behaviour()
        self.received.set()
        if behaviour.delay:
            time.sleep(behaviour.delay)
        return behaviour

    def _accept(self, to: str, text: str, sender: str | None, fields: dict,
                prefix: str = "ATXid_") -> str:
        with self._lock:
            message_id = f"{prefix}{next(self._ids):08d}{uuid.uuid4().hex[:8]}"
            self.messages.append({"to": to, "text": text, "from": sender, "id": message_id,
                                  "fields": fields})
        return message_id

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status: int, payload: dict) -> None:
                self._send(status, json.dumps(payload), "application/json")

            def _read(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self):
                """Africa's Talking's user data (`GET /version1/user?username=`): the
                balance, which proves the key without sending anything."""
                if not self.path.startswith("/version1/user?"):
                    return self._send(404, "Not Found", "text/plain")
                username = parse_qs(self.path.split("?", 1)[1]).get("username", [""])[0]
                if self.headers.get("apiKey") != api.api_key or username != api.username:
                    return self._send(401, AT_AUTH_FAILED, "text/plain")
                self._json(200, {"UserData": {"balance": "KES 1785.5000"}})

            def do_POST(self):
                if self.path == AT_PATH:
                    return self._africastalking()
                if self.path == KILIMO_PATH:
                    return self._kilimo()
                return self._send(404, "Not Found", "text/plain")

            def _africastalking(self):
                form = {k: v[0] for k, v in parse_qs(self._read().decode(),
                                                     keep_blank_values=True).items()}
                behaviour = api._next(form, dict(self.headers))
                if (self.headers.get("apiKey") != api.api_key
                        or form.get("username") != api.username):
                    return self._send(401, AT_AUTH_FAILED, "text/plain")
                if behaviour.kind == "http":
                    return self._send(behaviour.status, "Error", "text/plain")
                if behaviour.kind == "raw":
                    return self._send(behaviour.status, behaviour.body, behaviour.content_type)
                if "application/json" not in (self.headers.get("Accept") or ""):
                    return self._send(406, "Accept: application/json, please", "text/plain")
                if not form.get("to") or not form.get("message"):
                    return self._send(400, "Request is missing required form field 'to' "
                                      "or 'message'", "text/plain")
                recipients = []
                for number in form["to"].split(","):
                    if behaviour.kind == "recipient":
                        recipients.append({"statusCode": behaviour.status_code,
                                           "number": number, "status":
                                           behaviour.recipient_status, "cost": "0",
                                           "messageId": "None"})
                        continue
                    message_id = api._accept(number, form["message"], form.get("from"), form)
                    recipients.append({"statusCode": 101, "number": number,
                                       "status": "Success", "cost": "KES 0.8000",
                                       "messageId": message_id})
                sent = sum(1 for r in recipients if r["statusCode"] == 101)
                self._json(201, {"SMSMessageData": {
                    "Message": f"Sent to {sent}/{len(recipients)} Total Cost: "
                               f"KES {0.8 * sent:.4f}",
                    "Recipients": recipients,
                }})

            def _kilimo(self):
                try:
                    body = json.loads(self._read())
                except ValueError:
                    return self._json(400, {"error": {"code": "BAD_JSON"}})
                behaviour = api._next(body, dict(self.headers))
                if self.headers.get("Authorization") != f"Bearer {api.api_key}":
                    return self._json(401, {"error": {"code": "UNAUTHORIZED"}})
                if behaviour.kind == "http":
                    return self._json(behaviour.status, {"error": {"code": "UNAVAILABLE"}})
                if "application/json" not in (self.headers.get("Content-Type") or ""):
                    return self._json(415, {"error": {"code": "JSON_ONLY"}})
                try:
                    to = body["destination"]["msisdn"]
                    text = body["content"]["body"]
                except (KeyError, TypeError):
                    return self._json(422, {"error": {"code": "MISSING_FIELD"}})
                ref = api._accept(to, text, body.get("sender"), body, prefix="KLM-")
                self._json(202, {"result": {"messages": [{"ref": ref, "state": "ACCEPTED"}]}})

        return Handler
