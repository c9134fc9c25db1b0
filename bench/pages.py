"""Lite page budget: bytes on the wire for every page type, plain, gzip and brotli.

Starts `learnline serve` and fetches each page over a raw socket, counting every byte
the server sends (status line, headers and body), as a 2G learner would pay for them.
Budget: every page at most 14 KB compressed (one round trip), a lesson at most 6 KB (a
lesson by link, its cards and its quiz on one page, too).
The operator's dashboard (/admin) is measured too, on 14 days of seeded traffic for two
carriers (`seed_dashboard`) and a week of learners' questions to three tutors
(`seed_questions`), against the same 14 KB; and the tutors' inbox (/admin/inbox
with INBOX_QUESTIONS open questions, and one question's page with its learner's context,
`seed_inbox`), fetched signed in as a tutor.

    python bench/pages.py [--locale ar]   # the pages in another language (default en)
    python bench/pages.py --inbox         # the tutors' inbox alone
"""

from __future__ import annotations

import argparse
import random
import re
import socket
import sys
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import Served

PAGE_BUDGET = 14 * 1024
LESSON_BUDGET = 6 * 1024
ENCODINGS = {"plain": "identity", "gzip": "gzip", "brotli": "br"}


def fetch(port: int, path: str, *, encoding: str = "identity", cookie: str = "",
          language: str = "en",
          form: dict[str, str] | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """One request; returns (status, raw headers, body) exactly as sent by the server."""
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{'POST' if form is not None else 'GET'} {path} HTTP/1.1",
             f"Host: 127.0.0.1:{port}", f"Accept-Encoding: {encoding}",
             f"Accept-Language: {language}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if form is not None:
        lines += ["Content-Type: application/x-www-form-urlencoded",
                  f"Content-Length: {len(body)}"]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head + b"\r\n\r\n", payload


def _cookie(head: bytes) -> str:
    found = re.search(rb"Set-Cookie: ([^;]+)", head)
    return found.group(1).decode() if found else ""


def lesson_link(db_path: str | Path, language: str = "en") -> str:
    """The path of a lesson link, as the SMS a learner taking lessons by link gets carries
    it: a learner speaking `language` joins by SMS and chooses lessons by link."""
    from gateway.learning import Engine
    from gateway.learning import intents as i
    from gateway.learning.replies import LessonLinked
    from gateway.store import Store
    from gateway.urls import lesson_link_path

    with Store.open(db_path) as store, store.write():
        engine = Engine(store)
        learner = engine.learner("+2217700" + str(random.randrange(10**5, 10**6)), "console",
                                 language)
        engine.handle(learner, i.Start())
        linked = next(reply for reply in engine.handle(learner, i.Delivery("link")).replies
                      if isinstance(reply, LessonLinked))
    return lesson_link_path(linked.token)


def measure(port: int, language: str = "en",
            link: str | None = None) -> list[tuple[str, str, dict[str, int]]]:
    """Every page type in `language` (Accept-Language): name, path, and total bytes per
    encoding; with `link` (a lesson link's path), the lesson by link and its results."""
    course = "/courses/start-freelancing"
    lessons = ["find-your-skill", "first-clients", "set-your-price", "agree-the-job",
               "get-paid-safely", "keep-clients-and-money"]
    pages = [("catalogue", "/", None), ("course", course, None)]
    pages += [(f"lesson {n}", f"{course}/{lesson}", None) for n, lesson in enumerate(lessons, 1)]
    pages += [("quiz", f"{course}/{lessons[0]}/quiz", None), ("progress", "/progress", None),
              ("help", "/help", None), ("sign in", "/signin", None),
              ("simulator", "/simulator", None), ("not found", "/nope", None)]
    status, head, body = fetch(port, f"{course}/{lessons[0]}/quiz", language=language)
    cookie = _cookie(head)
    token = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    answers = {"csrf": token, "q0": "1", "q1": "0", "q2": "0"}
    pages.append(("quiz results", f"{course}/{lessons[0]}/quiz", answers))
    if link:
        pages += [("lesson by link", link, None),
                  ("link results", link, {"q0": "1", "q1": "0", "q2": "0"})]
    rows = []
    for name, path, form in pages:
        sizes = {}
        for label, encoding in ENCODINGS.items():
            status, head, body = fetch(port, path, encoding=encoding, cookie=cookie, form=form,
                                       language=language)
            assert status in (200, 404), (path, status)
            sizes[label] = len(head) + len(body)
            sizes[label + " body"] = len(body)
        rows.append((name, path, sizes))
    return rows


DASHBOARD_TOKEN = "bench-dashboard-token-0123456789"
DASHBOARD_CARRIERS = """
[carriers.console]
adapter = "console"
price_per_segment = 0.0075
currency = "USD"

[carriers.second]
adapter = "console"
country = "SN"
price_per_segment = 4.5
currency = "XOF"
"""


def seed_dashboard(db_path: str | Path, days: int = 14, learners_per_day: int = 40) -> None:
    """Fill a database with `days` days of traffic up to today through the real SMS and
    USSD channels and the engine's page operations: learners of two carriers start the
    course, read on, answer the quizzes of every lesson (some wrongly), the replies are sent
    and reported delivered, undelivered or failed, so that every table and chart of the
    dashboard has rows for every day."""
    import time

    from carrier_adapters import UssdRequest
    from gateway.channels.sms import receive_inbound
    from gateway.channels.ussd import handle_ussd
    from gateway.learning import Engine
    from gateway.store import Store

    carriers = load_carriers_from_text(DASHBOARD_CARRIERS)
    rng = random.Random(8)
    now = [time.time() - (days - 1) * 86400]
    store = Store.open(db_path, clock=lambda: now[0])
    try:
        course = store.courses()[0]
        engine = Engine(store)
        for day in range(days):
            now[0] = time.time() - (days - 1 - day) * 86400
            for n in range(learners_per_day):
                carrier = carriers[n % 2]
                phone = f"+2217{carrier.id == 'second':d}{day:03d}{n:04d}"
                now[0] += 60
                receive_inbound(store, carrier, f"seed-{day}-{n}", phone, "START")
                receive_inbound(store, carrier, f"seed-{day}-{n}-next", phone, "NEXT")
                if n % 4 == 0:
                    handle_ussd(store, carrier, UssdRequest(f"s-{day}-{n}", phone, "*384#", "",
                                                            True, True), phone, now=now[0])
                if n % 3 == 0:
                    with store.write():
                        learner = store.learner(phone)
                        position = rng.randrange(len(course.lesson_ids))
                        lesson = store.lesson(course.id, course.lesson_ids[position], "en")
                        answers = {q: (question.answer if rng.random() < 0.2 + 0.1 * q
                                       else (question.answer + 1) % len(question.options))
                                   for q, question in enumerate(lesson.questions)}
                        engine.submit_quiz(learner, course, position, answers)
                        store.note_activity(phone, "web")
            for carrier in carriers:
                while (claimed := store.claim_due(carrier.id, 60)) is not None:
                    sid = f"seed-{claimed.id}"
                    store.finish_send(claimed.id, "accepted", carrier_message_id=sid)
                    outcome = rng.random()
                    state = "delivered" if outcome < 0.9 else \
                        "undelivered" if outcome < 0.97 else "failed"
                    store.apply_status(carrier.id, sid, state, state)
    finally:
        store.close()


def load_carriers_from_text(text: str) -> list:
    """The carriers of a TOML text (written to a temporary file and validated)."""
    import tempfile

    from gateway.config import load_carriers

    with tempfile.NamedTemporaryFile("w", suffix=".toml") as file:
        file.write(text)
        file.flush()
        return list(load_carriers(file.name))


def measure_dashboard(port: int) -> dict[str, int]:
    """The dashboard's bytes on the wire per encoding (headers + body; bearer token)."""
    sizes = {}
    for label, encoding in ENCODINGS.items():
        status, head, body = fetch(port, "/admin", encoding=encoding,
                                   headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
        assert status == 200, status
        sizes[label] = len(head) + len(body)
        sizes[label + " body"] = len(body)
    return sizes


def served_dashboard() -> Served:
    """`learnline serve` with the dashboard on, its database seeded (seed_dashboard)."""
    served = Served(DASHBOARD_CARRIERS, env={"LEARNLINE_ADMIN_TOKEN": DASHBOARD_TOKEN})
    from gateway.content.importer import import_courses
    from gateway.store import Store

    with Store.open(served.env["LEARNLINE_DB"], migrate=True) as store:
        import_courses(store)
    seed_dashboard(served.env["LEARNLINE_DB"])
    seed_questions(served.env["LEARNLINE_DB"])
    return served


def seed_questions(db_path: str | Path) -> None:
    """The tutors' seeded week of bench/tutor_service.py (400 questions, 3 tutors),
    ending yesterday: the dashboard's tutors' section full."""
    import time

    from bench import tutor_service

    today = int(time.time() // 86400) * 86400
    tutor_service.seed(Path(db_path), monday=today - 7 * 86400, fresh=False)


INBOX_QUESTIONS = 20
INBOX_PASSWORD = "bench tutor pass phrase"


def seed_inbox(db_path: str | Path, count: int = INBOX_QUESTIONS) -> None:
    """`count` learners, each a few quiz answers into the course, asking one question of
    some 80 characters by SMS; a tutor account `tunde`; two saved replies for the lesson."""
    from gateway.learning import Engine
    from gateway.learning import intents as i
    from gateway.ops import staff
    from gateway.store import Store, saved_replies

    rng = random.Random(7)
    words = ["price", "dress", "client", "deposit", "market", "phone", "cloth", "hours",
             "week", "pay", "fair", "ask", "much", "shop", "friend", "money"]
    with Store.open(db_path) as store:
        staff.add_account(store, "tunde", "Tunde Bello", "tutor", INBOX_PASSWORD)
        for n in range(count):
            with store.write():
                engine = Engine(store, channel="sms")
                learner = engine.learner(f"+22177{n:07d}", "console", "en")
                engine.handle(learner, i.Start())
                text = " ".join(rng.choice(words) for _ in range(14)).capitalize() + "?"
                engine.handle(learner, i.Ask(text))
        for title in ("Pricing", "Finding clients"):
            saved_replies.add(store, "start-freelancing", "find-your-skill", title,
                              "Count your hours and your materials, then add a fair margin.",
                              None)


def measure_inbox(port: int) -> list[tuple[str, str, dict[str, int]]]:
    """The inbox and its oldest question's page, signed in as the tutor, bytes on the
    wire per encoding (headers + body)."""
    status, head, body = fetch(port, "/admin/signin")
    token = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    status, head, _ = fetch(port, "/admin/signin", cookie=_cookie(head), form={
        "csrf": token, "username": "tunde", "password": INBOX_PASSWORD})
    assert status == 303, status
    cookie = "; ".join(c.decode() for c in re.findall(rb"Set-Cookie: ([^;]+)", head))
    rows = []
    for name, path in (("inbox", "/admin/inbox"), ("question", "/admin/inbox/1")):
        sizes = {}
        for label, encoding in ENCODINGS.items():
            status, head, body = fetch(port, path, encoding=encoding, cookie=cookie)
            assert status == 200, (path, status)
            sizes[label] = len(head) + len(body)
            sizes[label + " body"] = len(body)
        rows.append((name, path, sizes))
    return rows


def served_inbox() -> Served:
    """`learnline serve` with INBOX_QUESTIONS open questions (seed_inbox)."""
    served = Served(DASHBOARD_CARRIERS)
    from gateway.content.importer import import_courses
    from gateway.store import Store

    with Store.open(served.env["LEARNLINE_DB"], migrate=True) as store:
        import_courses(store)
    seed_inbox(served.env["LEARNLINE_DB"])
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locale", default="en",
                        help="the pages' language, as Accept-Language (default en)")
    parser.add_argument("--inbox", action="store_true",
                        help="only the tutors' inbox (20 open questions) and a question")
    arguments = parser.parse_args()
    language = arguments.locale
    if arguments.inbox:
        with served_inbox() as served:
            _report(measure_inbox(served.port), "en")
        return
    with Served("[carriers.console]\nadapter = \"console\"\n",
                env={"LEARNLINE_SIMULATOR": "1"}) as served:
        rows = measure(served.port, language,
                       lesson_link(served.env["LEARNLINE_DB"], language))
    with served_dashboard() as served:
        rows.append(("dashboard", "/admin", measure_dashboard(served.port)))
    with served_inbox() as served:
        rows += measure_inbox(served.port)
    _report(rows, language)


def _report(rows: list[tuple[str, str, dict[str, int]]], language: str) -> None:
    print(f"B3 lite pages: bytes on the wire (headers + body), {language}, "
          "learnline serve (the dashboard and the tutors' inbox are in English)")
    print(f"{'page':<14} {'plain':>7} {'gzip':>7} {'brotli':>7}   budget (compressed)")
    worst = True
    for name, _, sizes in rows:
        budget = LESSON_BUDGET if name.startswith("lesson") else PAGE_BUDGET
        ok = max(sizes["gzip"], sizes["brotli"]) <= budget
        worst = worst and ok
        print(f"{name:<14} {sizes['plain']:>7} {sizes['gzip']:>7} {sizes['brotli']:>7}   "
              f"{'ok' if ok else 'OVER'} (<= {budget})")
    print(f"every page within budget: {'yes' if worst else 'NO'}")


if __name__ == "__main__":
    main()
