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

WhatsApp through Twilio: a carrier whose `sender` is a WhatsApp address
(`whatsapp:+<number>`, Twilio's own way of naming one), or a Messaging Service SID with
`channel = "whatsapp"`, carries WhatsApp and not SMS (`carried`). Its webhooks are signed
as SMS ones are. An inbound message comes to the WhatsApp webhook with `From=whatsapp:+...`,
`WaId`, `ProfileName` and `MessageType`; a tapped quick reply adds `ButtonPayload` and
`ButtonText`, a chosen list item `ListId` and `ListTitle` (each with the shown text in
`Body`), media `NumMedia`, `MediaUrl0` and `MediaContentType0` (`Body` empty or absent).
A choice is read as its payload or id: the id the gateway gave it, the text the learner
could have typed; its `OriginalRepliedMessageSid` is the sid of the message it was tapped on
(`extra[TAPPED_ON]`), which may be an earlier one than the latest (the name holds
"MessageSid", and is the one field besides MessageSid and SmsMessageSid allowed to).
Messages go to `whatsapp:` numbers through the Messages API; reply buttons (up to 3) and
lists (up to 10) go as Content API objects (`twilio/quick-reply`, `twilio/list-picker`)
created once per layout with every text a variable (`ContentSid` and `ContentVariables` on
the message). Each is found again by its
`friendly_name` on Twilio's side when the process restarts, so none is created twice.
Outside WhatsApp's 24-hour window a message goes as a template: a Content template
approved by WhatsApp, made by the operator, whose SID the payload names
(`{"template": {"content_sid", "parameters"}}`), sent as `ContentSid` with the parameters
as `ContentVariables` "1".."n"; Twilio's refusals of it (TEMPLATE_REFUSED: 21655, 63021,
63027, 63028, 63054) fail the message with `fallback` set.
Error codes: 63003 (the To address is not on WhatsApp or not reachable), 63024
(invalid recipient), 63032 (a WhatsApp limitation for this user) and 63016 (more than 24
hours since the learner's last message: a template is needed) fail the message with
`fallback` set; 63018 (rate limits) is retried; 20003 (HTTP 401) is the credentials refused,
as for SMS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Mapping
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
    CHOICE_TITLE,
    DELIVERED,
    FAILED,
    QUEUED,
    READ,
    SENDING,
    SENT,
    TAPPED_ON,
    UNDELIVERED,
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    Notification,
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
# WhatsApp: the sid of the message a reply quotes or a tapped button was on.
REPLIED_SID = "OriginalRepliedMessageSid"
# The fields whose names hold SID_NAME, each once: anywhere else, it was written by someone.
SID_FIELDS = ("MessageSid", "SmsMessageSid", REPLIED_SID)

WHATSAPP_PREFIX = "whatsapp:"
WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
CHANNELS = ("sms", "whatsapp")
# The longest Body the Messages API takes (WhatsApp's own limit, 4,096, is higher).
WHATSAPP_TEXT_MAX = 1600
# Error codes after which the carrier cannot reach the learner with this message, and a
# fallback carrier may (SendError.fallback); a failed status callback carries them too.
FALLBACK_CODES: dict[str, str] = {
    "63003": "the number is not on WhatsApp, or could not be reached there",
    "63024": "invalid message recipient",
    "63032": "WhatsApp does not deliver this message to this user",
    "63016": "more than 24 hours since the learner's last message: a template is needed",
}
CONTENT_INVALID = "21655"  # "The ContentSid is Invalid": deleted on Twilio's side
# Refusals of a WhatsApp template sent by its ContentSid (beside 63016, a content that is
# not an approved template): the message cannot go as configured, a fallback carrier may
# carry it. The last three may also come later, in a failed status callback.
TEMPLATE_REFUSED: dict[str, str] = {
    CONTENT_INVALID: "no Content template with this SID on the account",
    "63021": "WhatsApp refused the content (a template over 1,024 characters filled)",
    "63027": "no approved WhatsApp template for this content and language",
    "63028": "the template's variables are not the parameters sent",
    "63054": "the template is unavailable for use",
}
TEMPLATE_STATUS_CODES = frozenset({"63027", "63028", "63054"})
DEFAULT_CONTENT_API = "https://content.twilio.com"
# Content objects the adapter creates are named so, with their layout's digest.
CONTENT_PREFIX = "learnline_"
# ...and a layout's kind: an operator's templates (named freely, learnline_... too) are not.
LAYOUT_PREFIXES = (f"{CONTENT_PREFIX}quick_reply_", f"{CONTENT_PREFIX}list_picker_")
QUICK_REPLIES_MAX, LIST_ITEMS_MAX = 3, 10


class TwilioAdapter(CarrierAdapter):
    """Twilio's webhooks and Messages API."""

    name: ClassVar[str] = "twilio"
    required_keys: ClassVar[tuple[str, ...]] = ("account_sid", "auth_token")
    optional_keys: ClassVar[tuple[str, ...]] = ("webhook_signing_key", "channel")
    secret_keys: ClassVar[tuple[str, ...]] = ("auth_token", "webhook_signing_key")
    signs_requests: ClassVar[bool] = True
    sender_field: ClassVar[str] = "From"
    webhook_secrets: ClassVar[tuple[str, ...]] = ("auth_token", "webhook_signing_key")
    # A WhatsApp carrier sends buttons and lists; an SMS one sends the body alone.
    takes_payload: ClassVar[bool] = True
    unreachable_codes: ClassVar[frozenset[str]] = frozenset({"63003"})

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """`channel` is "sms" or "whatsapp" and agrees with the sender: a WhatsApp sender is
        written `whatsapp:+<number>`; `channel = "whatsapp"` is needed only with a Messaging
        Service sender (MG...), whose SID does not say."""
        channel = settings.credentials.get("channel")
        if channel is not None and channel not in CHANNELS:
            raise ValueError("channel", 'must be "sms" or "whatsapp"')
        sender = settings.sender
        if sender.startswith(WHATSAPP_PREFIX):
            if not WHATSAPP_ADDRESS.fullmatch(sender):
                raise ValueError("sender", 'a WhatsApp sender is written "whatsapp:+" and '
                                 'the number in E.164, e.g. "whatsapp:+14155238886"')
            if channel == "sms":
                raise ValueError("channel", '"sms" with a WhatsApp sender: a whatsapp: '
                                 "sender carries WhatsApp only")
        elif channel == "whatsapp" and not sender.startswith("MG"):
            raise ValueError("sender", 'with channel = "whatsapp", the sender is '
                             '"whatsapp:+<number>" or a Messaging Service SID (MG...)')

    @classmethod
    def is_whatsapp(cls, settings: CarrierSettings) -> bool:
        """Whether this carrier is a Twilio WhatsApp sender (see the module's docstring)."""
        return settings.sender.startswith(WHATSAPP_PREFIX) \
            or settings.credentials.get("channel") == "whatsapp"

    @classmethod
    def templates_by_content_sid(cls, settings: CarrierSettings) -> bool:
        """A WhatsApp sender's templates are Content templates, sent by their SIDs."""
        return cls.is_whatsapp(settings)

    @classmethod
    def carried(cls, settings: CarrierSettings, channel: str) -> bool:
        """A WhatsApp sender carries WhatsApp (its messages at the WhatsApp webhook), an SMS
        sender SMS; both take delivery reports at the status webhook."""
        if channel == "status":
            return True
        if channel in CHANNELS:
            return cls.is_whatsapp(settings) == (channel == "whatsapp")
        return super().carried(settings, channel)

    @classmethod
    def how_to_carry(cls, settings: CarrierSettings, channel: str) -> str:
        """An SMS sender carries WhatsApp as a `whatsapp:` address, or, a Messaging Service
        (MG...), with `channel = "whatsapp"`."""
        if channel != "whatsapp" or cls.is_whatsapp(settings):
            return ""
        how = ('a Messaging Service sender (MG...) carries WhatsApp with channel = '
               '"whatsapp"' if settings.sender.startswith("MG") else
               'a Twilio sender carries WhatsApp when written "whatsapp:+<number>"')
        return f"{how} (docs/carriers.md, Twilio's WhatsApp)"

    @classmethod
    def message_chars(cls, settings: CarrierSettings) -> int:
        """A WhatsApp sender's messages go whole, up to the Messages API's Body limit."""
        return WHATSAPP_TEXT_MAX if cls.is_whatsapp(settings) else 0

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        self._whatsapp = self.is_whatsapp(settings)
        # Content API objects by friendly name; None until Twilio's list was read once.
        self._contents: dict[str, str] | None = None
        self._contents_lock = threading.Lock()
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
            if not (request.field("NumMedia") or "0").lstrip("0"):  # no picture either
                raise PayloadError("Body")
            body = ""
        return InboundMessage(sid, sender, recipient, body)

    def parse_notification(self, request: WebRequest) -> Notification:
        """A WhatsApp carrier's webhook: one inbound message (a status callback, should
        the sender's callback URL name this webhook, is read as a status). A quick reply
        is read as its ButtonPayload, a list choice as its ListId; media without words
        (NumMedia > 0, no Body) is a message with no text."""
        status = request.field("MessageStatus")
        if status is not None and status not in ("received", "receiving"):
            return Notification(statuses=(self.parse_status(request),))
        sid = self.genuine_form(request)
        sender, recipient = self.require(request, "From", "To")
        extra: dict[str, str] = {}
        for name, key in (("ProfileName", "profile_name"), ("WaId", "wa_id"),
                          ("MessageType", "type"), ("MediaUrl0", "media_url")):
            if request.field(name):
                extra[key] = request.field(name) or ""
        payload, listed = request.field("ButtonPayload"), request.field("ListId")
        if payload:
            text = payload
            extra[CHOICE_TITLE] = request.field("ButtonText") or request.field("Body") or ""
        elif listed:
            text = listed
            extra[CHOICE_TITLE] = request.field("ListTitle") or request.field("Body") or ""
        else:
            body = request.field("Body")
            if body is None:
                if int(request.field("NumMedia") or "0") == 0:
                    raise PayloadError("Body")
                body = ""
            text = body
        if (payload or listed) and request.field(REPLIED_SID):
            extra[TAPPED_ON] = request.field(REPLIED_SID) or ""
        message = InboundMessage(sid, sender.removeprefix(WHATSAPP_PREFIX),
                                 recipient.removeprefix(WHATSAPP_PREFIX), text, extra)
        return Notification(messages=(message,))

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read MessageSid, MessageStatus and ErrorCode from a genuine Twilio form; a
        WhatsApp sender's failure whose code another channel may get past (FALLBACK_CODES)
        is flagged for the carrier's fallback."""
        sid = self.genuine_form(request)
        (status,) = self.require(request, "MessageStatus")
        error_code = request.field("ErrorCode") or None
        state = STATUS_MAP.get(status.lower())
        return StatusUpdate(
            carrier_message_id=sid,
            status=state,
            carrier_status=status,
            error_code=error_code,
            opted_out=error_code == OPTED_OUT,
            fallback=state in (FAILED, UNDELIVERED) and self.is_whatsapp(self.settings)
            and (error_code in FALLBACK_CODES or error_code in TEMPLATE_STATUS_CODES),
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
        """Fetch the account: proves the account SID and auth token; for a WhatsApp
        sender, read the Content API's list too (its buttons and lists need it)."""
        try:
            account = self._rest_client().api.v2010.accounts(
                self.settings.credentials["account_sid"]).fetch()
        except TwilioRestException as exc:
            raise self.api_error(exc.status, f"HTTP {exc.status} code {exc.code}: {exc.msg}",
                                 retry=False, code=str(exc.code)) from exc
        seen = f"account {account.friendly_name!r} is {account.status}"
        if self._whatsapp:
            found = self._list_contents()
            with self._contents_lock:
                self._contents = found
            made = f"{len(found)} layout{'' if len(found) == 1 else 's'}"
            seen += f"; the Content API answers ({made} of buttons or lists made)"
        return seen

    def send(self, to: str, body: str, *, status_url: str | None = None,
             payload: Mapping[str, Any] | None = None) -> SendResult:
        """Create a Message; classify Twilio's errors as retry or fail. A WhatsApp carrier
        sends to `whatsapp:<to>`, and a payload's buttons or list as Content API content
        (`body` stays the message's text for every other carrier)."""
        sender = self.settings.sender
        params: dict[str, str] = {"to": to, "body": body}
        template = payload.get("template") if self._whatsapp and payload else None
        if self._whatsapp:
            params["to"] = WHATSAPP_PREFIX + to
            if template:
                content = template_content(template)
            else:
                content = self._content_or_text(body, payload) if payload else None
            if content is not None:
                del params["body"]
                params["content_sid"], variables = content
                if variables is not None:
                    params["content_variables"] = variables
            elif len(body) > WHATSAPP_TEXT_MAX:
                raise SendError(f"text over {WHATSAPP_TEXT_MAX} characters", retry=False)
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
            if code == CONTENT_INVALID and "content_sid" in params and not template:
                self._forget_content(params["content_sid"])  # made again on the next try
                raise SendError(f"HTTP {exc.status} code {code}: {exc.msg}", retry=True,
                                code=code) from exc
            refused = bool(template) and code in TEMPLATE_REFUSED
            explained = TEMPLATE_REFUSED[code] if refused else FALLBACK_CODES.get(code or "")
            reason = f": {explained}" if explained else ""
            raise self.api_error(
                exc.status, f"HTTP {exc.status} code {code}{reason}: {exc.msg}", code=code,
                retry=self.retry_later(exc.status) or code in RATE_LIMITED,
                opted_out=code == OPTED_OUT, fallback=code in FALLBACK_CODES or refused,
            ) from exc
        except TwilioException as exc:
            raise SendError(f"twilio: {exc}", retry=True) from exc
        if not message.sid:
            raise SendError("Twilio accepted the message but gave no sid", retry=True)
        return SendResult(message.sid)

    # -- the Content API: WhatsApp's reply buttons and lists ---------------------------------

    def _content_or_text(self, body: str, payload: Mapping[str, Any]
                         ) -> tuple[str, str] | None:
        """The message's content, or None to send it as text: when the Content API
        refuses for good (no Content API at this address, a layout refused), the body
        still writes every option out and says what to type, so the learner can answer.
        A refusal that may pass later (credentials, rate limits, Twilio's failure) is
        raised, to be retried as content."""
        try:
            return self._content(body, payload)
        except SendError as exc:
            if exc.retry:
                raise
            log.warning("carrier %s: the Content API refused (%s): sending the options as "
                        "text", self.settings.id, exc.detail)
            return None

    def _content(self, body: str, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        """(ContentSid, ContentVariables) for a message with buttons or a list; None for a
        payload that has neither (sent as text)."""
        layout = content_layout(payload)
        if layout is None:
            return None
        types, variables = layout
        return self._content_sid(types), json.dumps(
            {**variables, "1": body}, ensure_ascii=False, sort_keys=True)

    def _content_base(self) -> str:
        # A stand-in (or a proxy) configured as api_base_url serves the Content API too.
        return (self.settings.api_base_url or DEFAULT_CONTENT_API).rstrip("/")

    def _auth(self) -> tuple[str, str]:
        creds = self.settings.credentials
        return str(creds["account_sid"]), str(creds["auth_token"])

    def _content_sid(self, types: dict[str, Any]) -> str:
        """The SID of the content object of this layout: known, found on Twilio's side by
        its name (once per process), or created."""
        name = content_name(types)
        with self._contents_lock:
            if self._contents is None:
                self._contents = self._list_contents()
            if name not in self._contents:
                self._contents[name] = self._create_content(name, types)
            return self._contents[name]

    def _forget_content(self, sid: str) -> None:
        with self._contents_lock:
            if self._contents is not None:
                for name in [n for n, known in self._contents.items() if known == sid]:
                    del self._contents[name]

    def _list_contents(self) -> dict[str, str]:
        """Every content object this gateway made before (its names start LAYOUT_PREFIXES),
        read page by page from Twilio's list."""
        found: dict[str, str] = {}
        url: str | None = f"{self._content_base()}/v1/Content?PageSize=1000"
        while url:
            answer = self.call_api("GET", url, what="content", auth=self._auth())
            if answer.status_code != 200:
                raise self._content_refusal(answer)
            page = _json(answer)
            for item in page.get("contents") or []:
                if isinstance(item, dict) and str(item.get("friendly_name", "")).startswith(
                        LAYOUT_PREFIXES) and item.get("sid"):
                    found.setdefault(str(item["friendly_name"]), str(item["sid"]))
            next_page = (page.get("meta") or {}).get("next_page_url")
            url = str(next_page) if next_page else None
        return found

    def _create_content(self, name: str, types: dict[str, Any]) -> str:
        body = {"friendly_name": name, "language": "en", "types": types,
                "variables": sample_variables(types)}
        answer = self.call_api("POST", f"{self._content_base()}/v1/Content", what="content",
                               auth=self._auth(), json=body)
        if answer.status_code not in (200, 201):
            raise self._content_refusal(answer)
        sid = _json(answer).get("sid")
        if not isinstance(sid, str) or not sid.startswith("HX"):
            raise SendError("content: Twilio created no content sid", retry=True)
        return sid

    def _content_refusal(self, answer: Any) -> SendError:
        data = _json(answer)
        code = str(data["code"]) if data.get("code") is not None else None
        return self.api_error(answer.status_code, f"content: HTTP {answer.status_code} code "
                              f"{code}: {str(data.get('message', ''))[:200]}", code=code)


def template_content(template: Mapping[str, Any]) -> tuple[str, str | None]:
    """(ContentSid, ContentVariables) of a template payload: its Content SID, and its
    parameters as the values of "1".."n" in order (None for no variables). SendError, not
    retried and left to a fallback, for a template with no Content SID (one named for
    Meta's Cloud API): sent as text, WhatsApp would refuse it outside the window."""
    sid = template.get("content_sid")
    if not isinstance(sid, str) or not sid.startswith("HX"):
        raise SendError(f"template {template.get('name', '')!r} has no Content SID: a Twilio "
                        "WhatsApp sender sends Content templates (content_sids)",
                        retry=False, fallback=True)
    parameters = [str(value) for value in template.get("parameters") or ()]
    variables = {str(number): value for number, value in enumerate(parameters, 1)}
    return sid, json.dumps(variables, ensure_ascii=False) if variables else None


def content_layout(payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The Content API `types` of a payload's buttons (`twilio/quick-reply`, up to 3) or
    list (`twilio/list-picker`, up to 10 items), every text a numbered variable ("1" the
    body), and the values of its variables but the body; None for neither. A list item's
    description is required: an item without one is described by its title."""
    buttons = payload.get("buttons")
    listed = payload.get("list")
    variables: dict[str, str] = {}

    def variable(value: Any) -> str:
        key = str(len(variables) + 2)
        variables[key] = str(value)
        return "{{" + key + "}}"

    if buttons:
        actions = [{"title": variable(b["title"]), "id": variable(b["id"])}
                   for b in list(buttons)[:QUICK_REPLIES_MAX]]
        return {"twilio/quick-reply": {"body": "{{1}}", "actions": actions}}, variables
    if listed and listed.get("rows"):
        button = variable(listed["button"])
        items = [{"item": variable(row["title"]), "id": variable(row["id"]),
                  "description": variable(row.get("description") or row["title"])}
                 for row in list(listed["rows"])[:LIST_ITEMS_MAX]]
        return {"twilio/list-picker": {"body": "{{1}}", "button": button,
                                       "items": items}}, variables
    return None


def content_name(types: dict[str, Any]) -> str:
    """A content object's friendly name: its kind and size, and a digest of its layout
    (a layout changed in a later version is a new object)."""
    kind = next(iter(types))
    size = len(types[kind].get("actions") or types[kind].get("items") or [])
    digest = hashlib.sha256(json.dumps(types, sort_keys=True).encode()).hexdigest()[:12]
    return f"{CONTENT_PREFIX}{kind.removeprefix('twilio/').replace('-', '_')}_{size}_{digest}"


def sample_variables(types: dict[str, Any]) -> dict[str, str]:
    """A sample value for every variable of a layout (the Content API asks for one)."""
    found = sorted(set(re.findall(r"\{\{(\d+)\}\}", json.dumps(types))), key=int)
    return {key: "Learnline" if key == "1" else f"option {key}" for key in found}


def _json(answer: Any) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


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


__all__ = ["FALLBACK_CODES", "STATUS_MAP", "CarrierSettings", "TwilioAdapter"]
