"""The carrier contract: verify a request, parse inbound and status, send one message.

Adapters see a neutral `WebRequest` (not a web framework's object) and return
normalized types. They never touch the database or learning logic.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class CarrierSettings:
    """One carrier's configuration, as validated from the carriers file."""

    id: str
    adapter: str
    sender: str = ""
    country: str | None = None
    locale: str | None = None
    encoding_policy: str = "smart"
    max_segments: int = 6
    tps: float = 10.0
    api_base_url: str | None = None
    public_url: str | None = None
    # The lite web pages' address as this carrier's learners reach it (perhaps a
    # zero-rated name); SMS that point to a page give it whole, else the path alone.
    web_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    allow_ips: tuple[str, ...] = ()
    ussd_max_chars: int = 182
    ussd_session_seconds: float = 180.0
    # The code learners dial (e.g. "*384*12#"), for the web's help page; None: not told.
    ussd_code: str | None = None
    # Screens in scripts outside GSM-7 (Arabic...): UCS-2 with its own, shorter limit, or,
    # where the USSD gateway cannot carry UCS-2, the Latin-script fallback language.
    ussd_ucs2: bool = True
    ussd_ucs2_max_chars: int = 80
    ussd_fallback_locale: str = "en"
    # Country (ISO 3166) to a new learner's language, over gateway.i18n's table.
    languages: Mapping[str, str] = field(default_factory=dict)
    inbound_per_minute: int = 20
    inbound_per_hour: int = 200
    block_per_minute: int = 120
    # Learning over time (docs/scheduling.md): the carrier's learners' time zone when a
    # number does not tell one; quiet hours as local (start, end) hours; pacing.
    timezone: str | None = None
    quiet_hours: tuple[int, int] = (21, 8)
    max_unsolicited_per_day: int = 3
    nudge_after_days: int = 2
    max_nudges: int = 3
    review_after_days: int = 3
    # What one SMS segment costs, for the operator's dashboard (0: unknown).
    price_per_segment: float = 0.0
    currency: str = ""
    credentials: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # The token a rotation replaced, accepted as well until it is removed (docs/operations.md).
    previous_webhook_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WebRequest:
    """An HTTP request as a carrier made it, independent of the web framework.

    `url` is the URL the carrier called (rebuilt from `public_url` behind a
    proxy); `form` maps each field to its list of values.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    form: Mapping[str, list[str]]
    query: Mapping[str, list[str]]
    body: bytes
    remote_addr: str | None

    def field(self, name: str) -> str | None:
        """The first value of a form field, or None."""
        values = self.form.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class WebResponse:
    """What to answer the carrier."""

    body: str = ""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class InboundMessage:
    """A learner's message, normalized. `sender` is as the carrier wrote it."""

    carrier_message_id: str
    sender: str
    recipient: str
    text: str
    extra: Mapping[str, str] = field(default_factory=dict)


# Normalized delivery states (the store's outbox states).
QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED = (
    "queued", "sending", "sent", "delivered", "undelivered", "failed",
)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report. `status` is None for a carrier state we do not track."""

    carrier_message_id: str
    status: str | None
    carrier_status: str
    error_code: str | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class UssdRequest:
    """One screen request of a USSD session, normalized.

    `text` is what the carrier sent as the learner's input: with `cumulative`
    it holds every input of the session joined by '*' (the channel derives the
    latest input from the session's stored history); otherwise it is the latest
    input alone. `is_new` is the carrier saying the session starts; `ended` that
    the learner or the network closed it (no screen will be shown). `sequence`
    numbers the requests of a session, so that a carrier's retry is not taken for a
    second press.
    """

    session_id: str
    sender: str
    service_code: str
    text: str
    is_new: bool
    cumulative: bool
    ended: bool = False
    sequence: int | None = None  # the carrier's request counter, where it sends one


@dataclass(frozen=True)
class SendResult:
    """The carrier accepted a message and gave it this id. `carrier_ref` is a second id
    some carriers report by (Orange: its own id of the request, beside the callbackData we
    chose); delivery reports naming either reach the message."""

    carrier_message_id: str
    carrier_ref: str | None = None


class SendError(Exception):
    """A send that did not go through.

    `retry` tells the worker whether trying again later may succeed;
    `opted_out` that the carrier says the learner unsubscribed.
    """

    def __init__(self, detail: str, *, retry: bool, code: str | None = None,
                 opted_out: bool = False):
        super().__init__(detail)
        self.detail = detail
        self.retry = retry
        self.code = code
        self.opted_out = opted_out

    @property
    def refuses_credentials(self) -> bool:
        """Whether the carrier's API refused the gateway's credentials (HTTP 401 or 403):
        every adapter names the HTTP status of a refused request as `HTTP <status>`."""
        return _REFUSED.search(self.detail) is not None


_REFUSED = re.compile(r"\bHTTP 40[13]\b")


class PayloadError(Exception):
    """A carrier payload we cannot use; `field` names what is missing or wrong."""

    def __init__(self, field: str, problem: str = "missing", *, message: str | None = None):
        super().__init__(message or f"{problem} field '{field}'")
        self.field = field
        self.problem = problem


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_json(body: bytes, *, empty: str | None = None) -> Any:
    """A webhook's JSON body; PayloadError("body") for anything that is not JSON in UTF-8
    (bad bytes, bad syntax, absurd nesting or numbers). `empty` stands in for an empty
    body. A lone surrogate escape ("\\ud800": no character at all, which no database
    or carrier could store or send back) becomes U+FFFD, so the message is kept."""
    try:
        text = body.decode("utf-8") or (empty if empty is not None else "")
        return _mend_surrogates(json.loads(text, parse_constant=_not_json))
    except (UnicodeError, ValueError, RecursionError):
        raise PayloadError("body", message="the body is not JSON in UTF-8") from None


def _not_json(constant: str) -> Any:
    """NaN and Infinity are Python's extensions, not JSON (RFC 8259): refused."""
    raise ValueError(f"{constant} is not JSON")


def _mend_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_mend_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_mend_surrogates(key): _mend_surrogates(item) for key, item in value.items()}
    return value


class Unsupported(Exception):
    """The carrier does not offer this channel (e.g. SMS through a USSD-only aggregator)."""


class CarrierAdapter:
    """The contract every carrier adapter fulfils.

    Subclasses set `name`, `required_keys` and `optional_keys` (their own
    configuration keys, beyond the common ones) and implement the abstract
    methods. `authenticate` runs every check before any parsing.
    """

    name: ClassVar[str]
    required_keys: ClassVar[tuple[str, ...]] = ()
    optional_keys: ClassVar[tuple[str, ...]] = ()
    secret_keys: ClassVar[tuple[str, ...]] = ()
    # Carriers that sign requests are authenticated by signature alone; the
    # rest need a webhook_token or an allow_ips list (checked in config).
    signs_requests: ClassVar[bool] = False
    # The inbound form field holding the learner's number (named in 400 answers).
    sender_field: ClassVar[str] = "from"
    # The USSD request field holding the learner's number, when it differs.
    ussd_sender_field: ClassVar[str | None] = None
    # HTTP methods the carrier calls its webhooks with (Kannel's get-url uses GET).
    webhook_methods: ClassVar[tuple[str, ...]] = ("POST",)
    # Inbound fields (InboundMessage.extra) the carrier needs back on our reply; the
    # worker then calls send(..., reply={...}) with them.
    reply_keys: ClassVar[tuple[str, ...]] = ()
    # Adapter keys that hold a nested table ([carriers.<id>.<key>]).
    table_keys: ClassVar[tuple[str, ...]] = ()
    # Adapter keys holding a secret the carrier's webhooks are checked with (a signing
    # key). Each may be given with its value before a rotation as `previous_<key>`,
    # accepted as well until it is removed, as `previous_webhook_token` is for the token.
    webhook_secrets: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """Check the adapter's own keys at start-up; raise ValueError(key, problem) or
        KeyError(key), which the configuration reports naming file, carrier and key."""

    def secret_values(self) -> list[str]:
        """Every secret this carrier's configuration holds, to keep out of logs."""
        keys = self.secret_keys + tuple(f"previous_{key}" for key in self.webhook_secrets)
        found = [str(self.settings.credentials[key]) for key in keys
                 if isinstance(self.settings.credentials.get(key), str | int)]
        for token in (self.settings.webhook_token, self.settings.previous_webhook_token):
            if token:
                found.append(token)
        return [value for value in found if value]

    def webhook_secret(self, key: str) -> list[str]:
        """The values of a webhook secret `key` accepted now: the configured one, then the
        one it replaced (`previous_<key>`) while that is still configured."""
        values = (self.settings.credentials.get(key),
                  self.settings.credentials.get(f"previous_{key}"))
        return [str(value) for value in values if value]

    def __init__(self, settings: CarrierSettings):
        self.settings = settings
        self._networks = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in settings.allow_ips
        )

    @classmethod
    def offers(cls, channel: str) -> bool:
        """Whether this carrier carries `channel` ('sms' or 'ussd')."""
        method = {"sms": "parse_inbound", "ussd": "parse_ussd"}[channel]
        return getattr(cls, method) is not getattr(CarrierAdapter, method)

    # -- authentication -----------------------------------------------------------------

    def authenticate(self, request: WebRequest) -> bool:
        """True when the request passes every configured check and the signature."""
        if self._networks and not self._address_allowed(request.remote_addr):
            return False
        token = self.settings.webhook_token
        if token is not None:
            given = (request.query.get("token") or [""])[0].encode()
            accepted = (token, self.settings.previous_webhook_token)
            if not any(hmac.compare_digest(given, value.encode())
                       for value in accepted if value):
                return False
        return self.verify_signature(request)

    def _address_allowed(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def verify_signature(self, request: WebRequest) -> bool:
        """Check the carrier's own signature; carriers that sign nothing return True."""
        return True

    # -- the wire format -------------------------------------------------------------------

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read an inbound message; raise PayloadError naming a missing field."""
        raise Unsupported(f"carrier adapter {self.name!r} takes no SMS")

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read a delivery report; raise PayloadError naming a missing field."""
        raise Unsupported(f"carrier adapter {self.name!r} reports no SMS delivery")

    def parse_ussd(self, request: WebRequest) -> UssdRequest:
        """Read a USSD screen request; raise PayloadError naming a missing field."""
        raise Unsupported(f"carrier adapter {self.name!r} has no USSD")

    def ussd_response(self, request: UssdRequest, screen: str, *, end: bool) -> WebResponse:
        """Answer a USSD request with a screen; `end` closes the session."""
        raise Unsupported(f"carrier adapter {self.name!r} has no USSD")

    def inbound_ack(self) -> WebResponse:
        """The answer to an accepted inbound message (replies go out through the outbox)."""
        return WebResponse("")

    def status_ack(self) -> WebResponse:
        """The answer to an accepted delivery report."""
        return WebResponse("")

    def send(self, to: str, body: str, *, status_url: str | None = None) -> SendResult:
        """Send one message; raise SendError saying whether to retry."""
        raise SendError(f"carrier adapter {self.name!r} sends no SMS", retry=False)

    def check_credentials(self) -> str:
        """Prove the credentials work without sending a message; return what was seen.

        Raises SendError when they do not. Adapters with nothing to check raise
        Unsupported.
        """
        raise Unsupported(f"carrier adapter {self.name!r} has no credentials to check")

    def check_receipts(self, notify_url: str | None) -> str:
        """Check the carrier's own arrangement for delivery receipts (a subscription) sends
        them to `notify_url`; return what was seen, or raise SendError. Adapters whose
        receipts need no arrangement raise Unsupported."""
        raise Unsupported(f"carrier adapter {self.name!r} needs no receipt subscription")

    def subscribe_receipts(self, notify_url: str) -> str:
        """Ask the carrier to send delivery receipts to `notify_url`; return the
        subscription's id (SendError when refused, Unsupported when not needed)."""
        raise Unsupported(f"carrier adapter {self.name!r} needs no receipt subscription")

    @staticmethod
    def require(request: WebRequest, *names: str) -> list[str]:
        """The values of required form fields; PayloadError for the first one missing."""
        values = []
        for name in names:
            value = request.field(name)
            if value is None:
                raise PayloadError(name)
            values.append(value)
        return values
