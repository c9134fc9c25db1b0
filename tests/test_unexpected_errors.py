"""A fault nobody foresaw (here: the database refusing a write with a constraint error, as
a damaged or hand-edited database does) answers carriers and learners with one plain
line, 500, never a trace or the error's text; the log has the trace; and the gateway goes
on answering once the fault is gone."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PUBLIC_URL, TwilioWebhooks, csrf
from tests.fakes.signing import twilio_signature
from tests.served import PHONE, post, serve_gateway

LEARNER = "+2348030000077"
PLAIN_500 = "500 Internal Server Error\n"


def refuse_writes(db_path: Path, table: str) -> None:
    """Make the database refuse every new row of `table` (IntegrityError, not the
    OperationalError of a busy or full database, which is a 503)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                     "BEGIN SELECT RAISE(ABORT, 'secret detail of the fault'); END")


def allow_writes(db_path: Path, table: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"DROP TRIGGER refuse_{table}")


def assert_plain_500(status: int, body: str, content_type: str) -> None:
    assert (status, body) == (500, PLAIN_500)
    assert content_type == "text/plain; charset=utf-8"


def traced(caplog, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.getMessage() == message and r.levelno == logging.ERROR and r.exc_info]


def test_an_inbound_sms_that_fails_unexpectedly_is_a_plain_500_and_logged(
        app, client, db_path: Path, caplog):
    twilio = TwilioWebhooks(client)
    assert twilio.sms(LEARNER, "START").status_code == 200  # the database exists, and works
    refuse_writes(db_path, "inbound")
    with caplog.at_level(logging.ERROR):
        response = twilio.sms(LEARNER, "NEXT")
    assert_plain_500(response.status_code, response.get_data(as_text=True),
                     response.content_type)
    [record] = traced(caplog, "carrier twilio: unhandled error on sms")
    assert "secret detail of the fault" in str(record.exc_info[1])
    allow_writes(db_path, "inbound")
    assert twilio.sms(LEARNER, "NEXT").status_code == 200  # the carrier's retry gets through


def test_a_delivery_report_that_fails_unexpectedly_is_a_plain_500_and_logged(
        app, client, db_path: Path, caplog):
    twilio = TwilioWebhooks(client)
    refuse_writes(db_path, "status_events")
    with caplog.at_level(logging.ERROR):
        response = twilio.status("SM" + "0" * 32, "delivered")
    assert_plain_500(response.status_code, response.get_data(as_text=True),
                     response.content_type)
    assert traced(caplog, "carrier twilio: unhandled error on status")


def test_a_ussd_screen_that_fails_unexpectedly_is_a_plain_500_and_logged(tmp_path: Path,
                                                                       caplog):
    from gateway import create_app

    carriers = tmp_path / "carriers.toml"
    carriers.write_text('[carriers.atussd]\nadapter = "africastalking"\ncountry = "KE"\n'
                        'webhook_token = "ussd-webhook-token-0123456789"\n')
    db_path = tmp_path / "ussd.db"
    client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                         "TESTING": True}).test_client()
    refuse_writes(db_path, "ussd_sessions")
    form = {"sessionId": "ATUid_1", "serviceCode": "*384*1#", "phoneNumber": "+254711000222",
            "text": "", "networkCode": "63902"}
    with caplog.at_level(logging.ERROR):
        response = client.post("/carriers/atussd/ussd?token=ussd-webhook-token-0123456789",
                               data=form)
    assert_plain_500(response.status_code, response.get_data(as_text=True),
                     response.content_type)
    assert traced(caplog, "carrier atussd: unhandled error on ussd")


def test_a_page_that_fails_unexpectedly_is_a_plain_500_and_logged(app, client,
                                                                   db_path: Path, caplog):
    token = csrf(client)
    refuse_writes(db_path, "signin_codes")
    with caplog.at_level(logging.ERROR):
        response = client.post("/signin", data={"csrf": token, "phone": LEARNER})
    assert_plain_500(response.status_code, response.get_data(as_text=True),
                     response.content_type)
    assert traced(caplog, "unhandled error")
    allow_writes(db_path, "signin_codes")
    assert client.post("/signin", data={"csrf": token, "phone": LEARNER}).status_code == 302


@pytest.fixture
def served(tmp_path: Path, carriers_file: Path) -> Iterator:
    yield from serve_gateway(tmp_path, carriers_file)


@pytest.mark.slow
def test_learnline_serve_answers_an_unexpected_fault_with_one_line(served, tmp_path: Path):
    status, _ = served.sms("START", "SM" + "1" * 32)
    assert status == 200
    refuse_writes(tmp_path / "served.db", "inbound")
    path = "/carriers/twilio/sms"
    from tests.conftest import AUTH_TOKEN

    params = TwilioWebhooks(None).inbound_params(PHONE, "NEXT", "SM" + "2" * 32)
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)}
    status, body = post(served.base + path, params, headers)
    assert (status, body) == (500, PLAIN_500)
    log = served.log.read_text()
    assert "carrier twilio: unhandled error on sms" in log
    assert "Traceback" in log and "secret detail of the fault" in log
    allow_writes(tmp_path / "served.db", "inbound")
    assert post(served.base + path, params, headers)[0] == 200
