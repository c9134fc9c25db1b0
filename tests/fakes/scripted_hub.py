"""A loopback server standing in for a hub that answers wrongly: each request to the sync
paths gets the next scripted answer (status, headers, body bytes) as it is, whatever the
protocol says, so that an edge's handling of a broken hub, a captive portal or a proxy's
error page can be tested. Unscripted requests get a well-formed empty answer."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from tests.fakes.loopback import LoopbackServer, QuietHandler


@dataclass
class Answer:
    """One answer, sent byte for byte."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type":
                                                             "application/json"})


class ScriptedHub(LoopbackServer):
    """Answers `POST/GET /sync/v1/events` and `GET /sync/v1/pack` from a script; notes each
    request's method and path."""

    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        super().__init__()

    def answer_next(self, status: int, body: bytes, **headers: str) -> None:
        """Answer the next request with exactly this (headers as keyword arguments,
        underscores for dashes)."""
        sent = {"Content-Type": "application/json"}
        sent.update({name.replace("_", "-"): value for name, value in headers.items()})
        self.script.append(Answer(status, body, sent))

    def _handler(self):
        hub = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hub._lock:
                    hub.requests.append((self.command, self.path))
                    answer = hub.script.popleft() if hub.script else None
                if answer is None:
                    if self.path.startswith("/sync/v1/pack"):
                        answer = Answer(404, b'{"error": "no pack"}')
                    elif self.command == "GET":
                        answer = Answer(200, b'{"events": [], "next": 0, "more": false}')
                    else:
                        answer = Answer(200, b'{"acknowledged": 0, "rejected": []}')
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = _answer

        return Handler
