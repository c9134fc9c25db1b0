"""The generic HTTP adapter: a local SMS aggregator described entirely in the carriers file.

Many aggregators speak the same shape of API: they POST a form or a JSON
document to a webhook for each inbound message and delivery report, and take
one HTTP request per outbound message, answering with an id. This adapter reads
that shape from four tables of the carrier's configuration (see the "Generic
HTTP adapter" section of docs/carriers.md):

- `[carriers.<id>.inbound]`: the format and the field names (dotted paths in
  JSON) of the learner's number, our number, the text and the message id;
- `[carriers.<id>.status]` and `[carriers.<id>.status.map]`: the same for
  delivery reports, and the aggregator's status values onto the outbox states;
- `[carriers.<id>.outbound]`: the URL, method, format, a body template
  (`{to}`, `{text}`, `{sender}`, `{status_url}`, `{message_id}`), headers, which
  HTTP statuses mean accepted or try-again, and where the message id is in the
  answer.

Everything is checked at start-up (`check_config`, called by gateway/config.py),
so a mistake names the file, carrier and key instead of failing a send later.
Nothing here logs headers, body values or URLs, which may hold `${ENV}` secrets.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from carrier_adapters.base import (
    DELIVERED,
    FAILED,
    QUEUED,
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
    read_json,
)

FORMATS = ("form", "json")
METHODS = ("POST", "PUT", "PATCH", "GET")
# The outbox states a delivery report may move a message to.
STATES = (QUEUED, SENT, DELIVERED, UNDELIVERED, FAILED)
PLACEHOLDERS = ("to", "text", "sender", "status_url", "message_id")
_OMITTABLE = ("sender", "status_url")
DEFAULT_SUCCESS_STATUS = (200, 201, 202)
DEFAULT_RETRY_STATUS = (429, 500, 502, 503, 504)
MAX_TIMEOUT_SECONDS = 120.0

INBOUND_KEYS = ("format", "from", "to", "text", "id")
STATUS_KEYS = ("format", "id", "status", "error", "map", "opted_out")
OUTBOUND_KEYS = (
    "url", "method", "format", "body", "headers", "auth", "timeout", "success_status",
    "retry_status", "message_id", "accepted_when", "retry_when", "opted_out_when",
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MISSING = object()


# -- the configuration, checked and compiled -------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """Where one value sits in a payload: a form field name, or a JSON path."""

    name: str  # as configured, named in 400 answers and send errors
    path: tuple[str, ...]


@dataclass(frozen=True)
class _Condition:
    """`{ path = "...", values = [...] }`: the value at `path` is one of `values`."""

    key: str
    field: _Field
    values: frozenset[str]


@dataclass(frozen=True)
class _Inbound:
    format: str
    sender: _Field
    recipient: _Field | None
    text: _Field
    id: _Field | None


@dataclass(frozen=True)
class _Status:
    format: str
    id: _Field
    status: _Field
    error: _Field | None
    map: Mapping[str, str]  # case-folded carrier status -> outbox state
    opted_out: frozenset[str]


@dataclass(frozen=True)
class _Outbound:
    url: str
    host: str  # scheme and host only: the one part of the URL safe to put in a message
    method: str
    format: str
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    auth: tuple[str, str] | None
    timeout: float | None  # None: the shared API_TIMEOUT_SECONDS
    success_status: frozenset[int]
    retry_status: frozenset[int]
    message_id: _Field | None
    accepted_when: _Condition | None
    retry_when: _Condition | None
    opted_out_when: _Condition | None


@dataclass(frozen=True)
class _Spec:
    inbound: _Inbound
    status: _Status | None
    outbound: _Outbound


def _problem(key: str, problem: str) -> ValueError:
    """The error gateway/config.py turns into a ConfigError naming file, carrier and key."""
    return ValueError(key, problem)


def _table(value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(key, "must be a table")
    for name in value:
        if name not in allowed:
            raise _problem(f"{key}.{name}", f"unknown key (allowed: {', '.join(allowed)})")
    return value


def _format(table: dict[str, Any], key: str) -> str:
    value = table.get("format", "form")
    if value not in FORMATS:
        raise _problem(f"{key}.format", f"unknown format {value!r}; one of: {', '.join(FORMATS)}")
    return value


def _field(value: Any, key: str, fmt: str) -> _Field:
    """A field name (form) or a dotted path such as `message.sender` (JSON)."""
    if not isinstance(value, str) or not value.strip():
        raise _problem(key, "must be a field name (a non-empty string)")
    if value != value.strip():
        raise _problem(key, f"{value!r} has spaces around it")
    if fmt == "form":
        return _Field(value, (value,))
    if "[" in value or "]" in value:
        raise _problem(key, f"bad path {value!r}: write list positions as numbers between "
                       "dots ('Recipients.0.messageId'), not in brackets")
    parts = tuple(value.split("."))
    if any(not part or part != part.strip() for part in parts):
        raise _problem(key, f"bad path {value!r}: names separated by single dots, such as "
                       "'message.sender'")
    return _Field(value, parts)


def _optional_field(table: dict[str, Any], name: str, key: str, fmt: str) -> _Field | None:
    return _field(table[name], f"{key}.{name}", fmt) if name in table else None


def _statuses(value: Any, key: str, default: tuple[int, ...]) -> frozenset[int]:
    if value is None:
        return frozenset(default)
    if not isinstance(value, list) or not value or not all(
            isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
            for code in value):
        raise _problem(key, "must be a list of HTTP status codes, such as [200, 201]")
    return frozenset(value)


def _condition(value: Any, key: str) -> _Condition | None:
    if value is None:
        return None
    table = _table(value, key, ("path", "values"))
    if "path" not in table:
        raise KeyError(f"{key}.path")
    values = table.get("values")
    if not isinstance(values, list) or not values or not all(
            isinstance(item, str | int) and not isinstance(item, bool) for item in values):
        raise _problem(f"{key}.values", "must be a non-empty list of strings or numbers")
    return _Condition(key, _field(table["path"], f"{key}.path", "json"),
                      frozenset(str(item) for item in values))


def _template_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_template_names(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_template_names(item) for item in value))
    return set()


def _check_body(value: Any, key: str, fmt: str, top: bool = True) -> None:
    if fmt == "form":
        if isinstance(value, list):
            value = list(value)
            if top or any(isinstance(item, dict | list) for item in value):
                raise _problem(key, "a form field is a value or a list of values")
            return
        if isinstance(value, dict):
            if not top:
                raise _problem(key, "a form has no nested tables; use format = \"json\"")
            for name, item in value.items():
                _check_body(item, f"{key}.{name}", fmt, top=False)
        return
    if isinstance(value, dict):
        for name, item in value.items():
            _check_body(item, f"{key}.{name}", fmt, top=False)
    elif isinstance(value, list):
        for item in value:
            _check_body(item, key, fmt, top=False)


def _parse_inbound(value: Any) -> _Inbound:
    table = _table(value, "inbound", INBOUND_KEYS)
    fmt = _format(table, "inbound")
    for name in ("from", "text"):
        if name not in table:
            raise KeyError(f"inbound.{name}")
    return _Inbound(
        format=fmt,
        sender=_field(table["from"], "inbound.from", fmt),
        recipient=_optional_field(table, "to", "inbound", fmt),
        text=_field(table["text"], "inbound.text", fmt),
        id=_optional_field(table, "id", "inbound", fmt),
    )


def _parse_status(value: Any) -> _Status | None:
    if value is None:
        return None
    table = _table(value, "status", STATUS_KEYS)
    fmt = _format(table, "status")
    for name in ("id", "status"):
        if name not in table:
            raise KeyError(f"status.{name}")
    mapping: dict[str, str] = {}
    raw_map = table.get("map", {})
    if not isinstance(raw_map, dict):
        raise _problem("status.map", "must be a table [carriers.<id>.status.map]")
    for carrier_status, state in raw_map.items():
        if state not in STATES:
            raise _problem(f"status.map.{carrier_status}",
                           f"{state!r} is not an outbox state; one of: {', '.join(STATES)}")
        folded = carrier_status.casefold()
        if folded in mapping:
            raise _problem(f"status.map.{carrier_status}",
                           "given twice (statuses are compared ignoring case)")
        mapping[folded] = state
    error = _optional_field(table, "error", "status", fmt)
    opted_out = table.get("opted_out", [])
    if not isinstance(opted_out, list) or not all(isinstance(item, str) for item in opted_out):
        raise _problem("status.opted_out", "must be a list of error values")
    if opted_out and error is None:
        raise _problem("status.opted_out", "needs status.error: the field the values are in")
    return _Status(
        format=fmt,
        id=_field(table["id"], "status.id", fmt),
        status=_field(table["status"], "status.status", fmt),
        error=error,
        map=mapping,
        opted_out=frozenset(item.casefold() for item in opted_out),
    )


def _parse_outbound(value: Any, settings: CarrierSettings) -> _Outbound:
    table = _table(value, "outbound", OUTBOUND_KEYS)
    if "url" not in table:
        raise KeyError("outbound.url")
    url = table["url"]
    if not isinstance(url, str) or not url:
        raise _problem("outbound.url", "must be a URL")
    if url.startswith("/"):
        if not settings.api_base_url:
            raise _problem("outbound.url", "a path needs api_base_url; or give a whole "
                           "http(s) URL")
        url = settings.api_base_url.rstrip("/") + url
    elif not re.match(r"^https?://[^/\s]+", url):
        raise _problem("outbound.url", "must be an http(s) URL, or a path under api_base_url")
    parts = urlsplit(url)
    method = table.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _problem("outbound.method", f"{method!r}; one of: {', '.join(METHODS)}")
    method = method.upper()
    fmt = _format(table, "outbound")
    if method == "GET" and fmt != "form":
        raise _problem("outbound.format", "a GET request carries its fields in the query "
                       "string: use format = \"form\"")
    body = table.get("body", {})
    if not isinstance(body, dict):
        raise _problem("outbound.body", "must be a table of fields")
    _check_body(body, "outbound.body", fmt)
    used = _template_names(body)
    unknown = sorted(used - set(PLACEHOLDERS))
    if unknown:
        raise _problem("outbound.body", f"unknown placeholder {{{unknown[0]}}}; one of: "
                       + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    for name in ("to", "text"):
        if name not in used:
            raise _problem("outbound.body", f"never uses {{{name}}}: the aggregator would not "
                           "know " + ("whom to send to" if name == "to" else "what to send"))
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise _problem("outbound.headers", "must be a table of strings")
    auth = None
    if "auth" in table:
        auth_table = _table(table["auth"], "outbound.auth", ("username", "password"))
        for name in ("username", "password"):
            if not isinstance(auth_table.get(name), str):
                raise _problem(f"outbound.auth.{name}", "must be a string")
        auth = (auth_table["username"], auth_table["password"])
    timeout = table.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool)
                                or not 0 < timeout <= MAX_TIMEOUT_SECONDS):
        raise _problem("outbound.timeout", f"must be a number of seconds, more than 0 and at "
                       f"most {MAX_TIMEOUT_SECONDS:.0f}")
    success = _statuses(table.get("success_status"), "outbound.success_status",
                        DEFAULT_SUCCESS_STATUS)
    retry = _statuses(table.get("retry_status"), "outbound.retry_status", DEFAULT_RETRY_STATUS)
    if success & retry:
        raise _problem("outbound.retry_status",
                       f"{sorted(success & retry)} also in success_status")
    message_id = _optional_field(table, "message_id", "outbound", "json")
    if message_id is None and "message_id" not in used:
        raise _problem("outbound.message_id", "missing: the path of the message id in the "
                       "answer, or put {message_id} in the body so our own id is used")
    return _Outbound(
        url=url,
        host=f"{parts.scheme}://{parts.hostname}",
        method=method,
        format=fmt,
        body=body,
        headers=dict(headers),
        auth=auth,
        timeout=None if timeout is None else float(timeout),
        success_status=success,
        retry_status=retry,
        message_id=message_id,
        accepted_when=_condition(table.get("accepted_when"), "outbound.accepted_when"),
        retry_when=_condition(table.get("retry_when"), "outbound.retry_when"),
        opted_out_when=_condition(table.get("opted_out_when"), "outbound.opted_out_when"),
    )


def _parse(settings: CarrierSettings) -> _Spec:
    creds = settings.credentials
    if "inbound" not in creds:
        raise KeyError("inbound")
    if "outbound" not in creds:
        raise KeyError("outbound")
    return _Spec(
        inbound=_parse_inbound(creds["inbound"]),
        status=_parse_status(creds.get("status")),
        outbound=_parse_outbound(creds["outbound"], settings),
    )


# -- reading payloads ----------------------------------------------------------------------


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path in parsed JSON (numbers index lists), or _MISSING."""
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return _MISSING if node is None else node


def _scalar(value: Any) -> str | None:
    """A JSON value as text; None for objects and lists. A whole number written as a
    float (254711000304.0) is the number: its ".0" must not become a digit of a phone."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    return None


class _Payload:
    """One webhook's fields, read from its form or its JSON body."""

    def __init__(self, request: WebRequest, fmt: str):
        self.request = request
        self.format = fmt
        self.data: Any = None
        if fmt == "json":
            self.data = read_json(request.body, empty="null")
            if not isinstance(self.data, dict):
                raise PayloadError("body", message="the request body is not a JSON object")

    def get(self, field: _Field | None) -> str | None:
        if field is None:
            return None
        if self.format == "form":
            return self.request.field(field.name)
        value = _dig(self.data, field.path)
        if value is _MISSING:
            return None
        text = _scalar(value)
        if text is None:
            raise PayloadError(field.name, "not a single value in")
        return text

    def require(self, field: _Field) -> str:
        value = self.get(field)
        if value is None:
            raise PayloadError(field.name)
        return value


# -- the adapter -----------------------------------------------------------------------------


class HttpAdapter(CarrierAdapter):
    """An aggregator's webhooks and send API, as its carrier table describes them."""

    name: ClassVar[str] = "http"
    required_keys: ClassVar[tuple[str, ...]] = ("inbound", "outbound")
    optional_keys: ClassVar[tuple[str, ...]] = ("status",)
    # Keys holding [carriers.<id>.<key>] tables (read by gateway/config.py).
    table_keys: ClassVar[tuple[str, ...]] = ("inbound", "status", "outbound")
    # The outbound table carries the aggregator's credentials (headers, body, auth).
    secret_keys: ClassVar[tuple[str, ...]] = ("outbound",)

    def __init__(self, settings: CarrierSettings):
        super().__init__(settings)
        self.spec = _parse(settings)
        # The configured field, named in "is not a phone number" answers.
        self.sender_field = self.spec.inbound.sender.name

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """Check the inbound, status and outbound tables at start-up.

        Raises ValueError(key, problem) or KeyError(key), the key dotted
        (`outbound.url`), which gateway/config.py reports naming file and carrier.
        """
        _parse(settings)

    def secret_values(self) -> list[str]:
        """The header values and Basic auth password (where aggregators keep keys)."""
        found = [value for key, value in self.spec.outbound.headers.items()
                 if key.lower() not in ("accept", "content-type", "user-agent")]
        if self.spec.outbound.auth:
            found.append(self.spec.outbound.auth[1])
        if self.settings.webhook_token:
            found.append(self.settings.webhook_token)
        return [value for value in found if value]

    def __repr__(self) -> str:  # never the credentials
        return f"<HttpAdapter carrier={self.settings.id!r}>"

    # -- webhooks -------------------------------------------------------------------------

    def parse_inbound(self, request: WebRequest) -> InboundMessage:
        """Read the configured from, text and (when configured) to and id."""
        spec = self.spec.inbound
        payload = _Payload(request, spec.format)
        sender = payload.require(spec.sender)
        recipient = payload.require(spec.recipient) if spec.recipient else self.settings.sender
        text = payload.require(spec.text)
        if spec.id is None:
            message_id = uuid.uuid4().hex  # nothing to recognize a repeat by
        else:
            message_id = payload.require(spec.id)
            if not message_id.strip():
                raise PayloadError(spec.id.name, "empty")
        return InboundMessage(message_id, sender, recipient, text)

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read the configured id, status and error; map the status onto the outbox's."""
        spec = self.spec.status
        if spec is None:
            raise PayloadError("status", message=f"carrier '{self.settings.id}' has no "
                               "[status] table: it takes no delivery reports")
        payload = _Payload(request, spec.format)
        message_id = payload.require(spec.id)
        status = payload.require(spec.status)
        error = payload.get(spec.error) or None
        return StatusUpdate(
            carrier_message_id=message_id,
            status=spec.map.get(status.casefold()),
            carrier_status=status,
            error_code=error,
            opted_out=error is not None and error.casefold() in spec.opted_out,
        )

    # -- sending --------------------------------------------------------------------------

    def send(self, to: str, body: str, *, status_url: str | None = None,
             **_: Any) -> SendResult:
        """One request to the aggregator; classify its answer as accepted, retry or fail."""
        spec = self.spec.outbound
        own_id = uuid.uuid4().hex
        values = {"to": to, "text": body, "sender": self.settings.sender,
                  "status_url": status_url or "", "message_id": own_id}
        fields = _render(spec.body, values)
        # No redirects: requests would carry custom key headers (apiKey) to the new host.
        request: dict[str, Any] = {"headers": spec.headers, "auth": spec.auth,
                                   "allow_redirects": False}
        if spec.method == "GET":
            request["params"] = fields
        elif spec.format == "json":
            request["json"] = fields
        else:
            request["data"] = fields
        response = self.call_api(spec.method, spec.url, **request)
        code = response.status_code
        if code not in spec.success_status:
            raise self.api_error(code, f"HTTP {code} from {spec.host}", code=str(code))
        return SendResult(self._accepted(response, own_id))

    def api_timeout(self) -> float:
        """The outbound table's `timeout`, else the shared one."""
        return self.spec.outbound.timeout or super().api_timeout()

    def network_error(self, exc: requests.RequestException, what: str = "",
                      url: str = "") -> SendError:
        """No answer: named by the aggregator's scheme and host only (never str(exc): it
        holds the URL, which may carry a key)."""
        host = self.spec.outbound.host
        if isinstance(exc, requests.Timeout):
            return SendError(f"no answer from {host} within {self.api_timeout():g}s",
                             retry=True, code="timeout")
        return SendError(f"network: {type(exc).__name__} reaching {host}", retry=True)

    def api_address(self, url: str) -> str:
        """The scheme and host alone: a key may sit anywhere in the configured URL."""
        return self.spec.outbound.host

    def retry_later(self, status: int, answer: str = "") -> bool:
        """The outbound table's `retry_status` (429, 500, 502, 503, 504 unless set)."""
        return status in self.spec.outbound.retry_status

    def _accepted(self, response: requests.Response, own_id: str) -> str:
        """The carrier's id of an accepted message, after the answer's own checks."""
        spec = self.spec.outbound
        conditions = (spec.opted_out_when, spec.retry_when, spec.accepted_when)
        if spec.message_id is None and not any(conditions):
            return own_id
        try:
            data = response.json()
        except ValueError:
            where = (spec.message_id or next(c.field for c in conditions if c)).name
            raise SendError(f"HTTP {response.status_code} from {spec.host} but the answer is "
                            f"not JSON (expected '{where}')", retry=False) from None
        for condition in conditions:
            if condition is None:
                continue
            found = _scalar(_dig(data, condition.field.path))
            matched = found is not None and found in condition.values
            if condition is spec.opted_out_when and matched:
                raise SendError(f"{condition.field.name} = {found}: the learner opted out",
                                retry=False, code=found, opted_out=True)
            if condition is spec.retry_when and matched:
                raise SendError(f"{condition.field.name} = {found}", retry=True, code=found)
            if condition is spec.accepted_when and not matched:
                shown = "nothing" if found is None else found
                raise SendError(f"not accepted: {condition.field.name} = {shown}",
                                retry=False, code=found)
        if spec.message_id is None:
            return own_id
        message_id = _scalar(_dig(data, spec.message_id.path))
        if not message_id:
            raise SendError(f"HTTP {response.status_code} from {spec.host} but no message id "
                            f"at '{spec.message_id.name}'", retry=False)
        return message_id


def _render(template: Any, values: Mapping[str, str]) -> Any:
    """The body template with placeholders filled; a field that is only `{status_url}` or
    `{sender}` is left out when that value is empty (no status URL, no sender set)."""
    if isinstance(template, dict):
        rendered = {}
        for name, item in template.items():
            whole = _PLACEHOLDER.fullmatch(item) if isinstance(item, str) else None
            if whole and whole.group(1) in _OMITTABLE and not values[whole.group(1)]:
                continue
            rendered[name] = _render(item, values)
        return rendered
    if isinstance(template, list):
        return [_render(item, values) for item in template]
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    return template


__all__ = ["HttpAdapter"]
