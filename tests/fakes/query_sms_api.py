"""A loopback SMS API that takes its fields in a GET query string and its credentials as
HTTP Basic auth, as many smaller aggregators' "HTTP API" does
(`GET /api/send?to=...&text=...&from=...`), for the generic adapter's `method = "GET"` and
`auth`. Answers 200 `{"status": "OK", "message": {"id": "Q-..."}}`, or 401 with a
`WWW-Authenticate` challenge for missing or wrong credentials."""

from __future__ import annotations

import base64
import itertools
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer, QuietHandler

SEND_PATH = "/api/send"


class QuerySmsApi(LoopbackServer):
    """Records every request (method, path, query fields, Authorization header, body)."""

    def __init__(self, username: str, password: str):
        self.username, self.password = username, password
        self.requests: list[dict] = []
        self.accepted: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        super().__init__()

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                fields = {k: v[0] for k, v in parse_qs(parts.query,
                                                       keep_blank_values=True).items()}
                authorization = self.headers.get("Authorization") or ""
                api.requests.append({"method": self.command, "path": parts.path,
                                     "fields": fields, "authorization": authorization,
                                     "body": body})
                if parts.path != SEND_PATH or self.command != "GET":
                    return self.send_json(404, {"status": "NOT_FOUND"})
                expected = base64.b64encode(
                    f"{api.username}:{api.password}".encode()).decode()
                if authorization != f"Basic {expected}":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="sms"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if not fields.get("to") or not fields.get("text"):
                    return self.send_json(400, {"status": "MISSING_FIELD"})
                message_id = f"Q-{next(api._ids):06d}"
                api.accepted.append({**fields, "id": message_id})
                return self.send_json(200, {"status": "OK", "message": {"id": message_id}})

            do_GET = do_POST = _answer

        return Handler
