"""A loopback HTTP server that answers every request with one status (or never answers),
standing in for any carrier API in the shared retry-or-fail tests. OAuth2 token requests
(Orange) get a token, so the send itself meets the status."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StatusServer:
    """Every request gets `status` (with a small JSON body), or hangs `hang` seconds."""

    def __init__(self, status: int = 500, hang: float = 0.0):
        self.status, self.hang = status, hang
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

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
