"""A loopback HTTP server speaking Twilio's Messages API (2010-04-01), for tests.

It checks HTTP Basic auth like Twilio, requires `To`, `Body` and `From` or
`MessagingServiceSid`, answers 201 with Twilio's documented Message JSON, and
can be told to fail, stall or hang on the next requests.

WhatsApp, as Twilio documents it: `To` and `From` are `whatsapp:+<number>` together
(error 21910 when one is and the other is not); a message carries either a `Body` or a
`ContentSid` with `ContentVariables` (a JSON object of non-empty strings; error 35127 for
both a Body and variables, 21655 for an unknown ContentSid, 21656 for bad variables). The
Content API on the same server: `POST /v1/Content` (JSON: `friendly_name`, `language`,
`variables`, `types` with `twilio/quick-reply` — a body of at most 1,024 characters, 1 to
10 `actions` of `title` and `id` — or `twilio/list-picker` — a body, a `button`, 1 to 10
`items` of `item`, `id` and `description`) answered 201 with the content resource
(`sid` HX and 32 hex digits), and `GET /v1/Content` listing them page by page
(`PageSize`, `Page`; `contents` and `meta.next_page_url`). A message sent with content is
recorded with what the learner sees (`shown`: the body, its buttons or list items with
the variables filled in), checked against WhatsApp's limits in session (3 buttons of 20
characters; items of 24, descriptions of 72, a button label of 20).

WhatsApp templates, as made in the Content Template Builder and approved by WhatsApp
(`register_template`: a `twilio/text` or, with quick replies, `twilio/quick-reply`
content in one language, its WhatsApp approval kept beside it as Twilio's
`ApprovalRequests` resource says it: `name`, `category`, `status`). A message sent with
an approved template's `ContentSid` is accepted when its `ContentVariables` give exactly
the template's `{{1}}`...`{{n}}` (error 63028 otherwise), and recorded with what the
learner sees (`{"kind": "template", "sid", "body", "buttons"}`); a template whose
approval is not `approved` is refused as WhatsApp refuses a business-initiated message
that is not an approved template (63016, answered at once here where Twilio reports it
in a status callback); an unknown `ContentSid` is 21655, as for any content.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs

from tests.fakes.loopback import LoopbackServer, QuietHandler

_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
_CONTENT = re.compile(r"^/v1/Content(\?.*)?$")
_VARIABLE = re.compile(r"\{\{(\w{1,16})\}\}")
WHATSAPP = "whatsapp:"


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _content_problem(types: dict) -> str | None:
    """What the Content API would refuse in a quick-reply or list-picker layout."""
    if not isinstance(types, dict) or len(types) != 1:
        return "types must hold one content type"
    kind, layout = next(iter(types.items()))
    if not isinstance(layout, dict) or not layout.get("body"):
        return "body is required"
    if kind == "twilio/quick-reply":
        actions = layout.get("actions")
        if not isinstance(actions, list) or not 1 <= len(actions) <= 10:
            return "actions must hold 1 to 10 quick replies"
        if any(not a.get("title") or not a.get("id") for a in actions):
            return "each action needs a title and an id"
        return None
    if kind == "twilio/list-picker":
        items = layout.get("items")
        if not layout.get("button"):
            return "button is required"
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            return "items must hold 1 to 10 items"
        if any(not i.get("item") or not i.get("id") or not i.get("description")
               for i in items):
            return "each item needs an item, an id and a description"
        return None
    return f"unsupported content type {kind}"


def _filled(value, variables: dict[str, str]):
    """A layout with its {{n}} variables replaced by their values."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [_filled(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _filled(item, variables) for key, item in value.items()}
    return value


def _shown(types: dict, variables: dict[str, str]) -> tuple[dict | None, str | None]:
    """(what the learner sees, None) for content sent in session, or (None, the problem
    WhatsApp would refuse it for)."""
    kind, layout = next(iter(_filled(types, variables).items()))
    if not 0 < _length(layout["body"]) <= 1024:
        return None, "body must be 1 to 1024 characters"
    if kind == "twilio/quick-reply":
        actions = layout["actions"]
        if len(actions) > 3:
            return None, "at most 3 quick replies in session"
        if any(not 0 < _length(a["title"]) <= 20 for a in actions):
            return None, "a quick reply's title is 1 to 20 characters"
        return {"kind": "quick-reply", "body": layout["body"],
                "buttons": [{"id": a["id"], "title": a["title"]} for a in actions]}, None
    items = layout["items"]
    if not 0 < _length(layout["button"]) <= 20:
        return None, "the list's button is 1 to 20 characters"
    if any(not 0 < _length(i["item"]) <= 24 or not 0 < _length(i["description"]) <= 72
           for i in items):
        return None, "an item is 1 to 24 characters, its description 1 to 72"
    return {"kind": "list-picker", "body": layout["body"], "button": layout["button"],
            "items": [{"id": i["id"], "item": i["item"], "description": i["description"]}
                      for i in items]}, None


@dataclass
class Behaviour:
    """What the fake does with one request: 'ok', 'error', or 'ok' after a delay."""

    kind: str = "ok"
    status: int = 201
    code: int | None = None
    message: str = ""
    delay: float = 0.0


class FakeTwilioApi(LoopbackServer):
    """Twilio's Messages API on 127.0.0.1, recording what it was sent."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict] = []  # accepted messages
        self.attempts: list[dict] = []  # every request that reached the API
        self.script: deque[Behaviour] = deque()
        self.received = threading.Event()
        self.contents: dict[str, dict] = {}  # Content API resources by sid
        self.content_requests: list[str] = []  # "GET" or "POST" per Content API call
        self.content_failures: deque[tuple[int, int, str]] = deque()
        self.approvals: dict[str, dict] = {}  # WhatsApp approvals of templates, by sid
        self._lock = threading.Lock()
        super().__init__()

    def register_template(self, language: str, body: str, *, name: str,
                          quick_replies: tuple[tuple[str, str], ...] = (),
                          category: str = "UTILITY", status: str = "approved") -> str:
        """A Content template made in the Content Template Builder and submitted to
        WhatsApp (approved unless `status` says otherwise): `body` with its {{1}}..., in
        `language`, with quick replies of (id, title). Returns its ContentSid."""
        sid = "HX" + uuid.uuid4().hex
        variables = {key: f"sample {key}" for key in sorted(set(_VARIABLE.findall(body)),
                                                             key=int)}
        types = {"twilio/quick-reply": {"body": body, "actions": [
            {"id": choice, "title": title} for choice, title in quick_replies]}} \
            if quick_replies else {"twilio/text": {"body": body}}
        now = formatdate(usegmt=True)
        with self._lock:
            self.contents[sid] = {"sid": sid, "account_sid": self.account_sid,
                                  "friendly_name": name, "language": language,
                                  "variables": variables, "types": types,
                                  "date_created": now, "date_updated": now,
                                  "url": f"{self.url}/v1/Content/{sid}"}
            self.approvals[sid] = {"name": name, "category": category, "status": status,
                                   "content_type": next(iter(types)),
                                   "rejection_reason": ""}
        return sid

    def fail_content_next(self, status: int, code: int, message: str = "error") -> None:
        """Answer the next Content API request (list or create) with a Twilio error."""
        self.content_failures.append((status, code, message))

    def shown_to(self, phone: str) -> list[dict]:
        """What one WhatsApp number was shown, message by message: {"kind": "text",
        "body"} or a quick reply's or list picker's body and choices."""
        return [m["shown"] for m in self.messages if m["To"] == WHATSAPP + phone]

    def fail_next(self, status: int, code: int, message: str = "error", times: int = 1) -> None:
        """Answer the next `times` requests with a Twilio error."""
        for _ in range(times):
            self.script.append(Behaviour("error", status, code, message))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Hold the next `times` requests for `seconds` (after recording them), then accept."""
        for _ in range(times):
            self.script.append(Behaviour("ok", delay=seconds))

    def bodies_to(self, phone: str) -> list[str]:
        """Bodies of the accepted messages to one number, in order."""
        return [m["Body"] for m in self.messages if m["To"] == phone]

    def delivered(self) -> list[tuple[str, str]]:
        """(To, what the learner reads) of every accepted message: its Body, or its
        content's body."""
        return [(m["To"], m["shown"]["body"]) for m in self.messages]

    def _handler(self):
        api = self

        class Handler(QuietHandler):
            _reply = QuietHandler.send_json

            def _error(self, status: int, code: int, message: str) -> None:
                self._reply(status, {
                    "code": code, "message": message, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                })

            def _authorized(self) -> bool:
                expected = base64.b64encode(
                    f"{api.account_sid}:{api.auth_token}".encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _list_contents(self):
                query = parse_qs(self.path.partition("?")[2])
                size = int((query.get("PageSize") or ["50"])[0])
                page = int((query.get("Page") or ["0"])[0])
                with api._lock:
                    api.content_requests.append("GET")
                    every = list(api.contents.values())
                shown = every[page * size:(page + 1) * size]
                more = (page + 1) * size < len(every)
                base = f"{api.url}/v1/Content?PageSize={size}"
                self._reply(200, {"contents": shown, "meta": {
                    "page": page, "page_size": size, "first_page_url": f"{base}&Page=0",
                    "previous_page_url": f"{base}&Page={page - 1}" if page else None,
                    "url": f"{base}&Page={page}", "key": "contents",
                    "next_page_url": f"{base}&Page={page + 1}" if more else None}})

            def _create_content(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length))
                    problem = _content_problem(request.get("types"))
                except (ValueError, AttributeError, TypeError) as exc:
                    problem = f"invalid JSON: {exc}"
                if problem is None and not request.get("language"):
                    problem = "language is required"
                if problem:
                    return self._error(400, 20001, f"Invalid content: {problem}")
                sid = "HX" + uuid.uuid4().hex
                now = formatdate(usegmt=True)
                resource = {"sid": sid, "account_sid": api.account_sid,
                            "friendly_name": request.get("friendly_name"),
                            "language": request["language"],
                            "variables": request.get("variables") or {},
                            "types": request["types"], "date_created": now,
                            "date_updated": now, "url": f"{api.url}/v1/Content/{sid}",
                            "links": {"approval_fetch": f"{api.url}/v1/Content/{sid}/"
                                                        "ApprovalRequests"}}
                with api._lock:
                    api.content_requests.append("POST")
                    api.contents[sid] = resource
                self._reply(201, resource)

            def do_GET(self):
                """The Accounts resource, as `learnline carriers check --live` fetches it;
                the Content API's list."""
                if _CONTENT.match(self.path):
                    if not self._authorized():
                        return self._error(401, 20003, "Authenticate")
                    if api.content_failures:
                        return self._error(*api.content_failures.popleft())
                    return self._list_contents()
                expected = base64.b64encode(
                    f"{api.account_sid}:{api.auth_token}".encode()).decode()
                if self.path != f"/2010-04-01/Accounts/{api.account_sid}.json":
                    return self._error(404, 20404, "The requested resource was not found")
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._error(401, 20003, "Authenticate")
                self._reply(200, {"sid": api.account_sid, "friendly_name": "Learnline",
                                  "status": "active", "type": "Full",
                                  "date_created": formatdate(usegmt=True)})

            def do_POST(self):
                if _CONTENT.match(self.path):
                    if not self._authorized():
                        return self._error(401, 20003, "Authenticate")
                    if api.content_failures:
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))
                        return self._error(*api.content_failures.popleft())
                    return self._create_content()
                match = _PATH.match(self.path)
                if not match:
                    return self._error(404, 20404, "The requested resource was not found")
                expected = base64.b64encode(
                    f"{api.account_sid}:{api.auth_token}".encode()).decode()
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(),
                                                     keep_blank_values=True).items()}
                with api._lock:
                    api.attempts.append(form)
                if (self.headers.get("Authorization") != f"Basic {expected}"
                        or match.group(1) != api.account_sid):
                    api.received.set()
                    return self._error(401, 20003, "Authenticate")
                with api._lock:
                    behaviour = api.script.popleft() if api.script else Behaviour()
                api.received.set()
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.kind == "error":
                    return self._error(behaviour.status, behaviour.code or 20500,
                                       behaviour.message)
                if not form.get("To"):
                    return self._error(400, 21604, "A 'To' phone number is required.")
                if form.get("Body") and form.get("ContentVariables"):
                    return self._error(400, 35127, "'Messages' Body and 'ContentVariables' "
                                                   "cannot be provided together")
                if not form.get("Body") and not form.get("ContentSid"):
                    return self._error(400, 21602, "Message body is required.")
                if not (form.get("From") or form.get("MessagingServiceSid")):
                    return self._error(400, 21603, "A 'From' phone number is required.")
                if form.get("From") and form["To"].startswith(WHATSAPP) \
                        != form["From"].startswith(WHATSAPP):
                    return self._error(400, 21910, "Invalid From and To pair. From and To "
                                                   "should be of the same channel")
                shown = {"kind": "text", "body": form.get("Body", "")}
                if form.get("ContentSid"):
                    with api._lock:
                        content = api.contents.get(form["ContentSid"])
                        approval = api.approvals.get(form["ContentSid"])
                    if content is None:
                        return self._error(400, 21655, "The ContentSid is Invalid")
                    if approval is not None:
                        return self._send_template(form, content, approval)
                    try:
                        variables = json.loads(form.get("ContentVariables") or "{}")
                        valid = isinstance(variables, dict) and all(
                            isinstance(v, str) and v for v in variables.values())
                        filled, problem = _shown(content["types"], {
                            **content["variables"], **variables}) if valid else (None, "")
                    except (ValueError, KeyError):
                        valid, filled, problem = False, None, ""
                    if not valid:
                        return self._error(400, 21656, "The ContentVariables Parameter is "
                                                       "invalid")
                    if filled is None:
                        return self._error(400, 63021, f"Channel invalid content: {problem}")
                    shown = filled
                self._accept(form, shown)

            def _send_template(self, form: dict, content: dict, approval: dict) -> None:
                """A WhatsApp template sent by its ContentSid (module docstring)."""
                if approval["status"] != "approved":
                    return self._error(400, 63016, "Failed to send freeform message because "
                                                   "you are outside the allowed window. If "
                                                   "you are using WhatsApp, please use a "
                                                   "Message Template.")
                try:
                    variables = json.loads(form.get("ContentVariables") or "{}")
                except ValueError:
                    variables = None
                if not isinstance(variables, dict) or any(
                        not isinstance(v, str) or not v for v in variables.values()):
                    return self._error(400, 21656, "The ContentVariables Parameter is invalid")
                if set(variables) != set(content["variables"]):
                    return self._error(400, 63028, "Number of parameters provided does not "
                                                   "match the expected number of parameters")
                _, layout = next(iter(_filled(content["types"], variables).items()))
                self._accept(form, {"kind": "template", "sid": content["sid"],
                                    "language": content["language"], "body": layout["body"],
                                    "buttons": [{"id": a["id"], "title": a["title"]}
                                                for a in layout.get("actions", [])]})

            def _accept(self, form: dict, shown: dict) -> None:
                sid = "SM" + uuid.uuid4().hex
                with api._lock:
                    api.messages.append({**form, "sid": sid, "accepted_at": time.time(),
                                         "shown": shown})
                now = formatdate(usegmt=True)
                uri = f"/2010-04-01/Accounts/{api.account_sid}/Messages/{sid}"
                self._reply(201, {
                    "account_sid": api.account_sid, "api_version": "2010-04-01",
                    "body": form.get("Body", ""), "date_created": now, "date_sent": None,
                    "date_updated": now, "direction": "outbound-api", "error_code": None,
                    "error_message": None, "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "num_media": "0", "num_segments": "1", "price": None,
                    "price_unit": "USD", "sid": sid, "status": "queued",
                    "subresource_uris": {"media": f"{uri}/Media.json"},
                    "to": form["To"], "uri": f"{uri}.json",
                })

        return Handler
