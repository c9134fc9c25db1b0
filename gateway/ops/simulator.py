"""The phone simulator: type as an SMS, USSD or WhatsApp learner and see what a handset
would show.

For course authors checking their lessons and carriers evaluating the service. It runs
the real engine and channels on a pretend number in the unassigned +999 range, through
a local carrier that sends nothing to any network, so it can never act as a real
learner or message a real phone. `learnline serve` turns it on when it listens on a
loopback address; elsewhere it is off unless LEARNLINE_SIMULATOR=1. Each client address
may act (send, dial, answer, tap) ACTIONS_PER_ADDRESS times a minute, and everyone
together ACTIONS_OVERALL, counted in memory per server process. Its pretend learners (the
+999 range, carriers "simulator" and "simulator-whatsapp") are left out of every figure
(gateway/store/stats.py).

In WhatsApp mode the pretend learner writes through the WhatsApp channel, with the
settings of the first configured WhatsApp carrier (else of the first carrier), and the
page shows each message as WhatsApp does: *bold* in bold, reply buttons and list rows as
form buttons that send the button's id, as a tap does, naming the message they were on
(so a tap on an earlier message is answered as WhatsApp's is), and a tap in the chat as
the button's title, as WhatsApp shows it (the message kept and read is its id). Its chat
is apart from the SMS one (another carrier id), as a phone keeps them, but it is the same
learner. The SMS and USSD modes have the settings of the first carrier that sends SMS
(else of the first carrier).

Each mode's carrier is a stand-in that plays its channel (`Carrier.stand_in_channel`):
the pretend learner may choose the other channel (CHANNEL, the USSD menu) only where the
carrier it copies offers it to its own learners.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from markupsafe import Markup, escape

from carrier_adapters import CarrierSettings, UssdRequest
from carrier_adapters.base import CHOICE_TITLE, TAPPED_ON
from gateway.channels.sms import receive_inbound
from gateway.channels.ussd import handle_ussd
from gateway.channels.vocabulary import command_words
from gateway.channels.web import http
from gateway.channels.web.pages import choose_language, page
from gateway.channels.whatsapp.conversation import receive_whatsapp
from gateway.config import Carrier
from gateway.learning import Engine
from gateway.ratelimit import SlidingWindows
from gateway.server import forwarded
from gateway.sms_text import count
from gateway.store.per_thread import get_store

blueprint = Blueprint("simulator", __name__, template_folder="templates")
SERVICE_CODE = "*384*12#"
CARRIER_ID = "simulator"
WHATSAPP_CARRIER_ID = "simulator-whatsapp"
MODES = ("sms", "ussd", "whatsapp")
PRETEND_PREFIX = "+999"  # unassigned by the ITU: never a real phone
ACTIONS_PER_ADDRESS = 30  # a minute
ACTIONS_OVERALL = 600  # a minute, per server process


blueprint.before_request(choose_language)
http.install(blueprint)


def init_app(app: Flask) -> None:
    """Add the simulator's pages, with their own throttle."""
    app.extensions["learnline.simulator_limits"] = SlidingWindows(max_keys=10_000)
    app.register_blueprint(blueprint)


def _within_limits() -> bool:
    """Count one action from this client address; False once over a limit."""
    windows = current_app.extensions["learnline.simulator_limits"]
    address = forwarded.limit_key(request.remote_addr)
    return (windows.hit(f"address:{address}", ACTIONS_PER_ADDRESS, 60.0)[0]
            and windows.hit("overall", ACTIONS_OVERALL, 60.0)[0])


def _carrier(mode: str = "sms") -> Carrier:
    """The simulator's carrier, a stand-in sending nothing that plays the mode's channel
    (WhatsApp, or SMS for the SMS and USSD modes): the first carrier on that channel's
    text settings and channel choice (else the first carrier's settings and no choice);
    a new pretend learner gets the page's language."""
    carriers = list(current_app.extensions["learnline.carriers"])
    channel = "whatsapp" if mode == "whatsapp" else "sms"
    same = [c for c in carriers if c.channel == channel]
    model = (same + carriers)[0] if carriers else Carrier.of(id=CARRIER_ID, adapter="console")
    # The other channel is offered only where the carrier copied, on this channel, offers
    # it: a WhatsApp carrier by its fallback_carrier, an SMS carrier by its WhatsApp partner.
    partners = {"fallback_carrier": None, "whatsapp_carrier": None}
    if same:
        partners = {key: getattr(model, key) for key in partners}
    carrier_id = WHATSAPP_CARRIER_ID if mode == "whatsapp" else CARRIER_ID
    return dataclasses.replace(model, wire=CarrierSettings(id=carrier_id, adapter="simulator"),
                               stand_in_channel=channel, country=None, locale=g.locale,
                               **partners)


def _mode(value: str | None) -> str:
    return value if value in MODES else "sms"


# WhatsApp's bold: a run between asterisks at word boundaries, neither starting nor
# ending with a space, within one line.
_BOLD_RE = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


def whatsapp_markup(text: str) -> Markup:
    """A WhatsApp message's text as HTML, escaped, its *bold* runs in <b>."""
    return Markup(_BOLD_RE.sub(lambda m: f"<b>{m.group(1)}</b>", str(escape(text))))


def _follow_page_language(store, phone: str) -> None:
    """The pretend learner answers in the page's language, and again each time the
    page's language changes; a LANG sent from the pretend phone holds until then (the
    learner's choice, as on a real phone)."""
    if session.get("sim_page_lang") == g.locale:
        return
    session["sim_page_lang"] = g.locale
    learner = store.learner(phone)
    if learner is None or learner.locale == g.locale:
        return
    with store.write():
        learner = store.learner(phone)
        if learner is not None and learner.locale != g.locale:
            Engine(store).set_language(learner, g.locale)


def _phone() -> str:
    phone = session.get("sim_phone")
    if not phone:
        phone = session["sim_phone"] = PRETEND_PREFIX + "".join(secrets.choice("0123456789")
                                                        for _ in range(9))
    return phone


@blueprint.get("/simulator")
def show():
    """The pretend phone, in SMS, USSD or WhatsApp mode."""
    mode = _mode(request.args.get("mode"))
    carrier = _carrier(mode)
    messages = []
    if mode == "sms":
        # Each message whole, as the handset joins its parts, with what it cost.
        for message in get_store().conversation(_phone(), carrier_id=CARRIER_ID):
            summary = None
            if message["direction"] == "out":
                counted = count(message["text"], "exact")
                summary = (counted.segments, counted.encoding)
            messages.append({**message, "summary": summary})
    elif mode == "whatsapp":
        messages = [{**message, "html": whatsapp_markup(message["text"])} for message in
                    get_store().conversation(_phone(), carrier_id=WHATSAPP_CARRIER_ID)]
    last_in = next((m for m in reversed(messages) if m["direction"] == "in"), None)
    return page("simulator.html", mode=mode, phone=_phone(), messages=messages, last_in=last_in,
                screen=session.get("sim_screen"), ended=session.get("sim_ended", True),
                carrier=carrier, service_code=SERVICE_CODE, words=command_words(g.locale))


def _tap(store, phone: str, choice: str, on: str) -> dict[str, str] | None:
    """What WhatsApp says of a tap on choice `choice` of the pretend learner's message
    `on` (its outbox id): the message it was on, and the choice's title; None for typed
    text, or a message or choice that is not theirs."""
    sent = store.sent_message(WHATSAPP_CARRIER_ID, phone, int(on)) \
        if on.isascii() and on.isdigit() and len(on) <= 18 else None
    if sent is None or not sent.payload:
        return None
    payload = json.loads(sent.payload)
    choices = payload.get("buttons") or payload.get("list", {}).get("rows") or []
    title = next((c["title"] for c in choices if c.get("id") == choice), None)
    if title is None:
        return None
    meta = {CHOICE_TITLE: title}
    if sent.carrier_message_id:
        meta[TAPPED_ON] = sent.carrier_message_id
    return meta


@blueprint.post("/simulator")
def act():
    """Send an SMS or a WhatsApp message (typed, or a button's or row's id as a tap sends
    it), or dial / answer / hang up a USSD session."""
    if not _within_limits():
        return page("limited.html", status=429, reason="simulator")
    mode = _mode(request.form.get("mode"))
    text = request.form.get("text", "")[:480]
    store = get_store()
    carrier = _carrier(mode)
    phone = _phone()
    _follow_page_language(store, phone)
    # Back to the page at the learner's last message or the USSD screen, so the reply is
    # in view on a small screen (the page's top is the simulator's explanation).
    if mode == "sms":
        if text.strip():
            receive_inbound(store, carrier, secrets.token_hex(8), phone, text,
                            limits=current_app.extensions["learnline.inbound_limits"])
            store.deliver_locally(CARRIER_ID, phone)
        return redirect(url_for("simulator.show", mode="sms", _anchor="last"))
    if mode == "whatsapp":
        if text.strip():
            receive_whatsapp(store, carrier, "wamid.sim-" + secrets.token_hex(8), phone, text,
                             limits=current_app.extensions["learnline.inbound_limits"],
                             meta=_tap(store, phone, text, request.form.get("on", "")))
            store.deliver_locally(WHATSAPP_CARRIER_ID, phone)
        return redirect(url_for("simulator.show", mode="whatsapp", _anchor="last"))
    action = request.form.get("action", "send")
    if action == "hangup":
        if not session.get("sim_ended", True):
            handle_ussd(store, carrier, UssdRequest(session["sim_session"], phone, SERVICE_CODE,
                                                    "", False, False, ended=True), phone)
        session["sim_ended"] = True
        session.pop("sim_screen", None)
        return redirect(url_for("simulator.show", mode="ussd"))
    new = action == "dial" or session.get("sim_ended", True)
    if new:
        session["sim_session"] = secrets.token_hex(8)
    request_ = UssdRequest(session["sim_session"], phone, SERVICE_CODE, "" if new else text,
                           is_new=new, cumulative=False)
    screen = handle_ussd(store, carrier, request_, phone)
    session["sim_screen"] = screen.text
    session["sim_ended"] = screen.end
    return redirect(url_for("simulator.show", mode="ussd", _anchor="screen"))
