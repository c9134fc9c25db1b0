"""Carrier webhooks: `/carriers/<id>/sms` (inbound), `/status` (delivery reports), `/ussd`,
`/whatsapp` (Meta's subscription challenge, and its notifications of messages and statuses).

Carriers' calls are the gateway's hot path, so they are answered by a small WSGI
application in front of Flask rather than by Flask views: Flask's request cycle
(contexts, session interface, form parsing into MultiDicts, dispatch and response
processing) cost about a third of an inbound webhook, and none of it is needed to
read a carrier's form or JSON and answer a few bytes. Everything else (pages,
health, metrics) goes on to Flask unchanged. See docs/architecture.md.

Every request is authenticated before anything is parsed or stored; an inbound
message is stored before it is processed. Errors are one plain-text line: no stack
trace reaches a carrier.
"""

from __future__ import annotations

import codecs
import functools
import io
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.formparser import parse_form_data
from werkzeug.http import parse_options_header
from werkzeug.routing import Rule
from werkzeug.wsgi import get_current_url, get_path_info

from carrier_adapters import (
    CarrierAdapter,
    PayloadError,
    StatusUpdate,
    WebRequest,
    WebResponse,
)
from carrier_adapters.base import CHOICE_TITLE, TAPPED_ON
from gateway.channels.sms.conversation import receive_inbound
from gateway.channels.ussd import handle_ussd
from gateway.channels.whatsapp.conversation import receive_whatsapp
from gateway.config import Carrier
from gateway.metrics import DELIVERY_REPORTS, INBOUND, USSD_SCREENS, observe_webhook
from gateway.outbox import fallback
from gateway.phones import InvalidPhoneNumber, masked, to_e164
from gateway.server import forwarded
from gateway.server.whole_numbers import LARGEST, whole_number
from gateway.store import Store
from gateway.store.per_thread import thread_store

log = logging.getLogger(__name__)

Start = Callable[..., Any]
WsgiApp = Callable[[dict, Start], Iterable[bytes]]

PREFIX = "/carriers/"
# route name -> (channel the carrier must carry, as configured; HTTP methods)
ROUTES: dict[str, tuple[str, frozenset[str]]] = {
    "sms": ("sms", frozenset({"GET", "POST"})),
    "status": ("status", frozenset({"GET", "POST"})),
    "ussd": ("ussd", frozenset({"POST"})),
    "whatsapp": ("whatsapp", frozenset({"GET", "POST"})),
}
# The same routes as Werkzeug rules, for whoever lists every route of the gateway.
RULES = tuple(Rule(f"{PREFIX}<carrier_id>/{name}", methods=sorted(methods))
              for name, (_, methods) in ROUTES.items())


class _Refused(Exception):
    """An HTTP error answered as one plain line."""

    def __init__(self, status: int, headers: tuple[tuple[str, str], ...] = ()):
        self.status = status
        self.headers = headers


class CarrierWebhooks:
    """WSGI middleware: answers `/carriers/...` itself and hands every other path on."""

    def __init__(self, app: Flask, pages: WsgiApp):
        self.app = app
        self.pages = pages
        self.max_bytes: int = app.config["MAX_CONTENT_LENGTH"]

    def __call__(self, environ: dict, start_response: Start) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.pages(environ, start_response)
        started = time.perf_counter()
        carrier_id, route = "", ""
        try:
            carrier_id, route, carrier, adapter = self._route(path, environ["REQUEST_METHOD"])
            answer = HANDLERS[route](self, carrier, adapter, environ)
        except _Refused as refused:
            return _plain(start_response, refused.status, headers=refused.headers)
        except PayloadError as exc:
            if route in ("sms", "whatsapp"):
                INBOUND.labels(carrier_id, "invalid").inc()
            return _plain(start_response, 400, str(exc))
        except sqlite3.OperationalError as exc:
            # Writers queue for the lock up to the busy timeout; past it (or with the
            # disk gone) nothing was stored: ask the carrier to come back, not a 500.
            log.error("database unavailable: %s", exc)
            return _plain(start_response, 503, "try again shortly", (("Retry-After", "5"),))
        except Exception:
            log.exception("carrier %s: unhandled error on %s", carrier_id or "?", route or path)
            return _plain(start_response, 500)
        finally:
            if carrier_id:
                observe_webhook(carrier_id, ENDPOINTS[route], started)
        body = answer.body.encode("utf-8")
        start_response(_status_line(answer.status), [
            ("Content-Type", answer.content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _route(self, path: str, method: str) -> tuple[str, str, Carrier, CarrierAdapter]:
        """(carrier id, route name, carrier, adapter) for a configured carrier's route, else
        404/405. The carrier id comes back only when it names a configured carrier, so that a scan
        of random URLs never grows the metrics' labels."""
        pieces = path[len(PREFIX):].split("/")
        if len(pieces) != 2 or pieces[1] not in ROUTES:
            raise _Refused(404)
        raw_id, route = pieces
        carrier_id = raw_id.encode("latin-1").decode("utf-8", "replace")
        adapter = self.app.extensions["learnline.adapters"].get(carrier_id)
        channel, methods = ROUTES[route]
        if adapter is None or not adapter.carries(channel):
            raise _Refused(404)
        if method not in methods or method not in adapter.webhook_methods:
            allowed = ", ".join(sorted(methods & set(adapter.webhook_methods)))
            raise _Refused(405, (("Allow", allowed),))
        return carrier_id, route, self.app.extensions["learnline.carriers"][carrier_id], adapter

    def web_request(self, carrier: Carrier, environ: dict) -> WebRequest:
        """The request as the carrier made it: behind a proxy, its URL is rebuilt from
        public_url. A body over the size limit is refused (413) before it is read."""
        length = _content_length(environ)
        if length > self.max_bytes:
            raise _Refused(413)
        body = environ["wsgi.input"].read(length) if length else b""
        public_url = carrier.public_url
        query = environ.get("QUERY_STRING", "")
        if public_url:
            path = "/" + get_path_info(environ).lstrip("/")
            url = public_url.rstrip("/") + path + (f"?{query}" if query else "")
        else:
            url = get_current_url(environ)
        headers = {key[5:].replace("_", "-").title(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").title()] = environ[key]
        return WebRequest(
            method=environ["REQUEST_METHOD"], url=url, headers=headers,
            form=read_form(environ.get("CONTENT_TYPE", ""), body),
            query=_pairs(query.encode("latin-1")), body=body,
            remote_addr=forwarded.allow_ips_address(environ),
        )

    def authenticated(self, carrier: Carrier, adapter: CarrierAdapter, environ: dict,
                      route: str) -> WebRequest:
        """The request, once the carrier's credential checks out; else 403."""
        web_request = self.web_request(carrier, environ)
        if not adapter.authenticate(web_request):
            carrier_id = carrier.id
            log.warning("carrier %s: rejected unauthenticated request from %s",
                        carrier_id, environ.get("REMOTE_ADDR"))
            if route in ("sms", "whatsapp"):
                INBOUND.labels(carrier_id, "unauthenticated").inc()
            raise _Refused(403)
        return web_request

    def store(self):
        """This server thread's store (see gateway.app.thread_store)."""
        return thread_store(self.app)


def _content_length(environ: dict) -> int:
    raw = environ.get("CONTENT_LENGTH", "")
    if not (raw.isascii() and raw.isdigit()):
        return 0
    length = whole_number(raw.lstrip("0") or "0")
    return LARGEST if length is None else length  # past every limit, not read as a number


# Werkzeug's error handler: a %-escape invalid in the charset stays as written.
_KEEP_ESCAPED = "werkzeug.url_quote"


def _pairs(raw: bytes, charset: str = "utf-8") -> dict[str, list[str]]:
    """Form or query fields, each with its list of values, in `charset` (the one the
    request declares; UTF-8 when it declares none). %-escapes invalid in it stay
    %-encoded, as Werkzeug reads them. Raw bytes that are not UTF-8, from a sender that
    declared nothing, are read as Latin-1, the one charset every byte is valid in: the
    message is kept, accents and all when that is what the sender used."""
    fields: dict[str, list[str]] = {}
    if not raw:
        return fields
    try:
        text = raw.decode(charset)
    except UnicodeError:
        text = raw.decode("latin-1")
    for key, value in parse_qsl(text, keep_blank_values=True, encoding=charset,
                                errors=_KEEP_ESCAPED):
        fields.setdefault(key, []).append(value)
    return fields


@functools.lru_cache(maxsize=64)  # a carrier sends one Content-Type, request after request
def _charset(content_type: str) -> str:
    """The charset a Content-Type declares, if it is a text encoding in which a form's
    ASCII (names, '=', '&', %-escapes) reads as ASCII; else UTF-8. Python also knows
    codecs such as hex, rot13 or idna by name, which are no charset for a form."""
    declared = parse_options_header(content_type)[1].get("charset", "utf-8")
    try:
        codec = codecs.lookup(declared)
        # ASCII must read as itself, escapes and shift sequences included (unicode-escape
        # would turn "\\u0026" into "&", hz "~~" into "~", iso2022 drop "\x1b$B").
        probe = b"a=%b&c+d\\u0026~~\x1b$B"
        if codec._is_text_encoding and probe.decode(codec.name) == probe.decode("ascii"):
            b"a\xe9".decode(codec.name, _KEEP_ESCAPED)  # takes the error handler used below
            return codec.name
    except (LookupError, UnicodeError):
        pass
    return "utf-8"


def read_form(content_type: str, body: bytes) -> dict[str, list[str]]:
    """The fields of a webhook's form body, each with its values, as the gateway reads them
    (and as a carrier's signature over them is checked); {} for a body that is no form."""
    mimetype = content_type.split(";", 1)[0].strip().lower()
    if mimetype == "application/x-www-form-urlencoded":
        return _pairs(body, _charset(content_type))
    if mimetype == "multipart/form-data":
        environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type,
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        _, form, _ = parse_form_data(environ, silent=True)
        return form.to_dict(flat=False)
    return {}


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _plain(start_response: Start, status: int, text: str = "",
           headers: tuple[tuple[str, str], ...] = ()) -> list[bytes]:
    """One plain-text line: the status, or what was wrong with the request."""
    line = _status_line(status)
    said = text if status == 400 else f"{line}: {text}" if text else line
    body = (said + "\n").encode("utf-8")
    start_response(line, [("Content-Type", "text/plain; charset=utf-8"),
                          ("Content-Length", str(len(body))), *headers])
    return [body]


def _learner_number(carrier: Carrier, sender: str, field: str) -> str:
    """The sender as E.164 (national numbers read in the carrier's country); PayloadError
    naming the field when it is not a phone number."""
    try:
        return to_e164(sender, carrier.country)
    except InvalidPhoneNumber:
        raise PayloadError(field, message=f"field '{field}' is not a phone number") from None


def inbound_sms(hooks: CarrierWebhooks, carrier: Carrier, adapter: CarrierAdapter,
                environ: dict) -> WebResponse:
    """Store a learner's message, process it, and acknowledge it to the carrier."""
    web_request = hooks.authenticated(carrier, adapter, environ, "sms")
    message = adapter.parse_inbound(web_request)
    phone = _learner_number(carrier, message.sender, adapter.sender_field)
    carrier_id = carrier.id
    inbound = receive_inbound(
        hooks.store(), carrier, message.carrier_message_id, phone, message.text,
        message.recipient,
        meta={k: v for k, v in message.extra.items() if k in adapter.reply_keys},
        limits=hooks.app.extensions["learnline.inbound_limits"],
    )
    outcome = "repeat" if not inbound.is_new else "throttled" if inbound.throttled \
        else "accepted"
    INBOUND.labels(carrier_id, outcome).inc()
    if not inbound.is_new:
        log.info("carrier %s: repeat of message %s", carrier_id, message.carrier_message_id)
    return adapter.inbound_ack()


def delivery_status(hooks: CarrierWebhooks, carrier: Carrier, adapter: CarrierAdapter,
                    environ: dict) -> WebResponse:
    """Record a delivery report; a carrier-side opt-out stops the learner."""
    web_request = hooks.authenticated(carrier, adapter, environ, "status")
    _record_status(hooks, hooks.store(), carrier, adapter, adapter.parse_status(web_request))
    return adapter.status_ack()


def _record_status(hooks: CarrierWebhooks, store: Store, carrier: Carrier,
                   adapter: CarrierAdapter, update: StatusUpdate) -> None:
    """One delivery report, in one commit with what it sets off: a carrier-side opt-out
    stops the learner; a message the carrier could not deliver goes through its fallback
    carrier, once (gateway/outbox/fallback.py)."""
    carrier_id = carrier.id
    DELIVERY_REPORTS.labels(carrier_id, update.status or "other").inc()
    with store.write():
        message = store.apply_status(carrier_id, update.carrier_message_id, update.status,
                                     update.carrier_status, update.error_code)
        if message is None:
            log.info("carrier %s: report for unknown message %s", carrier_id,
                     update.carrier_message_id)
            return
        if update.opted_out:
            store.set_stopped(message.phone, True)
            log.warning("carrier %s: %s opted out at the carrier", carrier_id,
                        masked(message.phone))
        elif update.fallback and message.status in ("failed", "undelivered"):
            fallback.send_instead(store, hooks.app.extensions["learnline.carriers"], message,
                                  unreachable=update.error_code in adapter.unreachable_codes)


def ussd(hooks: CarrierWebhooks, carrier: Carrier, adapter: CarrierAdapter,
         environ: dict) -> WebResponse:
    """Answer one USSD screen request with the next screen."""
    web_request = hooks.authenticated(carrier, adapter, environ, "ussd")
    request_ = adapter.parse_ussd(web_request)
    phone = _learner_number(carrier, request_.sender,
                            adapter.ussd_sender_field or adapter.sender_field)
    screen = handle_ussd(hooks.store(), carrier, request_, phone)
    USSD_SCREENS.labels(carrier.id).inc()
    return adapter.ussd_response(request_, screen.text, end=screen.end)


def whatsapp(hooks: CarrierWebhooks, carrier: Carrier, adapter: CarrierAdapter,
             environ: dict) -> WebResponse:
    """Meta's subscription challenge (GET), answered only with the right verify token; or a
    signed notification (POST; Twilio's WhatsApp form, one message, is one too): every
    message stored once and processed, every status recorded, then 200. A notification is
    read whole before anything is stored, so one that names a field wrongly (400) stores
    nothing and Meta's retry finds it as it was."""
    web_request = hooks.authenticated(carrier, adapter, environ, "whatsapp")
    if web_request.method == "GET":
        return adapter.challenge(web_request)
    notification = adapter.parse_notification(web_request)
    carrier_id = carrier.id
    arrived = [(message, _learner_number(carrier, message.sender, adapter.sender_field))
               for message in notification.messages]
    store = hooks.store()
    for message, phone in arrived:
        inbound = receive_whatsapp(
            store, carrier, message.carrier_message_id, phone, message.text,
            message.recipient, limits=hooks.app.extensions["learnline.inbound_limits"],
            meta={key: value for key, value in message.extra.items()
                  if key in (TAPPED_ON, CHOICE_TITLE)})
        outcome = "repeat" if not inbound.is_new else "throttled" if inbound.throttled \
            else "accepted"
        INBOUND.labels(carrier_id, outcome).inc()
    for update in notification.statuses:
        _record_status(hooks, store, carrier, adapter, update)
    return adapter.inbound_ack()


HANDLERS: dict[str, Callable[[CarrierWebhooks, Carrier, CarrierAdapter, dict], WebResponse]] = {
    "sms": inbound_sms, "status": delivery_status, "ussd": ussd, "whatsapp": whatsapp,
}
# Route -> the name the latency histogram has always used for it.
ENDPOINTS = {"sms": "inbound_sms", "status": "delivery_status", "ussd": "ussd",
             "whatsapp": "whatsapp"}
