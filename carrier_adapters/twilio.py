"""Twilio Programmable Messaging: signed form webhooks in, the Messages API out.

Signatures are checked with the twilio package's RequestValidator over the
URL Twilio called (the carrier's `public_url` plus path and query, so it
works behind a proxy) and the form fields, in HMAC-SHA1 or, when the
X-Twilio-Webhooks-Signature-Settings header asks for it, HMAC-SHA256.

That signature covers names and values joined without separators, so a captured
request can be re-split into other fields with the same signature (a MessageSid
swallowing the next field becomes a new message). A signed form is therefore also
checked for what Twilio itself sends: CamelCase names each given once, a message sid
of its documented shape (SmsSid and SmsMessageSid the same), the configured account,
numbers as Twilio writes them, a status of lowercase letters, and counts that are
numbers. Anything else is a 400 naming the field.

A learner chooses the Body of their own message, and could write it to read as other
fields ("...MessageSidSM<32 hex>To+1..."), so that the request, re-split there, keeps
its signature and passes every shape check as a new message from another number. A
new MessageSid needs the text "MessageSid" followed by the new sid somewhere in the
signed string; Twilio's own "MessageSid" and "SmsMessageSid" are followed by the
original sid, so the new one can only come from a value. The signed string of a
genuine request therefore holds "MessageSid" exactly once per MessageSid or
SmsMessageSid field, and a request in which it appears anywhere else (in a value, in
another name) is refused: the re-split, and the crafted message it was cut from.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, ClassVar

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client

from carrier_adapters.base import (
    DELIVERED,
    FAILED,
    QUEUED,
    READ,
    SENDING,
    SENT,
    UNDELIVERED,
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    StatusUpdate,
    WebRequest,
    WebResponse,
)

log = logging.getLogger(__name__)

# Twilio's MessageStatus values onto the outbox's states; None: not tracked.
STATUS_MAP: dict[str, str | None] = {
    "accepted": QUEUED,
    "scheduled": QUEUED,
    "queued": QUEUED,
    "sending": SENDING,
    "sent": SENT,
    "partially_delivered": SENT,
    "delivered": DELIVERED,
    "read": READ,
    "undelivered": UNDELIVERED,
    "failed": FAILED,
    "canceled": FAILED,
    "receiving": None,
    "received": None,
}

OPTED_OUT = "21610"  # "Attempt to send to unsubscribed recipient"
RATE_LIMITED = {"20429", "63018", "14107"}

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# What Twilio's own webhooks look like: SMS (SM) or MMS (MM) sids of 32 hex digits,
# CamelCase parameter names, the one API version, counts in digits.
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
PARAMETER_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
SID_ALIASES = ("SmsSid", "SmsMessageSid")
API_VERSION = "2010-04-01"
COUNTS = ("NumMedia", "NumSegments")
# A number as Twilio writes it: E.164, a WhatsApp address (whatsapp:E.164) or a short code.
NUMBER = re.compile(r"(?:whatsapp:)?\+[1-9][0-9]{6,14}|[0-9]{3,8}")
NUMBERS = ("From", "To")
STATUS_WORD = re.compile(r"[a-z_]{1,32}")
SID_NAME = "MessageSid"
SID_FIELDS = ("MessageSid", "SmsMessageSid")


class TwilioAdapter(CarrierAdapter):
    """Twilio's webhooks and Messages API."""

    name: ClassVar[str] = "twilio"
    required_keys: ClassVar[tuple[str, ...]] = ("account_sid", "auth_token")
    optional_keys: ClassVar[tuple[str, ...]] = ("webhook_signing_key",)
    secret_keys: ClassVar[tuple[str, ...]] = ("auth_token", "webhook_signing_key")
    signs_requests: ClassVar[bool] = True
    sender_field: ClassVar[str] = "From"
    webhook_secrets: ClassVar[tuple[str, ...]] = ("auth_token", "webhook_signing_key")

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        # Each with the secret it replaced (previous_<key>) while that is configured.
        self._validators = [RequestValidator(key) for key in self.webhook_secret("auth_token")]
        signing_keys = self.webhook_secret("webhook_signing_key")
        self._sha256_validators = [RequestValidator(key) for key in signing_keys] \
            if settings.credentials.get("webhook_signing_key") else self._validators
        self._client: Client | None = None

    # -- webhooks -----------------------------------------------------------------------------

    def verify_signature(self, request: WebRequest) -> bool:
        """Check X-Twilio-Signature over the public URL and the form fields."""
        signature = request.header("X-Twilio-Signature")
        if not signature:
            return False
        algorithm = get_signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
        if algorithm.upper() not in ("HMAC_SHA1", "HMAC_SHA256"):
            return False  # a scheme Twilio does not use: not Twilio
        sha1 = algorithm.upper() == "HMAC_SHA1"
        params = _MultiForm(request.form)
        for validator in self._validators if sha1 else self._sha256_validators:
            # validate() always signs the URL twice (with and without an explicit port);
            # the URL as called is the first of those, and matches nearly every request.
            if "bodySHA256" not in request.url and hmac.compare_digest(
                    validator.compute_signature(request.url, params, algorithm).encode(),
                    signature.encode()):
                return True
            if validator.validate(request.url, params, signature, algorithm):
                return True
        return False

    def genuine_form(self, request: WebRequest) -> str:
        """The request's MessageSid, once its fields are ones Twilio sends (see the module's
        docstring); PayloadError naming the first field that is not."""
        for name, values in request.form.items():
            shown = name if len(name) <= 40 else name[:40] + "..."  # the answer stays short
            if not PARAMETER_NAME.fullmatch(name):
                raise PayloadError(name, message=f"field '{shown}' is not a Twilio parameter")
            if len(values) != 1:
                raise PayloadError(name, message=f"field '{shown}' is repeated; Twilio "
                                                 "sends each field once")
        signed = "".join(name + value for name, values in request.form.items()
                         for value in values)
        if signed.count(SID_NAME) != sum(1 for name in request.form if name in SID_FIELDS):
            raise PayloadError("MessageSid", message="'MessageSid' is written where Twilio "
                                                     "never writes it: a re-split request")
        sid = request.field("MessageSid")
        if sid is None:
            raise PayloadError("MessageSid")
        if not MESSAGE_SID.fullmatch(sid):
            raise PayloadError("MessageSid", message="field 'MessageSid' is not a Twilio "
                                                     "message sid (SM or MM, 32 hex digits)")
        for alias in SID_ALIASES:
            if request.field(alias) not in (None, sid):
                raise PayloadError(alias, message=f"field '{alias}' is not the MessageSid")
        account = request.field("AccountSid")
        if account is None:
            raise PayloadError("AccountSid")
        expected = str(self.settings.credentials["account_sid"])
        if not hmac.compare_digest(account.encode(), expected.encode()):
            raise PayloadError("AccountSid", message="field 'AccountSid' is not this carrier's "
                                                     "account_sid")
        if request.field("ApiVersion") not in (None, API_VERSION):
            raise PayloadError("ApiVersion", message=f"field 'ApiVersion' is not {API_VERSION}")
        for name in COUNTS:
            value = request.field(name)
            if value is not None and not (value.isascii() and value.isdigit()):
                raise PayloadError(name, message=f"field '{name}' is not a count")
        for name in NUMBERS:
            value = request.field(name)
            if value is not None and not NUMBER.fullmatch(value):
                raise PayloadError(name, message=f"field '{name}' is not a number as Twilio "
                                                 "writes it (E.164, whatsapp: or a short code)")
        status = request.field("MessageStatus")
        if status is not None and not STATUS_WORD.fullmatch(status):
            raise PayloadError("MessageStatus", message="field 'MessageStatus' is not a status "
                                                        "Twilio writes")
        return sid

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read MessageSid, From, To and Body from a genuine Twilio form. A picture without
        words (NumMedia > 0) may come without a Body: it is a message with no text."""
        sid = self.genuine_form(request)
        sender, recipient = self.require(request, "From", "To")
        body = request.field("Body")
        if body is None:
            if int(request.field("NumMedia") or "0") == 0:
                raise PayloadError("Body")
            body = ""
        return InboundMessage(sid, sender, recipient, body)

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read MessageSid, MessageStatus and ErrorCode from a genuine Twilio form."""
        sid = self.genuine_form(request)
        (status,) = self.require(request, "MessageStatus")
        error_code = request.field("ErrorCode") or None
        return StatusUpdate(
            carrier_message_id=sid,
            status=STATUS_MAP.get(status.lower()),
            carrier_status=status,
            error_code=error_code,
            opted_out=error_code == OPTED_OUT,
        )

    def inbound_ack(self) -> WebResponse:
        """An empty TwiML response: replies go out through the Messages API."""
        return WebResponse(EMPTY_TWIML, 200, "text/xml; charset=utf-8")

    # -- sending --------------------------------------------------------------------------------

    def _rest_client(self) -> Client:
        if self._client is None:
            creds = self.settings.credentials
            client = Client(creds["account_sid"], creds["auth_token"],
                            http_client=_SharedPathClient(self))
            if self.settings.api_base_url:
                client.api.base_url = self.settings.api_base_url.rstrip("/")
            self._client = client
        return self._client

    def check_credentials(self) -> str:
        """Fetch the account: proves the account SID and auth token."""
        try:
            account = self._rest_client().api.v2010.accounts(
                self.settings.credentials["account_sid"]).fetch()
        except TwilioRestException as exc:
            raise self.api_error(exc.status, f"HTTP {exc.status} code {exc.code}: {exc.msg}",
                                 retry=False, code=str(exc.code)) from exc
        return f"account {account.friendly_name!r} is {account.status}"

    def send(self, to: str, body: str, *, status_url: str | None = None) -> SendResult:
        """Create a Message; classify Twilio's errors as retry or fail."""
        sender = self.settings.sender
        params: dict[str, str] = {"to": to, "body": body}
        if sender.startswith("MG"):
            params["messaging_service_sid"] = sender
        else:
            params["from_"] = sender
        if status_url:
            params["status_callback"] = status_url
        try:
            message = self._rest_client().messages.create(**params)
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code is not None else None
            raise self.api_error(
                exc.status, f"HTTP {exc.status} code {code}: {exc.msg}", code=code,
                retry=self.retry_later(exc.status) or code in RATE_LIMITED,
                opted_out=code == OPTED_OUT,
            ) from exc
        except TwilioException as exc:
            raise SendError(f"twilio: {exc}", retry=True) from exc
        if not message.sid:
            raise SendError("Twilio accepted the message but gave no sid", retry=True)
        return SendResult(message.sid)


class _SharedPathClient(HttpClient):
    """The twilio library's HTTP client, making its requests through the adapter's call
    path (CarrierAdapter.call_api: its timeout, its network errors, its record)."""

    def __init__(self, adapter: TwilioAdapter):
        super().__init__(logging.getLogger("twilio.http_client"), False)
        self._adapter = adapter

    def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                timeout: float | None = None, allow_redirects: bool = False) -> Response:
        """One request as the library asks for it (a JSON body when its Content-Type says
        so, else a form), within the shared timeout rather than `timeout`."""
        kind = (headers or {}).get("Content-Type")
        body = {"json" if kind in ("application/json", "application/scim+json") else "data":
                data}
        answer = self._adapter.call_api(method.upper(), uri, params=params, headers=headers,
                                        auth=auth, allow_redirects=allow_redirects, **body)
        return Response(int(answer.status_code), answer.text, answer.headers)


class _MultiForm:
    """The form in the shape RequestValidator reads (every value of a repeated field)."""

    def __init__(self, form):
        self._form = form

    def __iter__(self):
        return iter(self._form)

    def getall(self, name: str) -> list[str]:
        return list(self._form[name])

    def __getitem__(self, name: str) -> str:
        return self._form[name][0]


__all__ = ["STATUS_MAP", "CarrierSettings", "TwilioAdapter"]
