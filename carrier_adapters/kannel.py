"""Kannel (an SMPP/UCP/... gateway run next to a carrier's SMSC): smsbox get-url in,
smsbox sendsms out, delivery reports through the dlr-url.

- Inbound: an `sms-service` whose `get-url` calls
  `GET /carriers/<id>/sms?token=...&from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I&time=%T`.
  `from`, `text` and `id` are required. The text is read from the raw query in the
  charset Kannel names (`charset`, else `coding` 2 = UTF-16BE, else UTF-8): a UCS-2
  message reaches us as URL-encoded UTF-16BE bytes, which no UTF-8 query parser keeps.
  `%b` (the message as it came) is better than `%a` (words with spaces squeezed, which
  also squeezes 0x20 bytes inside UTF-16BE text); both work. The answer is an empty
  body: with `max-messages = 0` (or `omit-empty = true`) smsbox sends no reply of its
  own, and our replies go out through the outbox.
- Outbound: smsbox's sendsms, `POST {api_base_url}/cgi-bin/sendsms` in its X-Kannel
  header form (the same fields as the GET form's query, but the password stays out of
  URLs, which HTTP client and proxy logs keep): `X-Kannel-Username`,
  `X-Kannel-Password`, `X-Kannel-From` (the carrier's `sender`), `X-Kannel-To`,
  `X-Kannel-Coding` with the body's charset in `Content-Type` (GSM-7 text: coding 0,
  UTF-8; anything else: coding 2, the body UTF-16BE), `X-Kannel-SMSC` when set, and
  `X-Kannel-DLR-Mask` / `X-Kannel-DLR-Url`. Kannel answers `202 0: Accepted for
  delivery` or `202 3: Queued for later delivery`; 503 is temporary; 4xx is final,
  except 403 `Authorization failed` (the operator's mistake: kept and retried).
- Delivery reports: Kannel gives a message no id we can see at send time, so every
  send makes its own id (a UUID), returns it as the carrier message id and puts it in
  the dlr-url: `<status webhook URL>&id=<uuid>&type=%d&answer=%A`. `%d` is one of
  the dlr-mask bits (`DLR_TYPES`).

Kannel signs nothing: its routes are protected by `webhook_token` and/or `allow_ips`.
"""

from __future__ import annotations

import codecs
import re
import uuid
from typing import ClassVar
from urllib.parse import unquote_plus, unquote_to_bytes, urlsplit

from carrier_adapters.base import (
    DELIVERED,
    FAILED,
    SENT,
    UNDELIVERED,
    CarrierAdapter,
    CarrierSettings,
    InboundMessage,
    PayloadError,
    SendResult,
    StatusUpdate,
    WebRequest,
    without_lone_surrogates,
)
from carrier_adapters.gsm0338 import GSM7, encoding_for, sendable

SENDSMS_PATH = "/cgi-bin/sendsms"
DEFAULT_DLR_MASK = 31  # delivered, undelivered, buffered, SMSC ack, SMSC reject

# Kannel's dlr-mask bits (the `%d` of a delivery report) onto the outbox's states;
# anything else (32, intermediate notifications) is recorded but not tracked.
DLR_TYPES: dict[int, str | None] = {
    1: DELIVERED,  # delivered to the phone
    2: UNDELIVERED,  # not delivered to the phone
    4: SENT,  # buffered (queued) at the SMSC
    8: SENT,  # accepted by the SMSC
    16: FAILED,  # rejected by the SMSC
}

# sendsms answers (202) meaning the message was taken: "0: Accepted for delivery",
# "3: Queued for later delivery" (no SMSC connected now; bearerbox keeps it).
ACCEPTED_PREFIXES = ("0:", "3:")
AUTH_FAILED = "Authorization failed"

# The answer Kannel's `%A` carries: an SMPP receipt ("id:... stat:UNDELIV err:0b ...")
# or a submit answer ("ACK/", "NACK/0x0000000b/Invalid Destination Address").
_RECEIPT_ERROR = re.compile(r"\berr:([0-9A-Za-z]+)")
_NACK = re.compile(r"^NACK/([^/]+)")


class KannelAdapter(CarrierAdapter):
    """Kannel's smsbox: get-url inbound, sendsms outbound, dlr-url reports."""

    name: ClassVar[str] = "kannel"
    # api_base_url is a key every carrier has; Kannel has no default one, so it is required.
    required_keys: ClassVar[tuple[str, ...]] = ("api_base_url", "username", "password")
    optional_keys: ClassVar[tuple[str, ...]] = ("smsc", "dlr_mask")
    secret_keys: ClassVar[tuple[str, ...]] = ("password",)
    sender_field: ClassVar[str] = "from"
    webhook_methods: ClassVar[tuple[str, ...]] = ("GET", "POST")

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        if not settings.api_base_url:
            raise ValueError(f"carrier '{settings.id}': adapter 'kannel' needs api_base_url "
                             "(smsbox's sendsms address, e.g. http://127.0.0.1:13013)")
        self._sendsms = settings.api_base_url.rstrip("/") + SENDSMS_PATH
        self._dlr_mask = _dlr_mask(settings.credentials.get("dlr_mask", DEFAULT_DLR_MASK))

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """Configuration checks beyond the common ones (gateway.config calls this)."""
        try:
            _dlr_mask(settings.credentials.get("dlr_mask", DEFAULT_DLR_MASK))
        except ValueError as exc:
            raise ValueError("dlr_mask", str(exc)) from None

    # -- webhooks -------------------------------------------------------------------------

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read `from`, `text` and `id` (and `to`, `time`) from the get-url's query."""
        sender, message_id = (_required(request, name) for name in ("from", "id"))
        text = _text(request)
        if not message_id.strip():
            raise PayloadError("id", "empty")
        extra = {name: value for name in ("time", "coding", "smsc")
                 if (value := _field(request, name))}
        return InboundMessage(
            carrier_message_id=message_id,
            sender=sender,
            recipient=_field(request, "to") or self.settings.sender,
            text=text,
            extra=extra,
        )

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read our message `id` and Kannel's report `type` (`%d`), and `answer` (`%A`)."""
        message_id = _required(request, "id")
        kind = _required(request, "type")
        try:
            bits = int(kind)
        except ValueError:
            raise PayloadError("type", "not a number in") from None
        answer = _field(request, "answer") or ""
        return StatusUpdate(
            carrier_message_id=message_id,
            status=DLR_TYPES.get(bits),
            carrier_status=kind,
            error_code=_error_code(bits, answer),
        )

    # -- sending --------------------------------------------------------------------------

    def sendsms_request(self, to: str, body: str, status_url: str | None = None,
                        message_id: str | None = None) -> tuple[dict[str, str], bytes]:
        """The X-Kannel headers and the body (the text in the charset named) of one sendsms."""
        creds = self.settings.credentials
        text = sendable(body)
        headers = {
            "X-Kannel-Username": str(creds["username"]),
            "X-Kannel-Password": str(creds["password"]),
            "X-Kannel-To": to,
        }
        if self.settings.sender:
            headers["X-Kannel-From"] = self.settings.sender
        if encoding_for(text) == GSM7:
            headers.update({"X-Kannel-Coding": "0",
                            "Content-Type": "text/plain; charset=UTF-8"})
            data = text.encode("utf-8")
        else:
            headers.update({"X-Kannel-Coding": "2",
                            "Content-Type": "text/plain; charset=UTF-16BE"})
            data = text.encode("utf-16-be")
        if creds.get("smsc"):
            headers["X-Kannel-SMSC"] = str(creds["smsc"])
        if status_url and message_id and self._dlr_mask:
            headers["X-Kannel-DLR-Mask"] = str(self._dlr_mask)
            headers["X-Kannel-DLR-Url"] = dlr_url(status_url, message_id)
        return headers, data

    def send(self, to: str, body: str, *, status_url: str | None = None) -> SendResult:
        """One sendsms request; classify smsbox's answer as accepted, retry or fail."""
        message_id = uuid.uuid4().hex
        headers, data = self.sendsms_request(to, body, status_url, message_id)
        answer, status = self._post(headers, data)
        if 200 <= status < 300:
            if answer.startswith(ACCEPTED_PREFIXES):
                return SendResult(message_id)
            raise self.api_error(status, f"HTTP {status}: unexpected answer {answer[:100]!r}",
                                 retry=True, code=str(status))
        raise self.api_error(status, f"HTTP {status}: {answer[:200]}", answer=answer,
                             code=str(status))

    def retry_later(self, status: int, answer: str = "") -> bool:
        """smsbox answers 401 or 403 for more than credentials: only its `Authorization
        failed` is the operator's mistake, kept and retried."""
        if status in (401, 403):
            return AUTH_FAILED in answer
        return super().retry_later(status, answer)

    def check_credentials(self) -> str:
        """Ask sendsms with no receiver: smsbox checks the user first, so "Missing receiver"
        proves the credentials without sending anything."""
        creds = self.settings.credentials
        answer, status = self._post({"X-Kannel-Username": str(creds["username"]),
                                     "X-Kannel-Password": str(creds["password"]),
                                     "Content-Type": "text/plain; charset=UTF-8"}, b"")
        if status == 400 and "receiver" in answer.lower():
            return f"smsbox at {self.settings.api_base_url} knows user {creds['username']!r}"
        raise self.api_error(status, f"HTTP {status}: {answer[:200]}", retry=False)

    def _post(self, headers: dict[str, str], data: bytes) -> tuple[str, int]:
        """POST to sendsms (the credentials in headers, never in a URL a log may keep)."""
        response = self.call_api("POST", self._sendsms, data=data, headers=headers)
        return response.text.strip(), response.status_code


def dlr_url(status_url: str, message_id: str) -> str:
    """The dlr-url for one message: our status webhook with our id, `%d` and `%A`.

    Kannel expands `%` escapes in the whole URL, so a `%` already in the webhook URL
    (a percent-encoded token) is written `%%`.
    """
    escaped = status_url.replace("%", "%%")
    separator = "&" if "?" in escaped else "?"
    return f"{escaped}{separator}id={message_id}&type=%d&answer=%A"


def _dlr_mask(value: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 63:
        raise ValueError(f"must be a whole number from 0 to 63 (a dlr-mask), not {value!r}")
    return value


def _field(request: WebRequest, name: str) -> str | None:
    """A field from the query (Kannel's get-url), else from a POSTed form."""
    values = request.query.get(name) or request.form.get(name)
    return values[0] if values else None


def _required(request: WebRequest, name: str) -> str:
    value = _field(request, name)
    if value is None:
        raise PayloadError(name)
    return value


def _text(request: WebRequest) -> str:
    """The message text, decoded from the raw query bytes in the charset Kannel names."""
    raw = _raw_query(request.url).get("text")
    if raw is None:
        return _required(request, "text")  # a POSTed form
    charset = (_field(request, "charset") or "").strip()
    if not charset:
        charset = "UTF-16BE" if _field(request, "coding") == "2" else "UTF-8"
    try:
        text = raw.decode(_codec(charset), errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # A charset that is no text encoding (or none Python knows): read the bytes as
        # UTF-8 rather than lose the learner's message.
        text = raw.decode("utf-8", errors="replace")
    # Some charsets (UTF-7, unicode_escape) can give half of a UTF-16 pair.
    return without_lone_surrogates(text)


def _codec(charset: str) -> str:
    """Python's codec for a charset as Kannel's `%C` names it."""
    name = charset.upper()
    if name in ("GSM", "BINARY", ""):  # 7-bit text reaches smsbox's URLs as UTF-8
        return "utf-8"
    if name in ("UCS-2", "UCS2", "UTF-16", "UTF16"):
        return "utf-16-be"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


def _raw_query(url: str) -> dict[str, bytes]:
    """The first value of each query field as bytes (percent-decoded, `+` as space)."""
    fields: dict[str, bytes] = {}
    for pair in urlsplit(url).query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        fields.setdefault(unquote_plus(name), unquote_to_bytes(value.replace("+", " ")))
    return fields


def _error_code(bits: int, answer: str) -> str | None:
    """The SMSC's error from a failed report's `%A`, if it names one."""
    if bits not in (2, 16):
        return None
    if match := _NACK.match(answer):
        return match.group(1)
    match = _RECEIPT_ERROR.search(answer)
    if match and match.group(1).strip("0"):
        return match.group(1)
    return None


__all__ = ["DLR_TYPES", "KannelAdapter", "dlr_url"]
