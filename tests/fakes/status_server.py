"""A loopback HTTP server that answers every request with one status (or never answers),
standing in for any carrier API in the shared retry-or-fail tests. OAuth2 token requests
(Orange) get a token, so the send itself meets the status."""

from __future__ import annotations

import json
import time

from tests.fakes.loopback import LoopbackServer, QuietHandler

# The bearer token token requests get: a secret like any other, to be kept out of logs.
TOKEN = "status-server-bearer-token-5d1f0c2a9b7e"
# Headers every HTTP client sends, left out of an echo (the rest name the request's own).
_ORDINARY = {"host", "user-agent", "accept-encoding", "accept", "accept-charset",
             "connection", "content-length", "content-type"}


class StatusServer(LoopbackServer):
    """Every request gets `status` (with a small JSON body and `headers`), or hangs `hang`
    seconds. With `echo`, the body's message repeats the request's own headers and body,
    as some carriers' error answers do: whatever credentials the request carried."""

    def __init__(self, status: int = 500, hang: float = 0.0,
                 headers: dict[str, str] | None = None, echo: bool = False):
        self.status, self.hang = status, hang
        self.answer_headers, self.echo = headers or {}, echo
        self.requests = 0
        self.credentials: list[str] = []  # what the requests' headers said who they were
        super().__init__()

    def _handler(self):
        server = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                own = [(name, value) for name, value in self.headers.items()
                       if name.lower() not in _ORDINARY]
                server.credentials += [value for name, value in own
                                       if any(word in name.lower() for word in
                                              ("auth", "key", "password", "token"))]
                extra: dict[str, str] = {}
                if self.path.endswith("/oauth/v3/token"):
                    answer, status = {"token_type": "Bearer", "access_token": TOKEN,
                                      "expires_in": "3600"}, 200
                else:
                    server.requests += 1
                    if server.hang:
                        time.sleep(server.hang)
                    message = "test answer"
                    if server.echo:
                        message = "; ".join(f"{name}: {value}" for name, value in own)
                        message += " " + body.decode("utf-8", "replace")
                    answer, status = {"message": message, "code": server.status,
                                      "status": server.status}, server.status
                    extra = server.answer_headers
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            do_GET = do_POST = _answer

        return Handler
