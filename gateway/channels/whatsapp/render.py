"""Word the engine's replies as WhatsApp messages in the learner's language.

A card is one message: its lesson's title in *bold*, the card's text, its counter, and a
"Next" reply button. A question (or a review) is one message with its options written out
in the body and a reply button per option (up to 3) or a list (4 to 10). Every other
reply is worded as SMS words it (gateway/channels/texts.py), joined with the replies
around it into as few messages as WhatsApp's limits allow.

A button's or row's id is the text a learner could type for the same choice (`A`-`D`,
`NEXT`), so that the channel reads a choice exactly as the typed letter. Titles are cut
to WhatsApp's limits between grapheme clusters (carrier_adapters.whatsapp.clip), the
whole option staying in the body (and, in a list, in the row's description).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carrier_adapters.whatsapp import (
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    INTERACTIVE_BODY_MAX,
    LIST_BUTTON_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    ROWS_MAX,
    TEXT_MAX,
    clip,
    utf16_length,
)
from gateway.channels.texts import LETTERS, TextRenderer
from gateway.channels.vocabulary import COMMANDS
from gateway.learning import replies as r

# The id of the "Next" button: the English command word, which works in every language.
NEXT_ID = "NEXT"

_COMMAND_CONTEXT = "command"  # the catalogs' context of command words (vocabulary.py)
# Learnline's own strings that WhatsApp shows as a button's text, by (gettext context,
# msgid), with their limit: `learnline i18n check` holds every translation to it.
TITLED_STRINGS: dict[tuple[str | None, str], int] = {
    (_COMMAND_CONTEXT, COMMANDS["next"]): BUTTON_TITLE_MAX,  # the Next button
    (None, "Reply %(letters)s"): LIST_BUTTON_MAX,  # the button that opens a list
}


@dataclass(frozen=True)
class WhatsAppMessage:
    """One outgoing WhatsApp message: its whole text, and its buttons or list (the
    outbox's payload), if any."""

    body: str
    payload: dict[str, Any] | None = field(default=None)


def render(replies: tuple[r.Reply, ...] | list[r.Reply], locale: str,
           web_url: str | None = None, text_max: int = TEXT_MAX) -> list[WhatsAppMessage]:
    """All replies to one message as WhatsApp messages, in order: text joined into as few
    messages as fit (at most `text_max` characters each: the carrier's limit, Twilio's
    lower than Meta's), each card, question and review ending a message with its buttons."""
    renderer = _Renderer(locale, web_url)
    messages: list[WhatsAppMessage] = []
    pending: list[str] = []
    for reply in replies:
        text, payload = renderer.message(reply)
        if payload is None:
            if text:
                pending.append(text)
            continue
        body = "\n".join([*pending, text])
        if utf16_length(body) > INTERACTIVE_BODY_MAX:
            messages += _texts(pending, text_max)
            body = text
        if utf16_length(body) > INTERACTIVE_BODY_MAX:
            # A card too long for an interactive body goes as text, its button after it.
            messages += _texts([text], text_max)
            body = renderer.button_prompt(reply)
        messages.append(WhatsAppMessage(body, payload))
        pending = []
    return messages + _texts(pending, text_max)


def compose(reply: r.Reply, locale: str, web_url: str | None = None
            ) -> tuple[str, dict[str, Any] | None]:
    """One reply's text and its buttons or list as `render` words them, before joining it
    with the replies around it."""
    return _Renderer(locale, web_url).message(reply)


def interface_title(context: str | None, msgid: str, translation: str) -> str:
    """The button text a translation of one of TITLED_STRINGS makes, as `render` shows it
    (a command word: its first word in capitals; a list's button: for four options)."""
    if context == _COMMAND_CONTEXT:
        return (translation.split() or msgid.split())[0].upper()
    try:
        return translation % {"letters": f"{LETTERS[0]}-{LETTERS[-1]}"}
    except (KeyError, TypeError, ValueError):  # a broken placeholder: i18n check says so
        return translation


def _texts(parts: list[str], limit: int = TEXT_MAX) -> list[WhatsAppMessage]:
    """Text parts joined into messages of at most `limit`, cut only between parts, lines
    or (for one line longer than that) grapheme clusters."""
    lines = [line for part in parts for line in part.split("\n")]
    messages, current = [], ""
    for line in lines:
        while utf16_length(line) > limit:
            head = clip(line, limit, mark="")
            if current:
                messages.append(current)
                current = ""
            messages.append(head)
            line = line[len(head):]
        joined = f"{current}\n{line}" if current else line
        if utf16_length(joined) > limit:
            messages.append(current)
            joined = line
        current = joined
    if current.strip():
        messages.append(current)
    return [WhatsAppMessage(text.strip()) for text in messages if text.strip()]


class _Renderer(TextRenderer):
    def message(self, reply: r.Reply) -> tuple[str, dict[str, Any] | None]:
        """A reply's text and, for a card, a question or a review, its buttons or list."""
        match reply:
            case r.CardShown() as card:
                return self._card(card), self._next_button()
            case r.QuestionAsked() as q:
                return self.one(q), self._choices(q.options)
            case r.ReviewAsked() as review:
                return self.one(review), self._choices(review.options)
            case r.LessonDone(next_lesson_title=title) if title:
                return self.one(reply), self._next_button()
        return self.one(reply), None

    def _card(self, card: r.CardShown) -> str:
        """The card with its lesson's title in bold on every card (a WhatsApp message costs
        the same however long), then its counter and how to go on."""
        title = self._("Lesson %(number)d/%(count)d: %(title)s", number=card.lesson_number,
                       count=card.lesson_count, title=card.lesson_title)
        lines = [f"*{title.strip()}*", card.text]
        if card.card_number < card.card_count:
            lines.append(self._("[%(number)d/%(count)d] Reply %(next)s",
                                number=card.card_number, count=card.card_count,
                                next=self.word["next"]))
        else:
            lines.append(self._("[%(number)d/%(count)d] Reply %(next)s for the quiz",
                                number=card.card_number, count=card.card_count,
                                next=self.word["next"]))
        return "\n".join(lines)

    def button_prompt(self, reply: r.Reply) -> str:
        """The body of a button sent after a text too long to carry it."""
        if isinstance(reply, r.QuestionAsked | r.ReviewAsked):
            return self._("Reply %(letters)s", letters=self.letters(len(reply.options)))
        return self._("Reply %(next)s", next=self.word["next"])

    def _next_button(self) -> dict[str, Any]:
        return {"buttons": [{"id": NEXT_ID,
                             "title": clip(self.word["next"], BUTTON_TITLE_MAX)}]}

    def _choices(self, options: tuple[str, ...] | list[str]) -> dict[str, Any] | None:
        """Reply buttons for up to 3 options, a list for 4 to 10; each titled with its
        letter and as much of the option as fits."""
        letters = LETTERS if len(options) <= len(LETTERS) else None
        if letters is None or len(options) > ROWS_MAX:
            return None  # answered by typed letters alone
        if len(options) <= BUTTONS_MAX:
            return {"buttons": [{"id": letters[n],
                                 "title": clip(f"{letters[n]}) {option}", BUTTON_TITLE_MAX)}
                                for n, option in enumerate(options)]}
        rows = []
        for n, option in enumerate(options):
            title = clip(f"{letters[n]}) {option}", ROW_TITLE_MAX)
            row = {"id": letters[n], "title": title}
            if title != f"{letters[n]}) {option}":
                row["description"] = clip(option, ROW_DESCRIPTION_MAX)
            rows.append(row)
        label = self._("Reply %(letters)s", letters=self.letters(len(options)))
        return {"list": {"button": clip(label, LIST_BUTTON_MAX), "rows": rows}}
