"""The words learners text for each command, in every language: what the SMS channel reads
and what every channel tells a learner to text (the web's help page names them too).

They come from the gettext catalogs (context "command"), so a translator adds a language's
words without touching code.
"""

from __future__ import annotations

from functools import cache

from gateway.i18n import translations

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
_command("name", "NAME")
_command("verify", "VERIFY")
_command("daily", "DAILY")
_command("weekdays", "WEEKDAYS")
_command("time", "TIME HOUR")
_command("pause", "PAUSE")
_command("resume", "RESUME")
_command("link", "LINK")
_command("text", "TEXT SMS")
_command("channel", "CHANNEL")
_command("ask", "ASK QUESTION")


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
    t.pgettext("command", "NAME")
    t.pgettext("command", "VERIFY")
    t.pgettext("command", "DAILY")
    t.pgettext("command", "WEEKDAYS")
    t.pgettext("command", "TIME HOUR")
    t.pgettext("command", "PAUSE")
    t.pgettext("command", "RESUME")
    t.pgettext("command", "LINK")
    t.pgettext("command", "TEXT SMS")
    t.pgettext("command", "CHANNEL")
    t.pgettext("command", "ASK QUESTION")
    t.pgettext("command", "OFF NO")
    t.pgettext("command", "ANSWER")


@cache
def command_words(locale: str) -> dict[str, str]:
    """The word a learner reading `locale` is told to text for each command, as the catalog
    writes it (upper case; Arabic keeps its hamza)."""
    t = translations(locale)
    return {key: (t.pgettext("command", english).split() or english.split())[0].upper()
            for key, english in COMMANDS.items()}
