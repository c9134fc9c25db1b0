"""Read a learner's SMS as an intent: commands in any supported language, or an answer.

Command words come from the gettext catalogs (context "command"), so a
translator adds a language's words without touching code. Every language's
words work for every learner; English always works.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from gateway.i18n import available_locales, translations
from gateway.learning import intents as i

# The source words of each command (msgid); catalogs translate them into
# space-separated words, the first being the one replies suggest.
COMMANDS: dict[str, str] = {}


def _command(key: str, english: str) -> str:
    COMMANDS[key] = english
    return english


_command("start", "START JOIN")
_command("courses", "COURSES")
_command("next", "NEXT")
_command("status", "STATUS")
_command("help", "HELP")
_command("lang", "LANG LANGUAGE")
_command("stop", "STOP STOPALL UNSUBSCRIBE CANCEL END QUIT")


def _mark_for_extraction() -> None:  # pragma: no cover - never called
    """Let `pybabel extract` see the command words (keyword pgettext)."""
    t = translations("en")
    t.pgettext("command", "START JOIN")
    t.pgettext("command", "COURSES")
    t.pgettext("command", "NEXT")
    t.pgettext("command", "STATUS")
    t.pgettext("command", "HELP")
    t.pgettext("command", "LANG LANGUAGE")
    t.pgettext("command", "STOP STOPALL UNSUBSCRIBE CANCEL END QUIT")


def fold(text: str) -> str:
    """Upper-case, accents removed, whitespace collapsed: how commands are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.upper().split())


@cache
def _words_by_locale(locale: str) -> dict[str, tuple[str, ...]]:
    t = translations(locale)
    return {
        key: tuple(fold(t.pgettext("command", english)).split())
        for key, english in COMMANDS.items()
    }


@cache
def _all_words() -> dict[str, str]:
    """Every known command word, in any language, to its command key."""
    found: dict[str, str] = {}
    for locale in available_locales():
        for key, words in _words_by_locale(locale).items():
            for word in words:
                found.setdefault(word, key)
    for key, english in COMMANDS.items():
        for word in english.split():
            found[word] = key
    return found


def command_words(locale: str) -> dict[str, str]:
    """The word a learner reading `locale` is told to text for each command."""
    return {key: words[0] for key, words in _words_by_locale(locale).items()}


_ANSWER_RE = re.compile(r"^\(?([A-D]|[1-9])[).:]?$")
_PUNCTUATION = ".,;:!?¡¿'\"()[]"


def parse_command(text: str) -> i.Intent:
    """The intent in one SMS: a command (with its argument), an answer, or Unknown."""
    folded = fold(text)
    if not folded:
        return i.Unknown(text)
    answer = _ANSWER_RE.match(folded.replace(" ", ""))
    if answer:
        token = answer.group(1)
        return i.Answer(ord(token) - ord("A") if token.isalpha() else int(token) - 1)
    first, _, rest = folded.partition(" ")
    key = _all_words().get(first.strip(_PUNCTUATION))
    argument = rest.strip(_PUNCTUATION + " ") or None
    match key:
        case "start":
            return i.Start(argument)
        case "courses":
            return i.Courses()
        case "next":
            return i.Next()
        case "status":
            return i.Status()
        case "help":
            return i.Help()
        case "lang":
            return i.Language(argument.split()[0] if argument else None)
        case "stop":
            return i.Stop()
    return i.Unknown(text)
