"""The carrier contract: verify a request, parse inbound and status, send one message.

Adapters see a neutral `WebRequest` (not a web framework's object) and return
normalized types. They never touch the database or learning logic. Every request an
adapter makes to its carrier's API goes through one path, `CarrierAdapter.call_api`:
one timeout, network failures retried, one redacted log record per attempt; and every
refusal it answers becomes a `SendError` through `CarrierAdapter.api_error`.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

# Seconds a request to a carrier's API may take to connect, and again to be answered.
API_TIMEOUT_SECONDS = 15.0
# One DEBUG record per request to a carrier's API (never its headers or body).
api_log = logging.getLogger("carrier_adapters.api")
REDACTED = "[redacted]"
# Credentials of recent calls kept to redact (a bearer token changes every hour or so).
_CALL_SECRETS_KEPT = 16


@dataclass(frozen=True)
class CarrierSettings:
    """What an adapter reads of one carrier's configuration, as validated from the carriers
    file: the carrier's identity, the sender it sends as, its API's address and
    credentials, and how its webhooks are authenticated. The gateway's policy for the
    carrier's learners (pacing, USSD layout, languages, limits, prices, URLs) is not here:
    it is the gateway's (gateway.config.Carrier)."""

    id: str
    adapter: str
    sender: str = ""
    api_base_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    allow_ips: tuple[str, ...] = ()
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


# The key of `InboundMessage.extra` naming, for a tapped button or list row, the carrier's
# id of the message the learner tapped it on (the id its send returned): a learner may
# scroll up and tap a choice of an earlier message.
TAPPED_ON = "tapped_on"
# The key of `InboundMessage.extra` holding, for a tapped choice, what the learner's phone
# shows of it in the chat: the button's or row's title (the text is its id).
CHOICE_TITLE = "choice_title"

# Normalized delivery states (the store's outbox states).
QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED = (
    "queued", "sending", "sent", "delivered", "undelivered", "failed",
)
# A report that the learner read the message (WhatsApp's read receipt, from Meta or
# Twilio): delivered, and read. The outbox keeps the message `delivered` and notes when it
# was read, so a late `delivered` report changes nothing.
READ = "read"


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report. `status` is None for a carrier state we do not track."""

    carrier_message_id: str
    status: str | None
    carrier_status: str
    error_code: str | None = None
    opted_out: bool = False
    # The carrier could not deliver it and the carrier's `fallback_carrier` may (a number
    # not on WhatsApp): as SendError.fallback, for a failure reported after acceptance.
    fallback: bool = False


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
class Notification:
    """What one webhook request carrying several events said (WhatsApp's notifications):
    learners' messages and reports on ours, in order."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()


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
    `opted_out` that the carrier says the learner unsubscribed;
    `fallback` that this carrier cannot reach the learner with this message (not on
    WhatsApp, a template refused, the 24-hour window closed) and the carrier's
    `fallback_carrier` may.
    """

    def __init__(self, detail: str, *, retry: bool, code: str | None = None,
                 opted_out: bool = False, fallback: bool = False):
        super().__init__(detail)
        self.detail = detail
        self.retry = retry
        self.code = code
        self.opted_out = opted_out
        self.fallback = fallback

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


def without_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate (half of a UTF-16 pair: no character at all, which
    no database or carrier could store or send back) as U+FFFD, so the message is kept."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _mend_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return without_lone_surrogates(value)
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
    # Whether `send` takes an outgoing message's structure (`payload=`: reply buttons, a
    # list) beside its plain body; the worker gives it to such adapters only.
    # Error codes (SendError.code, StatusUpdate.error_code) by which the carrier says the
    # number is not on its network at all (not a WhatsApp user), rather than that this one
    # message could not go: the learner is sent everything by the fallback carrier until
    # they write through this carrier again.
    unreachable_codes: ClassVar[frozenset[str]] = frozenset()
    takes_payload: ClassVar[bool] = False
    # The longest text the carrier takes as one message when its messages are not SMS
    # (WhatsApp: 4,096 characters): text for it is queued as written, neither split into
    # segments nor folded to GSM-7. 0: the carrier sends SMS.
    whole_message_chars: ClassVar[int] = 0

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """Check the adapter's own keys at start-up; raise ValueError(key, problem) or
        KeyError(key), which the configuration reports naming file, carrier and key."""

    @classmethod
    def templates_by_content_sid(cls, settings: CarrierSettings) -> bool:
        """Whether this carrier sends WhatsApp templates as content named by a SID per
        language (Twilio's Content templates) rather than by a name and a language code
        (Meta's); a payload's template then carries `content_sid`."""
        return False

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
        self._api_session: requests.Session | None = None
        self._api_session_lock = threading.Lock()
        self._call_secrets: deque[str] = deque(maxlen=_CALL_SECRETS_KEPT)

    @classmethod
    def offers(cls, channel: str) -> bool:
        """Whether this carrier carries `channel` ('sms', 'ussd' or 'whatsapp')."""
        method = {"sms": "parse_inbound", "ussd": "parse_ussd",
                  "whatsapp": "parse_notification"}[channel]
        return getattr(cls, method) is not getattr(CarrierAdapter, method)

    @classmethod
    def carried(cls, settings: CarrierSettings, channel: str) -> bool:
        """Whether one carrier of this adapter, as `settings` configure it, carries
        `channel` ('sms', 'ussd', 'whatsapp', or 'status': it takes delivery reports at
        its status webhook). `offers` says what the adapter can carry in some
        configuration; an adapter whose configuration chooses (Twilio: a `whatsapp:`
        sender carries WhatsApp, not SMS) narrows it here."""
        if channel == "status":
            return cls.carried(settings, "sms")
        return cls.offers(channel)

    @classmethod
    def how_to_carry(cls, settings: CarrierSettings, channel: str) -> str:
        """What to change in `settings` for a carrier of this adapter that does not carry
        `channel` to carry it, for a configuration error; '' when no setting would."""
        return ""

    def carries(self, channel: str) -> bool:
        """Whether this carrier, as configured, carries `channel` (see `carried`)."""
        return self.carried(self.settings, channel)

    @classmethod
    def message_chars(cls, settings: CarrierSettings) -> int:
        """The longest text one carrier of this adapter, as configured, takes as one
        message when its messages are not SMS (`whole_message_chars`); 0: it sends SMS."""
        return cls.whole_message_chars

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

    def parse_notification(self, request: WebRequest) -> Notification:
        """Read a WhatsApp notification: every message and status it carries; raise
        PayloadError naming a missing field."""
        raise Unsupported(f"carrier adapter {self.name!r} has no WhatsApp")

    def challenge(self, request: WebRequest) -> WebResponse:
        """Answer an authenticated subscription challenge (a GET on the WhatsApp webhook)."""
        raise Unsupported(f"carrier adapter {self.name!r} has no WhatsApp")

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

    # -- the carrier's API: the one path every request to it takes ------------------------

    def api_timeout(self) -> float:
        """Seconds a request to the carrier's API may take to connect, and again to be
        answered (`API_TIMEOUT_SECONDS`, read when the request is made)."""
        return API_TIMEOUT_SECONDS

    def call_api(self, method: str, url: str, *, what: str = "",
                 headers: Mapping[str, str] | None = None, params: Any = None,
                 data: Any = None, json: Any = None, auth: tuple[str, str] | None = None,
                 allow_redirects: bool = True) -> requests.Response:
        """Make one request to the carrier's API within `api_timeout()` and return its
        answer, whatever its status (`api_error` turns a refusal into a SendError).

        A request that gets no answer (no connection, no answer in time) raises the
        SendError `network_error` makes, to be retried. `what` names the call in its
        errors and its record ("token"). Each attempt leaves one DEBUG record on the
        `carrier_adapters.api` logger: the carrier, the method, the address without its
        query string, the status or the failure, and the time taken; never headers or
        bodies, and every secret redacted."""
        self._remember_call_secrets(headers, auth)
        started = time.monotonic()
        try:
            response = self._http_session().request(
                method, url, headers=dict(headers) if headers else None, params=params,
                data=data, json=json, auth=auth, timeout=self.api_timeout(),
                allow_redirects=allow_redirects)
        except requests.RequestException as exc:
            self._record_attempt(what, method, url, f"no answer ({type(exc).__name__})",
                                 started)
            raise self.network_error(exc, what, url) from exc
        self._record_attempt(what, method, url, f"HTTP {response.status_code}", started)
        return response

    def network_error(self, exc: requests.RequestException, what: str = "",
                      url: str = "") -> SendError:
        """The SendError for a request that got no answer: always worth trying again.
        It names the error's type and the host it tried (scheme, host and port of `url`),
        never the error's text (it holds the whole URL, whose path or query may hold a
        key)."""
        prefix = f"{what}: " if what else ""
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]  # never a user and password
        where = f" reaching {parts.scheme}://{host}" if host else ""
        return SendError(f"{prefix}network: {type(exc).__name__}{where}", retry=True)

    def retry_later(self, status: int, answer: str = "") -> bool:
        """Whether a request the carrier's API refused with HTTP `status` (its answer's
        text `answer`) may pass later: too many requests (429), the carrier's own failure
        (5xx), and the gateway's credentials refused (401, 403: an operator's mistake,
        put right in the configuration, the messages kept until then). Any other
        refusal is final. An adapter whose carrier says otherwise overrides this."""
        return status in (401, 403, 429) or status >= 500

    def api_error(self, status: int, detail: str, *, answer: str = "",
                  code: str | None = None, retry: bool | None = None,
                  opted_out: bool = False, fallback: bool = False) -> SendError:
        """The SendError for a request the carrier's API refused with HTTP `status`:
        retried as `retry_later(status, answer)` says unless `retry` is given, its
        detail with every secret redacted. A detail naming `HTTP 401` or `HTTP 403`
        is what the gateway reports as credentials refused (SendError.refuses_credentials)."""
        if retry is None:
            retry = self.retry_later(status, answer)
        return SendError(self.redact(detail), retry=retry, code=code, opted_out=opted_out,
                         fallback=fallback)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by [redacted]: the configuration's
        (`secret_values`) and the credentials recent calls to the API carried."""
        secrets = {*self.secret_values(), *tuple(self._call_secrets)}
        for secret in sorted(secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def api_address(self, url: str) -> str:
        """A request's address as its record names it: scheme, host, port and path, never
        the query string or a user and password (a key may sit in either)."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

    def _http_session(self) -> requests.Session:
        with self._api_session_lock:
            if self._api_session is None:
                self._api_session = requests.Session()
            return self._api_session

    def _remember_call_secrets(self, headers: Mapping[str, str] | None,
                               auth: tuple[str, str] | None) -> None:
        """Keep the credentials a call carries (Authorization headers, Basic auth, as sent
        and as their parts) to redact them from records and errors."""
        found: list[str] = []
        if auth:
            encoded = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            found += [str(auth[1]), encoded]
        for name, value in (headers or {}).items():
            if name.lower() in ("authorization", "proxy-authorization") and value:
                found.append(str(value))
                found.append(str(value).partition(" ")[2].strip())
        for secret in found:
            if secret and secret not in self._call_secrets:
                self._call_secrets.append(secret)

    def _record_attempt(self, what: str, method: str, url: str, outcome: str,
                        started: float) -> None:
        if not api_log.isEnabledFor(logging.DEBUG):
            return
        call = f"{what} " if what else ""
        api_log.debug("carrier %s: %s%s %s: %s in %.2fs", self.settings.id, call, method,
                      self.redact(self.api_address(url)), outcome,
                      time.monotonic() - started)

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
