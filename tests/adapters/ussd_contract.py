"""The USSD contract every USSD carrier adapter's tests inherit.

A subclass names its carrier, gives the TOML table that configures it (with a
webhook_token and a country), and says how its wire looks: the first request
of a session, a follow-up carrying the learner's inputs, how the network drops
a session, and how to read an answer into (screen text, end). Every case below
then runs through the real app on a real SQLite file, posting the carrier's
documented wire format with the Flask test client, and looks at what the
carrier (status, body) and the learner (the screen) would see.

`UssdAdapterContract` has no `Test` prefix so pytest does not collect it alone.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gateway import create_app
from gateway.sms_text import encoding_for, septets
from gateway.store import Store
from tests.adapters.contract import ROTATED, rotate, secret_for

RIGHT, WRONG, MISSING = "right", "wrong", "missing"
MAX_BODY = 64 * 1024
ALLOWED_NETWORK = "196.201.214.0/24"
INVALID = "Invalid choice"
# What a learner might type that no screen offers: a missing option, letters,
# a pasted paragraph with '*' and '#' in it, nothing at all.
JUNK = ("abc*#1 " * 29)[:200]
INVALID_INPUTS = ["7", "abc", JUNK, ""]
WALK_PRESSES = 70  # enough to leave lesson 1 and its quiz


def stored(store: Store) -> dict[str, int]:
    """The rows a USSD request could leave behind."""
    return {table: store.db[table].count for table in ("ussd_sessions", "learners", "inbound",
                                                      "outbox")}


def assert_no_trace(response: Any) -> None:
    """No answer, good or bad, ever shows a stack trace to a carrier or a learner."""
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert 'File "' not in text


def assert_fits(screen: str, limit: int) -> None:
    """A screen a basic phone shows whole: GSM-7 only, within the carrier's limit."""
    assert encoding_for(screen) == "GSM-7", screen
    assert septets(screen) <= limit, (septets(screen), screen)
    assert screen.strip(), "an empty screen"


def assert_resumed(screen: str, card: str) -> None:
    """`screen` is `card` again (its first page), opened by "Welcome back"."""
    head, body = card.split("\n")[:2]
    assert screen.startswith("Welcome back"), screen
    assert screen.split("\n")[0].endswith(head), screen
    # the longer head line may end the first page a few words earlier
    assert screen.split("\n")[1][:40] == body[:40], screen


def walk_choice(screen: str, step: int) -> str:
    """What the walking learner presses: more of a long text first, an answer on a
    question (cycling 1..3, so some are wrong), otherwise '1' (next / continue)."""
    if "98 " in screen:
        return "98"
    if "\n3. " in screen and "Q" in screen:
        return str(step % 3 + 1)
    return "1"


class UssdSession:
    """One learner's USSD session as the carrier runs it: dial, then one input per screen."""

    def __init__(self, contract: UssdAdapterContract, client: Any, carrier_id: str,
                 session_id: str, phone: str):
        self.contract = contract
        self.client = client
        self.carrier_id = carrier_id
        self.session_id = session_id
        self.phone = phone
        self.inputs: list[str] = []
        self.screens: list[tuple[str, bool]] = []

    def _send(self, payload: Any) -> tuple[str, bool]:
        response = self.contract.post(self.client, self.carrier_id, payload)
        assert response.status_code == 200, response.get_data(as_text=True)
        screen = self.contract.read_screen(response)
        self.screens.append(screen)
        return screen

    def dial(self) -> tuple[str, bool]:
        """The learner dials the service code."""
        return self._send(self.contract.first_request(self.session_id, self.phone))

    def press(self, choice: str) -> tuple[str, bool]:
        """The learner types `choice` and sends it."""
        self.inputs.append(choice)
        return self._send(self.contract.next_request(self.session_id, self.phone, self.inputs))

    def next_card(self) -> tuple[str, bool]:
        """Press 1 (next) through the rest of this card's pages to the next card."""
        def place(screen: str) -> str:  # the head line, without a greeting shown once
            return screen.split("\n")[0].removeprefix("Welcome back! ")

        head = place(self.screens[-1][0])
        for _ in range(6):
            screen = self.press("1")
            if place(screen[0]) != head:
                return screen
        raise AssertionError(f"pressing 1 never left {head!r}")

    def repeat(self) -> tuple[str, bool]:
        """The carrier sends the last request again (a retry after a slow answer)."""
        if not self.inputs:
            return self.dial()
        return self._send(self.contract.next_request(self.session_id, self.phone, self.inputs))

    def hang_up(self) -> None:
        """The network drops the session (timeout, lost signal)."""
        payload = self.contract.drop_request(self.session_id, self.phone, self.inputs)
        if payload is not None:
            response = self.contract.post(self.client, self.carrier_id, payload)
            assert response.status_code == 200
            assert self.contract.read_screen(response)[1] is True


class UssdAdapterContract:
    """Cases every USSD adapter must pass. Subclasses set the attributes and the hooks."""

    # -- what a subclass provides ----------------------------------------------------------
    carrier_id: ClassVar[str]
    # The lines of the carrier's [carriers.<id>] table: adapter, webhook_token, country.
    carrier_table: ClassVar[str]
    token: ClassVar[str]
    # Fields whose absence is answered 400 naming the field.
    required_fields: ClassVar[tuple[str, ...]]
    # The field holding the learner's number, the number as the carrier writes it,
    # and the E.164 number the learner is stored as.
    sender_field: ClassVar[str]
    learner_wire: ClassVar[str]
    learner_e164: ClassVar[str]

    def first_request(self, session_id: str, phone: str) -> dict[str, Any]:
        """The carrier's first request of a session (the learner just dialled)."""
        raise NotImplementedError

    def next_request(self, session_id: str, phone: str, inputs: list[str]) -> dict[str, Any]:
        """The carrier's request after the learner sent `inputs[-1]` (`inputs`: every
        input of the session so far, oldest first)."""
        raise NotImplementedError

    def drop_request(self, session_id: str, phone: str,
                     inputs: list[str]) -> dict[str, Any] | None:
        """What the carrier sends when the network drops the session; None: nothing."""
        raise NotImplementedError

    def send(self, client: Any, url: str, payload: Any, **kwargs: Any) -> Any:
        """POST `payload` to `url` the way the carrier encodes it."""
        raise NotImplementedError

    def read(self, response: Any) -> tuple[str, bool]:
        """The screen text of an answer and whether it ends the session; asserts the
        answer is well formed for the carrier."""
        raise NotImplementedError

    # -- parametrisation and fixtures ---------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "required_field" in metafunc.fixturenames:
            metafunc.parametrize("required_field", self.required_fields)

    @pytest.fixture
    def carriers_file(self, tmp_path: Path) -> Path:
        """Only this carrier: as configured, with a 160-character screen limit, and
        behind an address allow-list."""
        table = self.carrier_table.strip() + "\n"
        path = tmp_path / "ussd-carriers.toml"
        path.write_text(
            f"[carriers.{self.carrier_id}]\n{table}\n"
            f"[carriers.{self.carrier_id}-160]\n{table}ussd_max_chars = 160\n\n"
            f"[carriers.{self.carrier_id}-ips]\n{table}allow_ips = [\"{ALLOWED_NETWORK}\"]\n"
        )
        return path

    # -- helpers -------------------------------------------------------------------------------

    _ids = itertools.count(1)

    def new_session_id(self) -> str:
        return f"ATUid_{time.time_ns():x}{next(self._ids):04d}"

    def url(self, carrier_id: str | None = None, auth: str = RIGHT, kind: str = "ussd") -> str:
        path = f"/carriers/{carrier_id or self.carrier_id}/{kind}"
        if auth == MISSING:
            return path
        return f"{path}?token={secret_for(auth, self.token)}"

    def post(self, client: Any, carrier_id: str, payload: Any, auth: str = RIGHT,
             **kwargs: Any) -> Any:
        response = self.send(client, self.url(carrier_id, auth), payload, **kwargs)
        assert_no_trace(response)
        return response

    def read_screen(self, response: Any) -> tuple[str, bool]:
        assert_no_trace(response)
        return self.read(response)

    def session(self, client: Any, carrier_id: str | None = None,
                phone: str | None = None) -> UssdSession:
        return UssdSession(self, client, carrier_id or self.carrier_id, self.new_session_id(),
                           phone or self.learner_wire)

    def assert_refused(self, response: Any, status: int, store: Store,
                       before: dict[str, int], names: str | None = None) -> None:
        """A refused request: the status, one short plain line, nothing stored."""
        assert response.status_code == status
        text = response.get_data(as_text=True)
        assert response.content_type.startswith("text/plain"), response.content_type
        assert len(text) < 300 and "<html" not in text.lower()
        if names:
            assert f"'{names}'" in text, text
        assert stored(store) == before
        assert store.learner(self.learner_e164) is None

    # -- authentication: nothing is parsed or stored before it passes ------------------------

    @pytest.mark.parametrize(("auth", "expected"), [(MISSING, 403), (WRONG, 403), (RIGHT, 200)])
    def test_authentication(self, client, store, auth, expected):
        before = stored(store)
        session_id = self.new_session_id()
        response = self.post(client, self.carrier_id,
                             self.first_request(session_id, self.learner_wire), auth)
        if expected == 403:
            self.assert_refused(response, 403, store, before)
        else:
            assert response.status_code == 200
            assert store.ussd_session(self.carrier_id, session_id) is not None
            learner = store.learner(self.learner_e164)
            assert learner is not None and learner.carrier_id == self.carrier_id

    @pytest.mark.parametrize("keep_previous", [True, False])
    def test_a_rotated_token_leaves_the_previous_one_working_until_removed(
            self, carriers_file, db_path, store, keep_previous):
        """Rotating webhook_token: the carrier may go on calling with the old token until
        it is set to the new one, as long as the old one is kept as previous_webhook_token."""
        path = carriers_file.with_name("rotated.toml")
        path.write_text(rotate(carriers_file.read_text(), self.carrier_id, "webhook_token",
                               keep_previous=keep_previous))
        client = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path),
                             "TESTING": True}).test_client()
        expected = {ROTATED: 200, RIGHT: 200 if keep_previous else 403, WRONG: 403,
                    MISSING: 403}
        for auth, status in expected.items():
            session_id = self.new_session_id()
            response = self.post(client, self.carrier_id,
                                 self.first_request(session_id, self.learner_wire), auth)
            assert response.status_code == status, auth
            opened = store.ussd_session(self.carrier_id, session_id) is not None
            assert opened is (status == 200), auth

    @pytest.mark.parametrize(("remote_addr", "expected"), [
        ("196.201.214.7", 200), ("41.58.12.7", 403), ("127.0.0.1", 403),
    ])
    def test_allow_ips(self, client, store, remote_addr, expected):
        before = stored(store)
        response = self.post(client, f"{self.carrier_id}-ips",
                             self.first_request(self.new_session_id(), self.learner_wire),
                             environ_base={"REMOTE_ADDR": remote_addr})
        if expected == 403:
            self.assert_refused(response, 403, store, before)
        else:
            assert response.status_code == 200
            assert stored(store)["ussd_sessions"] == before["ussd_sessions"] + 1

    # -- payload checks ------------------------------------------------------------------------

    def test_missing_required_field(self, client, store, required_field):
        payload = self.first_request(self.new_session_id(), self.learner_wire)
        del payload[required_field]
        before = stored(store)
        response = self.post(client, self.carrier_id, payload)
        self.assert_refused(response, 400, store, before, names=required_field)

    @pytest.mark.parametrize("sender", ["Learnline", "abc", "12", ""])
    def test_sender_that_is_not_a_phone_number(self, client, store, sender):
        before = stored(store)
        response = self.post(client, self.carrier_id,
                             self.first_request(self.new_session_id(), sender))
        self.assert_refused(response, 400, store, before, names=self.sender_field)

    def test_get_is_not_allowed(self, client, store):
        response = client.get(self.url())
        assert response.status_code == 405
        assert_no_trace(response)
        assert store.db["ussd_sessions"].count == 0

    def test_oversized_body_is_refused(self, client, store):
        before = stored(store)
        payload = self.next_request(self.new_session_id(), self.learner_wire,
                                    ["1", "x" * (MAX_BODY + 1)])
        response = self.post(client, self.carrier_id, payload)
        self.assert_refused(response, 413, store, before)

    # -- screens -------------------------------------------------------------------------------

    def test_first_request_opens_the_main_menu(self, client, store):
        session = self.session(client)
        screen, end = session.dial()
        assert end is False
        assert "Learnline" in screen
        assert "1. " in screen and "\n0. " in screen
        assert_fits(screen, 182)
        row = store.ussd_session(self.carrier_id, session.session_id)
        assert row is not None and row.phone == self.learner_e164 and row.state == "open"

    @pytest.mark.parametrize(("suffix", "limit"), [("", 182), ("-160", 160)])
    def test_a_long_walk_fits_every_screen(self, client, store, suffix, limit):
        session = self.session(client, self.carrier_id + suffix)
        screens = [session.dial(), session.press("1")]
        for step in range(WALK_PRESSES):
            screens.append(session.press(walk_choice(screens[-1][0], step)))
        for choice in ("00", "3", "0", "0"):  # the menu, my progress, back, exit
            screens.append(session.press(choice))

        for text, _ in screens:
            assert_fits(text, limit)
            assert INVALID not in text, text
        assert [end for _, end in screens] == [False] * (len(screens) - 1) + [True]
        texts = [text for text, _ in screens]
        assert "Lesson 1/6, card 1/" in texts[1]
        assert any(text.startswith("Q1/") for text in texts), "the walk met no question"
        assert any("Lesson 2/6" in text for text in texts), "the walk never left lesson 1"
        assert "lessons done" in texts[-3]  # my progress
        assert "Goodbye" in texts[-1]
        row = store.ussd_session(self.carrier_id + suffix, session.session_id)
        assert row is not None and row.state == "ended"

    @pytest.mark.parametrize("typed", INVALID_INPUTS, ids=["7", "abc", "junk200", "empty"])
    def test_an_invalid_choice_reshows_the_screen(self, client, typed):
        session = self.session(client)
        session.dial()
        card, _ = session.press("1")
        screen, end = session.press(typed)
        assert end is False
        assert screen.startswith(INVALID), screen
        assert_fits(screen, 182)
        # the same card, with the notice in place of its head line
        assert screen.split("\n")[1:] == card.split("\n")[1:]
        after, _ = session.press("1")  # the session carries on from there
        assert after.startswith("Lesson 1/6, card ")
        assert after.split("\n")[1:] != card.split("\n")[1:]
        assert INVALID not in after

    @pytest.mark.parametrize("typed", ["7", "abc", JUNK], ids=["7", "abc", "junk200"])
    def test_an_invalid_choice_on_the_main_menu(self, client, typed):
        session = self.session(client)
        menu, _ = session.dial()
        screen, end = session.press(typed)
        assert end is False
        assert screen.startswith(INVALID)
        assert screen.split("\n")[1:] == menu.split("\n")[1:]
        assert_fits(screen, 182)

    def test_unknown_session_with_history_gets_the_main_menu(self, client, store):
        session = self.session(client)
        session.inputs = ["1", "1"]  # the carrier thinks two screens went by already
        screen, end = session.press("1")
        assert end is False
        assert "Learnline" in screen and "1. " in screen
        assert INVALID not in screen
        assert_fits(screen, 182)
        screen, end = session.press("1")  # from here on the session is followed
        assert (end, "Lesson 1/6, card 1/" in screen) == (False, True)
        assert store.ussd_session(self.carrier_id, session.session_id).phone == self.learner_e164

    def test_a_dropped_session_resumes_on_the_next_dial(self, client):
        first = self.session(client)
        first.dial()
        first.press("1")
        card, _ = first.next_card()
        assert card.startswith("Lesson 1/6, card 2/")
        first.hang_up()

        again = self.session(client)  # a new dial: a new session id
        screen, end = again.dial()
        assert end is False
        assert_resumed(screen, card)
        assert_fits(screen, 182)
        onward, _ = again.next_card()
        assert onward.startswith("Lesson 1/6, card 3/")
