"""Programs: the partners a gateway hosts (a school, a scheme, a company), read from the
TOML file `LEARNLINE_PROGRAMS` names (docs/programs.md).

A program has a name, a default language, optional country, budget and contacts, and the
ways a learner joins it: keywords texted on any carrier, a short code or a USSD service
code per carrier, and the web link `/join/<id>`. No file: no programs, and the gateway
behaves as it did without them. A bad file fails at start-up naming file, program and key
(`ConfigError`, the carriers file's error).
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError

from gateway import environment
from gateway.i18n import available_locales
from gateway.phones import to_e164

PROGRAM_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
PROGRAM_KEYS = ("name", "default_locale", "country", "monthly_budget", "currency", "contacts",
                "keywords", "carriers", "invitations_per_minute")
# A cohort's invitations go at most this fast unless its program says otherwise: an
# intake of thousands reaches a carrier's queue over minutes, not at once.
DEFAULT_INVITATIONS_PER_MINUTE = 60
CARRIER_KEYS = ("short_code", "ussd_code")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """How a program is entered on one carrier: the number or short code an SMS is sent
    to (`short_code`) and the service code a USSD session is dialled on (`ussd_code`)."""

    short_code: str = ""
    ussd_code: str = ""


@dataclass(frozen=True)
class Program:
    """One program as configured."""

    id: str
    name: str
    default_locale: str
    country: str | None = None
    monthly_budget: float | None = None
    currency: str | None = None
    contacts: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    carriers: dict[str, Entry] = field(default_factory=dict)
    invitations_per_minute: int = DEFAULT_INVITATIONS_PER_MINUTE

    @property
    def join_path(self) -> str:
        """The lite web's link that joins this program."""
        return f"/join/{self.id}"


def keyword_key(text: str) -> str:
    """A text as compared with keywords: case and runs of spaces do not count."""
    return " ".join(text.split()).casefold()


def _code_key(code: str) -> str:
    return "".join(code.split()).lstrip("+")


@dataclass(frozen=True)
class Programs:
    """Every configured program, by id, and the file they came from (None: no file)."""

    by_id: dict[str, Program]
    path: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.by_id)

    def __iter__(self) -> Iterator[Program]:
        return iter(self.by_id.values())

    def get(self, program_id: str) -> Program | None:
        """The program with this id, or None."""
        return self.by_id.get(program_id)

    def by_keyword(self, text: str) -> Program | None:
        """The program whose keyword the whole text is (any case), or None."""
        wanted = keyword_key(text)
        if not wanted:
            return None
        return next((p for p in self if wanted in map(keyword_key, p.keywords)), None)

    def by_short_code(self, carrier_id: str, recipient: str) -> Program | None:
        """The program entered by an SMS to `recipient` on this carrier, or None."""
        wanted = _code_key(recipient)
        return next((p for p in self if wanted and (e := p.carriers.get(carrier_id))
                     and e.short_code and _code_key(e.short_code) == wanted), None)

    def by_ussd_code(self, carrier_id: str, service_code: str) -> Program | None:
        """The program entered by dialling `service_code` on this carrier, or None."""
        wanted = _code_key(service_code)
        return next((p for p in self if wanted and (e := p.carriers.get(carrier_id))
                     and e.ussd_code and _code_key(e.ussd_code) == wanted), None)


NO_PROGRAMS = Programs({}, None)


def load_programs(path: str | Path | None = None, env: dict[str, str] | None = None, *,
                  carrier_ids: Iterable[str] | None = None) -> Programs:
    """Read and validate the programs file (`$LEARNLINE_PROGRAMS` when no path is given).

    No file named: no programs. `carrier_ids`, when given, are the configured carriers a
    program's `[programs.<id>.carriers.<carrier>]` must name. Raises ConfigError with
    every problem found, each naming file, program and key."""
    # gateway.config reads timing from the engine's package, which reads programs here.
    from gateway.config import ConfigError

    env = environment.snapshot() if env is None else env
    if path is None:
        path = env.get("LEARNLINE_PROGRAMS") or None
    if path is None:
        return NO_PROGRAMS
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (named by LEARNLINE_PROGRAMS)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    problems = [f"{path}: unknown top-level key '{key}' (programs go in [programs.<id>] "
                "tables)" for key in sorted(set(data) - {"programs"})]
    tables = data.get("programs")
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{path}: no programs; add a table [programs.<id>] with name = ...")
        raise ConfigError(*problems)
    known_carriers = None if carrier_ids is None else set(carrier_ids)
    programs: dict[str, Program] = {}
    for program_id, table in tables.items():
        program, found = _program(path, program_id, table, known_carriers)
        problems += found
        if program is not None:
            programs[program_id] = program
    problems += _clashes(path, programs.values())
    if problems:
        raise ConfigError(*problems)
    return Programs(programs, path)


def _program(path: Path, program_id: str, table: object,
             carrier_ids: set[str] | None) -> tuple[Program | None, list[str]]:
    """One [programs.<id>] table as a Program, with the problems found in it."""
    where = f"{path}: program '{program_id}'"
    if not PROGRAM_ID_RE.fullmatch(program_id):
        return None, [f"{where}: program ids are lowercase letters, digits, '-' and '_'"]
    if not isinstance(table, dict):
        return None, [f"{where}: must be a table [programs.{program_id}]"]
    problems: list[str] = []

    def fail(key: str, problem: str) -> None:
        problems.append(f"{where}: key '{key}': {problem}")

    for key in sorted(set(table) - set(PROGRAM_KEYS)):
        fail(key, f"unknown key (allowed: {', '.join(PROGRAM_KEYS)})")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("name", "missing; the program's name as learners read it")
        name = program_id
    locale = table.get("default_locale")
    if not isinstance(locale, str):
        fail("default_locale", f"missing; one of: {', '.join(available_locales())}")
        locale = "en"
    else:
        try:
            locale = Locale.parse(locale.replace("-", "_")).language
        except (ValueError, UnknownLocaleError):
            fail("default_locale", f"{locale!r} is not a language code")
        else:
            if locale not in available_locales():
                fail("default_locale",
                     f"no catalog for {locale!r}; have: {', '.join(available_locales())}")
    country = table.get("country")
    if country is not None:
        if not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country):
            fail("country", "a two-letter country code such as 'KE'")
            country = None
        else:
            country = country.upper()
    budget = table.get("monthly_budget")
    currency = table.get("currency")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)
                               or budget < 0):
        fail("monthly_budget", "a number, zero or more")
        budget = None
    if budget is not None and not (isinstance(currency, str) and currency.strip()):
        fail("currency", "missing; monthly_budget needs the currency it is counted in")
    if currency is not None and not isinstance(currency, str):
        fail("currency", "must be a string such as 'KES'")
        currency = None
    contacts: list[str] = []
    raw_contacts = table.get("contacts", [])
    if not isinstance(raw_contacts, list):
        fail("contacts", "a list of phone numbers")
        raw_contacts = []
    for raw in raw_contacts:
        try:
            contacts.append(to_e164(str(raw), country))
        except ValueError:
            fail("contacts", f"{raw!r} is not a phone number")
    keywords = table.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip()
                                                 for k in keywords):
        fail("keywords", "a list of words such as [\"JOIN ORANGE\"]")
        keywords = []
    pace = table.get("invitations_per_minute", DEFAULT_INVITATIONS_PER_MINUTE)
    if isinstance(pace, bool) or not isinstance(pace, int) or not 1 <= pace <= 100_000:
        fail("invitations_per_minute", "a whole number from 1 to 100000")
        pace = DEFAULT_INVITATIONS_PER_MINUTE
    entries: dict[str, Entry] = {}
    carriers = table.get("carriers", {})
    if not isinstance(carriers, dict):
        fail("carriers", f"must be tables [programs.{program_id}.carriers.<carrier id>]")
        carriers = {}
    for carrier_id, entry in carriers.items():
        key = f"carriers.{carrier_id}"
        if carrier_ids is not None and carrier_id not in carrier_ids:
            fail(key, f"no carrier '{carrier_id}' in the carriers file"
                      f" (have: {', '.join(sorted(carrier_ids)) or 'none'})")
            continue
        if not isinstance(entry, dict):
            fail(key, f"must be a table [programs.{program_id}.carriers.{carrier_id}]")
            continue
        for unknown in sorted(set(entry) - set(CARRIER_KEYS)):
            fail(f"{key}.{unknown}", f"unknown key (allowed: {', '.join(CARRIER_KEYS)})")
        codes = {k: entry.get(k, "") for k in CARRIER_KEYS}
        for k, value in codes.items():
            if not isinstance(value, str) or (k in entry and not value.strip()):
                fail(f"{key}.{k}", "a code such as '12345' or '*384*12#'")
                codes[k] = ""
        if not any(codes.values()) and set(entry) <= set(CARRIER_KEYS):
            fail(key, "give short_code and/or ussd_code")
        entries[carrier_id] = Entry(codes["short_code"].strip(), codes["ussd_code"].strip())
    if problems:
        return None, problems
    return Program(id=program_id, name=name.strip(), default_locale=locale, country=country,
                   monthly_budget=float(budget) if budget is not None else None,
                   currency=currency.strip() if isinstance(currency, str) else None,
                   contacts=tuple(contacts), keywords=tuple(k.strip() for k in keywords),
                   carriers=entries, invitations_per_minute=pace), []


def _clashes(path: Path, programs: Iterable[Program]) -> list[str]:
    """A keyword, short code or USSD code that two programs claim: told for the second."""
    problems: list[str] = []
    seen: dict[tuple, str] = {}
    for program in programs:
        claims = [(("keyword", keyword_key(k)), "keywords") for k in program.keywords]
        for carrier_id, entry in program.carriers.items():
            if entry.short_code:
                claims.append((("short", carrier_id, _code_key(entry.short_code)),
                               f"carriers.{carrier_id}.short_code"))
            if entry.ussd_code:
                claims.append((("ussd", carrier_id, _code_key(entry.ussd_code)),
                               f"carriers.{carrier_id}.ussd_code"))
        for claim, key in claims:
            other = seen.setdefault(claim, program.id)
            if other != program.id:
                problems.append(f"{path}: program '{program.id}': key '{key}': "
                                f"{claim[-1]!r} already belongs to program '{other}'")
    return problems


_cache: dict[tuple[str, float], Programs] = {}
_last_good: dict[str, Programs] = {}  # by path: the last valid reading of each file
_problems: dict[str, str] = {}  # by path: why its latest reading was refused


def current() -> Programs:
    """The programs configured for this process (`LEARNLINE_PROGRAMS`), read again when
    the file changes. The file was checked at start-up (`load_programs`); no file: none.
    A file that became invalid since is logged once, naming file, program and key, and
    the last valid reading stays in force (`problem()` tells it); ConfigError only when
    this process never read it valid."""
    from gateway.config import ConfigError

    path = environment.get("LEARNLINE_PROGRAMS") or None
    if path is None:
        return NO_PROGRAMS
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        mtime = -1.0
    key = (path, mtime)
    if key not in _cache:
        try:
            read = load_programs(path)
        except ConfigError as exc:
            if path not in _last_good:
                raise
            if _problems.get(path) != str(exc):
                log.error("programs file invalid; keeping its last valid reading: %s",
                          "; ".join(exc.problems))
            _problems[path] = str(exc)
            read = _last_good[path]
        else:
            _problems.pop(path, None)
            _last_good[path] = read
        _cache.clear()
        _cache[key] = read
    return _cache[key]


def problem() -> str | None:
    """Why the programs file, as `current()` last read it, is invalid (each problem
    naming file, program and key; the last valid reading is in force); None when valid
    or not set."""
    path = environment.get("LEARNLINE_PROGRAMS") or None
    return _problems.get(path) if path else None
