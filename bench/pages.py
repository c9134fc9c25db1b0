"""Lite page budget: bytes on the wire for every page type, plain, gzip and brotli.

Starts `learnline serve` and fetches each page over a raw socket, counting every byte
the server sends (status line, headers and body), as a 2G learner would pay for them.
Budget: every page at most 14 KB compressed (one round trip), a lesson at most 6 KB.

    python bench/pages.py
"""

from __future__ import annotations

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
          form: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """One request; returns (status, raw headers, body) exactly as sent by the server."""
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{'POST' if form is not None else 'GET'} {path} HTTP/1.1",
             f"Host: 127.0.0.1:{port}", f"Accept-Encoding: {encoding}",
             "Accept-Language: en", "Connection: close"]
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


def measure(port: int) -> list[tuple[str, str, dict[str, int]]]:
    """Every page type: name, path, and total bytes per encoding."""
    course = "/courses/start-freelancing"
    lessons = ["find-your-skill", "first-clients", "set-your-price", "agree-the-job",
               "get-paid-safely", "keep-clients-and-money"]
    pages = [("catalogue", "/", None), ("course", course, None)]
    pages += [(f"lesson {n}", f"{course}/{lesson}", None) for n, lesson in enumerate(lessons, 1)]
    pages += [("quiz", f"{course}/{lessons[0]}/quiz", None), ("progress", "/progress", None),
              ("help", "/help", None), ("sign in", "/signin", None),
              ("simulator", "/simulator", None), ("not found", "/nope", None)]
    status, head, body = fetch(port, f"{course}/{lessons[0]}/quiz")
    cookie = _cookie(head)
    token = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    answers = {"csrf": token, "q0": "1", "q1": "0", "q2": "0"}
    pages.append(("quiz results", f"{course}/{lessons[0]}/quiz", answers))
    rows = []
    for name, path, form in pages:
        sizes = {}
        for label, encoding in ENCODINGS.items():
            status, head, body = fetch(port, path, encoding=encoding, cookie=cookie, form=form)
            assert status in (200, 404), (path, status)
            sizes[label] = len(head) + len(body)
            sizes[label + " body"] = len(body)
        rows.append((name, path, sizes))
    return rows


def main() -> None:
    with Served("[carriers.console]\nadapter = \"console\"\n",
                env={"LEARNLINE_SIMULATOR": "1"}) as served:
        rows = measure(served.port)
    print("B3 lite pages: bytes on the wire (headers + body), English, learnline serve")
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
