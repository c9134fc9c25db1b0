"""The carriers file: every mistake stops start-up with one message naming file, carrier, key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import pytest

from carrier_adapters import CarrierAdapter, registry
from carrier_adapters.twilio import STATUS_MAP
from gateway import create_app
from gateway.config import COMMON_KEYS, Carrier, ConfigError, load_carriers

SID = "AC" + "0123456789abcdef" * 2
TWILIO = f'adapter = "twilio"\naccount_sid = "{SID}"\nauth_token = "token-0123456789abcdef"\n'


class SmppLiteAdapter(CarrierAdapter):
    """A carrier that signs nothing (test data: registered only inside one test)."""

    name: ClassVar[str] = "smpp-lite"

    def parse_inbound(self, request):
        raise NotImplementedError

    def parse_status(self, request):
        raise NotImplementedError

    def send(self, to, body, *, status_url=None):
        raise NotImplementedError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carriers.toml"
    path.write_text(text, encoding="utf-8")
    return path


# A WhatsApp Cloud API carrier's keys, for the keys only a WhatsApp carrier takes.
CLOUD_API = ('adapter = "whatsapp"\nphone_number_id = "106540352242922"\n'
             'access_token = "EAAG-token-0123456789"\n'
             'app_secret = "0123456789abcdef0123456789abcdef"\n'
             'verify_token = "verify-token-0123"\n')
TEMPLATE = ('daily_lesson]\nname = "learnline_daily"\ncategory = "utility"\n'
            'language_codes = { fr = "fr", en = "en_US" }\n'
            'parameters = ["learner_name", "lesson_title"]\n')

CONTENT_TEMPLATE = ('daily_lesson]\ncategory = "utility"\n'
                    'content_sids = { fr = "HX' + "0123456789abcdef" * 2 + '" }\n')
MESSAGING_SERVICE = 'sender = "MG' + "0123456789abcdef" * 2 + '"\n'
NOT_WHATSAPP = "this carrier does not carry WhatsApp"

BAD_CARRIERS = [
    # (case, carrier id, table body, key the message must name)
    ("unknown adapter", "mtn-ng", 'adapter = "smoke-signals"\n', "adapter"),
    ("missing adapter", "mtn-ng", 'sender = "Learnline"\n', "adapter"),
    ("adapter not a string", "mtn-ng", "adapter = 3\n", "adapter"),
    ("missing twilio auth_token", "tw-ng", f'adapter = "twilio"\naccount_sid = "{SID}"\n',
     "auth_token"),
    ("empty twilio auth_token", "tw-ng", TWILIO.replace("token-0123456789abcdef", ""),
     "auth_token"),
    ("unknown key", "tw-ng", TWILIO + 'colour = "blue"\n', "colour"),
    ("another adapter's key", "console", 'adapter = "console"\nauth_token = "x"\n',
     "auth_token"),
    ("bad country", "tw-ng", TWILIO + 'country = "Nigeria"\n', "country"),
    ("unassigned country", "tw-ng", TWILIO + 'country = "ZZ"\n', "country"),
    ("bad locale", "tw-ng", TWILIO + 'locale = "not a language"\n', "locale"),
    ("locale without catalog", "tw-ng", TWILIO + 'locale = "ha"\n', "locale"),
    ("unknown encoding_policy", "tw-ng", TWILIO + 'encoding_policy = "ascii"\n',
     "encoding_policy"),
    ("max_segments 0", "tw-ng", TWILIO + "max_segments = 0\n", "max_segments"),
    ("ussd_max_chars 99", "at-ke", 'adapter = "africastalking"\nwebhook_token = '
     '"0123456789abcdef0"\nussd_max_chars = 99\n', "ussd_max_chars"),
    ("ussd_max_chars text", "at-ke", 'adapter = "africastalking"\nwebhook_token = '
     '"0123456789abcdef0"\nussd_max_chars = "182"\n', "ussd_max_chars"),
    ("ussd_session_seconds 5", "hub-gh", 'adapter = "hubtel"\nallow_ips = ["10.0.0.0/8"]\n'
     "ussd_session_seconds = 5\n", "ussd_session_seconds"),
    ("max_segments 11", "tw-ng", TWILIO + "max_segments = 11\n", "max_segments"),
    ("max_segments x", "tw-ng", TWILIO + 'max_segments = "x"\n', "max_segments"),
    ("max_segments 2.5", "tw-ng", TWILIO + "max_segments = 2.5\n", "max_segments"),
    ("tps 0", "tw-ng", TWILIO + "tps = 0\n", "tps"),
    ("tps -1", "tw-ng", TWILIO + "tps = -1\n", "tps"),
    ("tps fast", "tw-ng", TWILIO + 'tps = "fast"\n', "tps"),
    ("tps true", "tw-ng", TWILIO + "tps = true\n", "tps"),
    ("tps nan", "tw-ng", TWILIO + "tps = nan\n", "tps"),
    ("api_base_url not http", "tw-ng", TWILIO + 'api_base_url = "ftp://api.twilio.com"\n',
     "api_base_url"),
    ("public_url without scheme", "tw-ng", TWILIO + 'public_url = "learnline.example.org"\n',
     "public_url"),
    ("web_url without scheme", "tw-ng", TWILIO + 'web_url = "learn.example.org"\n', "web_url"),
    # Mistyped references to the environment, which would become the value itself.
    ("unclosed ${", "tw-ng", TWILIO.replace('"token-0123456789abcdef"', '"${TWILIO_AUTH_TOKEN"'),
     "auth_token': a '${' without its closing '}'"),
    ("$VAR without braces", "tw-ng",
     TWILIO.replace('"token-0123456789abcdef"', '"$TWILIO_AUTH_TOKEN"'),
     "auth_token': '$TWILIO_AUTH_TOKEN' is not replaced from the environment: write "
     "${TWILIO_AUTH_TOKEN}"),
    ("bad allow_ips entry", "console", 'adapter = "console"\nallow_ips = ["10.0.0.300"]\n',
     "allow_ips"),
    ("allow_ips not a list", "console", 'adapter = "console"\nallow_ips = 10\n', "allow_ips"),
    ("short webhook_token", "console", 'adapter = "console"\nwebhook_token = "short"\n',
     "webhook_token"),
    ("sender not a string", "tw-ng", TWILIO + "sender = 15005550006\n", "sender"),
    ("bad carrier id", "MTN NG", 'adapter = "console"\n', "MTN NG"),
    # A previous secret (rotation) only beside the one that replaced it, and as strong.
    ("previous token without a token", "at-ke", 'adapter = "africastalking"\nallow_ips = '
     '["10.0.0.0/8"]\nprevious_webhook_token = "0123456789abcdef0"\n',
     "previous_webhook_token': set without webhook_token"),
    ("short previous token", "at-ke", 'adapter = "africastalking"\nwebhook_token = '
     '"0123456789abcdef0"\nprevious_webhook_token = "short"\n', "previous_webhook_token"),
    ("previous signing key without a key", "tw-ng",
     TWILIO + 'previous_webhook_signing_key = "old-key-0123456789"\n',
     "previous_webhook_signing_key': set without webhook_signing_key"),
    ("empty previous auth_token", "tw-ng", TWILIO + 'previous_auth_token = ""\n',
     "previous_auth_token"),
    ("previous key of a carrier that signs nothing", "at-ke", 'adapter = "africastalking"\n'
     'webhook_token = "0123456789abcdef0"\nprevious_api_key = "old-0123456789"\n',
     "previous_api_key"),
    # WhatsApp templates (docs/carriers.md, Templates): every key of each kind's table.
    *[(case, "wa-ng", CLOUD_API + '[carriers."wa-ng".templates.' + table, key)
      for case, table, key in [
          ("template of an unknown kind", 'lesson]\nname = "x"\n', "templates.lesson"),
          ("template without a name", TEMPLATE.replace('name = "learnline_daily"\n', ""),
           "templates.daily_lesson.name"),
          ("template name with capitals", TEMPLATE.replace("learnline_daily", "Daily"),
           "templates.daily_lesson.name"),
          ("template category", TEMPLATE.replace('"utility"', '"promotional"'),
           "templates.daily_lesson.category"),
          ("template without languages", TEMPLATE.replace('fr = "fr", en = "en_US"', ""),
           "templates.daily_lesson.language_codes"),
          ("template for a language without catalog",
           TEMPLATE.replace('fr = "fr"', 'ha = "ha"'),
           "templates.daily_lesson.language_codes.ha"),
          ("template language code", TEMPLATE.replace('"en_US"', '"en-us"'),
           "templates.daily_lesson.language_codes.en"),
          ("template parameter of another kind", TEMPLATE.replace('"lesson_title"', '"text"'),
           "templates.daily_lesson.parameters': 'text' is not a value a daily_lesson"),
          ("template unknown key", TEMPLATE + 'button = "Start"\n',
           "templates.daily_lesson.button"),
          ("template quick_reply", TEMPLATE + 'quick_reply = "yes"\n',
           "templates.daily_lesson.quick_reply"),
      ]],
    # Keys only a WhatsApp carrier uses, on one that does not carry WhatsApp.
    ("templates on a Twilio SMS number", "tw-ng",
     TWILIO + 'sender = "+15005550006"\n[carriers."tw-ng".templates.' + TEMPLATE,
     f"key 'templates': {NOT_WHATSAPP}"),
    ("templates on a console carrier", "console",
     'adapter = "console"\n[carriers.console.templates.' + TEMPLATE,
     f"key 'templates': {NOT_WHATSAPP}"),
    ("content_sids on a Messaging Service without channel", "tw-ng",
     TWILIO + MESSAGING_SERVICE + '[carriers."tw-ng".templates.' + CONTENT_TEMPLATE,
     f"key 'templates': {NOT_WHATSAPP}"),
    ("content_sids on a Messaging Service, the way to WhatsApp", "tw-ng",
     TWILIO + MESSAGING_SERVICE + '[carriers."tw-ng".templates.' + CONTENT_TEMPLATE,
     'channel = "whatsapp" (docs/carriers.md, Twilio\'s WhatsApp)'),
    ("fallback_carrier on a Twilio SMS number", "tw-ng",
     TWILIO + 'sender = "+15005550006"\nfallback_carrier = "console"\n'
     '[carriers.console]\nadapter = "console"\n',
     f"key 'fallback_carrier': {NOT_WHATSAPP}"),
    ("fallback_carrier on a console carrier", "console",
     'adapter = "console"\nfallback_carrier = "tw-ng"\n[carriers.tw-ng]\n' + TWILIO,
     f"key 'fallback_carrier': {NOT_WHATSAPP}"),
]


@pytest.mark.parametrize(("carrier_id", "table", "key"),
                         [case[1:] for case in BAD_CARRIERS],
                         ids=[case[0] for case in BAD_CARRIERS])
def test_bad_carrier_is_refused_naming_file_carrier_and_key(tmp_path, carrier_id, table, key):
    path = write(tmp_path, f'[carriers."{carrier_id}"]\n{table}')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message
    assert f"'{carrier_id}'" in message
    assert key in message


def test_an_empty_environment_variable_is_named_and_a_misplaced_secret_not_shown(tmp_path):
    path = write(tmp_path, '[carriers.tw-ng]\nadapter = "twilio"\n'
                 f'account_sid = "{SID}"\nauth_token = "${{TWILIO_AUTH_TOKEN}}"\n'
                 'public_url = "${PUBLIC_URL}"\n')
    with pytest.raises(ConfigError) as caught:  # as left blank in learnline.env.example
        load_carriers(path, env={"TWILIO_AUTH_TOKEN": "", "PUBLIC_URL": "https://x.org"})
    assert "key 'auth_token': environment variable TWILIO_AUTH_TOKEN is empty" \
        in str(caught.value)
    with pytest.raises(ConfigError) as caught:  # the token pasted into the URL's variable
        load_carriers(path, env={"TWILIO_AUTH_TOKEN": "secret-token-0123456789",
                                 "PUBLIC_URL": "hunter2-super-secret-value"})
    assert "key 'public_url': not an http(s) URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unset_environment_variable_is_named(tmp_path):
    path = write(tmp_path, '[carriers.tw-ng]\nadapter = "twilio"\n'
                 f'account_sid = "{SID}"\nauth_token = "${{TWILIO_AUTH_TOKEN_NG}}"\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={"TWILIO_AUTH_TOKEN": "set-but-not-this-one"})
    message = str(caught.value)
    assert str(path) in message
    assert "'tw-ng'" in message
    assert "auth_token" in message
    assert "TWILIO_AUTH_TOKEN_NG" in message


def test_unset_variable_inside_a_list_is_named(tmp_path):
    path = write(tmp_path, '[carriers.console]\nadapter = "console"\n'
                 'allow_ips = ["127.0.0.1", "${GATEWAY_PEER}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    assert "GATEWAY_PEER" in str(caught.value)
    assert "allow_ips" in str(caught.value)


def test_adapter_that_signs_nothing_needs_token_or_allow_ips(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "smpp-lite", SmppLiteAdapter)
    path = write(tmp_path, '[carriers.smpp-sn]\nadapter = "smpp-lite"\ncountry = "SN"\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    message = str(caught.value)
    assert str(path) in message
    assert "'smpp-sn'" in message
    assert "webhook_token" in message and "allow_ips" in message

    for extra in ('webhook_token = "smpp-token-0123456789"\n', 'allow_ips = ["10.20.0.0/16"]\n'):
        path.write_text('[carriers.smpp-sn]\nadapter = "smpp-lite"\ncountry = "SN"\n' + extra)
        assert load_carriers(path, env={})["smpp-sn"].adapter == "smpp-lite"


def test_every_mistake_in_the_file_is_told_in_one_reading(tmp_path):
    path = write(tmp_path, f"""
[carriers.tw-ng]
{TWILIO}webhok_token = "0123456789abcdef0"
max_segments = 11
country = "Nigeria"

[carriers.console]
adapter = "console"
tsp = 5
quiet_hours = "late"

[carriers.kannel-sn]
adapter = "kannel"
password = "${{KANNEL_PASSWORD}}"
""")
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    where = f"{path}: carrier"
    lines = str(caught.value).splitlines()
    assert caught.value.problems == lines
    expected = [
        f"{where} 'tw-ng': key 'webhok_token': unknown key for adapter 'twilio'; did you "
        "mean 'webhook_token'?",
        f"{where} 'tw-ng': key 'country': 'NIGERIA' is not an ISO 3166 country code",
        f"{where} 'tw-ng': key 'max_segments': must be a whole number from 1 to 10",
        f"{where} 'console': key 'tsp': unknown key for adapter 'console'; did you mean 'tps'?",
        f"{where} 'console': key 'quiet_hours': 'late': write it as",
        f"{where} 'kannel-sn': key 'password': environment variable KANNEL_PASSWORD is not set",
        f"{where} 'kannel-sn': key 'api_base_url': missing; adapter 'kannel' needs it",
        f"{where} 'kannel-sn': key 'username': missing; adapter 'kannel' needs it",
        f"{where} 'kannel-sn': adapter 'kannel' signs nothing",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == len(expected)


def test_a_mistyped_carriers_table_is_named_with_what_it_should_be(tmp_path):
    path = write(tmp_path, '[carrier.console]\nadapter = "console"\n')
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    assert caught.value.problems == [
        f"{path}: unknown top-level key 'carrier'; did you mean 'carriers'? (carriers go in "
        "[carriers.<id>] tables)",
        f"{path}: no carriers; add a table [carriers.<id>] with adapter = ...",
    ]


def test_a_key_of_another_adapter_is_named_as_such(tmp_path):
    path = write(tmp_path, '[carriers.console]\nadapter = "console"\nauth_token = "x"\n')
    with pytest.raises(ConfigError, match="unknown key for adapter 'console'; it belongs to "
                       "another adapter"):
        load_carriers(path, env={})


@pytest.mark.parametrize(("case", "text", "expected"), [
    ("invalid TOML", '[carriers.tw-ng\nadapter = "twilio"\n', "invalid TOML"),
    ("empty file", "", "no carriers"),
    ("no carrier tables", "[carriers]\n", "no carriers"),
    ("unknown top-level key", 'gateway = "x"\n[carriers.console]\nadapter = "console"\n',
     "gateway"),
    ("carrier not a table", 'carriers = { console = "yes" }\n', "console"),
])
def test_unusable_file_is_refused_naming_the_file(tmp_path, case, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "nowhere" / "carriers.toml"
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    assert str(path) in str(caught.value)
    assert "no such file" in str(caught.value)


def test_good_file_expands_env_and_fills_defaults(tmp_path):
    path = write(tmp_path, f"""
[carriers.tw-ng]
adapter = "twilio"
sender = "${{TWILIO_SENDER}}"
country = "ng"
account_sid = "{SID}"
auth_token = "${{TWILIO_AUTH_TOKEN}}"
public_url = "https://${{PUBLIC_HOST}}/"

[carriers.console]
adapter = "console"
locale = "fr-SN"
max_segments = "3"
tps = 2.5
allow_ips = "127.0.0.1, 10.1.0.0/16"
""")
    carriers = load_carriers(path, env={
        "TWILIO_SENDER": "+15005550006", "TWILIO_AUTH_TOKEN": "secret-from-env-0123",
        "PUBLIC_HOST": "learnline.example.org",
    })
    assert carriers.path == path
    assert [c.id for c in carriers] == ["tw-ng", "console"]
    tw = carriers["tw-ng"]
    assert tw.sender == "+15005550006"
    assert tw.credentials == {"account_sid": SID, "auth_token": "secret-from-env-0123"}
    assert tw.public_url == "https://learnline.example.org/"
    assert tw.country == "NG"
    assert (tw.encoding_policy, tw.max_segments, tw.tps) == ("auto", 6, 10.0)
    assert (tw.locale, tw.webhook_token, tw.allow_ips) == (None, None, ())
    console = carriers["console"]
    assert (console.locale, console.max_segments, console.tps) == ("fr", 3, 2.5)
    assert console.allow_ips == ("127.0.0.1", "10.1.0.0/16")
    assert console.credentials == {}


def test_no_file_gives_one_console_carrier():
    carriers = load_carriers(None, env={})
    assert carriers.path is None
    [console] = list(carriers)
    assert (console.id, console.adapter) == ("console", "console")
    assert console.webhook_token is None and console.allow_ips == ()


def test_file_named_by_environment(tmp_path):
    path = write(tmp_path, '[carriers.local]\nadapter = "console"\n')
    carriers = load_carriers(None, env={"LEARNLINE_CARRIERS": str(path)})
    assert carriers.path == path
    assert [c.id for c in carriers] == ["local"]


def test_create_app_with_a_bad_file_fails_at_start_up(tmp_path, db_path):
    path = write(tmp_path, '[carriers.tw-ng]\nadapter = "twilio"\n')
    with pytest.raises(ConfigError) as caught:
        create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(path)})
    assert str(path) in str(caught.value)
    assert "'tw-ng'" in str(caught.value)


# -- docs/carriers.md stays true to the configuration and the Twilio adapter -------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "carriers.md"


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines() if line.startswith("| `")
    ]


def test_every_configuration_key_is_documented():
    rows = _table_rows(DOCS.read_text(encoding="utf-8"))
    common = {row[0].strip("`") for row in rows}
    per_adapter = {(row[0].strip("`"), row[1].strip("`")) for row in rows if len(row) > 3}
    assert set(COMMON_KEYS) <= common
    for name, adapter in registry.ADAPTERS.items():
        previous = tuple(f"previous_{key}" for key in adapter.webhook_secrets)
        for key in adapter.required_keys + adapter.optional_keys + previous:
            assert (name, key) in per_adapter, (name, key)


def test_twilio_status_table_matches_the_adapter():
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Status mapping"):text.index("### Send error")]
    documented = {row[0].strip("`"): row[1].strip("`") for row in _table_rows(section)}
    assert documented == {
        status: state if state is not None else "not tracked"
        for status, state in STATUS_MAP.items()
    }


def test_the_readme_names_every_adapter_that_needs_a_token_or_addresses():
    """An adapter that signs nothing refuses to start without webhook_token or allow_ips
    (above); the README says which ones, by adapter name."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    [paragraph] = [part for part in readme.split("\n\n")
                   if "must have `webhook_token` or `allow_ips`" in part]
    [sentence] = [part for part in paragraph.replace("\n", " ").split(". ")
                  if "must have `webhook_token` or `allow_ips`" in part]
    unsigned = {name for name, adapter in registry.ADAPTERS.items()
                if not adapter.signs_requests and name != "console"}
    named = set(re.findall(r"`([a-z]+)`", sentence)) - {"webhook_token", "allow_ips"}
    assert named == unsigned, sentence


def test_the_readmes_carrier_keys_name_the_prices_that_costs_and_budgets_need():
    """Without a carrier's prices, costs and programs' budgets count nothing: the README's
    table of carrier keys names every price and the currency (docs/carriers.md says more)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("The carriers file has one table per carrier"):]
    section = section[:section.index("\n\n", section.index("| key |"))]
    named = {key for row in _table_rows(section) for key in re.findall(r"`([a-z_]+)`", row[0])}
    prices = {key for key in COMMON_KEYS if key.startswith("price_per_")} | {"currency"}
    assert len(prices) == 7 and prices <= named, sorted(prices - named)


def test_whatsapp_templates_are_read_per_kind_and_language(tmp_path):
    path = write(tmp_path, '[carriers."wa-ng"]\n' + CLOUD_API
                 + '[carriers."wa-ng".templates.' + TEMPLATE
                 + '[carriers."wa-ng".templates.announcement]\nname = "learnline_news"\n'
                 'category = "marketing"\nparameters = ["text"]\n'
                 '[carriers."wa-ng".templates.announcement.language_codes]\nsw = "sw"\n')
    carrier = load_carriers(path, env={})["wa-ng"]
    daily = carrier.template("lesson")
    assert (daily.name, daily.category, daily.parameters, daily.quick_reply) == (
        "learnline_daily", "utility", ("learner_name", "lesson_title"), True)
    assert daily.language_codes == {"fr": "fr", "en": "en_US"}
    news = carrier.template("announcement")
    assert (news.category, news.quick_reply, news.language_codes) == ("marketing", False,
                                                                      {"sw": "sw"})
    assert carrier.template("review") is None and carrier.template("reply") is None


def test_the_documented_templates_are_a_valid_configuration(tmp_path):
    """docs/carriers.md's example of WhatsApp templates is read as written."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### WhatsApp templates"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", 10)]
    path = write(tmp_path, '[carriers.whatsapp]\n' + CLOUD_API + example)
    carrier = load_carriers(path, env={})["whatsapp"]
    assert sorted(carrier.templates) == ["announcement", "daily_lesson", "reminder", "review"]
    assert all(set(t.language_codes) == {"en", "fr", "pt", "sw", "ar"}
               for t in carrier.templates.values())


def test_a_whatsapp_key_on_a_carrier_without_whatsapp_is_one_line_saying_why(tmp_path):
    """Templates and a fallback to SMS on an SMS carrier would never be used: one line
    each, with what would make the carrier a WhatsApp one where a setting would."""
    path = write(tmp_path, '[carriers.tw-ng]\n' + TWILIO + MESSAGING_SERVICE
                 + 'fallback_carrier = "console"\n[carriers."tw-ng".templates.'
                 + CONTENT_TEMPLATE + '[carriers.console]\nadapter = "console"\n'
                 '[carriers.console.templates.' + TEMPLATE)
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    twilio_whatsapp = ('a Messaging Service sender (MG...) carries WhatsApp with channel = '
                       '"whatsapp" (docs/carriers.md, Twilio\'s WhatsApp)')
    assert caught.value.problems == [
        f"{path}: carrier 'tw-ng': key 'templates': {NOT_WHATSAPP} (adapter 'twilio', as "
        f"configured), and templates are for WhatsApp's 24-hour window only; {twilio_whatsapp}",
        f"{path}: carrier 'tw-ng': key 'fallback_carrier': {NOT_WHATSAPP} (adapter 'twilio', "
        "as configured), and only a WhatsApp carrier's messages fall back to SMS "
        "(docs/carriers.md, Fallback to SMS); to pair this carrier with a WhatsApp one, "
        f'write fallback_carrier = "tw-ng" there; {twilio_whatsapp}',
        f"{path}: carrier 'console': key 'templates': {NOT_WHATSAPP} (adapter 'console'), "
        "and templates are for WhatsApp's 24-hour window only",
    ]
    # The same sender with channel = "whatsapp" is a WhatsApp carrier: both keys read.
    path.write_text(path.read_text().replace(MESSAGING_SERVICE, MESSAGING_SERVICE
                                             + 'channel = "whatsapp"\n')
                    .split("[carriers.console.templates.")[0])
    carrier = load_carriers(path, env={})["tw-ng"]
    assert carrier.fallback_carrier == "console" and carrier.template("lesson") is not None


def test_every_bad_value_of_one_carrier_is_told_in_one_reading(tmp_path):
    """Each key's mistake is its own line, however many one carrier has: pacing, prices,
    USSD scripts, each template kind and the adapter's own keys all told in one run."""
    path = write(tmp_path, f"""
[carriers.tw-ng]
{TWILIO}channel = "fax"
timezone = "Africa/Atlantis"
quiet_hours = "late"
max_nudges = 99
price_per_segment = -1
ussd_ucs2 = "yes"
ussd_fallback_locale = "ar"
languages = {{ ZZ = "en" }}
tps = 0
sender = "whatsapp:+14155238886"
[carriers.tw-ng.templates.daily_lesson]
category = "promotional"
content_sids = {{ fr = "HX{'0123456789abcdef' * 2}" }}
[carriers.tw-ng.templates.reminder]
category = "utility"
content_sids = {{ fr = "HX123" }}
""")
    with pytest.raises(ConfigError) as caught:
        load_carriers(path, env={})
    where = f"{path}: carrier 'tw-ng': key"
    lines = caught.value.problems
    expected = [
        f"{where} 'timezone': 'Africa/Atlantis' is not an IANA time zone",
        f"{where} 'quiet_hours': 'late': write it as",
        f"{where} 'max_nudges': must be a whole number from 0 to 20",
        f"{where} 'price_per_segment': must be a number at least 0",
        f"{where} 'ussd_ucs2': must be true or false",
        f"{where} 'ussd_fallback_locale': 'ar' is not written in GSM-7 letters",
        f"{where} 'languages': 'ZZ' is not an ISO 3166 country code",
        f"{where} 'tps': must be more than 0",
        f"{where} 'templates.daily_lesson.category': must be one of: utility, marketing",
        f"{where} 'templates.reminder.content_sids.fr': must be a Content SID",
        f"{where} 'channel': must be \"sms\" or \"whatsapp\"",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == len(expected), lines


def test_a_stand_in_playing_whatsapp_takes_whole_whatsapp_messages():
    """The simulator's stand-in carrier: playing WhatsApp, its texts go whole up to the
    Cloud API's length, as a WhatsApp carrier's do; playing SMS, they are split as SMS."""
    model = Carrier.of(id="simulator", adapter="simulator")
    assert dataclasses.replace(model, stand_in_channel="whatsapp").message_chars == 4096
    assert dataclasses.replace(model, stand_in_channel="sms").message_chars == 0
