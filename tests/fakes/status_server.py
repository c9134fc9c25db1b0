"""A loopback HTTP server that answers every request with one status (or never answers),
standing in for any carrier API in the shared retry-or-fail tests. OAuth2 token requests
(Orange) get a token, so the send itself meets the status."""

from __future__ import annotations

import json
import time

from tests.fakes.loopback import LoopbackServer, QuietHandler


class StatusServer(LoopbackServer):
    """Every request gets `status` (with a small JSON body), or hangs `hang` seconds."""

    def __init__(self, status: int = 500, hang: float = 0.0):
        self.status, self.hang = status, hang
        self.requests = 0
        super().__init__()

    def _handler(self):
        server = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/oauth/v3/token"):
                    body, status = {"token_type": "Bearer", "access_token": "t",
                                    "expires_in": "3600"}, 200
                else:
                    server.requests += 1
                    if server.hang:
                        time.sleep(server.hang)
                    body, status = {"code": server.status, "message": "test answer",
                                    "status": server.status}, server.status
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            do_GET = do_POST = _answer

        return Handler
