"""A loopback HTTP server speaking Twilio's Messages API (2010-04-01), for tests.

It checks HTTP Basic auth like Twilio, requires `To`, `Body` and `From` or
`MessagingServiceSid`, answers 201 with Twilio's documented Message JSON, and
can be told to fail, stall or hang on the next requests.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs

from tests.fakes.loopback import LoopbackServer, QuietHandler

_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


@dataclass
class Behaviour:
    """What the fake does with one request: 'ok', 'error', or 'ok' after a delay."""

    kind: str = "ok"
    status: int = 201
    code: int | None = None
    message: str = ""
    delay: float = 0.0


class FakeTwilioApi(LoopbackServer):
    """Twilio's Messages API on 127.0.0.1, recording what it was sent."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict] = []  # accepted messages
        self.attempts: list[dict] = []  # every request that reached the API
        self.script: deque[Behaviour] = deque()
        self.received = threading.Event()
        self._lock = threading.Lock()
        super().__init__()

    def fail_next(self, status: int, code: int, message: str = "error", times: int = 1) -> None:
        """Answer the next `times` requests with a Twilio error."""
        for _ in range(times):
            self.script.append(Behaviour("error", status, code, message))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Hold the next `times` requests for `seconds` (after recording them), then accept."""
        for _ in range(times):
            self.script.append(Behaviour("ok", delay=seconds))

    def bodies_to(self, phone: str) -> list[str]:
        """Bodies of the accepted messages to one number, in order."""
        return [m["Body"] for m in self.messages if m["To"] == phone]

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            _reply = QuietHandler.send_json

            def _error(self, status: int, code: int, message: str) -> None:
                self._reply(status, {
                    "code": code, "message": message, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                })

            def do_GET(self):
                """The Accounts resource, as `learnline carriers check --live` fetches it."""
                expected = base64.b64encode(
                    f"{api.account_sid}:{api.auth_token}".encode()).decode()
                if self.path != f"/2010-04-01/Accounts/{api.account_sid}.json":
                    return self._error(404, 20404, "The requested resource was not found")
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._error(401, 20003, "Authenticate")
                self._reply(200, {"sid": api.account_sid, "friendly_name": "Learnline",
                                  "status": "active", "type": "Full",
                                  "date_created": formatdate(usegmt=True)})

            def do_POST(self):
                match = _PATH.match(self.path)
                if not match:
                    return self._error(404, 20404, "The requested resource was not found")
                expected = base64.b64encode(
                    f"{api.account_sid}:{api.auth_token}".encode()).decode()
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(),
                                                     keep_blank_values=True).items()}
                with api._lock:
                    api.attempts.append(form)
                if (self.headers.get("Authorization") != f"Basic {expected}"
                        or match.group(1) != api.account_sid):
                    api.received.set()
                    return self._error(401, 20003, "Authenticate")
                with api._lock:
                    behaviour = api.script.popleft() if api.script else Behaviour()
                api.received.set()
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.kind == "error":
                    return self._error(behaviour.status, behaviour.code or 20500,
                                       behaviour.message)
                if not form.get("To"):
                    return self._error(400, 21604, "A 'To' phone number is required.")
                if not form.get("Body"):
                    return self._error(400, 21602, "Message body is required.")
                if not (form.get("From") or form.get("MessagingServiceSid")):
                    return self._error(400, 21603, "A 'From' phone number is required.")
                sid = "SM" + uuid.uuid4().hex
                with api._lock:
                    api.messages.append({**form, "sid": sid, "accepted_at": time.time()})
                now = formatdate(usegmt=True)
                uri = f"/2010-04-01/Accounts/{api.account_sid}/Messages/{sid}"
                self._reply(201, {
                    "account_sid": api.account_sid, "api_version": "2010-04-01",
                    "body": form["Body"], "date_created": now, "date_sent": None,
                    "date_updated": now, "direction": "outbound-api", "error_code": None,
                    "error_message": None, "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "num_media": "0", "num_segments": "1", "price": None,
                    "price_unit": "USD", "sid": sid, "status": "queued",
                    "subresource_uris": {"media": f"{uri}/Media.json"},
                    "to": form["To"], "uri": f"{uri}.json",
                })

        return Handler
