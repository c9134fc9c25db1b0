"""Read a learner's text (SMS, WhatsApp) as an intent: commands in any supported language,
or an answer.

Command words come from the gettext catalogs (context "command",
gateway/channels/vocabulary.py), so a translator adds a language's words without touching
code. Every language's words work for every learner; English always works.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from gateway import programs
from gateway.channels.vocabulary import COMMANDS
from gateway.i18n import available_locales, translations
from gateway.learning import intents as i

# Arabic letters keyboards and writers vary on (teh marbuta, alef maksura, Persian yeh and
# keheh), tatweel, and Arabic-Indic digits, to one spelling. Hamza on alef and harakat are
# combining marks once decomposed, so they go with the accents.
_ARABIC_VARIANTS = str.maketrans({
    "ة": "ه", "ى": "ي", "ی": "ي", "ک": "ك", "ـ": None,
    **{chr(0x0660 + n): str(n) for n in range(10)},
    **{chr(0x06F0 + n): str(n) for n in range(10)},
})
# The first four letters in abjad order, as some learners answer A-D in Arabic script.
_ARABIC_ANSWERS = {"ا": "A", "ب": "B", "ج": "C", "د": "D"}


def fold(text: str) -> str:
    """Upper-case, accents and Arabic variants removed, whitespace collapsed: how commands
    are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.translate(_ARABIC_VARIANTS).upper().split())


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


def load_catalogs() -> None:
    """Compile every catalog and its command words now, at start-up: otherwise a worker's
    first message pays for all of them (about 80 ms a language)."""
    _all_words()
    _off_words()
    _answer_words()


_ANSWER_RE = re.compile(r"^\(?([A-D]|[1-9])[).:]?$")
_PUNCTUATION = ".,;:!?¡¿'\"()[]؟،؛"


_HOUR_RE = re.compile(r"^(\d{1,2})(?:\s*[:H.]\s*00)?\s*(AM|PM)?$")


def _hour(text: str) -> int | None:
    """A whole hour of the day from '7', '07', '7h', '19:00', '7 PM'; None otherwise."""
    match = _HOUR_RE.match(text.strip().rstrip("H"))
    if not match:
        return None
    hour, half = int(match.group(1)), match.group(2)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "PM" else 0)
    return hour if 0 <= hour <= 23 else None


# Words people put before an hour ("DAILY AT 7", "QUOTIDIEN A 19H", "DIARIO AS 7",
# "SIKU SAA 7"), folded: one of them may come first.
_BEFORE_AN_HOUR = frozenset({"AT", "A", "AS", "SAA", "@"})


def _from_first_digit(argument: str | None) -> str | None:
    """The hour part of a command's argument: the argument when it starts with a digit,
    or what follows one word of _BEFORE_AN_HOUR ('AT 7' -> '7'); None otherwise ('NEXT
    WEEK 2' names no hour)."""
    words = (argument or "").split()
    if words and words[0] in _BEFORE_AN_HOUR:
        words = words[1:]
    return " ".join(words) if words and words[0][0].isdigit() else None


@cache
def _off_words() -> frozenset[str]:
    words = {"OFF", "NO"}
    for locale in available_locales():
        words.update(fold(translations(locale).pgettext("command", "OFF NO")).split())
    return frozenset(words)


@cache
def _answer_words() -> frozenset[str]:
    """The words a learner may put before an answer ("la réponse A"), in every language:
    not a command, so not in COMMANDS."""
    words = {"ANSWER"}
    for locale in available_locales():
        words.update(fold(translations(locale).pgettext("command", "ANSWER")).split())
    return frozenset(words)


@cache
def _yes_words() -> frozenset[str]:
    words = {"YES"}
    for locale in available_locales():
        words.update(fold(translations(locale).pgettext("command", "YES")).split())
    return frozenset(words)


def yes_word(locale: str) -> str:
    """The word that accepts an invitation in `locale` (docs/programs.md, Cohorts)."""
    return translations(locale).pgettext("command", "YES").split()[0]


def is_yes(text: str) -> bool:
    """Whether the whole text is a yes, in any language ("oui", "Sim!")."""
    return fold(text).strip(_PUNCTUATION + " ") in _yes_words()


def _is_off(argument: str) -> bool:
    return argument.split()[0] in _off_words()


def _as_typed_after_first_word(text: str) -> str | None:
    """What follows the command word, as the learner typed it (case and accents kept),
    without the punctuation people put after a command (NAME: Ada)."""
    parts = text.strip().split(None, 1)
    rest = parts[1].lstrip(".,;:!? ").strip() if len(parts) > 1 else ""
    return rest or None


# Words around an answer said in words ("la réponse A", "my answer is b", "jibu ni C"),
# folded: an article before the answer word, a verb after it.
_BEFORE_ANSWER_WORD = frozenset({"LA", "MA", "MY", "THE", "A", "MINHA"})
_AFTER_ANSWER_WORD = frozenset({"IS", "EST", "E", "NI", "=", "-"})
# A command word is guessed from a slip only from this many letters: shorter words are
# too close to one another and to ordinary words.
_SLIP_MIN_LETTERS = 4
# The only commands read from a word with a slip, and only when the word is the whole
# message: they show something and change nothing. A guess at START, NAME, PAUSE, a
# schedule or a language would act on an ordinary word ("Stars", "come on", "cause").
_SLIP_COMMANDS = frozenset({"next", "status", "help", "courses"})


def _answer(compact: str) -> i.Answer | None:
    """An answer typed alone (A-D, 1-9, Arabic letters), spaces already removed."""
    answer = _ANSWER_RE.match(_ARABIC_ANSWERS.get(compact.strip(_PUNCTUATION), compact))
    if answer is None:
        return None
    token = answer.group(1)
    return i.Answer(ord(token) - ord("A") if token.isalpha() else int(token) - 1)


def _answer_in_words(folded: str) -> i.Answer | None:
    """An answer after an answer word: 'REPONSE: B', 'LA REPONSE A', 'MY ANSWER IS C'."""
    words = [w.strip(_PUNCTUATION) for w in folded.split()]
    words = [w for w in words if w]
    if len(words) > 1 and words[0] in _BEFORE_ANSWER_WORD:
        words = words[1:]
    if not words or words[0] not in _answer_words():
        return None
    words = words[1:]
    if words and words[0] in _AFTER_ANSWER_WORD:
        words = words[1:]
    return _answer(words[0]) if len(words) == 1 else None


def _one_slip_apart(typed: str, word: str) -> bool:
    """Whether `typed` is `word` with one letter missing, extra or wrong, or two
    neighbouring letters swapped (Damerau-Levenshtein distance 1)."""
    if typed == word or abs(len(typed) - len(word)) > 1:
        return False
    if len(typed) == len(word):
        differ = [n for n, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
        return len(differ) == 1 or (
            len(differ) == 2 and differ[1] == differ[0] + 1
            and typed[differ[0]] == word[differ[1]] and typed[differ[1]] == word[differ[0]])
    shorter, longer = sorted((typed, word), key=len)
    return any(longer[:n] + longer[n + 1:] == shorter for n in range(len(longer)))


@lru_cache(maxsize=4096)
def _command_key(word: str, alone: bool) -> str | None:
    """The command a first word names: exactly, or, when the word is the whole message
    (`alone`), with one slip if it is one of _SLIP_COMMANDS and no other command's words
    are that close (STOP words aside: they are never guessed, nor do they stand in the
    way of a guess at NEXT from SUIT)."""
    exact = _all_words().get(word)
    if exact is not None or not alone or len(word) < _SLIP_MIN_LETTERS:
        return exact
    near = {key for known, key in _all_words().items()
            if len(known) >= _SLIP_MIN_LETTERS and _one_slip_apart(word, known)}
    near.discard("stop")
    return near.pop() if len(near) == 1 and near <= _SLIP_COMMANDS else None


# What a learner may text after CHANNEL, folded: the channels' own names, which are the
# same in every language (Arabic writes WhatsApp's name in its script too).
_CHANNEL_NAMES = {"SMS": "sms", "WHATSAPP": "whatsapp", "WA": "whatsapp",
                  fold("واتساب"): "whatsapp", fold("واتس"): "whatsapp"}


def parse_command(text: str) -> i.Intent:
    """The intent in one SMS: a program's keyword, a command (with its argument), an
    answer, or Unknown.
    NEXT, STATUS, HELP or COURSES texted alone may carry one slip (SUIT, NXET, HELO)."""
    folded = fold(text)
    if not folded:
        return i.Unknown(text)
    program = programs.current().by_keyword(text)
    if program is not None:  # a program's keyword, whole (docs/programs.md)
        return i.Join(program.id, "keyword")
    answer = _answer(folded.replace(" ", "")) or _answer_in_words(folded)
    if answer is not None:
        return answer
    first, _, rest = folded.partition(" ")
    key = _command_key(first.strip(_PUNCTUATION)[:32], alone=not rest.strip(_PUNCTUATION + " "))
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
        case "lang":  # the name as typed: 'العربية' must keep its spelling to be found
            typed = _as_typed_after_first_word(text)
            return i.Language(typed.split()[0] if typed else None)
        case "stop":
            return i.Stop()
        case "name":
            return i.SetName(_as_typed_after_first_word(text))
        case "verify":
            return i.Verify(argument)
        case "daily" | "weekdays":
            if argument and _is_off(argument):
                return i.Schedule("off")
            when = _from_first_digit(argument)  # DAILY 7, DAILY AT 7, QUOTIDIEN A 19H
            hour = _hour(when) if when else None
            if hour is None and when:  # DAILY 7:30
                return i.Schedule(unclear_hour=when)
            return i.Schedule(key, hour)
        case "time":
            if argument and _is_off(argument):  # TIME OFF: no daily lessons
                return i.Schedule("off")
            when = _from_first_digit(argument) or argument
            hour = _hour(when or "")
            if hour is None and when:
                return i.Schedule(unclear_hour=when)
            return i.Schedule(None, hour)
        case "pause":
            return i.Pause()
        case "resume":
            return i.Resume()
        case "link":
            return i.Delivery("link")
        case "text":
            return i.Delivery("sms")
        case "channel":
            return i.Channel(_CHANNEL_NAMES.get((argument or "").replace(" ", "")))
        case "ask":  # the question as typed: a tutor reads it
            return i.Ask(_as_typed_after_first_word(text))
    return i.Unknown(text)
