"""What every stand-in carrier API shares: a threaded HTTP server on 127.0.0.1, a base
URL, start and stop as a context manager, and JSON answers."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer:
    """A stand-in API on a free loopback port; subclasses give `_handler()` a handler class."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = self._handle_error
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out on purpose has hung up: answering it raises
        # BrokenPipeError, which is not a server fault. Report every other error.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        socketserver.BaseServer.handle_error(self._server, request, client_address)

    @property
    def url(self) -> str:
        """The base URL to configure as the carrier's api_base_url."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps test output quiet and answers JSON."""

    def log_message(self, *args: Any) -> None:
        pass

    def send_json(self, status: int, payload: Any) -> None:
        """Answer `payload` as JSON with its Content-Length."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
