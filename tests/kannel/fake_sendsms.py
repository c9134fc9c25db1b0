"""A loopback stand-in for Kannel smsbox's sendsms interface (/cgi-bin/sendsms).

smsbox takes a message two ways: GET with the fields in the query, or POST with the
text as the body (its charset in Content-Type) and the other fields in X-Kannel
headers (X-Kannel-Username, -Password, -From, -To, -Coding, -SMSC, -DLR-Mask,
-DLR-Url). Either way this keeps each request as smsbox's field names (`username`,
`password`, `from`, `to`, `text`, `coding`, `charset`, `smsc`, `dlr-mask`,
`dlr-url`) mapped to bytes, the text as it came (in the charset named), and answers
as smsbox does: `202 0: Accepted for delivery` by default, or whatever a test sets
in `answer`. Like smsbox 1.4.5, a POST that is not text/plain is `400 Invalid
content-type`.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_plus, unquote_to_bytes, urlsplit

ACCEPTED = (202, "0: Accepted for delivery")


def parse_raw_query(query: str) -> dict[str, bytes]:
    """Each field's first value as bytes (percent-decoded, '+' as space)."""
    fields: dict[str, bytes] = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            fields.setdefault(unquote_plus(name), unquote_to_bytes(value.replace("+", " ")))
    return fields


class FakeSendsms:
    """smsbox's sendsms on a free loopback port."""

    def __init__(self) -> None:
        self.requests: list[dict[str, bytes]] = []
        self.paths: list[str] = []
        self.methods: list[str] = []
        self.answer: tuple[int, str] = ACCEPTED
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.paths.append(parts.path)
                fake.methods.append("GET")
                fake.requests.append(parse_raw_query(parts.query))
                self._answer(*fake.answer)

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.paths.append(parts.path)
                fake.methods.append("POST")
                content_type = self.headers.get("Content-Type", "")
                if not content_type.startswith("text/plain"):
                    self._answer(400, "Invalid content-type")
                    return
                fields = {name.lower()[len("x-kannel-"):]: value.encode("latin-1")
                          for name, value in self.headers.items()
                          if name.lower().startswith("x-kannel-")}
                charset = content_type.partition("charset=")[2].strip() or "UTF-8"
                fields.update(text=body, charset=charset.encode())
                fake.requests.append(fields)
                self._answer(*fake.answer)

            def _answer(self, status: int, body: str) -> None:
                if fake.delay:
                    time.sleep(fake.delay)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html")  # as smsbox says
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> FakeSendsms:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def texts(self) -> list[tuple[str, str]]:
        """(to, text) of every request, the text decoded in the charset it names."""
        out = []
        for query in self.requests:
            charset = query.get("charset", b"UTF-8").decode()
            codec = "utf-16-be" if charset.upper() == "UTF-16BE" else "utf-8"
            out.append((query["to"].decode(), query["text"].decode(codec)))
        return out
