"""Statements and bytes sent to the school's LRS per completed bundled course
(docs/integrations.md, Learning records). Not part of `bench/run`.

Learners take the bundled course through by SMS on the real path (`receive_inbound`: the SMS
channel, the engine, the events, over a scratch database), once with every answer right and
once with each question's first answer wrong; then the outbox worker's LRS delivery
(`gateway/outbox/lrs.py`, batches of 100 events) sends their statements to a stand-in LRS on
loopback that counts what it receives: statements, JSON bytes (the bodies), and bytes on
the wire (request line, headers and body, as the server reads them).

    python bench/lrs.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COURSE = "start-freelancing"


class _Counting(BaseHTTPRequestHandler):
    counts: ClassVar[dict[str, int]] = {"requests": 0, "statements": 0, "body": 0, "wire": 0}

    def do_POST(self) -> None:
        size = int(self.headers["Content-Length"])
        body = self.rfile.read(size)
        head = len(self.requestline) + 2 + len(str(self.headers)) + 2
        self.counts["requests"] += 1
        self.counts["statements"] += len(json.loads(body))
        self.counts["body"] += size
        self.counts["wire"] += head + size
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: object) -> None:
        pass


def take_course(store, carrier, phone: str, *, wrong_first: bool) -> None:
    """START, then NEXT and answers by SMS until the course is completed."""
    from gateway.channels.sms.conversation import receive_inbound

    sent = 0

    def text(body: str) -> None:
        nonlocal sent
        sent += 1
        receive_inbound(store, carrier, f"bench-{phone}-{sent}", phone, body)

    text("START")
    course = store.course(COURSE)
    tried: set[tuple[int, int]] = set()
    for _ in range(1000):
        enrollment = store.enrollment(phone, COURSE)
        if enrollment.completed:
            return
        if enrollment.quiz is not None and enrollment.quiz.queue:
            lesson = store.lesson(COURSE, course.lesson_ids[enrollment.position], "en")
            number = enrollment.quiz.queue[0]
            right = lesson.questions[number].answer
            first = (enrollment.position, number) not in tried
            tried.add((enrollment.position, number))
            choice = (right + 1) % len(lesson.questions[number].options) \
                if wrong_first and first else right
            text("ABCD"[choice])
        else:
            text("NEXT")
    raise SystemExit("the course never ended")


def main() -> None:
    from gateway.config import DEFAULT_CONSOLE
    from gateway.content.importer import import_courses
    from gateway.outbox.lrs import LrsDelivery, LrsSettings
    from gateway.store import Store
    from gateway.store import lrs as queue

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = LrsSettings(f"http://127.0.0.1:{server.server_port}/xAPI/", "school",
                           "bench-password", "https://learn.example.org")
    carrier = type(DEFAULT_CONSOLE)(**{**DEFAULT_CONSOLE.__dict__, "country": "NG"})
    folder = Path(tempfile.mkdtemp(prefix="learnline-bench-lrs-"))
    print("learners take the bundled course by SMS; statements and bytes the LRS receives")
    print(f"{'path':<28} {'statements':>10} {'requests':>8} {'JSON bytes':>10} "
          f"{'wire bytes':>10} {'bytes/stmt':>10}")
    for number, (name, wrong_first) in enumerate(
            (("all answers right", False), ("each first answer wrong", True)), start=1):
        with Store.open(folder / f"{number}.db", migrate=True) as store:
            import_courses(store)
            take_course(store, carrier, f"+23480300000{number:02d}", wrong_first=wrong_first)
            for key in _Counting.counts:
                _Counting.counts[key] = 0
            delivery = LrsDelivery(settings)
            assert delivery.send_due(store) and queue.backlog(store)["events"] == 0
        got = _Counting.counts
        print(f"{name:<28} {got['statements']:>10} {got['requests']:>8} {got['body']:>10,} "
              f"{got['wire']:>10,} {got['body'] / got['statements']:>10.0f}")
    server.shutdown()


if __name__ == "__main__":
    main()
