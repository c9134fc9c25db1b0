"""What `learnline lessons check` prints of a course's SMS cost, from the real path
(gateway.channels.sms.cost): per lesson and language, what a learner pays answering right
and answering wrong once, split by kind, against the course's budget; the WhatsApp
messages each lesson sends, priced at the WhatsApp carrier's service message
(gateway.channels.whatsapp.cost); and which options WhatsApp's buttons show cut
(gateway.channels.whatsapp.limits)."""

from __future__ import annotations

import dataclasses
import textwrap

from gateway.channels.course_walk import CourseWalker
from gateway.channels.sms.cost import CostWalker, LessonCost
from gateway.channels.whatsapp.cost import lesson_messages
from gateway.channels.whatsapp.limits import cut_titles, option_count, overflows_in
from gateway.config import Carrier, Carriers
from gateway.content.model import Course
from gateway.ops.reports import money
from gateway.sms_text import POLICIES

CHANNEL_NAMES = {"sms": "SMS", "ussd": "USSD", "whatsapp": "WhatsApp"}


def pricing_carriers(carriers: Carriers) -> tuple[list[Carrier], str]:
    """One carrier for each way the carriers that send SMS price messages (encoding policy
    and `max_segments`), and who they are: 'carriers: a, b' or the default. WhatsApp and
    USSD-only carriers are left out; with no carrier sending SMS, none is returned and
    the text says what the carriers carry instead."""
    sms = [carrier for carrier in carriers.by_id.values() if carrier.carries("sms")]
    distinct: dict[tuple[str, int], Carrier] = {}
    for carrier in sms:
        distinct.setdefault((carrier.encoding_policy, carrier.max_segments), carrier)
    if carriers.path is None:
        return list(distinct.values()), "the default: no carriers file"
    if not sms:
        by_channels: dict[str, list[str]] = {}
        for carrier in carriers.by_id.values():
            channels = "+".join(name for channel, name in CHANNEL_NAMES.items()
                                if carrier.carries(channel)) or "no channel"
            by_channels.setdefault(channels, []).append(carrier.id)
        carried = "; ".join(f"{', '.join(ids)}: {channels}"
                            for channels, ids in by_channels.items())
        return [], f"no carrier in the carriers file sends SMS ({carried})"
    return list(distinct.values()), f"carriers: {', '.join(c.id for c in sms)}"


def course_cost_lines(course: Course, carriers: list[Carrier],
                      whose: str) -> tuple[list[str], list[str]]:
    """The lines to print for a course, and the lessons over budget ('fr first-clients');
    with no carrier sending SMS, one line saying so (`whose`) and no SMS figures."""
    lines: list[str] = []
    over: list[str] = []
    if not carriers:
        return [f"  SMS: {whose}"], over
    with CostWalker(course) as walker:
        lines += _policy_lines(walker, course, carriers[0])
        for carrier in carriers:
            lines += [
                f"  What a learner pays per lesson in segments, policy "
                f"{carrier.encoding_policy}, at most {carrier.max_segments}",
                f"  segments a message ({whose}).",
                "  right: every answer right; wrong once: each question answered wrong",
                "  once, then right when asked again. Split: cards+questions+feedback+",
                "  navigation, each message's segments shared by its characters",
                "  (navigation: all that Learnline adds around the author's text).",
            ]
            for locale in course.locales:
                for cost in walker.lesson_cost(carrier, locale):
                    lines += _lesson_lines(cost)
                    if cost.over:
                        over.append(f"{locale} {cost.lesson_id}")
    return lines, over


def _policy_lines(walker: CostWalker, course: Course, carrier: Carrier) -> list[str]:
    """Segments per lesson answered right under each policy, and the encodings."""
    lines = [f"  SMS segments per lesson answered right (policy: {' / '.join(POLICIES)}),",
             "  and the encoding each gives (GSM-7: 160 characters a message, 153 a part;",
             "  UCS-2: 70 and 67; mixed: some messages of each)"]
    for locale in course.locales:
        paid = {p: walker.right_segments(dataclasses.replace(carrier, encoding_policy=p),
                                         locale) for p in POLICIES}
        totals = dict.fromkeys(POLICIES, 0)
        for lesson in course.lessons[locale]:
            costs = {p: paid[p][lesson.id] for p in POLICIES}
            for policy in POLICIES:
                totals[policy] += costs[policy].segments
            lines.append(f"  {locale} {lesson.id}: "
                         f"{' / '.join(str(costs[p].segments) for p in POLICIES)}"
                         f"  ({' / '.join(_shown_encoding(costs[p].encoding) for p in POLICIES)})")
        lines.append(f"  {locale} total: {' / '.join(str(totals[p]) for p in POLICIES)}")
    return lines


def _shown_encoding(encoding: str) -> str:
    """An encoding as the policy lines show it: 'mixed' for a lesson of both, so a line
    of four policies fits a terminal."""
    return "mixed" if "+" in encoding else encoding


def _lesson_lines(cost: LessonCost) -> list[str]:
    verdict = f"OVER budget {cost.budget}" if cost.over else f"budget {cost.budget}"
    right, wrong = cost.right.split(), cost.wrong_once.split()
    lines = [
        f"  {cost.locale} {cost.lesson_id}: right {cost.right.segments}, wrong once "
        f"{cost.wrong_once.segments}: {verdict}",
        f"    split: right {'+'.join(str(v) for v in right.values())}; wrong once "
        f"{'+'.join(str(v) for v in wrong.values())}",
    ]
    for item in cost.costliest:
        saving = (f"{item.segments - 1} if {_characters(item.save)} shorter" if item.save
                  else "shortening its text alone saves none")
        along = f" (sent with {', '.join(item.sent_with)})" if item.sent_with else ""
        lines.append(f"    {item.name}{along}: {item.segments} segments, {saving}")
    return lines


def _characters(n: int) -> str:
    return "1 character" if n == 1 else f"{n} characters"


def whatsapp_carriers(carriers: Carriers) -> tuple[list[tuple[Carrier, str]], str]:
    """One carrier for each way the WhatsApp carriers count and price a lesson's messages
    (the longest message they carry, the price of a service message, its currency), each
    with whose way it is ('carrier wa', 'carriers wa, twilio-wa'); with no carriers
    file, a WhatsApp carrier of the defaults (no price). None, with a line saying why,
    when the file has no WhatsApp carrier."""
    if carriers.path is None:
        return [(Carrier.of(id="whatsapp", adapter="whatsapp"),
                 "the default: no carriers file")], ""
    ways: dict[tuple[int, float, str], list[Carrier]] = {}
    for carrier in carriers.by_id.values():
        if carrier.carries("whatsapp"):
            ways.setdefault((carrier.message_chars, carrier.price_per_whatsapp_service,
                             carrier.currency), []).append(carrier)
    if not ways:
        return [], "no carrier in the carriers file carries WhatsApp"
    return [(alike[0], f"carrier{'s' if len(alike) > 1 else ''} "
                       f"{', '.join(c.id for c in alike)}") for alike in ways.values()], ""


def whatsapp_cost_lines(course: Course, ways: list[tuple[Carrier, str]],
                        why: str) -> list[str]:
    """Per language and lesson, the WhatsApp messages a learner receives answering right
    and answering wrong once, for each of `ways` (whatsapp_carriers), and what they cost
    at its price of a service message (each is a reply inside the 24-hour window); with
    none, one line saying `why`."""
    if not ways:
        return [f"  WhatsApp messages: {why}"]
    lines: list[str] = []
    with CourseWalker(course) as walker:
        for carrier, whose in ways:
            price = carrier.price_per_whatsapp_service
            priced = (f"at {money(price)} {carrier.currency} a service message" if price
                      else "no price_per_whatsapp_service")
            lines += textwrap.wrap(
                "WhatsApp messages a learner receives per lesson, right / wrong once (each "
                f"a reply inside the 24-hour window; {whose}, {priced})", width=80,
                initial_indent="  ", subsequent_indent="  ")
            for locale in course.locales:
                right = wrong = 0
                for lesson in lesson_messages(walker, carrier, locale):
                    right, wrong = right + lesson.right, wrong + lesson.wrong_once
                    lines.append(_counts(f"{locale} {lesson.lesson_id}", lesson.right,
                                         lesson.wrong_once, carrier))
                lines.append(_counts(f"{locale} total", right, wrong, carrier))
    return lines


def _counts(what: str, right: int, wrong: int, carrier: Carrier) -> str:
    """'en find-your-skill: 10 / 13', priced when the carrier has a price."""
    price = carrier.price_per_whatsapp_service
    cost = (f"  ({money(right * price)} / {money(wrong * price)} {carrier.currency})"
            if price else "")
    return f"  {what}: {right} / {wrong}{cost}"


def whatsapp_title_lines(course: Course, verbose: bool = False) -> list[str]:
    """WhatsApp's figures: per language, one line of how many options a button or list row
    shows cut and how many texts are over WhatsApp's limits; with `verbose`, then per lesson
    the options cut, by question and letter with how many characters over."""
    cut: dict[tuple[str, str], dict[int, list[str]]] = {}
    for title in cut_titles(course):
        cut.setdefault((title.locale, title.lesson_id), {}).setdefault(
            title.question, []).append(f"{title.letter}+{title.over}")
    lines = ["  WhatsApp: options longer than their reply button (20 characters with",
             "  their letter, 'A) ') or list row (24) show cut there, each whole in the",
             "  message above the buttons"]
    for locale in course.locales:
        shown = sum(len(letters) for (where, _), questions in cut.items() if where == locale
                    for letters in questions.values())
        over = len(overflows_in(course, locale))
        texts = (f"{over} text{'' if over == 1 else 's'} over WhatsApp's limits "
                 "(warnings above)" if over else "no text over WhatsApp's limits")
        lines.append(f"  {locale}: {shown} of {option_count(course, locale)} options cut; "
                     f"{texts}")
    if not verbose:
        return lines + (["  (--verbose lists the options cut, per lesson)"] if cut else [])
    for (locale, lesson_id), questions in cut.items():
        listed = ", ".join(f"Q{number} {' '.join(letters)}"
                           for number, letters in questions.items())
        lines += textwrap.wrap(f"{locale} {lesson_id}: {listed}", width=78,
                               initial_indent="  ", subsequent_indent="    ",
                               break_on_hyphens=False)
    return lines
