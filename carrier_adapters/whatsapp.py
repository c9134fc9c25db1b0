"""Meta's WhatsApp Cloud API (the Graph API): signed JSON notifications in, JSON messages out.

- Subscription challenge: when the webhook is registered, Meta calls `GET <webhook>?
  hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<number>`; the challenge is
  answered, as plain text, only when the token is the configured `verify_token`.
- Notifications: `POST <webhook>` with `{"object": "whatsapp_business_account", "entry":
  [{"id", "changes": [{"field": "messages", "value": {"metadata": {"phone_number_id"},
  "contacts": [...], "messages": [...], "statuses": [...]}}]}]}`, several messages and
  statuses per request. Each is signed: `X-Hub-Signature-256: sha256=<hex>`, the
  HMAC-SHA256 of the raw body keyed with the app's secret (`app_secret`).
- Messages: `{"from": "<digits>", "id": "wamid...", "type": ...}`: `text.body`; an
  `interactive` reply (`button_reply` or `list_reply`, each `{id, title}`); a template's
  quick reply `button` (`{payload, text}`); media (`image`, `video`, `document` with an
  optional `caption`; `audio`, `sticker`, ... with none); anything else is a message with
  no text. A choice (a button, a row, a quick reply) is read as its id: the id is what the
  gateway gave the choice when it sent it, the text the learner could have typed instead
  (`InboundMessage.extra[CHOICE_TITLE]` keeps what the learner saw). A choice's
  `context.id` is the wamid of the message whose button or row was tapped
  (`extra[TAPPED_ON]`): it may be an earlier message than the latest.
- Statuses: `{"id": "wamid...", "status": "sent" | "delivered" | "read" | "failed",
  "recipient_id", "errors": [{"code", "title", ...}]}`; `read` is a delivery and a read
  receipt (READ: the outbox keeps the message delivered and notes when it was read).
- Sending: `POST {api_base_url}/{api_version}/{phone_number_id}/messages` with
  `Authorization: Bearer <access_token>` and `{"messaging_product": "whatsapp",
  "recipient_type": "individual", "to": "<digits>", "type": "text", "text": {"body",
  "preview_url": false}}`, or `"type": "interactive"` with a `button` (1 to 3 replies) or
  a `list` (1 to 10 rows) built from the outbox's payload, or `"type": "template"` (outside
  the 24-hour window) with `{"name", "language": {"code"}, "components": [{"type": "body",
  "parameters": [{"type": "text", "text"}]}, {"type": "button", "sub_type": "quick_reply",
  "index": "0", "parameters": [{"type": "payload", "payload"}]}]}` from the payload's
  `template` (`{"name", "language", "category", "parameters", "quick_replies"}`: the
  category is the gateway's, for pricing, and not sent). Accepted: 200 with
  `{"messages": [{"id": "wamid..."}]}`. Refused: `{"error": {"code", "message", ...}}`.

Error codes (`error.code`, in an answer or a failed status), as Meta documents them:
131026 (message undeliverable: not a WhatsApp user, or an app too old) and 131047 (more
than 24 hours since the learner's last message) fail the message without a retry, the
code kept (`FALLBACK_CODES`; `SendError.code`, and the detail the outbox keeps as the
message's error reads `HTTP <status> <code>: <reason>`) and the message offered to the
carrier's fallback (`SendError.fallback`; a failed status with either code,
`StatusUpdate.fallback`), 131026 naming a number not on WhatsApp (`unreachable_codes`); 130429,
131048, 131056 and 80007 (throughput, spam and per-user rate limits) and 131016 (service
unavailable) are retried with the worker's backoff; 1320xx (a template refused: 132000
its parameters do not match, 132001 no such template in that language, 132005 too long,
132007 against format policy, 132012 a parameter's format, 132015 paused, 132016
disabled) fail without a retry and may go through the carrier's fallback
(`SendError.fallback`); 190 (access token expired or revoked,
answered with HTTP 401) is the gateway's credentials refused, shown to operators as every
carrier's 401 is.

Limits (characters, counted as UTF-16 units, as a JavaScript client counts them): a text
body 4,096; an interactive body 1,024; a reply button's title 20; a list's button 20, a
row's title 24 and description 72.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import regex

from carrier_adapters.base import (
    CHOICE_TITLE,
    DELIVERED,
    FAILED,
    READ,
    SENT,
    TAPPED_ON,
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
    read_json,
)

DEFAULT_API = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
BUTTON_TITLE_MAX = 20
BUTTONS_MAX = 3
LIST_BUTTON_MAX = 20
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROWS_MAX = 10
ID_MAX = 256

STATUS_MAP: dict[str, str | None] = {
    "sent": SENT,
    "delivered": DELIVERED,
    "read": READ,
    "failed": FAILED,
    "deleted": None,
    "warning": None,
}

# Not retried; a later fallback to another channel reads them (SendError.code, or a failed
# status's error code): the learner has no WhatsApp, or the 24-hour window is closed.
NOT_ON_WHATSAPP, WINDOW_CLOSED = "131026", "131047"
FALLBACK_CODES: dict[str, str] = {
    NOT_ON_WHATSAPP: "not a WhatsApp user, or the message could not be delivered",
    WINDOW_CLOSED: "more than 24 hours since the learner's last message",
}
# Retried with the worker's backoff: rate limits and the service being unavailable.
RETRIED_CODES = frozenset({"130429", "131048", "131056", "80007", "4", "131016"})
TOKEN_REFUSED = "190"
# Meta refused a template: 132000 to 132069 (parameters, existence, length, policy, paused,
# disabled, flows).
_TEMPLATE_REFUSED = re.compile(r"1320[0-6]\d")

_DIGITS = re.compile(r"\d{1,20}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MEDIA_WITH_CAPTION = ("image", "video", "document")


def utf16_length(text: str) -> int:
    """How long `text` is as WhatsApp's limits count it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int, *, mark: str = "…") -> str:
    """`text` within `limit` UTF-16 units, ended with `mark` when cut: cut after the last
    whole word that fits when that keeps at least half the room, else between grapheme
    clusters (never inside one: a letter keeps its marks, an emoji its parts); spaces and
    punctuation left before the mark are dropped."""
    if utf16_length(text) <= limit:
        return text
    room = limit - utf16_length(mark)
    clusters = regex.findall(r"\X", text)
    kept, used = [], 0
    for cluster in clusters:
        size = utf16_length(cluster)
        if used + size > room:
            break
        kept.append(cluster)
        used += size
    cut_inside_word = len(kept) < len(clusters) and not clusters[len(kept)].isspace()
    spaces = [n for n, cluster in enumerate(kept) if cluster.isspace()]
    if mark and cut_inside_word and spaces and spaces[-1] * 2 >= len(kept):
        kept = kept[:spaces[-1]]
    shown = "".join(kept)
    return (shown.rstrip(" \t\n,;:-\u060c") if mark else shown) + mark


class WhatsAppAdapter(CarrierAdapter):
    """Meta's WhatsApp Cloud API."""

    name: ClassVar[str] = "whatsapp"
    required_keys: ClassVar[tuple[str, ...]] = (
        "phone_number_id", "access_token", "app_secret", "verify_token")
    optional_keys: ClassVar[tuple[str, ...]] = ("api_version",)
    secret_keys: ClassVar[tuple[str, ...]] = ("access_token", "app_secret", "verify_token")
    webhook_secrets: ClassVar[tuple[str, ...]] = ("app_secret",)
    signs_requests: ClassVar[bool] = True
    sender_field: ClassVar[str] = "from"
    webhook_methods: ClassVar[tuple[str, ...]] = ("GET", "POST")
    takes_payload: ClassVar[bool] = True
    whole_message_chars: ClassVar[int] = TEXT_MAX
    unreachable_codes: ClassVar[frozenset[str]] = frozenset({NOT_ON_WHATSAPP})

    @classmethod
    def check_config(cls, settings: CarrierSettings) -> None:
        """`phone_number_id` is the number's id in Meta's WhatsApp Manager (digits); the
        secrets are strings of at least 16 characters; `api_version` is like `v21.0`."""
        creds = settings.credentials
        number = creds.get("phone_number_id")
        if isinstance(number, int) and not isinstance(number, bool):
            number = str(number)
        if not isinstance(number, str) or not _DIGITS.fullmatch(number):
            raise ValueError("phone_number_id", "must be the phone number's id in WhatsApp "
                             "Manager (digits, not the phone number itself)")
        for key in ("access_token", "app_secret", "verify_token"):
            value = creds.get(key)
            if not isinstance(value, str) or len(value) < 16:
                raise ValueError(key, "must be a string of at least 16 characters")
        version = creds.get("api_version", DEFAULT_VERSION)
        if not isinstance(version, str) or not re.fullmatch(r"v\d{1,3}\.\d{1,3}", version):
            raise ValueError("api_version", "must be a Graph API version such as \"v21.0\"")

    # -- authentication ----------------------------------------------------------------------

    def verify_signature(self, request: WebRequest) -> bool:
        """A POST: `X-Hub-Signature-256` is the HMAC-SHA256 of the raw body with the app
        secret (or the one it replaced, while configured), compared in constant time. A GET
        (the subscription challenge): `hub.mode=subscribe` with the configured verify
        token."""
        if request.method == "GET":
            mode = (request.query.get("hub.mode") or [""])[0]
            given = (request.query.get("hub.verify_token") or [""])[0].encode()
            expected = str(self.settings.credentials["verify_token"]).encode()
            return mode == "subscribe" and hmac.compare_digest(given, expected)
        header = request.header("X-Hub-Signature-256") or ""
        if not header.startswith("sha256="):
            return False
        given_hex = header.removeprefix("sha256=").strip().lower().encode()
        return any(
            hmac.compare_digest(
                given_hex,
                hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest().encode())
            for secret in self.webhook_secret("app_secret"))

    def challenge(self, request: WebRequest) -> WebResponse:
        """The answer to an authenticated subscription challenge: the challenge itself
        (PayloadError for a missing one, or one that is not the short token Meta sends)."""
        challenge = (request.query.get("hub.challenge") or [""])[0]
        if not challenge:
            raise PayloadError("hub.challenge")
        if not _CHALLENGE.fullmatch(challenge):
            raise PayloadError("hub.challenge", "invalid")
        return WebResponse(challenge)

    # -- notifications -----------------------------------------------------------------------

    def parse_notification(self, request: WebRequest) -> Notification:
        """Every message and status of a notification for this carrier's number; a change of
        another kind (`field` other than `messages`) or for another number of the same
        app is left out. PayloadError names the first field missing."""
        data = read_json(request.body)
        if not isinstance(data, dict):
            raise PayloadError("object", message="missing field 'object' in the body")
        entries = data.get("entry")
        if not isinstance(entries, list):
            raise PayloadError("entry", message="missing field 'entry' in the body")
        messages: list[InboundMessage] = []
        statuses: list[StatusUpdate] = []
        own_number = str(self.settings.credentials["phone_number_id"])
        for n, entry in enumerate(entries):
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                raise PayloadError("changes", message=f"missing field 'changes' in entry[{n}]")
            for m, change in enumerate(changes):
                where = f"entry[{n}].changes[{m}]"
                if not isinstance(change, dict):
                    raise PayloadError("value", message=f"missing field 'value' in {where}")
                if change.get("field", "messages") != "messages":
                    continue
                value = change.get("value")
                if not isinstance(value, dict):
                    raise PayloadError("value", message=f"missing field 'value' in {where}")
                metadata = value.get("metadata")
                metadata = metadata if isinstance(metadata, dict) else {}
                number = metadata.get("phone_number_id")
                if number is not None and str(number) != own_number:
                    continue
                recipient = str(metadata.get("display_phone_number", ""))
                names = _profile_names(value.get("contacts"))
                for k, message in enumerate(_list(value, "messages", where)):
                    messages.append(self._message(message, f"{where}.value.messages[{k}]",
                                                  recipient, names))
                for k, status in enumerate(_list(value, "statuses", where)):
                    statuses.append(self._status(status, f"{where}.value.statuses[{k}]"))
        return Notification(tuple(messages), tuple(statuses))

    def _message(self, message: Any, where: str, recipient: str,
                 names: Mapping[str, str]) -> InboundMessage:
        if not isinstance(message, dict):
            raise PayloadError("id", message=f"missing field 'id' in {where}")
        sender = _field(message, "from", where)
        message_id = _field(message, "id", where)
        kind = str(message.get("type") or "")
        text, extra = "", {"type": kind}
        if kind == "text":
            body = message.get("text")
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str):
                raise PayloadError("text.body", message=f"missing field 'text.body' in {where}")
        elif kind == "interactive":
            text, title = _choice(message.get("interactive"), where)
            extra[CHOICE_TITLE] = title
        elif kind == "button":
            button = message.get("button")
            payload = button.get("payload") if isinstance(button, dict) else None
            shown = button.get("text") if isinstance(button, dict) else None
            text = payload if isinstance(payload, str) and payload else shown
            if not isinstance(text, str):
                raise PayloadError("button.payload",
                                   message=f"missing field 'button.payload' in {where}")
            extra[CHOICE_TITLE] = shown if isinstance(shown, str) else text
        elif kind in _MEDIA_WITH_CAPTION and isinstance(message.get(kind), dict):
            caption = message[kind].get("caption")
            text = caption if isinstance(caption, str) else ""
        context = message.get("context")
        if CHOICE_TITLE in extra and isinstance(context, dict) \
                and isinstance(context.get("id"), str) and context["id"]:
            extra[TAPPED_ON] = context["id"]
        if sender in names:
            extra["profile_name"] = names[sender]
        return InboundMessage(message_id, _international(sender), recipient, text, extra)

    @staticmethod
    def _status(status: Any, where: str) -> StatusUpdate:
        if not isinstance(status, dict):
            raise PayloadError("id", message=f"missing field 'id' in {where}")
        message_id = _field(status, "id", where)
        state = _field(status, "status", where)
        code = None
        errors = status.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) \
                and errors[0].get("code") is not None:
            code = str(errors[0]["code"])
        return StatusUpdate(message_id, STATUS_MAP.get(state), state, code,
                            fallback=state == "failed" and code in FALLBACK_CODES)

    # -- sending -----------------------------------------------------------------------------

    def _messages_url(self) -> str:
        creds = self.settings.credentials
        base = (self.settings.api_base_url or DEFAULT_API).rstrip("/")
        return (f"{base}/{creds.get('api_version', DEFAULT_VERSION)}/"
                f"{creds['phone_number_id']}/messages")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.credentials['access_token']}",
                "Accept": "application/json"}

    def request_body(self, to: str, body: str,
                     payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Graph API's JSON for one message: text, or interactive buttons or a list
        from the outbox's payload (`{"buttons": [{"id", "title"}]}` or `{"list": {"button",
        "rows": [{"id", "title", "description"?}]}}`), every title within WhatsApp's
        limits. SendError (not retried) for a body over its limit."""
        message: dict[str, Any] = {"messaging_product": "whatsapp",
                                   "recipient_type": "individual", "to": to.lstrip("+")}
        if payload and payload.get("template"):
            message.update(type="template", template=_template(payload["template"]))
            return message
        buttons = payload.get("buttons") if payload else None
        listed = payload.get("list") if payload else None
        if not buttons and not listed:
            if utf16_length(body) > TEXT_MAX:
                raise SendError(f"text over {TEXT_MAX} characters", retry=False)
            message.update(type="text", text={"body": body, "preview_url": False})
            return message
        if utf16_length(body) > INTERACTIVE_BODY_MAX:
            raise SendError(f"interactive body over {INTERACTIVE_BODY_MAX} characters",
                            retry=False)
        if buttons:
            action: dict[str, Any] = {"buttons": [
                {"type": "reply", "reply": {"id": str(b["id"])[:ID_MAX],
                                            "title": clip(str(b["title"]), BUTTON_TITLE_MAX)}}
                for b in buttons[:BUTTONS_MAX]]}
            interactive = {"type": "button", "body": {"text": body}, "action": action}
        else:
            rows = []
            for row in listed["rows"][:ROWS_MAX]:
                item = {"id": str(row["id"])[:ID_MAX],
                        "title": clip(str(row["title"]), ROW_TITLE_MAX)}
                if row.get("description"):
                    item["description"] = clip(str(row["description"]), ROW_DESCRIPTION_MAX)
                rows.append(item)
            interactive = {"type": "list", "body": {"text": body}, "action": {
                "button": clip(str(listed["button"]), LIST_BUTTON_MAX),
                "sections": [{"rows": rows}]}}
        message.update(type="interactive", interactive=interactive)
        return message

    def send(self, to: str, body: str, *, status_url: str | None = None,
             payload: Mapping[str, Any] | None = None) -> SendResult:
        """Send one message (statuses come to the webhook Meta's app names, not to
        `status_url`); SendError classified by Meta's error code."""
        response = self.call_api("POST", self._messages_url(), headers=self._headers(),
                                 json=self.request_body(to, body, payload))
        if response.status_code == 200:
            try:
                return SendResult(str(response.json()["messages"][0]["id"]))
            except (ValueError, KeyError, IndexError, TypeError):
                raise SendError("unexpected answer: no message id", retry=True) from None
        raise self._refusal(response.status_code, response)

    def _refusal(self, status: int, response: Any) -> SendError:
        code, text = _graph_error(response)
        if code == TOKEN_REFUSED or status == 401:
            # Meta answers 190 with HTTP 401: the access token expired or was revoked.
            return self.api_error(401, f"HTTP 401 {code or 401}: the access token was "
                                  f"refused (renew access_token): {text}", code=code or "401")
        if code in FALLBACK_CODES:
            return self.api_error(status, f"HTTP {status} {code}: {FALLBACK_CODES[code]}: "
                                  f"{text}", code=code, retry=False, fallback=True)
        if code in RETRIED_CODES:
            return self.api_error(status, f"HTTP {status} {code}: {text}", code=code,
                                  retry=True)
        if code is not None and _TEMPLATE_REFUSED.fullmatch(code):
            return self.api_error(status, f"HTTP {status} {code}: template refused: {text}",
                                  code=code, retry=False, fallback=True)
        return self.api_error(status, f"HTTP {status} {code or status}: {text}",
                              code=code or str(status))

    def check_credentials(self) -> str:
        """Read the phone number's record with the access token."""
        creds = self.settings.credentials
        base = (self.settings.api_base_url or DEFAULT_API).rstrip("/")
        url = (f"{base}/{creds.get('api_version', DEFAULT_VERSION)}/"
               f"{creds['phone_number_id']}")
        response = self.call_api("GET", url, headers=self._headers(),
                                 params={"fields": "display_phone_number"})
        if response.status_code != 200:
            raise self._refusal(response.status_code, response)
        try:
            shown = response.json().get("display_phone_number", "")
        except (ValueError, AttributeError):
            shown = ""
        return f"the access token reads phone number {shown or creds['phone_number_id']}"


def _template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The Graph API's `template` object from the outbox's: its name and language code, a
    body component with each parameter as text, and a quick-reply button component per
    payload, by index."""
    components: list[dict[str, Any]] = []
    parameters = [{"type": "text", "text": str(value)}
                  for value in template.get("parameters") or ()]
    if parameters:
        components.append({"type": "body", "parameters": parameters})
    for index, reply in enumerate(template.get("quick_replies") or ()):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": str(reply)}]})
    found: dict[str, Any] = {"name": str(template["name"]),
                             "language": {"code": str(template["language"])}}
    if components:
        found["components"] = components
    return found


def _graph_error(response: Any) -> tuple[str | None, str]:
    """The Graph API error's code and message, when the answer has one."""
    try:
        error = response.json()["error"]
        code = error.get("code")
        return (str(code) if code is not None else None,
                str(error.get("message", ""))[:200])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, str(getattr(response, "text", ""))[:200]


def _field(data: dict[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()) \
            or isinstance(value, dict | list):
        raise PayloadError(name, message=f"missing field '{name}' in {where}")
    return str(value)


def _list(value: dict[str, Any], name: str, where: str) -> list[Any]:
    found = value.get(name, [])
    if not isinstance(found, list):
        raise PayloadError(name, message=f"field '{name}' in {where} is not a list")
    return found


def _choice(interactive: Any, where: str) -> tuple[str, str]:
    """(id, title) of an interactive reply: a reply button's or a list row's."""
    kind = interactive.get("type") if isinstance(interactive, dict) else None
    chosen = interactive.get(kind) if kind in ("button_reply", "list_reply") else None
    if not isinstance(chosen, dict) or not chosen.get("id"):
        name = f"interactive.{kind or 'button_reply'}.id"
        raise PayloadError(name, message=f"missing field '{name}' in {where}")
    return str(chosen["id"]), str(chosen.get("title", ""))


def _profile_names(contacts: Any) -> dict[str, str]:
    if not isinstance(contacts, list):
        return {}
    return {str(c["wa_id"]): str(c["profile"]["name"]) for c in contacts
            if isinstance(c, dict) and c.get("wa_id") and isinstance(c.get("profile"), dict)
            and c["profile"].get("name")}


def _international(sender: str) -> str:
    """Meta writes numbers in international form without their '+': given back. A number
    written nationally (starting with 0) is left for the carrier's country to read."""
    sender = sender.strip()
    return "+" + sender if sender.isdigit() and not sender.startswith("0") else sender
