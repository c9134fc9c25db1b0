"""A loopback HTTP server speaking Meta's Graph API for WhatsApp: `POST /{version}/
{phone_number_id}/messages` with a bearer token, checked as Meta documents the message
(`messaging_product`, `to`, `type`; text, or an interactive button or list within
WhatsApp's limits, or a template registered with the fake in its language, with as many
body parameters and quick-reply payloads as it was registered with), answered with
`{"messaging_product", "contacts", "messages": [{"id": "wamid..."}]}`; errors as
`{"error": {"message", "type", "code", "fbtrace_id"}}` (132001, 132000 for a template).
`GET /{version}/{phone_number_id}` reads the number's record. Also the test-side signing
of notifications (`sign`), written from Meta's description, independent of the adapter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections import deque

from tests.fakes.loopback import LoopbackServer, QuietHandler

_MESSAGES = re.compile(r"^/(v\d+\.\d+)/(\d+)/messages$")
_NUMBER = re.compile(r"^/(v\d+\.\d+)/(\d+)(\?.*)?$")


def sign(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 for a notification body: sha256= and the hex HMAC-SHA256 of the
    raw body keyed with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def wamid() -> str:
    """A message id in the shape Meta gives them."""
    return "wamid." + base64.b64encode(uuid.uuid4().bytes * 2).decode()


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_template(template: dict, registered: dict) -> tuple[int, str] | None:
    """What Meta would refuse in a template message: (error code, details), or None.
    132001: no template of that name in that language; 132000: the parameters given do not
    match the ones registered; 100: a malformed request."""
    name, code = template.get("name"), template.get("language", {}).get("code")
    if not isinstance(name, str) or not isinstance(code, str):
        return 100, "template.name and template.language.code are required"
    if (name, code) not in registered:
        return 132001, f"template name ({name}) does not exist in {code}"
    parameters, quick_replies = registered[(name, code)]
    texts, payloads = [], []
    for component in template.get("components", []):
        if component.get("type") == "body":
            for parameter in component["parameters"]:
                if parameter.get("type") != "text" or not parameter.get("text") \
                        or re.search(r"[\n\t]| {5}", parameter["text"]):
                    return 100, "a body parameter must be text on one line"
                texts.append(parameter["text"])
        elif component.get("type") == "button" and component.get("sub_type") == "quick_reply":
            if component.get("index") != str(len(payloads)):
                return 100, "button components are given by index, from 0"
            [parameter] = component["parameters"]
            if parameter.get("type") != "payload" or not parameter.get("payload"):
                return 100, "a quick reply's parameter is its payload"
            payloads.append(parameter["payload"])
        else:
            return 100, f"unsupported component {component.get('type')}"
    if len(texts) != parameters:
        return 132000, (f"body: number of localizable_params ({len(texts)}) does not match "
                        f"the expected number of params ({parameters})")
    if len(payloads) > quick_replies:
        return 132000, "more buttons than the template has"
    return None


def _check(message: dict) -> str | None:
    """What Meta would refuse in a message request (error 100's details), or None."""
    if message.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if not re.fullmatch(r"\d{6,15}", str(message.get("to", ""))):
        return "to must be a phone number in international form without +"
    kind = message.get("type")
    if kind == "template":
        return None  # checked against the registered templates (_check_template)
    if kind == "text":
        body = message.get("text", {}).get("body", "")
        return None if 0 < _length(body) <= 4096 else "text.body must be 1 to 4096 characters"
    if kind != "interactive":
        return f"unsupported type {kind}"
    interactive = message["interactive"]
    if not 0 < _length(interactive["body"]["text"]) <= 1024:
        return "interactive.body.text must be 1 to 1024 characters"
    action = interactive["action"]
    if interactive["type"] == "button":
        buttons = action["buttons"]
        if not 1 <= len(buttons) <= 3:
            return "buttons must be 1 to 3"
        for button in buttons:
            if button["type"] != "reply" or not 0 < _length(button["reply"]["title"]) <= 20:
                return "button title must be 1 to 20 characters"
        return None
    if interactive["type"] == "list":
        if not 0 < _length(action["button"]) <= 20:
            return "list button must be 1 to 20 characters"
        rows = [row for section in action["sections"] for row in section["rows"]]
        if not 1 <= len(rows) <= 10:
            return "rows must be 1 to 10"
        for row in rows:
            if not 0 < _length(row["title"]) <= 24 or _length(row.get("description", "")) > 72:
                return "row title must be 1 to 24 characters, description at most 72"
        return None
    return f"unsupported interactive type {interactive['type']}"


class FakeGraphApi(LoopbackServer):
    """The Graph API's messages endpoint on 127.0.0.1, recording what it accepted."""

    def __init__(self, phone_number_id: str, access_token: str):
        self.phone_number_id, self.access_token = phone_number_id, access_token
        self.messages: list[dict] = []  # accepted message requests
        self.ids: list[str] = []  # the wamid given to each
        self.failures: deque[tuple[int, dict]] = deque()
        self.versions: list[str] = []
        # (name, language code) -> (body parameters, quick-reply buttons)
        self.templates: dict[tuple[str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()
        super().__init__()

    def fail_next(self, status: int, code: int, message: str = "") -> None:
        """Answer the next message request with a Graph API error."""
        self.failures.append((status, {"error": {
            "message": message or f"(#{code}) error", "type": "OAuthException",
            "code": code, "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "AbCdEf123"}}))

    def register_template(self, name: str, language: str, *, parameters: int = 0,
                          quick_replies: int = 0) -> None:
        """A template approved in one language, with this many {{n}} in its body and
        quick-reply buttons."""
        self.templates[(name, language)] = (parameters, quick_replies)

    def delivered(self) -> list[tuple[str, str]]:
        """(to as E.164, body text) of every accepted message, text or interactive; a
        template as `template:<name>:<language>` and its parameters."""
        found = []
        for message in self.messages:
            if message["type"] == "template":
                template = message["template"]
                texts = [p["text"] for c in template.get("components", [])
                         if c["type"] == "body" for p in c["parameters"]]
                body = ":".join(["template", template["name"], template["language"]["code"],
                                 *texts])
            elif message["type"] == "text":
                body = message["text"]["body"]
            else:
                body = message["interactive"]["body"]["text"]
            found.append(("+" + message["to"], body))
        return found

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            def _authorized(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {api.access_token}"

            def _token_refused(self):
                self.send_json(401, {"error": {
                    "message": "Error validating access token: Session has expired",
                    "type": "OAuthException", "code": 190, "error_subcode": 463,
                    "fbtrace_id": "AbCdEf123"}})

            def do_GET(self):
                match = _NUMBER.match(self.path)
                if not match or match.group(2) != api.phone_number_id:
                    return self.send_json(404, {"error": {"message": "Unknown path",
                                                          "code": 100}})
                if not self._authorized():
                    return self._token_refused()
                self.send_json(200, {"display_phone_number": "+1 555-078-3881",
                                     "id": api.phone_number_id})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _MESSAGES.match(self.path)
                if not match or match.group(2) != api.phone_number_id:
                    return self.send_json(404, {"error": {"message": "Unknown path",
                                                          "code": 100}})
                if not self._authorized():
                    return self._token_refused()
                with api._lock:
                    failure = api.failures.popleft() if api.failures else None
                if failure:
                    return self.send_json(*failure)
                try:
                    message = json.loads(body)
                    problem = _check(message)
                    refused = _check_template(message["template"], api.templates) \
                        if message.get("type") == "template" else None
                except (ValueError, KeyError, TypeError) as exc:
                    problem, refused = f"invalid request: {exc}", None
                if refused is not None and refused[0] != 100:
                    code, details = refused
                    return self.send_json(400, {"error": {
                        "message": f"(#{code}) " + ("Template name does not exist in the "
                                                    "translation" if code == 132001 else
                                                    "Number of parameters does not match "
                                                    "the expected number of params"),
                        "type": "OAuthException", "code": code,
                        "error_data": {"messaging_product": "whatsapp", "details": details},
                        "fbtrace_id": "AbCdEf123"}})
                problem = problem or (refused[1] if refused else None)
                if problem:
                    return self.send_json(400, {"error": {
                        "message": "(#100) Invalid parameter", "type": "OAuthException",
                        "code": 100, "error_data": {"details": problem},
                        "fbtrace_id": "AbCdEf123"}})
                sent = wamid()
                with api._lock:
                    api.messages.append(message)
                    api.ids.append(sent)
                    api.versions.append(match.group(1))
                self.send_json(200, {"messaging_product": "whatsapp",
                                     "contacts": [{"input": message["to"],
                                                   "wa_id": message["to"]}],
                                     "messages": [{"id": sent}]})

        return Handler
