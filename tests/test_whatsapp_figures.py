"""WhatsApp's figures for the operator: read receipts kept on the outbox (a late
`delivered` never undoes one) and counted per carrier on the dashboard and in `learnline
stats`, from Meta's Cloud API and Twilio alike; a lesson completed over WhatsApp counted
as completed on WhatsApp, with the WhatsApp messages it took priced by category (a
free-form reply, a utility or a marketing template); the prices validated at start-up."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import create_app
from gateway.cli.main import main
from gateway.config import ConfigError, load_carriers
from gateway.ops import reports
from gateway.outbox.queue import queue_message
from gateway.outbox.worker import OutboxWorker
from gateway.store import Store
from tests.adapters.contract import sent_message
from tests.conftest import AUTH_TOKEN, PUBLIC_URL, TwilioWebhooks, carriers_toml
from tests.fakes.graph_api import FakeGraphApi, sign, wamid

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-whatsapp-access-token-0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
PHONE = "+2348030000000"
TOKEN = "whatsapp-figures-dashboard-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DAY0 = datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp()
COURSE, LESSON = "start-freelancing", "find-your-skill"
# What Meta charges per message delivered in Nigeria, in USD, as the carrier is told.
PRICES = {"service": 0.004, "utility": 0.0067, "marketing": 0.0516}
CONSOLE = 'adapter = "console"\nwebhook_token = "0123456789abcdef0"\n'


class Clock:
    """The time every store of the test reads."""

    def __init__(self) -> None:
        self.now = DAY0

    def __call__(self) -> float:
        return self.now


def whatsapp_carrier(graph_url: str) -> str:
    return f"""
[carriers.wa]
adapter = "whatsapp"
country = "NG"
phone_number_id = "{PHONE_NUMBER_ID}"
access_token = "{ACCESS_TOKEN}"
app_secret = "{APP_SECRET}"
verify_token = "learnline-verify-token-0123"
api_base_url = "{graph_url}"
public_url = "{PUBLIC_URL}"
inbound_per_minute = 10000
inbound_per_hour = 10000
price_per_whatsapp_service = {PRICES["service"]}
price_per_whatsapp_utility = {PRICES["utility"]}
price_per_whatsapp_marketing = {PRICES["marketing"]}
currency = "USD"
"""


@pytest.fixture
def graph_api() -> Iterator[FakeGraphApi]:
    with FakeGraphApi(PHONE_NUMBER_ID, ACCESS_TOKEN) as api:
        yield api


@pytest.fixture
def carriers(tmp_path, graph_api, twilio_api, monkeypatch) -> Path:
    """Twilio for SMS and a WhatsApp carrier with prices, both on loopback APIs."""
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(carriers_toml(twilio_api.url) + whatsapp_carrier(graph_api.url))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_path, clock) -> Iterator[Store]:
    """The test's database, on the test's clock."""
    with Store.open(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def app(db_path, carriers, clock):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers),
                       "SECRET_KEY": "whatsapp-figures-secret-0123456789", "CLOCK": clock,
                       "ADMIN_TOKEN": TOKEN})


def post_notification(client, value: dict) -> None:
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": PHONE_NUMBER_ID}, **value}}]}]}).encode()
    response = client.post("/carriers/wa/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert response.status_code == 200, response.get_data(as_text=True)


def say(client, text: str = "", choice: str = "") -> None:
    """The learner types `text`, or taps the button or row whose id is `choice`."""
    message = {"from": PHONE[1:], "id": wamid(), "timestamp": "1772442000"}
    if choice:
        message |= {"type": "interactive", "interactive": {
            "type": "button_reply", "button_reply": {"id": choice, "title": choice}}}
    else:
        message |= {"type": "text", "text": {"body": text}}
    post_notification(client, {"contacts": [{"profile": {"name": "Chiamaka"},
                                             "wa_id": PHONE[1:]}], "messages": [message]})


def report_statuses(client, *statuses: tuple[str, str]) -> None:
    """Meta's statuses (wamid, state) for messages to the learner, in one notification."""
    post_notification(client, {"statuses": [
        {"id": message_id, "status": state, "timestamp": "1772442100",
         "recipient_id": PHONE[1:]} for message_id, state in statuses]})


def drain(db_path: Path, carriers: Path) -> None:
    OutboxWorker(db_path, load_carriers(carriers)).run(drain=True, poll_seconds=0.01)


def csv_table(client, name: str) -> list[list[str]]:
    response = client.get(f"/admin/{name}.csv?days=1", headers=BEARER)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


def row_of(table: list[list[str]], **cells: str) -> dict[str, str]:
    """The one row of a table whose named columns hold these values, by header."""
    headers = table[0]
    [found] = [dict(zip(headers, row, strict=True)) for row in table[1:]
               if all(dict(zip(headers, row, strict=True))[k] == v for k, v in cells.items())]
    return found


# -- read receipts ---------------------------------------------------------------------------


def test_a_read_receipt_is_kept_and_counted_and_a_late_delivered_does_not_undo_it(
        app, store, db_path, carriers, clock, graph_api, monkeypatch):
    client = app.test_client()
    say(client, "START")
    say(client, choice="NEXT")
    drain(db_path, carriers)
    first, second = graph_api.ids
    clock.now += 60
    report_statuses(client, (first, "sent"), (first, "read"), (second, "sent"))
    read_at = clock.now
    clock.now += 60
    report_statuses(client, (first, "delivered"), (second, "delivered"))  # late, out of order

    rows = {row["carrier_message_id"]: row for row in store.db.query(
        "SELECT carrier_message_id, status, read_at FROM outbox WHERE carrier_id = 'wa'")}
    assert (rows[first]["status"], rows[first]["read_at"]) == ("delivered", read_at)
    assert (rows[second]["status"], rows[second]["read_at"]) == ("delivered", None)

    totals = row_of(csv_table(client, "carriers"), day="all days", carrier="wa")
    assert (totals["delivered"], totals["read"], totals["% read"]) == ("2", "1", "50.0")
    page = " ".join(client.get("/admin?days=1", headers=BEARER).text.split())
    assert "2 out (2 segments), 2 in, 100.0% delivered, 1 read (50.0% of delivered)" in page

    monkeypatch.setenv("LEARNLINE_DB", str(db_path))
    monkeypatch.setenv("LEARNLINE_CARRIERS", str(carriers))
    until = datetime.fromtimestamp(clock.now, UTC).date().isoformat()
    printed = CliRunner().invoke(main, ["stats", "--days", "1", "--until", until,
                                        "--csv", "carriers"])
    assert printed.exit_code == 0, printed.output
    stats = list(csv.reader(io.StringIO(printed.output)))
    assert row_of(stats, day="all days", carrier="wa")["read"] == "1"


def test_a_read_receipt_before_the_send_is_recorded_is_kept_when_it_is(app, store, clock):
    """Meta's read can overtake the worker's write of the message's id: the report waits,
    unmatched, and is applied when the id is recorded."""
    outbox_id = store.enqueue("wa", PHONE, "Lesson 1/6")
    assert store.claim_due("wa", lease_seconds=60).id == outbox_id
    message_id = wamid()
    report_statuses(app.test_client(), (message_id, "read"))
    store.finish_send(outbox_id, "accepted", carrier_message_id=message_id)
    [row] = store.db.query("SELECT status, read_at FROM outbox WHERE id = ?", [outbox_id])
    assert (row["status"], row["read_at"]) == ("delivered", clock.now)


def test_twilio_whatsapps_read_receipt_is_kept_the_same_way(app, store, clock):
    outbox_id = sent_message(store, "twilio", PHONE, "SM" + "ab" * 16)
    webhooks = TwilioWebhooks(app.test_client())
    assert webhooks.status("SM" + "ab" * 16, "read").status_code == 200
    clock.now += 5
    assert webhooks.status("SM" + "ab" * 16, "delivered").status_code == 200
    [row] = store.db.query("SELECT status, read_at FROM outbox WHERE id = ?", [outbox_id])
    assert (row["status"], row["read_at"]) == ("delivered", DAY0)


# -- lessons completed over WhatsApp, and what they cost -------------------------------------


def take_lesson(client, store: Store) -> None:
    """START, Next through the cards, every question answered right by its button."""
    say(client, "START")
    lesson = store.lesson(COURSE, LESSON, "en")
    for _ in lesson.cards:
        say(client, choice="NEXT")
    for question in lesson.questions:
        say(client, choice="ABCD"[question.answer])
    assert store.enrollment(PHONE, COURSE).position == 1, "the lesson was not completed"


def test_a_lesson_completed_over_whatsapp_counts_as_whatsapp_with_its_messages(
        app, store, db_path, carriers, clock, graph_api):
    client = app.test_client()
    take_lesson(client, store)
    [(mode,)] = store.db.execute("SELECT mode FROM lesson_completions WHERE phone = ?",
                                 [PHONE]).fetchall()
    assert mode == "whatsapp"
    # Every message of the lesson was a free-form reply inside the 24-hour window.
    sent = [row["id"] for row in store.db.query(
        "SELECT id FROM outbox WHERE phone = ? AND carrier_id = 'wa'", [PHONE])]
    [cost] = store.db.query("SELECT * FROM lesson_costs WHERE phone = ?", [PHONE])
    assert (cost["carrier_id"], cost["whatsapp_service"], cost["whatsapp_utility"],
            cost["whatsapp_marketing"], cost["segments"]) == ("wa", len(sent), 0, 0, 0)

    by_mode = row_of(csv_table(client, "lesson_costs"), by="mode", group="WhatsApp")
    each = reports.money(len(sent) * PRICES["service"])
    assert by_mode == {"by": "mode", "group": "WhatsApp", "currency": "USD",
                       "lessons completed": "1", "segments": "0", "USSD sessions": "0",
                       "web MB": "0.000", "WhatsApp messages": str(len(sent)),
                       "cost": each, "cost per lesson": each}
    page = " ".join(client.get("/admin?days=1", headers=BEARER).text.split())
    assert (f"<li>WhatsApp: <b>{each} USD</b> a lesson (1 lesson; 0 segments, 0 USSD "
            f"sessions, 0.000 MB, {len(sent)} WhatsApp messages)</li>") in page

    # The carrier's own cost is what Meta bills: messages delivered, by category.
    drain(db_path, carriers)
    report_statuses(client, *((message_id, "delivered") for message_id in graph_api.ids[:3]))
    totals = row_of(csv_table(client, "carriers"), day="all days", carrier="wa")
    assert (totals["delivered"], totals["cost"], totals["currency"]) == (
        "3", reports.money(3 * PRICES["service"]), "USD")


def test_a_learner_on_whatsapp_counts_in_the_daily_active_whatsapp_column(app, store):
    client = app.test_client()
    say(client, "START")
    activity = csv_table(client, "activity")
    assert activity[0] == ["day", "SMS", "USSD", "Web", "WhatsApp", "any channel"]
    [today] = activity[1:]
    assert dict(zip(activity[0][1:], today[1:], strict=True)) == {
        "SMS": "0", "USSD": "0", "Web": "0", "WhatsApp": "1", "any channel": "1"}
    page = client.get("/admin?days=1", headers=BEARER).text
    assert "WhatsApp: active learners per day" in page
    assert f"{today[0]}: 1 learner by WhatsApp" in page


def test_lessons_check_counts_the_whatsapp_messages_a_learner_taking_the_lesson_gets(
        app, store, carriers):
    """`learnline lessons check` counts a lesson's WhatsApp messages as the served channel
    sends them, and prices them at the carrier's service message."""
    take_lesson(app.test_client(), store)
    [(sent,)] = store.db.execute(
        "SELECT count(*) FROM outbox WHERE phone = ? AND carrier_id = 'wa'", [PHONE]).fetchall()

    result = CliRunner().invoke(main, ["lessons", "check"],
                                env={"LEARNLINE_CARRIERS": str(carriers)})

    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines()
              if line.startswith(f"  en {LESSON}: ") and " / " in line and "USD" in line]
    right, _, rest = line.removeprefix(f"  en {LESSON}: ").partition(" / ")
    assert int(right) == sent
    assert rest.split("(")[1].startswith(f"{reports.money(sent * PRICES['service'])} / ")


def test_templates_are_priced_by_their_category(app, store, db_path, carriers):
    """A template (queued with its category, as the 24-hour rule sends it) counts toward
    its lesson in its category, and costs that category's price once delivered."""
    carrier = app.extensions["learnline.carriers"]["wa"]
    client = app.test_client()
    take_lesson(client, store)
    drain(db_path, carriers)  # the lesson's replies: sent
    ids = []
    for category in ("utility", "marketing", "utility"):
        with store.write():
            queue_message(store, carrier, PHONE, "Your lesson of the day is ready.",
                          payload={"template": {"name": "daily_lesson", "language": "en",
                                                "category": category, "parameters": []}},
                          kind="lesson", lesson=(COURSE, LESSON))
        claimed = store.claim_due("wa", lease_seconds=60)
        ids.append(wamid())
        store.finish_send(claimed.id, "accepted", carrier_message_id=ids[-1])
    [cost] = store.db.query("SELECT * FROM lesson_costs WHERE phone = ?", [PHONE])
    assert (cost["whatsapp_utility"], cost["whatsapp_marketing"]) == (2, 1)
    report_statuses(client, (ids[0], "delivered"), (ids[1], "read"), (ids[2], "failed"))
    totals = row_of(csv_table(client, "carriers"), day="all days", carrier="wa")
    assert totals["cost"] == reports.money(PRICES["utility"] + PRICES["marketing"])
    by_mode = row_of(csv_table(client, "lesson_costs"), by="mode", group="WhatsApp")
    service = cost["whatsapp_service"]
    assert by_mode["WhatsApp messages"] == str(service + 3)
    assert by_mode["cost"] == reports.money(service * PRICES["service"]
                                            + 2 * PRICES["utility"] + PRICES["marketing"])


# -- the prices --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["price_per_whatsapp_service", "price_per_whatsapp_utility",
                                 "price_per_whatsapp_marketing"])
@pytest.mark.parametrize("value", ["-1", '"cheap"', "true", "1000", "nan"])
def test_a_bad_whatsapp_price_is_refused_naming_file_carrier_and_key(tmp_path, key, value):
    path = tmp_path / "carriers.toml"
    path.write_text(f'[carriers.ng-wa]\n{CONSOLE}{key} = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message and "'ng-wa'" in message
    assert f"key '{key}': must be a number at least 0 and below 1000" in message


def test_whatsapp_prices_are_read_and_default_to_unknown(tmp_path):
    path = tmp_path / "carriers.toml"
    path.write_text(f'[carriers.ng-wa]\n{CONSOLE}price_per_whatsapp_service = 0.004\n'
                    'price_per_whatsapp_utility = 0.0067\nprice_per_whatsapp_marketing = 1\n'
                    'currency = "USD"\n', encoding="utf-8")
    carrier = load_carriers(path, env={})["ng-wa"]
    assert (carrier.price_per_whatsapp_service, carrier.price_per_whatsapp_utility,
            carrier.price_per_whatsapp_marketing) == (0.004, 0.0067, 1.0)
    path.write_text(f'[carriers.ng-wa]\n{CONSOLE}', encoding="utf-8")
    bare = load_carriers(path, env={})["ng-wa"]
    assert (bare.price_per_whatsapp_service, bare.price_per_whatsapp_utility,
            bare.price_per_whatsapp_marketing) == (0.0, 0.0, 0.0)
