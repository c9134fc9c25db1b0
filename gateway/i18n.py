"""Gettext catalogs from `locales/`, loaded with Babel, and locale choices.

Catalogs are read from their `.po` sources and compiled in memory once per
process, so translators edit one file and nothing binary is committed.
"""

from __future__ import annotations

import io
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from gateway.paths import locales_dir
from gateway.phones import region_of
from gateway.sms_text import UCS2, encoding_for, normalize

if TYPE_CHECKING:
    from gateway.config import Carrier

SOURCE_LOCALE = "en"


@cache
def available_locales() -> tuple[str, ...]:
    """The locales with a catalog, the source locale first."""
    found = sorted(
        p.parent.parent.name for p in locales_dir().glob("*/LC_MESSAGES/messages.po")
    )
    return (SOURCE_LOCALE, *[loc for loc in found if loc != SOURCE_LOCALE])


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for `locale` (the source strings when it has none)."""
    path = locales_dir() / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def normalize_locale(code: str | None) -> str | None:
    """The available locale a learner means by `code` ('FR', 'fr_SN', 'french'), or None."""
    if not code:
        return None
    code = code.strip()
    try:
        language = Locale.parse(code.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        language = None
    if language in available_locales():
        return language
    return _locale_names().get(_bare(code))


def _bare(text: str) -> str:
    """Lower case without accents or marks: 'Português' and 'portugues' are one name."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _locale_names() -> dict[str, str]:
    """Every available locale's name in every available language, bare, to the locale."""
    names: dict[str, str] = {}
    for locale in available_locales():
        for other in available_locales():
            name = Locale.parse(locale).get_display_name(other)
            if name:
                names.setdefault(_bare(name), locale)
    return names


@cache
def needs_ucs2(locale: str) -> bool:
    """Whether the language's script lies outside GSM-7 even with accents folded (Arabic,
    Amharic...), judged by its name in its own language: its texts go as UCS-2."""
    return encoding_for(normalize(language_name(locale), "gsm7")) == UCS2


@cache
def text_direction(locale: str) -> str:
    """'rtl' for right-to-left languages (Arabic...), else 'ltr' (CLDR, via Babel)."""
    return Locale.parse(locale).text_direction


# Where the first official language CLDR lists is not the one learners there read most
# easily, the language to use instead (a carrier's `locale` still overrides both).
COUNTRY_LANGUAGE_OVERRIDES = {
    "UG": "en",  # Uganda: CLDR lists Swahili first; schooling and business are in English
}


@cache
def locale_for_country(region: str | None) -> str | None:
    """The language for a country (ISO 3166): COUNTRY_LANGUAGE_OVERRIDES, else its first
    official language that has a catalog, or None."""
    if not region:
        return None
    override = COUNTRY_LANGUAGE_OVERRIDES.get(region.upper())
    if override and normalize_locale(override):
        return normalize_locale(override)
    for language in get_official_languages(region.upper(), de_facto=True):
        found = normalize_locale(language)
        if found:
            return found
    return None


def language_name(locale: str) -> str:
    """A locale's name in its own language, capitalised ('Français')."""
    return Locale.parse(locale).get_display_name(locale).capitalize()


def default_locale(phone: str, carrier: Carrier) -> str:
    """A new learner's language: the carrier's `locale`, else the number's country's (the
    carrier's `languages` table first, then locale_for_country's), else the carrier's country's."""
    if carrier.locale:
        return carrier.locale
    for region in (region_of(phone), carrier.country):
        if region and region in carrier.languages:
            return carrier.languages[region]
        found = locale_for_country(region)
        if found:
            return found
    return SOURCE_LOCALE
