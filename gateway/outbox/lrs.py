"""Learning records to the school's LRS (docs/integrations.md, Learning records): the
outbox worker's delivery of this gateway's learning events as xAPI statements.

- Settings: `LEARNLINE_LRS_ENDPOINT` (the LRS's xAPI base URL), `LEARNLINE_LRS_USERNAME`
  and `LEARNLINE_LRS_PASSWORD` (Basic authentication), the activity ids' base from
  `LEARNLINE_XAPI_BASE_IRI` else `LEARNLINE_PUBLIC_URL`; checked at start-up.
- Batches of statements (`POST statements`, a JSON array), oldest first; the cursor moves
  only once the LRS accepted a batch, so a crash or a broken link loses nothing and sends
  again only statements whose ids the LRS already holds (it drops identical copies).
- The LRS answering a batch 409 (it holds a different statement under one of the ids) or
  400 (it refuses one): the batch goes again one statement at a time; a statement refused
  alone is counted and logged, never retried, so one bad statement does not hold every
  other back.
- Failures are retried with exponential backoff and jitter, kept in the worker's memory:
  a worker started again tries at once.
- Voiding statements (erased learners, revoked certificates) go first.
- No statement names a certificate's code or a learner's name or number: the LRS learns
  who by the pseudonym alone (gateway/xapi.py); a revoked certificate's earned statement
  is not sent, or voided when the LRS has it.
- Each statement's activity is named (`definition.name`) from the course as stored now:
  its title, its lesson's, a card's place, a question's text, in the language the step
  was read in (`names`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from gateway import environment, xapi
from gateway.config import ConfigError
from gateway.content.model import Course, Lesson
from gateway.pseudonyms import gateway_key, pseudonym
from gateway.store import Store
from gateway.store import lrs as queue

log = logging.getLogger(__name__)

ENDPOINT_ENV = "LEARNLINE_LRS_ENDPOINT"
USERNAME_ENV = "LEARNLINE_LRS_USERNAME"
PASSWORD_ENV = "LEARNLINE_LRS_PASSWORD"
BASE_IRI_ENV = "LEARNLINE_XAPI_BASE_IRI"
PUBLIC_URL_ENV = "LEARNLINE_PUBLIC_URL"
BATCH = 100  # events read per batch (a passed course's event makes two statements)
TIMEOUT_SECONDS = 30.0
IDLE_SECONDS = 5.0  # how often a running worker looks for new events
BASE_DELAY, MAX_DELAY = 5.0, 3600.0


@dataclass(frozen=True)
class LrsSettings:
    """Where the school's LRS is and how the gateway signs in; the base IRI of activity
    ids. `password` is never logged nor shown."""

    endpoint: str
    username: str
    password: str
    base_iri: str

    def __repr__(self) -> str:
        return f"LrsSettings(endpoint={self.endpoint!r}, username={self.username!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LrsSettings | None:
        """The LRS settings from the environment (or `env`), None when no endpoint is set;
        a ConfigError naming the variable for an endpoint that is not an http(s) URL, a
        user name without a password (or a password without one), or no base IRI."""
        def get(name: str) -> str:
            return (environment.get(name, "") if env is None else env.get(name, "")) or ""

        endpoint = get(ENDPOINT_ENV).strip()
        username = get(USERNAME_ENV)
        password = get(PASSWORD_ENV)
        if not endpoint:
            if username or password:
                raise ConfigError(f"{USERNAME_ENV}/{PASSWORD_ENV} are set but "
                                  f"{ENDPOINT_ENV} is not: set the LRS's xAPI address")
            return None
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{ENDPOINT_ENV}={endpoint!r}: the LRS's xAPI address, an "
                              "http:// or https:// URL (e.g. https://lrs.example.org/xAPI/)")
        if parts.username or parts.password:
            raise ConfigError(f"{ENDPOINT_ENV}: put the credentials in {USERNAME_ENV} and "
                              f"{PASSWORD_ENV}, not in the URL")
        if username and not password:
            raise ConfigError(f"{USERNAME_ENV} is set but {PASSWORD_ENV} is not")
        if password and not username:
            raise ConfigError(f"{PASSWORD_ENV} is set but {USERNAME_ENV} is not")
        base = (get(BASE_IRI_ENV) or get(PUBLIC_URL_ENV)).strip().rstrip("/")
        if not base:
            raise ConfigError(f"{ENDPOINT_ENV} is set: set {BASE_IRI_ENV} (or "
                              f"{PUBLIC_URL_ENV}), the base of the statements' activity ids")
        base_parts = urlsplit(base)
        if base_parts.scheme not in ("http", "https") or not base_parts.hostname:
            name = BASE_IRI_ENV if get(BASE_IRI_ENV) else PUBLIC_URL_ENV
            raise ConfigError(f"{name}={base!r}: an http:// or https:// address, the base "
                              "of the statements' activity ids")
        return cls(endpoint.rstrip("/") + "/", username, password, base)

    def in_clear(self) -> str | None:
        """A warning when the endpoint is plain http:// to another machine: the password
        (Basic authentication) and the statements would cross the network unencrypted.
        None for https://, and for http:// on this machine's loopback (an LRS on the same
        box), which never leaves it."""
        parts = urlsplit(self.endpoint)
        if parts.scheme != "http" or _loopback(parts.hostname or ""):
            return None
        what = "the LRS password and the learning records" if self.username \
            else "the learning records"
        return (f"{ENDPOINT_ENV} is http:// to another machine ({parts.hostname}): {what} "
                "cross the network unencrypted; use https:// (http:// is for an LRS on "
                "this machine)")


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LrsError(Exception):
    """The LRS could not take a batch now (network, 5xx, credentials refused)."""


class Refused(Exception):
    """The LRS refused a batch for what it holds (409) or is (400): `status`."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status} {detail}")
        self.status = status


def post_statements(settings: LrsSettings, statements: list[dict[str, Any]],
                    session: requests.Session | None = None) -> int:
    """POST `statements` to the LRS as one JSON array; the bytes sent. Raises Refused for
    409 and 400, LrsError for anything else that is not a success."""
    body = _json(statements)
    try:
        answer = (session or requests).post(
            settings.endpoint + "statements", data=body, timeout=TIMEOUT_SECONDS,
            auth=(settings.username, settings.password) if settings.username else None,
            headers={"Content-Type": "application/json",
                     "X-Experience-API-Version": xapi.VERSION})
    except requests.RequestException as exc:
        raise LrsError(f"the LRS could not be reached: {type(exc).__name__}") from None
    if answer.status_code in (200, 204):
        return len(body)
    detail = answer.text[:200].replace("\n", " ")
    if answer.status_code in (400, 409):
        raise Refused(answer.status_code, detail)
    if answer.status_code in (401, 403):
        raise LrsError(f"the LRS refuses the gateway's credentials ({answer.status_code}): "
                       f"check {USERNAME_ENV} and {PASSWORD_ENV}")
    raise LrsError(f"the LRS answered {answer.status_code}: {detail}")


def reachable(settings: LrsSettings) -> str | None:
    """Whether the LRS answers the gateway's credentials (one GET of a statement): None
    when it does, else what is wrong, in one line without the password."""
    try:
        answer = requests.get(
            settings.endpoint + "statements", params={"limit": 1}, timeout=TIMEOUT_SECONDS,
            auth=(settings.username, settings.password) if settings.username else None,
            headers={"X-Experience-API-Version": xapi.VERSION})
    except requests.RequestException as exc:
        return f"the LRS could not be reached: {type(exc).__name__}"
    if answer.status_code in (401, 403):
        return (f"the LRS refuses the gateway's credentials ({answer.status_code}): check "
                f"{USERNAME_ENV} and {PASSWORD_ENV}")
    if answer.status_code != 200:
        return f"the LRS answered {answer.status_code} to a query of its statements"
    return None


def _json(statements: list[dict[str, Any]]) -> bytes:
    return json.dumps(statements, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Round:
    """What one delivery did."""

    statements: int = 0  # statements the LRS took (voiding ones included)
    bytes: int = 0
    refused: int = 0


class LrsDelivery:
    """Sends this gateway's statements to the LRS, batch by batch, resuming where the LRS
    left off; backs off while the LRS cannot take them."""

    def __init__(self, settings: LrsSettings, *, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.rng = rng or random.Random()
        self.clock = clock
        self.failures = 0
        self.retry_at = float("-inf")
        self.total = Round()
        self.error: str | None = None  # why the last round stopped short, None if it did not
        self._session = requests.Session()
        warning = settings.in_clear()
        if warning:
            log.warning("%s", warning)

    def due(self) -> bool:
        """Whether the LRS may be tried now (not backing off)."""
        return self.clock() >= self.retry_at

    def send_due(self, store: Store, stop: threading.Event | None = None) -> bool:
        """Send everything waiting, batch by batch, until `stop` is set; True when nothing
        is left (or stopped), False when the LRS could not take a batch (tried again after
        the backoff)."""
        try:
            while (stop is None or not stop.is_set()) and (
                    self._void_batch(store) or self._event_batch(store)):
                pass
        except LrsError as exc:
            self.failures += 1
            ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (self.failures - 1))
            delay = self.rng.uniform(ceiling / 2, ceiling)
            self.retry_at = self.clock() + delay
            self.error = str(exc)
            queue.note(store, error=self.error)
            log.warning("LRS %s: %s; trying again in %.0f s", self.settings.endpoint, exc,
                        delay)
            return False
        if self.failures:
            log.info("LRS %s takes statements again", self.settings.endpoint)
        self.failures = 0
        self.retry_at = float("-inf")
        self.error = None
        return True

    def _void_batch(self, store: Store) -> bool:
        waiting = queue.due_voids(store, BATCH)
        if not waiting:
            return False
        statements = [xapi.voiding(sid, base=self.settings.base_iri, at=at)
                      for sid, at in waiting]
        self._send(store, statements)
        queue.voids_sent(store, [sid for sid, _ in waiting])
        return True

    def _event_batch(self, store: Store) -> bool:
        found, through = queue.unsent(store, BATCH)
        if through <= queue.cursor(store):
            return False
        key = gateway_key(store)
        sent: dict[int, list[str]] = {}
        statements: list[dict[str, Any]] = []
        content = CourseContent(store)
        for event in found:
            certified = xapi.CERTIFICATE_PART in xapi.parts(event) and queue.certified(
                store, event["learner"], event["data"]["course"])
            made = xapi.statements(event, base=self.settings.base_iri,
                                   learner=pseudonym(key, event["learner"]),
                                   certified=certified, names=names(content, event))
            statements += made
            if made:
                sent[event["seq"]] = [statement["id"] for statement in made]
        if statements:
            queue.sending(store, through)
            self._send(store, statements)
        queue.mark_sent(store, through, sent)
        return True

    def _send(self, store: Store, statements: list[dict[str, Any]]) -> None:
        """The LRS takes `statements` (or has refused some alone, for good)."""
        try:
            self._took(store, statements, post_statements(self.settings, statements,
                                                          self._session))
            return
        except Refused as exc:
            log.warning("LRS %s refused a batch of %d statements (%s): sending them one "
                        "at a time", self.settings.endpoint, len(statements), exc)
        for statement in statements:
            try:
                self._took(store, [statement], post_statements(
                    self.settings, [statement], self._session))
            except Refused as exc:
                # 409: the LRS holds a different statement under this id (the gateway's
                # base IRI changed after it took this one): it has the event already.
                self.total.refused += 1
                queue.note(store, refused=1)
                log.error("LRS %s refused statement %s for good: %s", self.settings.endpoint,
                          statement["id"], exc)

    def _took(self, store: Store, statements: list[dict[str, Any]], size: int) -> None:
        self.total.statements += len(statements)
        self.total.bytes += size
        queue.note(store, success=store.clock())


class CourseContent:
    """Courses and lessons as stored, each read once for a batch."""

    def __init__(self, store: Store):
        self.store = store
        self.courses: dict[str, Course | None] = {}
        self.lessons: dict[tuple[str, str, str], Lesson | None] = {}

    def course(self, course_id: str) -> Course | None:
        if course_id not in self.courses:
            self.courses[course_id] = self.store.course(course_id)
        return self.courses[course_id]

    def lesson(self, course: Course, lesson_id: str, locale: str) -> Lesson | None:
        key = (course.id, lesson_id, locale)
        if key not in self.lessons:
            self.lessons[key] = (self.store.lesson(course.id, lesson_id, locale)
                                 or self.store.lesson(course.id, lesson_id,
                                                      course.default_locale))
        return self.lessons[key]


def names(content: CourseContent, event: dict[str, Any]) -> xapi.Names:
    """What the course calls the activities of `event`'s statements, in the language the
    step was read in (the course's default for an event that does not say, or a
    language the course is no longer in): its title, the lesson's, the card's place in
    its lesson, the question's text (its short form, as by SMS). Nothing for a course or
    lesson this gateway no longer has."""
    data = event["data"]
    course = content.course(data["course"]) if isinstance(data.get("course"), str) else None
    if course is None:
        return xapi.Names()
    wanted = data.get("language")
    locale = course.locale_for(wanted) if isinstance(wanted, str) and wanted \
        else course.default_locale
    title_locale = locale if course.titles.get(locale) else course.default_locale
    title = course.titles.get(title_locale)
    course_name = {title_locale: title} if title else None
    lesson_id = data.get("lesson")
    lesson = content.lesson(course, lesson_id, locale) if isinstance(lesson_id, str) \
        and lesson_id else None
    if lesson is None:
        return xapi.Names(course=course_name)
    item = None
    number = data.get("question") if event["kind"] == "answered" else data.get("card")
    if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
        if event["kind"] == "answered" and number < len(lesson.questions):
            item = xapi.question_name(lesson.questions[number].in_sms().text)
        elif event["kind"] == "card_reached" and number < len(lesson.cards):
            item = xapi.card_name(lesson.title, number, len(lesson.cards))
    return xapi.Names(course=course_name, lesson={lesson.locale: lesson.title},
                      item={lesson.locale: item} if item else None)


class LrsSender(threading.Thread):
    """The running worker's delivery to the LRS, on a thread and connection of its own
    (an LRS that hangs holds up nothing else): new statements every IDLE_SECONDS, fewer
    tries while the LRS is down. `error` is what ended it if it failed."""

    def __init__(self, db_path: Any, delivery: LrsDelivery, halt: threading.Event,
                 clock: Callable[[], float]):
        super().__init__(name="lrs", daemon=True)
        self.db_path, self.delivery, self.halt, self.clock = db_path, delivery, halt, clock
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Store.open(self.db_path, clock=self.clock) as store:
                while not self.halt.is_set():
                    if self.delivery.due():
                        self.delivery.send_due(store, self.halt)
                    wait = IDLE_SECONDS
                    if not self.delivery.due():
                        wait = min(wait, max(0.1, self.delivery.retry_at
                                             - self.delivery.clock()))
                    self.halt.wait(wait)
        except BaseException as exc:
            log.error("sending to the LRS stopped: %s: %s", type(exc).__name__, exc)
            self.error = exc
            self.halt.set()
