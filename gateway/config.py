"""Carrier configuration: one TOML file (`$LEARNLINE_CARRIERS`), one table per carrier.

Any string value may be `${ENV_VAR}`, so secrets stay in the environment. A
bad file stops start-up with one message naming the file, the carrier and the key.

Adapters with structured configuration (the generic `http` adapter) declare their
own keys that hold nested tables in `table_keys` (`[carriers.<id>.<key>]`), and may
check their keys in a classmethod `check_config(settings)`: it raises
`ValueError(key, problem)` (the key dotted for nested ones, e.g. `"outbound.url"`) or
`KeyError(key)` for a missing one, which become a ConfigError here.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from carrier_adapters import ADAPTERS, CarrierSettings
from gateway import environment
from gateway.i18n import available_locales, needs_ucs2
from gateway.learning.timing import Pacing
from gateway.message_templates import Template, parse_templates, template_kind
from gateway.sms_text import DEFAULT_POLICY, POLICIES

# A learner who dials USSD again this soon after a dropped or timed-out session goes
# straight back to the card they were reading; later, they start at the menu. The worker
# forgets sessions older than this.
USSD_RESUME_SECONDS = 15 * 60

CARRIER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BARE_ENV_RE = re.compile(r"\$[A-Z_][A-Z0-9_]*")  # "$TWILIO_AUTH_TOKEN", meant as ${...}
_REGIONS = {region for regions in COUNTRY_CODE_TO_REGION_CODE.values() for region in regions}

COMMON_KEYS = (
    "adapter", "sender", "country", "locale", "encoding_policy", "max_segments", "tps",
    "api_base_url", "public_url", "web_url", "webhook_token", "allow_ips", "ussd_max_chars",
    "ussd_session_seconds", "ussd_code", "ussd_ucs2", "ussd_ucs2_max_chars", "ussd_fallback_locale",
    "languages", "inbound_per_minute", "inbound_per_hour", "block_per_minute",
    "timezone", "quiet_hours", "max_unsolicited_per_day", "nudge_after_days", "max_nudges",
    "review_after_days", "price_per_segment", "price_per_ussd_session", "price_per_web_mb",
    "currency", "previous_webhook_token", "price_per_whatsapp_service",
    "price_per_whatsapp_utility", "price_per_whatsapp_marketing", "templates",
    "fallback_carrier",
)


@dataclass(frozen=True)
class Carrier:
    """One carrier as the gateway runs it: what its adapter reads (`wire`) and the gateway's
    policy for its learners, both from the carriers file (docs/carriers.md names each key).
    The wire settings' fields read through (`carrier.id`, `carrier.sender`...)."""

    wire: CarrierSettings
    country: str | None = None
    locale: str | None = None
    encoding_policy: str = DEFAULT_POLICY
    max_segments: int = 6
    tps: float = 10.0
    public_url: str | None = None
    # The lite web pages' address as this carrier's learners reach it (perhaps a
    # zero-rated name); SMS that point to a page give it whole, else the path alone.
    web_url: str | None = None
    ussd_max_chars: int = 182
    ussd_session_seconds: float = 180.0
    # The code learners dial (e.g. "*384*12#"), for the web's help page; None: not told.
    ussd_code: str | None = None
    # Screens in scripts outside GSM-7 (Arabic...): UCS-2 with its own, shorter limit, or,
    # where the USSD gateway cannot carry UCS-2, the Latin-script fallback language.
    ussd_ucs2: bool = True
    ussd_ucs2_max_chars: int = 80
    ussd_fallback_locale: str = "en"
    # Country (ISO 3166) to a new learner's language, over gateway.i18n's table.
    languages: Mapping[str, str] = field(default_factory=dict)
    inbound_per_minute: int = 20
    inbound_per_hour: int = 200
    block_per_minute: int = 120
    # Learning over time (docs/scheduling.md): the carrier's learners' time zone when a
    # number does not tell one; quiet hours as local (start, end) hours; pacing.
    timezone: str | None = None
    quiet_hours: tuple[int, int] = (21, 8)
    max_unsolicited_per_day: int = 3
    nudge_after_days: int = 2
    max_nudges: int = 3
    review_after_days: int = 3
    # What one SMS segment, one USSD session and one megabyte of lesson pages cost, for
    # the operator's dashboard (0: unknown), in `currency`.
    price_per_segment: float = 0.0
    price_per_ussd_session: float = 0.0
    price_per_web_mb: float = 0.0
    # What one WhatsApp message delivered costs, by the category it is priced in: a
    # free-form reply inside the 24-hour window (service), a utility or marketing template.
    price_per_whatsapp_service: float = 0.0
    price_per_whatsapp_utility: float = 0.0
    price_per_whatsapp_marketing: float = 0.0
    currency: str = ""
    # WhatsApp: what each kind of unsolicited message becomes outside the 24-hour window
    # (gateway/message_templates.py), by template kind.
    templates: Mapping[str, Template] = field(default_factory=dict)
    # Another carrier's id, which sends SMS: a message this carrier cannot deliver (a
    # number not on WhatsApp) goes through it instead, once (gateway/outbox/fallback.py).
    fallback_carrier: str | None = None
    # Not a key of the file: for a carrier that sends SMS, the first WhatsApp carrier that
    # names it as its fallback_carrier, which reaches its learners who choose WhatsApp.
    whatsapp_carrier: str | None = None
    # Not a key of the file: for a stand-in that sends nothing (the phone simulator's
    # carriers, adapter "simulator"), the channel it plays, 'sms' or 'whatsapp'; it then
    # carries that channel (and USSD beside SMS) whatever its adapter, and its learners'
    # choices are those of the channel it plays (`pacing`).
    stand_in_channel: str | None = None

    @classmethod
    def of(cls, **values: Any) -> Carrier:
        """A carrier from one flat set of keys, as the carriers file writes them: the
        adapter's go to `wire`, the rest to the gateway's policy."""
        wire_keys = {f.name for f in fields(CarrierSettings)}
        wire = CarrierSettings(**{k: v for k, v in values.items() if k in wire_keys})
        return cls(wire, **{k: v for k, v in values.items() if k not in wire_keys})

    @property
    def id(self) -> str:
        """The carrier's id in the carriers file."""
        return self.wire.id

    @property
    def adapter(self) -> str:
        """The name of the adapter that speaks its wire format."""
        return self.wire.adapter

    @property
    def sender(self) -> str:
        """The number or name its messages come from."""
        return self.wire.sender

    @property
    def api_base_url(self) -> str | None:
        """Its API's address, when not the adapter's default."""
        return self.wire.api_base_url

    @property
    def webhook_token(self) -> str | None:
        """The token its webhooks carry, if it authenticates them so."""
        return self.wire.webhook_token

    @property
    def previous_webhook_token(self) -> str | None:
        """The token a rotation replaced, accepted until removed."""
        return self.wire.previous_webhook_token

    @property
    def allow_ips(self) -> tuple[str, ...]:
        """The addresses its webhooks may come from (empty: any)."""
        return self.wire.allow_ips

    @property
    def credentials(self) -> Mapping[str, Any]:
        """Its adapter's own keys (account, secrets), as the adapter reads them."""
        return self.wire.credentials

    def template(self, outbox_kind: str) -> Template | None:
        """The template an unsolicited message of this outbox kind becomes outside
        WhatsApp's 24-hour window, or None."""
        kind = template_kind(outbox_kind)
        return self.templates.get(kind) if kind else None

    def carries(self, channel: str) -> bool:
        """Whether this carrier, as configured, carries `channel` ('sms', 'ussd',
        'whatsapp', 'status'): its adapter's answer for its settings (a Twilio carrier
        with a `whatsapp:` sender carries WhatsApp, not SMS); a stand-in, the channel it
        plays (`stand_in_channel`)."""
        if self.stand_in_channel is not None:
            return channel in (("sms", "ussd") if self.stand_in_channel == "sms"
                               else (self.stand_in_channel,))
        adapter = ADAPTERS.get(self.adapter)
        return adapter is not None and adapter.carried(self.wire, channel)

    @property
    def message_chars(self) -> int:
        """The longest text it takes as one message when its messages are not SMS
        (WhatsApp); 0 when it sends SMS. A stand-in playing WhatsApp takes what the
        Cloud API takes."""
        if self.stand_in_channel is not None:
            return ADAPTERS["whatsapp"].whole_message_chars \
                if self.stand_in_channel == "whatsapp" else 0
        adapter = ADAPTERS.get(self.adapter)
        return adapter.message_chars(self.wire) if adapter is not None else 0

    @property
    def channel(self) -> str:
        """The channel its messages travel on: 'whatsapp' or 'sms'."""
        return "whatsapp" if self.carries("whatsapp") else "sms"

    @property
    def pacing(self) -> Pacing:
        """Its quiet hours, daily cap, reminder and review settings and zone, and the
        channels its learners may choose for unsolicited messages."""
        if self.channel == "whatsapp":
            channels = ("whatsapp", "sms") if self.fallback_carrier else ("whatsapp",)
        else:
            channels = ("sms", "whatsapp") if self.whatsapp_carrier else ("sms",)
        return Pacing(quiet_hours=self.quiet_hours,
                      max_unsolicited_per_day=self.max_unsolicited_per_day,
                      nudge_after_days=self.nudge_after_days, max_nudges=self.max_nudges,
                      review_after_days=self.review_after_days, timezone=self.timezone,
                      channels=channels)


DEFAULT_CONSOLE = Carrier.of(id="console", adapter="console", sender="Learnline")


class ConfigError(Exception):
    """The carriers file is unusable; the message names file, carrier and key, one line per
    problem (`problems`: every problem found in one reading of the file)."""

    def __init__(self, *problems: str):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    @classmethod
    def of(cls, errors: list[ConfigError]) -> ConfigError:
        """One error holding the problems of all of `errors`."""
        return cls(*(problem for error in errors for problem in error.problems))


@dataclass(frozen=True)
class Carriers:
    """Every configured carrier, by id, and the file they came from (None: default)."""

    by_id: dict[str, Carrier]
    path: Path | None

    def __getitem__(self, carrier_id: str) -> Carrier:
        return self.by_id[carrier_id]

    def __iter__(self):
        return iter(self.by_id.values())

    def get(self, carrier_id: str) -> Carrier | None:
        """The carrier with this id, or None."""
        return self.by_id.get(carrier_id)


def load_carriers(path: str | Path | None = None, env: dict[str, str] | None = None) -> Carriers:
    """Read and validate the carriers file (`$LEARNLINE_CARRIERS` when no path is given).

    With no file configured, one `console` carrier. Raises ConfigError.
    """
    env = environment.snapshot() if env is None else env
    if path is None:
        path = env.get("LEARNLINE_CARRIERS") or None
    if path is None:
        return Carriers({"console": DEFAULT_CONSOLE}, None)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (named by LEARNLINE_CARRIERS)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None

    errors = [ConfigError(f"{path}: unknown top-level key '{key}'"
                          + ("; did you mean 'carriers'?"
                             if difflib.get_close_matches(key, ["carriers"], cutoff=0.6) else "")
                          + " (carriers go in [carriers.<id>] tables)")
              for key in sorted(set(data) - {"carriers"})]
    tables = data.get("carriers")
    if not isinstance(tables, dict) or not tables:
        errors.append(ConfigError(f"{path}: no carriers; add a table [carriers.<id>] with "
                                  "adapter = ..."))
        raise ConfigError.of(errors)
    carriers = {}
    for carrier_id, table in tables.items():
        try:
            carriers[carrier_id] = _carrier(path, carrier_id, table, env)
        except ConfigError as exc:  # the next carriers are checked too: all told at once
            errors.append(exc)
    errors += _fallback_problems(path, carriers)
    if errors:
        raise ConfigError.of(errors)
    for carrier in list(carriers.values()):
        if carrier.channel == "whatsapp" and carrier.fallback_carrier:
            sms = carriers[carrier.fallback_carrier]
            if sms.whatsapp_carrier is None:
                carriers[sms.id] = replace(sms, whatsapp_carrier=carrier.id)
    return Carriers(carriers, path)


def _fallback_problems(path: Path, carriers: dict[str, Carrier]) -> list[ConfigError]:
    """What is wrong with each carrier's `fallback_carrier`: it must name another
    configured carrier, one that sends SMS."""
    problems = []
    for carrier in carriers.values():
        other = carrier.fallback_carrier
        if other is None:
            continue
        where = f"{path}: carrier '{carrier.id}': key 'fallback_carrier'"
        if other == carrier.id:
            problems.append(ConfigError(f"{where}: names the carrier itself; name another "
                                        "carrier, one that sends SMS"))
        elif other not in carriers:
            problems.append(ConfigError(
                f"{where}: {other!r} is not a configured carrier; one of: "
                f"{', '.join(c for c in carriers if c != carrier.id) or 'none'}"))
        elif not carriers[other].carries("sms"):
            problems.append(ConfigError(f"{where}: {other!r} does not send SMS (adapter "
                                        f"'{carriers[other].adapter}', as configured); name "
                                        "a carrier that does"))
    return problems


# Keys whose value is a secret (`auth_token`, `client_secret`, `password`, `api_key`, a
# header `Authorization`...), at any depth of a carrier's table.
_SECRET_KEY_RE = re.compile(r"token|secret|passw|api_?key|signing_key|authorization", re.I)


def literal_secrets(path: Path) -> list[tuple[str, str]]:
    """(carrier id, dotted key) of each secret written in the carriers file itself rather
    than as `${VAR}` from the environment; empty when the file cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []

    def walk(carrier_id: str, table: dict, prefix: str) -> None:
        for key, value in table.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(carrier_id, value, f"{dotted}.")
            elif isinstance(value, str) and value and _SECRET_KEY_RE.search(str(key)) \
                    and not _ENV_RE.search(value):
                found.append((carrier_id, dotted))

    carriers = data.get("carriers")
    for carrier_id, table in (carriers.items() if isinstance(carriers, dict) else ()):
        if isinstance(table, dict):
            walk(str(carrier_id), table, "")
    return found


def _carrier(path: Path, carrier_id: str, table: Any, env: dict[str, str]) -> Carrier:
    failed: set[str] = set()  # the keys found wrong (their first part, when dotted)

    def fail(key: str | None, problem: str) -> ConfigError:
        where = f"{path}: carrier '{carrier_id}'"
        if key:
            failed.add(key.split(".")[0])
        return ConfigError(f"{where}: key '{key}': {problem}" if key else f"{where}: {problem}")

    # Every key is checked, so a file with several mistakes is told them all at once;
    # each check below that fails is noted and the next one runs.
    errors: list[ConfigError] = []

    @contextmanager
    def checking():
        try:
            yield
        except ConfigError as exc:
            errors.append(exc)

    if not CARRIER_ID_RE.fullmatch(carrier_id):
        raise fail(None, "carrier ids are lowercase letters, digits, '-' and '_'")
    if not isinstance(table, dict):
        raise fail(None, "must be a table [carriers.<id>]")
    name = table.get("adapter")
    if name is None:
        raise fail("adapter", f"missing; one of: {', '.join(sorted(ADAPTERS))}")
    adapter = ADAPTERS.get(name) if isinstance(name, str) else None
    if adapter is None:
        raise fail("adapter", f"unknown adapter {name!r}; one of: {', '.join(sorted(ADAPTERS))}")

    # A webhook secret being rotated may keep its value before as previous_<key>.
    previous_keys = tuple(f"previous_{key}" for key in adapter.webhook_secrets)
    own_keys = adapter.required_keys + adapter.optional_keys + previous_keys
    values: dict[str, Any] = {}
    known = COMMON_KEYS + own_keys
    for key, raw in table.items():
        if key not in known:
            errors.append(fail(key, _unknown_key(key, name, known[1:], _other_keys(name))))
            continue
        with checking():
            values[key] = _expand(raw, env, fail, key)
    for key in adapter.required_keys:
        if key in table and key not in values:
            continue  # its value could not be read: said above
        if values.get(key) in (None, ""):
            errors.append(fail(key, f"missing; adapter '{name}' needs it"))
    for key in adapter.table_keys:
        if key in values and not isinstance(values[key], dict):
            errors.append(fail(key, f"must be a table [carriers.{carrier_id}.{key}]"))

    def string(key: str) -> str | None:
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(key, "must be a string")
        return value

    sender = country = locale = fallback = None
    with checking():
        sender = string("sender")
    with checking():
        fallback = string("fallback_carrier")
    with checking():
        country = string("country")
        if country is not None:
            country = country.upper()
            if country not in _REGIONS:
                raise fail("country",
                           f"{country!r} is not an ISO 3166 country code such as \"SN\"")
    with checking():
        locale = string("locale")
        if locale is not None:
            locale = _catalog_locale(locale, "locale", fail)
    policy = DEFAULT_POLICY
    with checking():
        policy = string("encoding_policy") or DEFAULT_POLICY
        if policy not in POLICIES:
            raise fail("encoding_policy", f"{policy!r}; one of: {', '.join(POLICIES)}")
    max_segments = 6
    with checking():
        max_segments = values.get("max_segments", 6)
        if isinstance(max_segments, str) and max_segments.isdigit():
            max_segments = int(max_segments)
        if not isinstance(max_segments, int) or isinstance(max_segments, bool) \
                or not 1 <= max_segments <= 10:
            raise fail("max_segments", "must be a whole number from 1 to 10")
    tps = 10.0
    with checking():
        tps = values.get("tps", 10.0)
        try:
            if isinstance(tps, bool):  # float(true) would be 1 message a second
                raise TypeError
            tps = float(tps)
        except (TypeError, ValueError):
            raise fail("tps", "must be a number of messages per second") from None
        if not 0 < tps <= 10_000:
            raise fail("tps", "must be more than 0 and at most 10000")
    ussd_max_chars = 182
    with checking():
        ussd_max_chars = values.get("ussd_max_chars", 182)
        if not isinstance(ussd_max_chars, int) or isinstance(ussd_max_chars, bool) \
                or not 100 <= ussd_max_chars <= 500:
            raise fail("ussd_max_chars",
                       "must be a whole number from 100 to 500 (often 182 or 160)")
    ussd_session_seconds = 180
    with checking():
        ussd_session_seconds = values.get("ussd_session_seconds", 180)
        if not isinstance(ussd_session_seconds, int | float) \
                or isinstance(ussd_session_seconds, bool) \
                or not 10 <= ussd_session_seconds <= 3600:
            raise fail("ussd_session_seconds", "must be a number of seconds from 10 to 3600")
    ussd_code = None
    with checking():
        ussd_code = string("ussd_code")
        if ussd_code is not None and not re.fullmatch(r"[*#][0-9*#]{1,30}#", ussd_code):
            raise fail("ussd_code", f"{ussd_code!r} is not a USSD code such as \"*384*12#\"")
    ussd = _ussd_scripts(values, string, fail, checking)
    limits = {}
    for key, default in (("inbound_per_minute", 20), ("inbound_per_hour", 200),
                         ("block_per_minute", 120)):
        limit = values.get(key, default)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100_000:
            errors.append(fail(key, "must be a whole number of messages from 1 to 100000"))
        limits[key] = limit
    pacing = _pacing(values, string, fail, checking)
    wire = CarrierSettings(carrier_id, name, sender=sender or "",
                           credentials={k: values[k] for k in own_keys if k in values})
    # Templates (WhatsApp's 24-hour window) and a fallback to SMS are a WhatsApp carrier's.
    for key, use in (("templates", "templates are for WhatsApp's 24-hour window only"),
                     ("fallback_carrier", "only a WhatsApp carrier's messages fall back to "
                      "SMS (docs/carriers.md, Fallback to SMS); to pair this carrier with "
                      f"a WhatsApp one, write fallback_carrier = \"{carrier_id}\" there")):
        if key in table and not adapter.carried(wire, "whatsapp"):
            how = adapter.how_to_carry(wire, "whatsapp")
            errors.append(fail(key, f"this carrier does not carry WhatsApp (adapter '{name}'"
                               f"{', as configured' if how else ''}), and {use}"
                               f"{'; ' + how if how else ''}"))
    templates: dict[str, Template] = {}
    if "templates" in values and adapter.carried(wire, "whatsapp"):
        kinds = values["templates"]
        # Each kind's mistakes told apart from the others'.
        for part in ([{kind: spec} for kind, spec in kinds.items()]
                     if isinstance(kinds, dict) else [kinds]):
            with checking():
                # Meta's templates have a name and language codes, Twilio's a Content SID each.
                templates.update(parse_templates(
                    part, frozenset(available_locales()), fail,
                    by_content_sid=adapter.templates_by_content_sid(wire)))
    urls: dict[str, str | None] = {}
    for key in ("api_base_url", "public_url", "web_url"):
        with checking():
            url = urls[key] = string(key)
            if url is not None and not re.match(r"^https?://[^/\s]+", url):
                # Not echoed: a secret put under the wrong key must not reach a log.
                raise fail(key, "not an http(s) URL: it must start with http:// or https://")
    allow_ips = values.get("allow_ips", [])
    with checking():
        if isinstance(allow_ips, str):
            allow_ips = [part.strip() for part in allow_ips.split(",") if part.strip()]
        if not isinstance(allow_ips, list):
            raise fail("allow_ips", "must be a list of addresses or networks")
        for entry in allow_ips:
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError:
                raise fail("allow_ips", f"{entry!r} is not an IP address or network") from None
    token = None
    with checking():
        token = string("webhook_token")
        if token is not None and len(token) < 16:
            raise fail("webhook_token", "must be at least 16 characters")
    previous_token = None
    with checking():
        previous_token = string("previous_webhook_token")
        if previous_token is not None and len(previous_token) < 16:
            raise fail("previous_webhook_token", "must be at least 16 characters")
    for key in ("previous_webhook_token", *previous_keys):
        with checking():
            current = key.removeprefix("previous_")
            if values.get(key) is not None and values.get(current) in (None, ""):
                raise fail(key, f"set without {current}: the previous secret is kept only "
                           "beside the one that replaced it")
            if key in previous_keys and key in values and \
                    (not isinstance(values[key], str) or not values[key]):
                raise fail(key, "must be a non-empty string")
    if not adapter.signs_requests and "webhook_token" not in table and not allow_ips \
            and name != "console":
        errors.append(fail(None, f"adapter '{name}' signs nothing: set webhook_token or "
                           "allow_ips so its webhooks are authenticated"))
    # The adapter's own checks read its keys and the sender: they run when those were
    # read, beside any mistake in the others.
    wire_keys = {"sender", "api_base_url", "webhook_token", "previous_webhook_token",
                 "allow_ips", *own_keys, *adapter.table_keys}
    if not failed & wire_keys:
        try:
            adapter.check_config(replace(
                wire, api_base_url=urls["api_base_url"], webhook_token=token,
                previous_webhook_token=previous_token,
                allow_ips=tuple(str(entry) for entry in allow_ips)))
        except KeyError as exc:
            errors.append(fail(str(exc.args[0]), f"missing; adapter '{name}' needs it"))
        except ValueError as exc:
            key, problem = exc.args if len(exc.args) == 2 else (None, str(exc))
            errors.append(fail(key, problem))
    if errors:
        raise ConfigError.of(errors)
    credentials = {}
    for key in own_keys:
        if key in values:
            credentials[key] = values[key]
    settings = Carrier.of(
        id=carrier_id,
        adapter=name,
        sender=sender or "",
        country=country,
        locale=locale,
        encoding_policy=policy,
        max_segments=max_segments,
        tps=tps,
        api_base_url=urls["api_base_url"],
        public_url=urls["public_url"],
        web_url=urls["web_url"],
        webhook_token=token,
        previous_webhook_token=previous_token,
        allow_ips=tuple(str(entry) for entry in allow_ips),
        ussd_max_chars=ussd_max_chars,
        ussd_session_seconds=float(ussd_session_seconds),
        ussd_code=ussd_code,
        credentials=credentials,
        fallback_carrier=fallback or None,
        **ussd,
        **limits,
        **pacing,
        templates=templates,
    )
    return settings


def _other_keys(adapter_name: str) -> tuple[str, ...]:
    """The keys of the adapters other than `adapter_name`: a key that belongs to another
    adapter is named as such."""
    return tuple(sorted({key for name, cls in ADAPTERS.items() if name != adapter_name
                         for key in cls.required_keys + cls.optional_keys}))


def _unknown_key(key: str, adapter_name: str, allowed: tuple[str, ...],
                 others: tuple[str, ...]) -> str:
    """What to say of a key the adapter does not take: that it is another adapter's, or
    the nearest allowed key when it looks like a typo of one; then the allowed keys."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if key in others:
        hint = "; it belongs to another adapter"
    return f"unknown key for adapter '{adapter_name}'{hint} (allowed: {', '.join(allowed)})"


def _catalog_locale(code: str, key: str, fail) -> str:
    """`code` as the language of a shipped catalog, or a ConfigError naming `key`."""
    try:
        locale = Locale.parse(code.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        raise fail(key, f"{code!r} is not a language code") from None
    if locale not in available_locales():
        raise fail(key, f"no catalog for {locale!r}; have: {', '.join(available_locales())}")
    return locale


def _ussd_scripts(values: dict[str, Any], string, fail, checking) -> dict[str, Any]:
    """USSD for scripts outside GSM-7 and the country-to-language table, validated; each
    key's mistake noted by `checking` and the next key checked."""
    ucs2, ucs2_max, fallback = True, 80, "en"
    with checking():
        ucs2 = values.get("ussd_ucs2", True)
        if not isinstance(ucs2, bool):
            raise fail("ussd_ucs2", "must be true or false (can the USSD gateway carry UCS-2?)")
    with checking():
        ucs2_max = values.get("ussd_ucs2_max_chars", 80)
        if not isinstance(ucs2_max, int) or isinstance(ucs2_max, bool) \
                or not 40 <= ucs2_max <= 250:
            raise fail("ussd_ucs2_max_chars", "must be a whole number from 40 to 250 (often 80)")
    with checking():
        fallback = _catalog_locale(string("ussd_fallback_locale") or "en",
                                   "ussd_fallback_locale", fail)
        if needs_ucs2(fallback):
            raise fail("ussd_fallback_locale", f"{fallback!r} is not written in GSM-7 letters; "
                       "the fallback must be a Latin-script language such as \"en\" or \"fr\"")
    languages: dict[str, str] = {}
    with checking():
        table = values.get("languages", {})
        if not isinstance(table, dict):
            raise fail("languages",
                       'must be a table of countries to languages, e.g. {UG = "en"}')
        for country, code in table.items():
            if str(country).upper() not in _REGIONS:
                raise fail("languages",
                           f"{country!r} is not an ISO 3166 country code such as \"UG\"")
            if not isinstance(code, str):
                raise fail("languages", f"{country}: must be a language code such as \"en\"")
            languages[str(country).upper()] = _catalog_locale(code, "languages", fail)
    return {"ussd_ucs2": ucs2, "ussd_ucs2_max_chars": ucs2_max,
            "ussd_fallback_locale": fallback, "languages": languages}


def _pacing(values: dict[str, Any], string, fail, checking) -> dict[str, Any]:
    """Time zone, quiet hours, pacing of unsolicited messages and price, validated; each
    key's mistake noted by `checking` and the next key checked."""
    pacing: dict[str, Any] = {}
    with checking():
        timezone = string("timezone")
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise fail("timezone", f"{timezone!r} is not an IANA time zone such as "
                           "\"Africa/Lagos\"") from None
            pacing["timezone"] = timezone
    with checking():
        quiet = string("quiet_hours")
        if quiet is not None:
            match = re.fullmatch(r"\s*(\d{1,2})(?::00)?\s*-\s*(\d{1,2})(?::00)?\s*", quiet)
            hours = (int(match.group(1)), int(match.group(2))) if match else None
            if hours is None or not all(0 <= h <= 23 for h in hours):
                raise fail("quiet_hours", f"{quiet!r}: write it as \"21:00-08:00\" (whole "
                           "hours, local time), or \"0-0\" for none")
            pacing["quiet_hours"] = hours
    for key, default, low, high in (("max_unsolicited_per_day", 3, 1, 50),
                                    ("nudge_after_days", 2, 1, 60), ("max_nudges", 3, 0, 20),
                                    ("review_after_days", 3, 1, 60)):
        with checking():
            value = values.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) \
                    or not low <= value <= high:
                raise fail(key, f"must be a whole number from {low} to {high}")
            pacing[key] = value
    for key, what in (("price_per_segment", "one SMS segment"),
                      ("price_per_ussd_session", "one USSD session"),
                      ("price_per_web_mb", "one megabyte of lesson pages"),
                      ("price_per_whatsapp_service",
                       "one WhatsApp message sent free-form, inside the 24-hour window"),
                      ("price_per_whatsapp_utility", "one WhatsApp utility template"),
                      ("price_per_whatsapp_marketing", "one WhatsApp marketing template")):
        with checking():
            price = values.get(key, 0.0)
            if isinstance(price, bool) or not isinstance(price, int | float) \
                    or not 0 <= price < 1000:
                raise fail(key, f"must be a number at least 0 and below 1000: the price of "
                           f"{what}")
            pacing[key] = float(price)
    with checking():
        pacing["currency"] = (string("currency") or "").strip()[:8]
    return pacing


def _expand(value: Any, env: dict[str, str], fail, key: str) -> Any:
    """Replace ${VAR} in strings, in lists and in nested tables, from the environment.

    `key` is the value's key, dotted inside nested tables (`outbound.headers.apiKey`),
    for `fail(key, problem)` to name.
    """
    if isinstance(value, dict):
        return {name: _expand(item, env, fail, f"{key}.{name}") for name, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, env, fail, key) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise fail(key, f"environment variable {name} is not set")
        if not env[name]:
            raise fail(key, f"environment variable {name} is empty")
        return env[name]

    # A reference mistyped would otherwise be taken as the value itself (a token of
    # "${TOKEN" makes every webhook a 403): said at start-up instead.
    left = _ENV_RE.sub("", value)
    if "${" in left:
        raise fail(key, "a '${' without its closing '}': write ${VARIABLE}")
    if _BARE_ENV_RE.fullmatch(value):
        raise fail(key, f"{value!r} is not replaced from the environment: write "
                        f"${{{value[1:]}}}")
    return _ENV_RE.sub(replace, value)

