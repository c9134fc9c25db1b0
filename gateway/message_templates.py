"""WhatsApp message templates, as a carrier's table of the carriers file names them
(`[carriers.<id>.templates.<kind>]`, docs/carriers.md, Templates): what each unsolicited
message becomes when it must go outside WhatsApp's 24-hour window.

A template is registered with Meta, per language, under a name; the gateway sends its name,
the language code Meta registered it under for the learner's language, and the values of
its `{{1}}`, `{{2}}`... in order, each named in the carriers file (`parameters`). In the
outbox, a template travels as the payload `{"template": {"name", "language", "category",
"parameters": [...], "quick_replies": [...]}}` (`TemplateMessage.payload`), which the
sending adapter turns into its wire format and the cost reports price by `category`.

A carrier whose adapter sends templates by a content id instead (Twilio's WhatsApp: a
Content template, one per language, approved by WhatsApp, `CarrierAdapter.
templates_by_content_sid`) names each language's Content SID (`content_sids`) rather than
a name and language codes; its payload carries `content_sid` in place of `name`, and
`language` is the learner's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The outbox's kinds of unsolicited message, and the template each becomes.
TEMPLATE_KINDS: dict[str, str] = {
    "lesson": "daily_lesson",
    "review": "review",
    "reminder": "reminder",
    "announcement": "announcement",
}
CATEGORIES = ("utility", "marketing")
# The values a template of each kind may carry in its parameters.
COMMON_PARAMETERS = ("learner_name", "course_title")
PARAMETERS: dict[str, tuple[str, ...]] = {
    "daily_lesson": (*COMMON_PARAMETERS, "lesson_title", "lesson_number", "lesson_count"),
    "reminder": (*COMMON_PARAMETERS, "lesson_title"),
    "review": (*COMMON_PARAMETERS, "lesson_title", "question"),
    "announcement": (*COMMON_PARAMETERS, "text"),
}
# A template of these kinds has a quick-reply button unless the file says otherwise.
QUICK_REPLY_BY_DEFAULT = frozenset({"daily_lesson", "reminder"})
# The id a template's quick reply carries back: the command that opens the learner's place
# (the day's lesson's first card, the card or question they stopped at), in every language.
QUICK_REPLY_ID = "START"
KEYS = ("name", "category", "language_codes", "parameters", "quick_reply")
# A Content template's keys (Twilio's WhatsApp): a Content SID per language, no name.
CONTENT_KEYS = ("category", "content_sids", "parameters", "quick_reply")
META_ONLY = ("name", "language_codes")
# Twilio's Content SIDs: HX and 32 hex digits.
_CONTENT_SID_RE = re.compile(r"HX[0-9a-fA-F]{32}")
# Meta's template names: lowercase letters, digits and underscores.
_NAME_RE = re.compile(r"[a-z0-9_]{1,512}")
# Meta's language codes: "fr", "en_US", "pt_BR", "zh_CN"...
_CODE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
# Meta refuses a parameter with a line break, a tab or more than four spaces in a row.
_SPACES_RE = re.compile(r"\s+")
PARAMETER_MAX = 500  # characters; a template's whole body is at most 1,024


@dataclass(frozen=True)
class Template:
    """One kind's template on a carrier: its registered name and category, its language
    code for each learner language (a catalog locale), the values filling its parameters
    in order, and whether it has a quick-reply button. A Content template (Twilio's
    WhatsApp) has no name and no language codes but a Content SID per learner language."""

    kind: str
    name: str
    category: str
    language_codes: Mapping[str, str] = field(default_factory=dict)
    parameters: tuple[str, ...] = ()
    quick_reply: bool = False
    content_sids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateMessage:
    """A template filled for one learner: what the outbox carries as its payload."""

    name: str
    language: str
    category: str
    parameters: tuple[str, ...] = ()
    quick_replies: tuple[str, ...] = ()
    content_sid: str = ""

    @property
    def payload(self) -> dict[str, Any]:
        """The outbox's payload for this template (module docstring)."""
        named = {"content_sid": self.content_sid} if self.content_sid else {"name": self.name}
        template: dict[str, Any] = {**named, "language": self.language,
                                    "category": self.category,
                                    "parameters": list(self.parameters)}
        if self.quick_replies:
            template["quick_replies"] = list(self.quick_replies)
        return {"template": template}


def template_kind(outbox_kind: str) -> str | None:
    """The template kind an outbox message of `outbox_kind` becomes outside the window;
    None for a reply (a reply answers the learner, inside the window)."""
    return TEMPLATE_KINDS.get(outbox_kind)


def fill(template: Template | None, locale: str, values: Mapping[str, str]
         ) -> TemplateMessage | None:
    """The template in the learner's language with its parameters filled from `values`
    (each on one line, within PARAMETER_MAX); None when there is no template or none for
    that language."""
    if template is None or locale not in (template.content_sids or template.language_codes):
        return None
    filled = []
    for name in template.parameters:
        value = _SPACES_RE.sub(" ", str(values.get(name) or "")).strip() or "-"
        filled.append(value if len(value) <= PARAMETER_MAX
                      else value[:PARAMETER_MAX - 1].rstrip() + "…")
    quick_replies = (QUICK_REPLY_ID,) if template.quick_reply else ()
    if template.content_sids:
        return TemplateMessage("", locale, template.category, tuple(filled), quick_replies,
                               content_sid=template.content_sids[locale])
    return TemplateMessage(template.name, template.language_codes[locale], template.category,
                           tuple(filled), quick_replies)


def missing_reason(kind: str, locale: str) -> str:
    """Why an unsolicited message cannot go outside the window, for operators."""
    return (f"outside WhatsApp's 24-hour window and no template "
            f"'{TEMPLATE_KINDS.get(kind, kind)}' for {locale}")


def parse_templates(table: Any, locales: frozenset[str],
                    fail: Callable[[str, str], Exception], *,
                    by_content_sid: bool = False) -> dict[str, Template]:
    """A carrier's `templates` table, validated: each key of it a kind, each kind's keys
    known and well formed. `by_content_sid`: the carrier sends Content templates (Twilio's
    WhatsApp), named by `content_sids`, where Meta's `name` and `language_codes` are
    refused; else those, where `content_sids` is. `fail(dotted key, problem)` makes the
    error raised."""
    if not isinstance(table, dict):
        raise fail("templates", "must be a table [carriers.<id>.templates.<kind>]")
    keys = CONTENT_KEYS if by_content_sid else KEYS
    templates = {}
    for kind, spec in table.items():
        where = f"templates.{kind}"
        if kind not in PARAMETERS:
            raise fail(where, f"unknown kind of message; one of: {', '.join(PARAMETERS)}")
        if not isinstance(spec, dict):
            raise fail(where, f"must be a table [carriers.<id>.templates.{kind}]")
        for key in spec:
            if by_content_sid and key in META_ONLY:
                raise fail(f"{where}.{key}", "a key of Meta's Cloud API templates; a Twilio "
                           "WhatsApp sender sends its Content templates by their SIDs: give "
                           "content_sids = { fr = \"HX...\", ... } instead")
            if not by_content_sid and key == "content_sids":
                raise fail(f"{where}.{key}", "only a Twilio WhatsApp sender's templates are "
                           "named by Content SIDs; this carrier's are named by name and "
                           "language_codes")
            if key not in keys:
                raise fail(f"{where}.{key}", f"unknown key; one of: {', '.join(keys)}")
        name, codes, content_sids = "", {}, {}
        if by_content_sid:
            content_sids = _content_sids(spec, where, locales, fail)
        else:
            name = spec.get("name")
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                raise fail(f"{where}.name", "must be the template's name as registered with "
                           "Meta: lowercase letters, digits and '_'")
        category = spec.get("category")
        if category not in CATEGORIES:
            raise fail(f"{where}.category", f"must be one of: {', '.join(CATEGORIES)} "
                       "(the category the template is registered under)")
        if not by_content_sid:
            codes = _language_codes(spec, where, locales, fail)
        parameters = spec.get("parameters", [])
        if not isinstance(parameters, list) or len(parameters) > 10:
            raise fail(f"{where}.parameters", "must be a list of at most 10 values, in the "
                       "order of the template's {{1}}, {{2}}...")
        for parameter in parameters:
            if parameter not in PARAMETERS[kind]:
                raise fail(f"{where}.parameters", f"{parameter!r} is not a value a {kind} "
                           f"template can carry; one of: {', '.join(PARAMETERS[kind])}")
        quick_reply = spec.get("quick_reply", kind in QUICK_REPLY_BY_DEFAULT)
        if not isinstance(quick_reply, bool):
            raise fail(f"{where}.quick_reply", "must be true or false")
        templates[kind] = Template(kind, name, category, codes, tuple(parameters),
                                   quick_reply, content_sids)
    return templates


def _language_codes(spec: dict, where: str, locales: frozenset[str],
                    fail: Callable[[str, str], Exception]) -> dict[str, str]:
    codes = spec.get("language_codes")
    if not isinstance(codes, dict) or not codes:
        raise fail(f"{where}.language_codes", "must be a table of learner languages to "
                   "the codes the template is registered under, e.g. { fr = \"fr\", "
                   "en = \"en_US\" }")
    for locale, code in codes.items():
        if locale not in locales:
            raise fail(f"{where}.language_codes.{locale}",
                       f"not a learner language; one of: {', '.join(sorted(locales))}")
        if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
            raise fail(f"{where}.language_codes.{locale}",
                       "must be a language code as Meta names it, such as \"fr\" or "
                       "\"en_US\"")
    return dict(codes)


def _content_sids(spec: dict, where: str, locales: frozenset[str],
                  fail: Callable[[str, str], Exception]) -> dict[str, str]:
    sids = spec.get("content_sids")
    if sids is None:
        raise fail(f"{where}.content_sids", "missing; a Twilio WhatsApp sender sends each "
                   "template by its Content SID, one per learner language, e.g. "
                   "{ fr = \"HX...\", en = \"HX...\" }")
    if not isinstance(sids, dict) or not sids:
        raise fail(f"{where}.content_sids", "must be a table of learner languages to the "
                   "Content SID of the template approved in each, e.g. { fr = \"HX...\" }")
    for locale, sid in sids.items():
        if locale not in locales:
            raise fail(f"{where}.content_sids.{locale}",
                       f"not a learner language; one of: {', '.join(sorted(locales))}")
        if not isinstance(sid, str) or not _CONTENT_SID_RE.fullmatch(sid):
            raise fail(f"{where}.content_sids.{locale}", "must be a Content SID as Twilio's "
                       "Content Template Builder shows it: HX and 32 hex digits")
    return dict(sids)
