"""B1's second reference: the least a correct inbound SMS webhook must do, and nothing more.

For each signed Twilio inbound webhook it
1. verifies `X-Twilio-Signature` with the twilio package's RequestValidator (403 if wrong),
2. in one SQLite WAL transaction (`BEGIN IMMEDIATE`, `synchronous=NORMAL`, as the gateway's
   store), stores the inbound message unique on its MessageSid and, if it is new, queues
   one reply in an outbox table,
3. answers an empty TwiML `<Response/>`.

It is a Flask app like `bench/bare_app.py`, so the two references differ by exactly that
work; the gateway's figure against this one says what Learnline's own work (the engine,
the channels, events, rate limits, metrics) costs beyond it. Served with the production
settings:

    BENCH_MINIMAL_DB=/tmp/minimal.db BENCH_TWILIO_AUTH_TOKEN=... \\
        gunicorn -c deploy/gunicorn.conf.py bench.minimal_app:app
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

app = Flask(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
PUBLIC_URL = os.environ.get("BENCH_PUBLIC_URL", "https://learnline.example.org")
DB_PATH = os.environ.get("BENCH_MINIMAL_DB", "minimal.db")
validator = RequestValidator(os.environ.get("BENCH_TWILIO_AUTH_TOKEN", ""))
_local = threading.local()

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY, message_sid TEXT NOT NULL UNIQUE, phone TEXT NOT NULL,
    body TEXT NOT NULL, received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, inbound_id INTEGER NOT NULL REFERENCES inbound(id),
    phone TEXT NOT NULL, body TEXT NOT NULL, due_at REAL NOT NULL);
"""


def _connection() -> sqlite3.Connection:
    """This thread's connection, opened as the gateway's store opens its own."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        _local.conn = conn
    return conn


@app.post("/carriers/<carrier_id>/sms")
def inbound_sms(carrier_id: str) -> Response:
    """Verify, store once, queue one reply, answer empty TwiML."""
    form = request.form
    url = PUBLIC_URL + request.path
    if not validator.validate(url, form.to_dict(), request.headers.get("X-Twilio-Signature",
                                                                       "")):
        return Response("invalid signature\n", 403, content_type="text/plain")
    sid, phone, body = form.get("MessageSid"), form.get("From"), form.get("Body")
    if not sid or not phone or body is None:
        return Response("missing field\n", 400, content_type="text/plain")
    conn = _connection()
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO inbound (message_sid, phone, body, received_at) "
            "VALUES (?, ?, ?, ?)", (sid, phone, body, now))
        if cursor.rowcount:
            conn.execute("INSERT INTO outbox (inbound_id, phone, body, due_at) "
                         "VALUES (?, ?, ?, ?)", (cursor.lastrowid, phone, "OK: " + body, now))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return Response(EMPTY_TWIML, 200, content_type="text/xml; charset=utf-8")


@app.get("/healthz")
def healthz() -> str:
    """Up."""
    return "ok\n"
