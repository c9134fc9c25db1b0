"""`learnline i18n`: the translator's workflow, the Babel way (docs/i18n.md).

`extract`, `update` and `init` run Babel's own `pybabel` commands with the project's
options, so translators and CI produce byte-identical files. There is no `.mo` step:
gateway/i18n.py compiles each catalog in memory from its `.po` at start-up, so `compile`
only proves that every catalog compiles. `check` is the gate CI runs: per locale, the
share of translated strings, fuzzy entries, strings flagged for review, placeholders that
differ from the source (a plural form for one number may spell it out) and
empty command words.

Babel's frontend is imported inside the commands, so `learnline --help` stays light.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

SOURCE_LOCALE = "en"
COMMAND_CONTEXT = "command"
# `pybabel extract`/`update` exactly as the project runs them (see babel.cfg's header).
EXTRACT_OPTIONS = ("-k", "n_:1,2", "--no-location", "--sort-output", "--project", "Learnline",
                   "--copyright-holder", "Learnline contributors")
UPDATE_OPTIONS = ("-w", "100", "--no-fuzzy-matching", "--ignore-obsolete")

# %(name)s and friends, bare %s / %d, and str.format's {name}; %% is a literal percent.
_NAMED = re.compile(r"%\((\w+)\)[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")
_POSITIONAL = re.compile(r"%[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")
_BRACED = re.compile(r"(?<!\{)\{(\w*)(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def _repo_root() -> Path:
    """The checkout that holds babel.cfg (extract/update/init work on sources, not a wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "babel.cfg").is_file():
        raise click.ClickException(
            f"babel.cfg not found in {root}: `learnline i18n extract/update/init` work in a "
            "checkout of the Learnline repository, not an installed wheel")
    return root


def _locales(directory: str | None) -> Path:
    if directory:
        path = Path(directory)
    else:
        from gateway.paths import locales_dir

        path = locales_dir()
    if not path.is_dir():
        raise click.ClickException(f"{path}: no such folder of catalogs")
    return path


def _pybabel(*args: str) -> None:
    """Run `pybabel ARGS` in-process through Babel's own command line."""
    from babel.messages.frontend import CommandLineInterface

    try:
        status = CommandLineInterface().run(["pybabel", "--quiet", *args])
    except SystemExit as exc:  # optparse errors
        status = exc.code
    except Exception as exc:  # Babel raises plain errors for bad input
        raise click.ClickException(f"pybabel {args[0]}: {exc}") from None
    if status:
        raise click.ClickException(f"pybabel {args[0]} failed ({status})")


def _catalog_paths(folder: Path) -> list[tuple[str, Path]]:
    found = sorted((p.parent.parent.name, p) for p in folder.glob("*/LC_MESSAGES/messages.po"))
    return sorted(found, key=lambda item: (item[0] != SOURCE_LOCALE, item[0]))


_LOCALES_OPTION = click.option(
    "--locales", "directory", metavar="DIR",
    help="The catalogs folder (default: the bundled locales/).")


@click.group()
def i18n() -> None:
    """Translate the interface: extract, update, init, compile, check (docs/i18n.md).

    \b
    Example (after changing a message in the code):
      learnline i18n extract && learnline i18n update && learnline i18n check
    """


@i18n.command("extract")
@click.option("--output", "-o", metavar="FILE",
              help="Where to write the template (default: locales/messages.pot).")
def extract_command(output: str | None) -> None:
    """Collect every translatable string from the code into locales/messages.pot.

    Runs `pybabel extract -F babel.cfg -k n_:1,2 --no-location --sort-output ...`
    from the repository root, as the project always has.

    \b
    Example:
      learnline i18n extract
    """
    root = _repo_root()
    target = Path(output) if output else root / "locales" / "messages.pot"
    _pybabel("extract", "-F", str(root / "babel.cfg"), *EXTRACT_OPTIONS,
             "-o", str(target), str(root))
    click.echo(f"wrote {target}; next: learnline i18n update")


@i18n.command("update")
@_LOCALES_OPTION
def update_command(directory: str | None) -> None:
    """Merge locales/messages.pot into every catalog (new strings arrive empty).

    Runs `pybabel update -i messages.pot -d locales -w 100 --no-fuzzy-matching
    --ignore-obsolete`: no guessed (fuzzy) translations, no dead entries kept.

    \b
    Example:
      learnline i18n update && learnline i18n check
    """
    folder = Path(directory) if directory else _repo_root() / "locales"
    template = folder / "messages.pot"
    if not template.is_file():
        raise click.ClickException(f"{template} not found; run `learnline i18n extract` first")
    _pybabel("update", "-i", str(template), "-d", str(folder), *UPDATE_OPTIONS)
    click.echo(f"updated {len(_catalog_paths(folder))} catalog(s) in {folder}; "
               "translate the empty strings, then: learnline i18n check")


@i18n.command("init")
@click.argument("locale")
@_LOCALES_OPTION
def init_command(locale: str, directory: str | None) -> None:
    """Start the catalog of a new language (LOCALE: a language code such as sw).

    \b
    Example:
      learnline i18n init ha
    """
    from babel import Locale, UnknownLocaleError

    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise click.BadParameter(f"{locale!r} is not a language Babel knows",
                                 param_hint="LOCALE") from None
    folder = Path(directory) if directory else _repo_root() / "locales"
    template = folder / "messages.pot"
    target = folder / locale / "LC_MESSAGES" / "messages.po"
    if target.exists():
        raise click.ClickException(f"{target} exists; use `learnline i18n update`")
    if not template.is_file():
        raise click.ClickException(f"{template} not found; run `learnline i18n extract` first")
    _pybabel("init", "-i", str(template), "-d", str(folder), "-l", locale, "-w", "100")
    from babel.messages.plurals import get_plural

    plural = get_plural(parsed)
    click.echo(f"created {target} ({parsed.english_name}: {plural.num_plurals} plural "
               f"form(s), {plural.plural_forms})")
    click.echo("next:\n"
               "  1. fill in every msgstr (plural entries have one msgstr[n] per form)\n"
               "  2. translate the command words (msgctxt \"command\"), see docs/i18n.md\n"
               "  3. learnline i18n check   (CI fails until the catalog is complete)\n"
               f"  4. lessons in lessons/<course>/{locale}/, then: learnline lessons check")


# -- compile and check ------------------------------------------------------------------------


@dataclass
class Report:
    locale: str
    total: int = 0
    translated: int = 0
    fuzzy: int = 0
    untranslated: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    empty_commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Translated, in use, and flagged by the translator for a native speaker's review
    # (a "# review: why" comment): label and why.
    review: list[tuple[str, str]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.translated / self.total if self.total else 0.0


def _placeholders(text: str) -> tuple[frozenset[str], int, frozenset[str]]:
    text = text.replace("%%", "")
    named = frozenset(_NAMED.findall(text))
    positional = len(_POSITIONAL.findall(_NAMED.sub("", text)))
    return named, positional, frozenset(_BRACED.findall(text))


def _show(found: tuple[frozenset[str], int, frozenset[str]]) -> str:
    named, positional, braced = found
    parts = [f"%({n})" for n in sorted(named)] + ["%s"] * positional
    parts += [f"{{{b}}}" for b in sorted(braced)]
    return " ".join(parts) or "none"


def _key(message) -> tuple[str | None, str]:
    return message.context, message.id[0] if isinstance(message.id, tuple) else message.id


def _load(path: Path, locale: str):
    """Parse, compile in memory (as gateway/i18n.py does) and run Babel's checkers."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with path.open("rb") as fp:
        catalog = read_po(fp, locale=locale, abort_invalid=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    Translations(buffer)
    problems = [f"{message.id!r}: {error}" for message, errors in catalog.check()
                for error in errors]
    return catalog, problems


def _check(locale: str, path: Path, template) -> Report:
    report = Report(locale)
    try:
        catalog, babel_errors = _load(path, locale)
    except Exception as exc:  # any parse or compile failure is the finding
        report.errors.append(f"does not parse or compile: {exc}")
        return report
    single = _single_number_forms(catalog)
    wanted = ({_key(m) for m in template if m.id} if template is not None
              else {_key(m) for m in catalog if m.id})
    report.total = len(wanted)
    present = set()
    for message in catalog:
        if not message.id:
            continue
        key = _key(message)
        present.add(key)
        if key not in wanted:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        label = key[1] if key[0] is None else f"[{key[0]}] {key[1]}"
        if message.fuzzy:
            report.fuzzy += 1
        if message.fuzzy or not all(s and s.strip() for s in strings):
            report.untranslated.append(label)
            if key[0] == COMMAND_CONTEXT and not any(s and s.strip() for s in strings):
                report.empty_commands.append(key[1])
        else:
            report.translated += 1
            why = _review_note(message)
            if why is not None:
                report.review.append((label, why))
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        allowed = {_placeholders(i) for i in ids}
        for form, string in enumerate(strings):
            if string and _placeholders(string) not in allowed and not (
                    message.pluralizable and form in single
                    and _leaves_out_numbers(_placeholders(string), ids)):
                report.placeholders.append(
                    f"{label!r}: {string!r} has {_show(_placeholders(string))}, "
                    f"the source has {' or '.join(sorted(_show(a) for a in allowed))}")
    for key in sorted(wanted - present, key=lambda k: (k[0] or "", k[1])):
        report.untranslated.append(key[1] if key[0] is None else f"[{key[0]}] {key[1]}")
        if key[0] == COMMAND_CONTEXT:
            report.empty_commands.append(key[1])
    if not report.placeholders:  # Babel's python-format checker says the same, less clearly
        report.errors.extend(babel_errors)
    report.errors.extend(_whatsapp_titles(catalog, wanted))
    return report


def _whatsapp_titles(catalog, wanted) -> list[str]:
    """Each translation WhatsApp shows as a button's text (the Next command word, a list's
    button) that is longer than WhatsApp allows: render would cut it."""
    from carrier_adapters.whatsapp import utf16_length
    from gateway.channels.whatsapp.render import TITLED_STRINGS, interface_title

    found = []
    for (context, msgid), limit in TITLED_STRINGS.items():
        message = catalog.get(msgid, context=context)
        if message is None or (context, msgid) not in wanted or not message.string \
                or message.fuzzy or not str(message.string).strip():
            continue
        title = interface_title(context, msgid, str(message.string))
        length = utf16_length(title)
        if length > limit:
            label = msgid if context is None else f"[{context}] {msgid}"
            found.append(f"{label!r}: {title!r} is a WhatsApp button's text: {length} "
                         f"characters, {length - limit} over WhatsApp's {limit}")
    return found


def _single_number_forms(catalog) -> frozenset[int]:
    """The plural forms used for exactly one number (Arabic's forms for 0, 1 and 2): a
    translation may spell that number out ('درسان', two lessons) instead of writing it,
    as GNU msgfmt allows."""
    import gettext

    try:
        form_of = gettext.c2py(catalog.plural_expr)
    except ValueError:
        return frozenset()
    counts: dict[int, int] = {}
    for n in range(1000):
        counts[form_of(n)] = counts.get(form_of(n), 0) + 1
    return frozenset(form for form, seen in counts.items() if seen == 1)


def _leaves_out_numbers(found: tuple[frozenset[str], int, frozenset[str]],
                        ids: tuple[str, ...]) -> bool:
    """Whether `found` is a source string's placeholders less some whole numbers (%(n)d)."""
    named, positional, braced = found
    for source in ids:
        source_named, source_positional, source_braced = _placeholders(source)
        numbers = set(re.findall(r"%\((\w+)\)[-#0 +]*\d*d", source))
        if (named <= source_named and source_named - named <= numbers
                and (positional, braced) == (source_positional, source_braced)):
            return True
    return False


def _review_note(message) -> str | None:
    """The reason in a translator's `# review: ...` comment, or None without one."""
    for comment in message.user_comments:
        if comment.strip().lower().startswith("review:"):
            return comment.strip()[len("review:"):].strip() or "(no reason given)"
    return None


def _template(folder: Path):
    from babel.messages.pofile import read_po

    path = folder / "messages.pot"
    if not path.is_file():
        return None
    with path.open("rb") as fp:
        return read_po(fp)


@i18n.command("compile")
@_LOCALES_OPTION
def compile_command(directory: str | None) -> None:
    """Prove every catalog compiles; no .mo files are written.

    Learnline compiles each `.po` in memory when it starts (gateway/i18n.py), so a
    `.mo` file would be one nobody reads. Exits 1 if a catalog does not compile.

    \b
    Example:
      learnline i18n compile
    """
    folder = _locales(directory)
    failed = 0
    for locale, path in _catalog_paths(folder):
        try:
            catalog, _ = _load(path, locale)
        except Exception as exc:
            failed += 1
            click.echo(f"{locale}: does not compile: {exc}", err=True)
        else:
            click.echo(f"{locale}: {sum(1 for m in catalog if m.id)} messages, compiles")
    if failed:
        raise click.ClickException(f"{failed} catalog(s) do not compile")
    click.echo("ok: compiled in memory at start-up; no .mo files needed")


@i18n.command("check")
@_LOCALES_OPTION
@click.option("--min-share", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="The share of translated strings each catalog needs.")
@click.option("--verbose", "-v", is_flag=True,
              help="List every untranslated string and every string flagged for review.")
def check_command(directory: str | None, min_share: float, verbose: bool) -> None:
    """Per locale: translated share, fuzzy entries, strings flagged for review, placeholder
    mismatches, empty command words.

    Exits 1 when a catalog is below --min-share, has a placeholder that differs from
    the source, or does not parse. CI runs it (tests/test_cli_i18n.py).

    \b
    Example:
      learnline i18n check
      learnline i18n check --min-share 0.9 --verbose
    """
    folder = _locales(directory)
    paths = _catalog_paths(folder)
    if not paths:
        raise click.ClickException(f"no catalogs (*/LC_MESSAGES/messages.po) in {folder}")
    try:
        template = _template(folder)
    except Exception as exc:
        raise click.ClickException(f"{folder / 'messages.pot'}: {exc}") from None
    reports = [_check(locale, path, template) for locale, path in paths]

    click.echo(f"{'locale':<8}{'translated':>12}{'share':>9}{'fuzzy':>7}{'review':>8}"
               f"{'placeholders':>14}{'commands':>10}  status")
    failing = 0
    for r in reports:
        bad = bool(r.errors or r.placeholders) or r.share < min_share
        failing += bad
        click.echo(f"{r.locale:<8}{f'{r.translated}/{r.total}':>12}{r.share:>9.1%}{r.fuzzy:>7}"
                   f"{len(r.review):>8}{len(r.placeholders):>14}{len(r.empty_commands):>10}  "
                   f"{'FAIL' if bad else 'ok'}")
    for r in reports:
        for error in r.errors:
            click.echo(f"{r.locale}: {error}")
        for mismatch in r.placeholders:
            click.echo(f"{r.locale}: placeholders differ: {mismatch}")
        for word in r.empty_commands:
            click.echo(f"{r.locale}: empty command word: {word!r}")
        if r.untranslated and verbose:
            for label in r.untranslated:
                click.echo(f"{r.locale}: untranslated: {label!r}")
        elif r.untranslated:
            click.echo(f"{r.locale}: {len(r.untranslated)} untranslated "
                       f"({r.fuzzy} fuzzy); --verbose lists them")
        if verbose:
            for label, why in r.review:
                click.echo(f"{r.locale}: to review: {label!r}: {why}")
    if failing:
        click.echo(f"{failing} catalog(s) fail (min share {min_share:.0%}); see docs/i18n.md",
                   err=True)
        sys.exit(1)
    click.echo(f"ok: {len(reports)} catalog(s) at {min_share:.0%} or more")
