"""Shared fixtures: real SQLite files in tmp dirs, a real loopback Twilio API."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import create_app
from gateway.content.importer import import_courses
from gateway.store import Store
from tests.fakes.signing import twilio_signature
from tests.fakes.twilio_api import FakeTwilioApi

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-for-tests-0123456789"
PUBLIC_URL = "https://learnline.example.org"
TWILIO_SENDER = "+15005550006"
CONSOLE_TOKEN = "console-token-0123456789"


@pytest.fixture(autouse=True)
def _environment_as_the_session_had_it() -> Iterator[None]:
    """Each test starts with the environment the session started with: a command run in
    this process (click's runner) exports settings for the processes it starts
    (`environment.export`: `PROMETHEUS_MULTIPROC_DIR`, `LEARNLINE_METRICS_DIR`...), which
    would otherwise change what later tests in the same process see."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_default_database_made() -> Iterator[None]:
    """A test that runs the gateway without LEARNLINE_DB (or a command without --db) makes
    the default database, learnline.db in the folder the suite runs from. Such a test fails
    here. Only the file's creation is watched: a developer's own gateway may be using one
    that is already there while the suite runs."""
    default = Path.cwd() / "learnline.db"
    existed = default.exists()
    yield
    if not existed and default.exists():
        pytest.fail(f"{default} was created while this test ran (by it, or by a test running "
                    "beside it): give the gateway a database of the test's own "
                    "(LEARNLINE_DB, --db or the db_path fixture)")


@pytest.fixture(scope="session")
def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made once for the session with the schema and the bundled courses, as
    `Store.open(migrate=True)` and `import_courses` leave it: closed, its WAL checkpointed.
    Tests never open it; `db_path` copies it."""
    path = tmp_path_factory.mktemp("fresh-database") / "learnline.db"
    with Store.open(path, migrate=True) as store:
        import_courses(store)
    assert not Path(f"{path}-wal").exists()  # all of it is in the file itself
    return path


# What making a database leaves beside it (the marker that one was made, the write lock's
# file): a copy has them as a database made in place would.
_DATABASE_FILES = ("", "-created", "-writelock")


@pytest.fixture
def db_path(tmp_path: Path, fresh_database: Path) -> Path:
    """A fresh database file with the schema and the bundled courses: a copy of the
    session's `fresh_database` (its files and their owner-only modes), as made. Making one
    each test cost a tenth of a second and more, mostly in fsync, in a thousand tests."""
    path = tmp_path / "learnline.db"
    for suffix in _DATABASE_FILES:
        made = Path(f"{fresh_database}{suffix}")
        if made.exists():
            shutil.copy(made, f"{path}{suffix}")
    return path


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A store on the fresh database."""
    with Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    """Twilio's Messages API on loopback."""
    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as api:
        yield api


def carriers_toml(api_base_url: str, **twilio_extra: str) -> str:
    """A carriers file with a Twilio carrier (Nigeria, public URL behind a proxy) and console."""
    extra = "".join(f'{key} = "{value}"\n' for key, value in twilio_extra.items())
    return f"""
[carriers.twilio]
adapter = "twilio"
sender = "{TWILIO_SENDER}"
country = "NG"
account_sid = "{ACCOUNT_SID}"
auth_token = "${{TEST_TWILIO_AUTH_TOKEN}}"
api_base_url = "{api_base_url}"
public_url = "{PUBLIC_URL}"
tps = 200
{extra}
[carriers.console]
adapter = "console"
sender = "Learnline"
country = "SN"
webhook_token = "{CONSOLE_TOKEN}"
"""


@pytest.fixture
def carriers_file(tmp_path: Path, twilio_api: FakeTwilioApi,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    """The carriers file for tests, its secret in the environment."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url))
    return path


@pytest.fixture
def app(db_path: Path, carriers_file: Path):
    """The gateway app on the test database and carriers."""
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "TESTING": True})


@pytest.fixture
def client(app):
    """A test client of the gateway app."""
    return app.test_client()


class TwilioWebhooks:
    """Posts correctly signed Twilio webhooks, as Twilio would, to the gateway."""

    _sids = itertools.count(1)

    def __init__(self, client, token: str = AUTH_TOKEN):
        self.client = client
        self.token = token

    @classmethod
    def new_sid(cls) -> str:
        """A fresh MessageSid."""
        return f"SM{next(cls._sids):032x}"

    def inbound_params(self, sender: str, body: str, sid: str | None = None) -> dict[str, str]:
        """A real Twilio inbound SMS payload."""
        return {
            "ToCountry": "NG", "ToState": "", "SmsMessageSid": sid or "", "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid or "", "FromState": "",
            "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "NG",
            "To": TWILIO_SENDER, "MessagingServiceSid": "", "ToZip": "", "NumSegments": "1",
            "MessageSid": sid or "", "AccountSid": ACCOUNT_SID, "From": sender,
            "ApiVersion": "2010-04-01",
        }

    def post(self, path: str, params: dict[str, str], *, signed: bool = True,
             headers: dict[str, str] | None = None):
        """POST a form to `path`, signed over the public URL."""
        headers = dict(headers or {})
        if signed:
            headers["X-Twilio-Signature"] = twilio_signature(self.token, PUBLIC_URL + path,
                                                             params)
        return self.client.post(path, data=params, headers=headers)

    def sms(self, sender: str, body: str, sid: str | None = None, **kwargs):
        """Deliver one inbound SMS; returns the response."""
        sid = sid or self.new_sid()
        return self.post("/carriers/twilio/sms", self.inbound_params(sender, body, sid), **kwargs)

    def status(self, sid: str, status: str, error_code: str = "", **kwargs):
        """Deliver one status callback."""
        params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status,
                  "SmsStatus": status, "AccountSid": ACCOUNT_SID, "To": "+2348030000000",
                  "From": TWILIO_SENDER, "ApiVersion": "2010-04-01"}
        if error_code:
            params["ErrorCode"] = error_code
        return self.post("/carriers/twilio/status", params, **kwargs)


@pytest.fixture
def twilio(client) -> TwilioWebhooks:
    """Signed Twilio webhooks against the test client."""
    return TwilioWebhooks(client)


def csrf(client, path: str = "/signin") -> str:
    """The CSRF token of the form on a lite page, as a browser would post it back."""
    html = client.get(path).data.decode()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def right_answers(store: Store, lesson_id: str = "find-your-skill",
                  locale: str = "en") -> dict[str, str]:
    """A bundled lesson's quiz form, every question answered right."""
    lesson = store.lesson("start-freelancing", lesson_id, locale)
    return {f"q{n}": str(q.answer) for n, q in enumerate(lesson.questions)}


def web_sign_in(client, store: Store, phone: str) -> None:
    """Sign in on the lite pages as a learner does: ask for a code, read it from the SMS
    queued for the number, enter it."""
    response = client.post("/signin", data={"csrf": csrf(client), "phone": phone})
    assert response.status_code == 302
    code = re.search(r"code is (\d{6})", store.outbox(phone)[-1].body).group(1)
    response = client.post("/signin/code", data={"csrf": csrf(client, "/signin/code"),
                                                 "code": code})
    assert response.status_code == 302 and response.location.endswith("/progress")
