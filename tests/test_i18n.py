"""Gettext catalogs against the source, locale choices, and command words per language."""

from __future__ import annotations

import collections
import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gateway.channels.commands import COMMANDS, fold
from gateway.channels.sms import parse_command
from gateway.i18n import (
    available_locales,
    locale_for_country,
    needs_ucs2,
    normalize_locale,
    translations,
)
from gateway.learning import intents as i

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
CATALOG_LOCALES = ("en", "ar", "fr", "pt", "sw")


def _keywords() -> dict:
    """The keywords babel.cfg's header runs `pybabel extract` with (-k n_:1,2)."""
    header = (REPO / "babel.cfg").read_text(encoding="utf-8").splitlines()[0]
    keywords = dict(DEFAULT_KEYWORDS)
    for spec in re.findall(r"-k\s+(\S+)", header):
        name, _, args = spec.partition(":")
        keywords[name] = tuple(int(a) for a in args.split(",")) if args else None
    assert keywords["n_"] == (1, 2), "babel.cfg's header no longer names n_:1,2"
    return keywords


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str | None, str], dict]:
    """Every translatable string in the source: (context, msgid) -> details."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as fp:
        method_map, options_map = parse_mapping_cfg(fp)
    found: dict[tuple[str | None, str], dict] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(REPO), method_map=method_map, options_map=options_map, keywords=_keywords()
    ):
        msgid, plural = (message[0], message[1]) if isinstance(message, tuple) else (message, None)
        found[(context, msgid)] = {"plural": plural, "where": f"{filename}:{lineno}"}
    assert len(found) > 20, "extraction found almost nothing; is babel.cfg's method map right?"
    return found


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


@pytest.fixture(scope="module")
def catalogs():
    return {loc: _catalog(LOCALES / loc / "LC_MESSAGES" / "messages.po", loc)
            for loc in CATALOG_LOCALES}


def _ids(catalog) -> set[tuple[str | None, str]]:
    return {
        (m.context, m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog if m.id
    }


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_every_source_string_is_in_the_catalog(extracted, catalogs, locale):
    missing = [f"{details['where']}: {key}" for key, details in extracted.items()
               if key not in _ids(catalogs[locale])]
    assert missing == [], f"run pybabel update; missing from {locale}"


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_plural_strings_are_plural_in_the_catalog(extracted, catalogs, locale):
    catalog = catalogs[locale]
    for (context, msgid), details in extracted.items():
        message = catalog.get(msgid, context=context)
        if message is None:
            continue
        if details["plural"]:
            assert message.pluralizable and message.id[1] == details["plural"], msgid
        else:
            assert not message.pluralizable, msgid


@pytest.mark.parametrize("locale", ["fr", "pt", "sw"])
def test_catalog_translates_every_string(catalogs, locale):
    catalog = catalogs[locale]
    untranslated = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            untranslated.append(message.id)
    assert untranslated == []


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_catalog_passes_babel_checks(catalogs, locale):
    # Babel's checkers: python-format placeholders match the msgid's, and plural
    # entries have as many forms as the Plural-Forms header says.
    errors = [(message.id, [str(e) for e in errs]) for message, errs in catalogs[locale].check()]
    assert errors == []


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]", text))


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_placeholders_match_the_source(catalogs, locale):
    catalog = catalogs[locale]
    form_of = gettext.c2py(catalog.plural_expr)
    numbers_per_form = collections.Counter(form_of(n) for n in range(1000))
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(_placeholders(s) for s in ids))
        for form, string in enumerate(strings):
            found = _placeholders(string)
            # A form for one number only (Arabic's 0, 1, 2) may spell the number out.
            if message.pluralizable and numbers_per_form[form] == 1 and found <= expected:
                continue
            if string and found != expected:
                wrong.append((message.id, string))
    assert wrong == []


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_plural_entries_have_the_header_number_of_forms(catalogs, locale):
    catalog = catalogs[locale]
    match = re.search(r"nplurals=(\d+)", catalog.plural_forms)
    assert match
    nplurals = int(match.group(1))
    plurals = [m for m in catalog if m.id and m.pluralizable]
    assert plurals, "the source has plural strings; the catalog should too"
    for message in plurals:
        assert len(message.string) == nplurals, message.id


def test_french_plural_forms_reach_learners():
    t = translations("fr")
    one = t.ngettext("Welcome to %(course)s: %(n)d lesson.",
                     "Welcome to %(course)s: %(n)d lessons.", 1)
    many = t.ngettext("Welcome to %(course)s: %(n)d lesson.",
                      "Welcome to %(course)s: %(n)d lessons.", 6)
    assert one != many
    assert "leçon" in one and "leçons" in many


def test_template_is_up_to_date_with_the_source(extracted):
    template = _catalog(LOCALES / "messages.pot")
    assert _ids(template) == set(extracted), "run the pybabel extract line in babel.cfg"


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_catalog_has_no_obsolete_strings(extracted, catalogs, locale):
    stale = _ids(catalogs[locale]) - set(extracted)
    assert stale == set(), "strings no longer in the source; run pybabel update"


# -- locale choices --------------------------------------------------------------------


def test_available_locales_source_first():
    assert available_locales()[0] == "en"
    on_disk = {p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/messages.po")}
    assert set(available_locales()) == on_disk | {"en"}
    assert {"en", "fr", "pt"} <= set(available_locales())


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("fr", "fr"),
        ("FR", "fr"),
        ("fr_SN", "fr"),
        ("fr-SN", "fr"),
        (" fr ", "fr"),
        ("français", "fr"),
        ("Français", "fr"),
        ("French", "fr"),
        ("french", "fr"),
        ("en", "en"),
        ("EN", "en"),
        ("en_NG", "en"),
        ("English", "en"),
        ("anglais", "en"),
        ("pt", "pt"),
        ("PT", "pt"),
        ("pt_MZ", "pt"),
        ("pt-AO", "pt"),
        ("português", "pt"),
        ("Portuguese", "pt"),
        ("portugues", "pt"),  # without the accent, as keypads often send it
        ("PORTUGUES", "pt"),
        ("ar", "ar"),
        ("ar_MA", "ar"),
        ("arabic", "ar"),
        ("Arabe", "ar"),
        ("العربية", "ar"),
        ("kiswahili", "sw"),
        ("wo", None),  # Wolof: a language, but no catalog
        ("klingon", None),
        ("xx", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_locale(asked, expected):
    assert normalize_locale(asked) == expected


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("SN", {"fr"}),
        ("sn", {"fr"}),
        ("CI", {"fr"}),
        ("NG", {"en"}),
        ("KE", {"sw"}),  # Swahili first, now that it has a catalog
        ("TZ", {"sw"}),
        ("UG", {"en"}),  # an override: CLDR lists Swahili first
        ("GH", {"en"}),
        ("CM", {"fr", "en"}),
        # Portuguese-speaking countries default to Portuguese now that it has a catalog.
        ("MZ", {"pt"}),
        ("AO", {"pt"}),
        ("PT", {"pt"}),
        ("BR", {"pt"}),
        ("GW", {"pt"}),
        ("CV", {"pt"}),
        # Equatorial Guinea: Spanish first (no catalog), then French before Portuguese.
        ("GQ", {"fr"}),
        # Arabic-speaking countries default to Arabic now that it has a catalog.
        ("MA", {"ar"}),
        ("DZ", {"ar"}),
        ("TN", {"ar"}),
        ("EG", {"ar"}),
        ("SA", {"ar"}),
        (None, {None}),
        ("", {None}),
    ],
)
def test_locale_for_country(country, expected):
    assert locale_for_country(country) in expected


# -- command words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("suite", i.Next()),
        ("SUIVANT", i.Next()),
        ("Suite.", i.Next()),
        ("Début FREELANCE", i.Start("FREELANCE")),
        ("debut", i.Start(None)),
        ("commencer 1", i.Start("1")),
        ("arrêt", i.Stop()),
        ("ARRETER", i.Stop()),
        ("aide", i.Help()),
        ("Aide ?", i.Help()),
        ("langue en", i.Language("en")),
        ("bilan", i.Status()),
        ("progrès", i.Status()),
        ("cours", i.Courses()),
        ("formations", i.Courses()),
    ],
)
def test_french_command_words(text, intent):
    assert parse_command(text) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("next", i.Next()),
        ("NEXT", i.Next()),
        ("start freelance", i.Start("FREELANCE")),
        ("JOIN", i.Start(None)),
        ("stop", i.Stop()),
        ("unsubscribe", i.Stop()),
        ("help", i.Help()),
        ("status", i.Status()),
        ("courses", i.Courses()),
        ("lang fr", i.Language("fr")),
        ("language", i.Language(None)),
        ("b", i.Answer(1)),
        ("C)", i.Answer(2)),
        ("2", i.Answer(1)),
        ("hello there", i.Unknown("hello there")),
    ],
)
def test_english_command_words_always_work(text, intent):
    assert parse_command(text) == intent


def test_every_command_has_a_french_word_that_differs_from_english():
    t = translations("fr")
    for key, english in COMMANDS.items():
        french = t.pgettext("command", english)
        assert french and french != english, key


def test_every_command_has_a_portuguese_word_that_differs_from_english():
    t = translations("pt")
    for key, english in COMMANDS.items():
        portuguese = t.pgettext("command", english)
        assert portuguese and portuguese != english, key
        assert set(fold(portuguese).split()).isdisjoint(english.split()), key


@pytest.mark.parametrize("locale", CATALOG_LOCALES)
def test_command_words_are_unambiguous(locale):
    # A catalog's words are written without accents (commands are compared folded),
    # are not answers (A-D, 1-9), and mean no other command in any language.
    t = translations(locale)
    meaning: dict[str, str] = {}
    for other in available_locales():
        other_t = translations(other)
        for key, english in COMMANDS.items():
            for word in fold(other_t.pgettext("command", english)).split() + english.split():
                meaning.setdefault(word, key)
    for key, english in COMMANDS.items():
        written = t.pgettext("command", english)
        if not needs_ucs2(locale):  # Arabic keeps its spelling; fold evens out variants
            assert written == fold(written), (locale, written)
        for word in written.split():
            assert not re.fullmatch(r"[A-D1-9]", fold(word)), (locale, word)
            assert parse_command(word) not in (i.Unknown(word),), (locale, word)
            assert meaning[fold(word)] == key, (locale, word, meaning[fold(word)], key)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("seguinte", i.Next()),
        ("PRÓXIMO", i.Next()),
        ("proximo.", i.Next()),
        ("Iniciar FREELANCE", i.Start("FREELANCE")),
        ("começar 1", i.Start("1")),
        ("comecar", i.Start(None)),
        ("estado", i.Status()),
        ("progresso", i.Status()),
        ("ajuda", i.Help()),
        ("Ajuda ?", i.Help()),
        ("língua en", i.Language("en")),
        ("idioma pt", i.Language("pt")),
        ("parar", i.Stop()),
        ("SAIR", i.Stop()),
        ("cancelar", i.Stop()),
        ("cursos", i.Courses()),
        ("nome: Ana Matsinhe", i.SetName("Ana Matsinhe")),
        ("verificar 7KQM-2XHD-9P", i.Verify("7KQM-2XHD-9P")),
        ("diário 7", i.Schedule("daily", 7)),
        ("diario não", i.Schedule("off")),
        ("semana 18", i.Schedule("weekdays", 18)),
        ("hora 19", i.Schedule(None, 19)),
        ("pausa", i.Pause()),
        ("retomar", i.Resume()),
    ],
)
def test_portuguese_command_words(text, intent):
    assert parse_command(text) == intent


def test_portuguese_plural_forms_reach_learners():
    t = translations("pt")
    msgid, plural = ("Welcome to %(course)s: %(n)d lesson.",
                     "Welcome to %(course)s: %(n)d lessons.")
    assert "1 lição." in t.ngettext(msgid, plural, 1) % {"course": "X", "n": 1}
    assert "6 lições." in t.ngettext(msgid, plural, 6) % {"course": "X", "n": 6}
    assert "1000000 lições." in t.ngettext(msgid, plural, 1000000) % {"course": "X", "n": 1000000}
