"""Carrier webhooks: `POST /carriers/<id>/sms` (inbound) and `/status` (delivery reports).

Every request is authenticated before anything is parsed or stored; an
inbound message is stored before it is processed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

from carrier_adapters import CarrierAdapter, PayloadError, WebRequest, WebResponse
from gateway.app import get_store
from gateway.channels.sms.conversation import receive_inbound
from gateway.channels.ussd import handle_ussd
from gateway.metrics import (
    DELIVERY_REPORTS,
    INBOUND,
    USSD_SCREENS,
    observe_webhook,
    start_timer,
)
from gateway.phones import InvalidPhoneNumber, masked, to_e164

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)


@blueprint.before_request
def _started() -> None:
    start_timer()


@blueprint.after_request
def _observed(response: Response) -> Response:
    carrier_id = (request.view_args or {}).get("carrier_id")
    # Only configured carriers become labels: a scan of random URLs must not grow them.
    if carrier_id in current_app.extensions["learnline.adapters"]:
        observe_webhook(carrier_id, (request.endpoint or "").rsplit(".", 1)[-1])
    return response


def _adapter(carrier_id: str) -> CarrierAdapter:
    adapter = current_app.extensions["learnline.adapters"].get(carrier_id)
    if adapter is None:
        abort(404)
    return adapter


def _web_request(adapter: CarrierAdapter) -> WebRequest:
    """The request as the carrier made it: behind a proxy, its URL is rebuilt from public_url."""
    public_url = adapter.settings.public_url
    query = request.query_string.decode("latin-1")
    if public_url:
        url = public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    else:
        url = request.url
    # Read the raw body first: parsing the form consumes the stream, and get_data()
    # after it returns b"" (adapters that sign the raw body need it).
    body = request.get_data(cache=True)
    return WebRequest(
        method=request.method,
        url=url,
        headers=dict(request.headers),
        form=request.form.to_dict(flat=False),
        query=request.args.to_dict(flat=False),
        body=body,
        remote_addr=request.remote_addr,
    )


def _answer(response: WebResponse) -> Response:
    return Response(response.body, status=response.status, content_type=response.content_type)


def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def _authenticated(carrier_id: str, channel: str) -> tuple[CarrierAdapter, WebRequest]:
    adapter = _adapter(carrier_id)
    if not adapter.offers(channel):
        abort(404)
    if request.method not in adapter.webhook_methods:
        abort(405)
    web_request = _web_request(adapter)
    if not adapter.authenticate(web_request):
        log.warning("carrier %s: rejected unauthenticated request from %s",
                    carrier_id, request.remote_addr)
        if request.endpoint == "webhooks.inbound_sms":
            INBOUND.labels(carrier_id, "unauthenticated").inc()
        abort(403)
    return adapter, web_request


def _learner_number(adapter: CarrierAdapter, sender: str, field: str) -> str:
    """The sender as E.164 (national numbers read in the carrier's country); PayloadError
    naming the field when it is not a phone number."""
    try:
        return to_e164(sender, adapter.settings.country)
    except InvalidPhoneNumber:
        raise PayloadError(field, message=f"field '{field}' is not a phone number") from None


@blueprint.route("/carriers/<carrier_id>/sms", methods=["GET", "POST"])
def inbound_sms(carrier_id: str) -> Response:
    """Store a learner's message, process it, and acknowledge it to the carrier."""
    adapter, web_request = _authenticated(carrier_id, "sms")
    try:
        message = adapter.parse_inbound(web_request)
        phone = _learner_number(adapter, message.sender, adapter.sender_field)
    except PayloadError as exc:
        INBOUND.labels(carrier_id, "invalid").inc()
        return _plain(str(exc), 400)
    inbound = receive_inbound(
        get_store(), adapter.settings, message.carrier_message_id, phone, message.text,
        message.recipient,
        meta={k: v for k, v in message.extra.items() if k in adapter.reply_keys},
        limits=current_app.extensions["learnline.inbound_limits"],
    )
    outcome = "repeat" if not inbound.is_new else "throttled" if inbound.throttled \
        else "accepted"
    INBOUND.labels(carrier_id, outcome).inc()
    if not inbound.is_new:
        log.info("carrier %s: repeat of message %s", carrier_id, message.carrier_message_id)
    return _answer(adapter.inbound_ack())


@blueprint.route("/carriers/<carrier_id>/status", methods=["GET", "POST"])
def delivery_status(carrier_id: str) -> Response:
    """Record a delivery report; a carrier-side opt-out stops the learner."""
    adapter, web_request = _authenticated(carrier_id, "sms")
    try:
        update = adapter.parse_status(web_request)
    except PayloadError as exc:
        return _plain(str(exc), 400)
    DELIVERY_REPORTS.labels(carrier_id, update.status or "other").inc()
    store = get_store()
    message = store.apply_status(
        carrier_id, update.carrier_message_id, update.status, update.carrier_status,
        update.error_code,
    )
    if message is None:
        log.info("carrier %s: report for unknown message %s", carrier_id,
                 update.carrier_message_id)
    elif update.opted_out:
        store.set_stopped(message.phone, True)
        log.warning("carrier %s: %s opted out at the carrier", carrier_id, masked(message.phone))
    return _answer(adapter.status_ack())


@blueprint.post("/carriers/<carrier_id>/ussd")
def ussd(carrier_id: str) -> Response:
    """Answer one USSD screen request with the next screen."""
    adapter, web_request = _authenticated(carrier_id, "ussd")
    try:
        request_ = adapter.parse_ussd(web_request)
        phone = _learner_number(adapter, request_.sender,
                                adapter.ussd_sender_field or adapter.sender_field)
    except PayloadError as exc:
        return _plain(str(exc), 400)
    screen = handle_ussd(get_store(), adapter.settings, request_, phone)
    USSD_SCREENS.labels(carrier_id).inc()
    return _answer(adapter.ussd_response(request_, screen.text, end=screen.end))
