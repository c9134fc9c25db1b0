"""Orange's SMS API (Africa and the Middle East): OAuth2 out, OneAPI-style JSON in.

- Token: `POST {api_base_url}/oauth/v3/token`, Basic auth with `client_id:client_secret`,
  `grant_type=client_credentials`; kept until a minute before `expires_in`, fetched
  again once when the API answers 401.
- Outbound: `POST {api_base_url}/smsmessaging/v1/outbound/{tel:+SENDER}/requests` with
  `{"outboundSMSMessageRequest": {"address", "senderAddress", "senderName"?,
  "outboundSMSTextMessage": {"message"}, "receiptRequest"?}}`; 201 is accepted.
  Errors come as `requestError.serviceException` (SVCnnnn) or `policyException` (POLnnnn).
- Delivery receipts: `{"deliveryInfoNotification": {"callbackData", "deliveryInfo":
  {"address", "deliveryStatus"}}}`. We send our own message id as `callbackData`; receipts
  of Orange's documented kind, through a subscription per sender, carry Orange's own id
  of the request (the end of the `resourceURL` the send was answered with), which is kept
  as the message's second id; receipts seen in the wild carry an empty `callbackData`:
  recorded, matched to nothing.
- Receipt subscriptions: `POST {api_base_url}/smsmessaging/v1/outbound/{tel:+SENDER}/
  subscriptions` with `{"deliveryReceiptSubscription": {"callbackReference":
  {"notifyURL"}}}` answers 201 with its `resourceURL` (`.../outbound/subscriptions/{id}`);
  `GET` on that URL reads it back. The carrier's `receipt_subscription` names the one
  `learnline carriers subscribe` made, for `carriers check --live` to check.
- Inbound: `{"inboundSMSMessageNotification": {"inboundSMSMessage": {"senderAddress",
  "destinationAddress", "message", "dateTime", "messageId"?}}}`.

Orange signs nothing: its routes are protected by `webhook_token` and/or `allow_ips`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from carrier_adapters.base import (
    DELIVERED,
    FAILED,
    SENT,
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    StatusUpdate,
    WebRequest,
    read_json,
)

DEFAULT_API = "https://api.orange.com"
TOKEN_MARGIN_SECONDS = 60.0

STATUS_MAP: dict[str, str | None] = {
    "DeliveredToTerminal": DELIVERED,
    "DeliveredToNetwork": SENT,
    "MessageWaiting": SENT,
    "DeliveryUncertain": SENT,
    "DeliveryImpossible": FAILED,
    "DeliveryNotificationNotSupported": None,
}


def tel(number: str) -> str:
    """A number as Orange writes addresses: `tel:+221770000000`."""
    number = number.strip()
    if number.startswith("tel:"):
        return number
    return "tel:" + (number if number.startswith("+") else "+" + number)


class OrangeAdapter(CarrierAdapter):
    """Orange's SMS API."""

    name: ClassVar[str] = "orange"
    required_keys: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    optional_keys: ClassVar[tuple[str, ...]] = ("sender_name", "receipt_subscription")
    secret_keys: ClassVar[tuple[str, ...]] = ("client_secret",)
    sender_field: ClassVar[str] = "senderAddress"

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        self._token: str | None = None
        self._token_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """`receipt_subscription`, when given, is the id of a subscription (a word)."""
        subscription = settings.credentials.get("receipt_subscription")
        if subscription is not None and (not isinstance(subscription, str)
                                         or not re.fullmatch(r"[A-Za-z0-9._-]+", subscription)):
            raise ValueError("receipt_subscription", "must be the subscription id that "
                             "`learnline carriers subscribe` printed")

    # -- webhooks ----------------------------------------------------------------------------

    @staticmethod
    def _json(request: WebRequest, envelope: str, inner: str) -> dict[str, Any]:
        data = read_json(request.body)
        part = data.get(envelope) if isinstance(data, dict) else None
        if not isinstance(part, dict):
            raise PayloadError(envelope)
        found = part.get(inner)
        if not isinstance(found, dict):
            raise PayloadError(f"{envelope}.{inner}")
        return {"outer": part, "inner": found}

    @staticmethod
    def _field(data: dict[str, Any], name: str, where: str) -> str:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise PayloadError(name, message=f"missing field '{name}' in {where}")
        return str(value)

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read an inboundSMSMessageNotification."""
        where = "inboundSMSMessageNotification.inboundSMSMessage"
        message = self._json(request, "inboundSMSMessageNotification",
                             "inboundSMSMessage")["inner"]
        sender = self._field(message, "senderAddress", where).removeprefix("tel:")
        if not isinstance(message.get("message"), str):
            raise PayloadError("message", message=f"missing field 'message' in {where}")
        message_id = message.get("messageId")
        if not message_id:
            # No id from Orange: the same notification sent again is the same message. Its
            # time tells a learner's real repeat ("1" to two questions) from a resend.
            if not isinstance(message.get("dateTime"), str) or not message["dateTime"]:
                raise PayloadError("dateTime", message=f"missing field 'dateTime' in {where} "
                                                       "(needed without messageId)")
            digest = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()
            message_id = f"orange-{digest[:32]}"
        return InboundMessage(str(message_id), sender,
                              str(message.get("destinationAddress", "")).removeprefix("tel:"),
                              message["message"])

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read a deliveryInfoNotification. `callbackData` is our message id or Orange's
        id of the request (a subscription's receipts); empty or missing, the receipt is
        still taken (and recorded, matched to no message)."""
        where = "deliveryInfoNotification"
        data = read_json(request.body)
        outer = data.get(where) if isinstance(data, dict) else None
        if not isinstance(outer, dict):
            raise PayloadError(where)
        info = outer.get("deliveryInfo")
        if isinstance(info, list) and info:  # OneAPI also writes it as a list of one
            info = info[0]
        if not isinstance(info, dict):
            raise PayloadError(f"{where}.deliveryInfo")
        status = self._field(info, "deliveryStatus", f"{where}.deliveryInfo")
        callback = outer.get("callbackData")
        callback = callback.strip() if isinstance(callback, str) else ""
        return StatusUpdate(callback, STATUS_MAP.get(status), status)

    # -- OAuth2 -----------------------------------------------------------------------------

    def _api(self) -> str:
        return (self.settings.api_base_url or DEFAULT_API).rstrip("/")

    def access_token(self, *, renew: bool = False) -> str:
        """A valid bearer token, fetched with the client credentials when needed."""
        with self._lock:
            if not renew and self._token and time.monotonic() < self._token_until:
                return self._token
            creds = self.settings.credentials
            response = self.call_api(
                "POST", f"{self._api()}/oauth/v3/token", what="token",
                data={"grant_type": "client_credentials"},
                auth=(creds["client_id"], creds["client_secret"]),
                headers={"Accept": "application/json"})
            if response.status_code != 200:
                # Wrong credentials are an operator's mistake: keep the messages, retry.
                raise self.api_error(response.status_code,
                                     f"token: HTTP {response.status_code}", retry=True,
                                     code=f"token-{response.status_code}")
            try:
                data = response.json()
                token = data["access_token"]
                lifetime = float(data.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise SendError("token: unexpected answer", retry=True) from None
            self._token = token
            self._token_until = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, 0)
            return token

    def check_credentials(self) -> str:
        """Fetch a token with the client credentials."""
        self.access_token(renew=True)
        return "a token was issued for the client credentials"

    # -- sending -----------------------------------------------------------------------------

    def send(self, to: str, body: str, *, status_url: str | None = None) -> SendResult:
        """Send one SMS; our id travels as callbackData so the receipt finds the message."""
        sender = tel(self.settings.sender)
        message_id = uuid.uuid4().hex
        request: dict[str, Any] = {
            "address": tel(to),
            "senderAddress": sender,
            "outboundSMSTextMessage": {"message": body},
        }
        if self.settings.credentials.get("sender_name"):
            request["senderName"] = self.settings.credentials["sender_name"]
        if status_url:
            request["receiptRequest"] = {"notifyURL": status_url, "callbackData": message_id}
        url = f"{self._api()}/smsmessaging/v1/outbound/{quote(sender, safe='')}/requests"
        payload = {"outboundSMSMessageRequest": request}
        response = self._post(url, payload)
        if response.status_code == 401:
            response = self._post(url, payload, renew=True)
        if response.status_code == 201:
            return SendResult(message_id, carrier_ref=_resource_id(
                response, "outboundSMSMessageRequest"))
        code, text = _request_error(response)
        raise self.api_error(response.status_code, f"HTTP {response.status_code} {code}: {text}",
                             code=code)

    def retry_later(self, status: int, answer: str = "") -> bool:
        """A 401 that survives a new token is the credentials, retried; Orange's 403 is a
        policy (POLnnnn) refusing this send, final."""
        return status != 403 and super().retry_later(status, answer)

    def _post(self, url: str, payload: dict[str, Any], *, renew: bool = False):
        return self._call("POST", url, payload, renew=renew)

    def _call(self, method: str, url: str, payload: dict[str, Any] | None = None, *,
              renew: bool = False) -> requests.Response:
        token = self.access_token(renew=renew)
        return self.call_api(method, url, json=payload,
                             headers={"Authorization": f"Bearer {token}",
                                      "Accept": "application/json"})

    # -- delivery-receipt subscriptions ------------------------------------------------------

    def subscribe_receipts(self, notify_url: str) -> str:
        """Subscribe this sender's delivery receipts to `notify_url`; the subscription id."""
        sender = tel(self.settings.sender)
        url = (f"{self._api()}/smsmessaging/v1/outbound/{quote(sender, safe='')}"
               "/subscriptions")
        payload = {"deliveryReceiptSubscription": {"callbackReference": {
            "notifyURL": notify_url}}}
        response = self._post(url, payload)
        if response.status_code == 401:
            response = self._post(url, payload, renew=True)
        if response.status_code not in (200, 201):
            code, text = _request_error(response)
            raise self.api_error(response.status_code,
                                 f"HTTP {response.status_code} {code}: {text}", retry=False,
                                 code=code)
        subscription = _resource_id(response, "deliveryReceiptSubscription")
        if not subscription:
            raise self.api_error(response.status_code,
                                 f"unexpected answer: {response.text[:200]}", retry=False)
        return subscription

    def check_receipts(self, notify_url: str | None) -> str:
        """Read the configured receipt subscription back: it must exist and send receipts
        to `notify_url`. Without one configured, say how to make it."""
        subscription = self.settings.credentials.get("receipt_subscription")
        if not subscription:
            return ("no delivery-receipt subscription configured: learnline carriers "
                    f"subscribe {self.settings.id}")
        url = f"{self._api()}/smsmessaging/v1/outbound/subscriptions/{quote(subscription)}"
        response = self._call("GET", url)
        if response.status_code == 401:
            response = self._call("GET", url, renew=True)
        if response.status_code != 200:
            raise self.api_error(response.status_code,
                                 f"subscription {subscription}: HTTP {response.status_code}",
                                 retry=False, code=str(response.status_code))
        try:
            found = response.json()["deliveryReceiptSubscription"]["callbackReference"][
                "notifyURL"]
        except (ValueError, KeyError, TypeError):
            raise SendError(f"subscription {subscription}: unexpected answer",
                            retry=False) from None
        if found != notify_url:
            raise SendError(f"subscription {subscription} sends receipts to another address: "
                            f"learnline carriers subscribe {self.settings.id}", retry=False)
        return f"subscription {subscription} sends receipts to this gateway"


def _resource_id(response: requests.Response, envelope: str) -> str | None:
    """The last segment of the `resourceURL` in an answer's envelope: Orange's id of what
    it made (a request, a subscription); None when the answer has none."""
    try:
        resource = response.json()[envelope]["resourceURL"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(resource, str):
        return None
    found = resource.rstrip("/").rsplit("/", 1)[-1]
    return found or None


def _request_error(response: requests.Response) -> tuple[str, str]:
    """The SVCnnnn/POLnnnn id and text of Orange's requestError, if there is one."""
    try:
        error = response.json()["requestError"]
        detail = error.get("serviceException") or error.get("policyException") or {}
        return str(detail.get("messageId", "")), str(detail.get("text", ""))[:200]
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(response.status_code), response.text[:200]
