"""USSD sessions: one request in, one screen out, the session's place kept in SQLite.

Each session stores a *view* (what the learner is looking at: the main menu, a
page of a card, a question, a message, a menu, a question to the tutors being typed in
parts) as plain JSON. A request is the
learner's latest choice on that view; the channel turns choices into engine
intents and engine replies into the next view. Conventions on every screen
where they apply: numbered options, 0 back, 00 main menu, 98 more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from carrier_adapters import UssdRequest
from gateway import programs
from gateway.channels.ussd.screens import (
    BACK,
    HOME,
    MORE,
    Alphabet,
    ascii_digits,
    body_width,
    compose,
    gsm7_alphabet,
    paginate,
    ucs2_alphabet,
)
from gateway.channels.ussd.wording import Wording
from gateway.channels.visits import comes_back, learner_acted
from gateway.config import USSD_RESUME_SECONDS, Carrier
from gateway.content.model import SMS
from gateway.i18n import default_locale, needs_ucs2
from gateway.learning import Engine, asking
from gateway.learning import intents as i
from gateway.learning import replies as r
from gateway.phones import masked
from gateway.server.whole_numbers import whole_number
from gateway.sms_text import UCS2
from gateway.store import LearnerRecord, Store, UssdSessionRecord
from gateway.store import programs as members

log = logging.getLogger(__name__)


def screen_locale(locale: str, carrier: Carrier) -> str:
    """The language USSD screens are written in for a learner reading `locale`: theirs,
    unless its script needs UCS-2 and the carrier's USSD gateway cannot carry it
    (`ussd_ucs2 = false`), then the carrier's Latin-script `ussd_fallback_locale`."""
    if needs_ucs2(locale) and not carrier.ussd_ucs2:
        return carrier.ussd_fallback_locale
    return locale


def alphabet_for(locale: str, carrier: Carrier) -> Alphabet:
    """GSM-7 screens up to `ussd_max_chars` for Latin-script languages; UCS-2 screens up
    to `ussd_ucs2_max_chars` for the others."""
    if needs_ucs2(locale):
        return ucs2_alphabet(carrier.ussd_ucs2_max_chars)
    return gsm7_alphabet(carrier.ussd_max_chars)


@dataclass(frozen=True)
class Screen:
    """A screen to show; `end` closes the session."""

    text: str
    end: bool = False


def handle_ussd(
    store: Store, carrier: Carrier, request: UssdRequest, phone: str,
    *, now: float | None = None,
) -> Screen:
    """Answer one USSD request with the next screen, in one write transaction."""
    now = store.clock() if now is None else now
    with store.write():
        session = store.ussd_session(carrier.id, request.session_id)
        if session is not None and session.phone != phone:
            # A session id is one dial's, by one number. Another number naming it (a
            # carrier's fault, or a forged request) is shown none of it and changes none
            # of it: it is told goodbye, to dial again.
            log.warning("carrier %s: USSD session %s is %s's, not %s's: ended for the "
                        "latter", carrier.id, request.session_id[:8], masked(session.phone),
                        masked(phone))
            request = replace(request, ended=True)
            session = None
        if request.ended:
            if session is not None:
                # Dropped or timed out by the network: resumable on the next dial.
                session.expires_at = min(session.expires_at, now)
                session.updated_at = now
                store.save_ussd_session(session)
            learner = store.learner(phone)
            locale = screen_locale(learner.locale if learner else default_locale(phone, carrier),
                                   carrier)
            return Screen(alphabet_for(locale, carrier).fit(
                Wording(locale).goodbye(request.service_code)), end=True)
        if session is None and store.learner(phone) is None:
            # Dialling in is an explicit act, like START: an erased number comes back as
            # a fresh learner (docs/privacy.md).
            comes_back(store, phone)
        pacing = carrier.pacing
        engine = Engine(store, pacing, edition=SMS, channel="ussd")
        learner = engine.learner(phone, carrier.id, default_locale(phone, carrier))
        menu = _Menu(engine, learner, carrier, request.service_code or (
            session.service_code if session else ""))
        live = session is not None and session.state == "open" and session.expires_at > now
        if not live:
            view = _open(store, menu, phone, now)
            entered = programs.current().by_ussd_code(carrier.id, request.service_code)
            if entered is not None and not members.is_member(store, entered.id, phone):
                view = menu.joined_view(entered.id)  # dialling a program's code joins it
            session = UssdSessionRecord(
                carrier_id=carrier.id, session_id=request.session_id, phone=phone,
                service_code=request.service_code, started_at=now,
                history=_history(request),
            )
            notice = None
        else:
            assert session is not None
            choice = _latest_input(session, request)
            session.history = _history(request)
            view, notice = menu.step(session.view, choice)
        end = view.get("v") == "goodbye"
        text = menu.render(view, notice)
        session.view = view
        session.screen = text
        session.state = "ended" if end else "open"
        session.updated_at = now
        session.expires_at = now + carrier.ussd_session_seconds
        _count_toward_lesson(store, engine, learner, session)
        store.save_ussd_session(session)
        seen = store.learner(phone)
        if seen is not None:
            learner_acted(engine, seen, "ussd", pacing)
        else:
            store.note_activity(phone, "ussd")
    return Screen(text, end)


def _count_toward_lesson(store: Store, engine: Engine, learner: LearnerRecord,
                         session: UssdSessionRecord) -> None:
    """A session showing a card or a question counts once toward the cost of the lesson
    they belong to (again only if it moves on to another lesson's content)."""
    if session.view.get("v") not in ("card", "question"):
        return
    lesson = engine.current_lesson(learner)
    if lesson is None or session.lesson == "/".join(lesson):
        return
    session.lesson = "/".join(lesson)
    store.add_lesson_cost(session.phone, *lesson, session.carrier_id, ussd_sessions=1)


def _open(store: Store, menu: _Menu, phone: str, now: float) -> dict:
    """The first view of a new session: resume a dropped one, else the main menu."""
    abandoned = store.abandoned_ussd_session(phone, since=now - USSD_RESUME_SECONDS)
    store.end_ussd_sessions(phone)
    store.purge_ussd_sessions(now - USSD_RESUME_SECONDS)
    if abandoned is not None and abandoned.view.get("draft"):
        # A question typed over several inputs takes time a session may not have: its
        # draft waits on the screen that offers to send it.
        return menu.draft_view(abandoned.view["draft"])
    if abandoned is not None and abandoned.view.get("v") in ("card", "question", "info") \
            and menu.engine.place(menu.learner)[0] != "completed":
        # Resumed where it was; a course finished in the dropped session is not taken
        # again by the dial (continuing a completed course starts it over).
        return _at_same_place(abandoned.view, menu.continue_view(welcome_back=True))
    return menu.main_view()


def _at_same_place(dropped: dict, resumed: dict) -> dict:
    """`resumed` from its start: a page begins wherever the screen filled, often
    mid-sentence, so a card or a message is read again from its first page. A question
    dropped on answers of their own (which hold no words) comes back on the same ones."""
    old, new = dropped.get("pages"), resumed.get("pages")
    if not old or not new or dropped.get("v") != "question" or resumed.get("v") != "question" \
            or " ".join(old).split() != " ".join(new).split() \
            or dropped.get("options") != resumed.get("options"):
        return resumed
    at = dropped.get("page", 0)
    if 0 <= at < len(old) and not old[at].strip():
        offset = at - _first_options_page(dropped)
        if offset >= 0:
            runs = len(resumed.get("groups") or [None])
            return {**resumed, "page": _first_options_page(resumed) + min(offset, runs - 1)}
    return resumed


def _history(request: UssdRequest) -> str:
    """What the session keeps to recognise the next request: every input so far for
    cumulative carriers, else the carrier's request counter."""
    if request.cumulative:
        return request.text
    return "" if request.sequence is None else f"#{request.sequence}"


def _latest_input(session: UssdSessionRecord, request: UssdRequest) -> str | None:
    """The learner's newest input, or None when the request repeats the previous one.

    Cumulative carriers send every input joined by '*'; the stored history tells
    where the newest begins (an input may itself contain '*'). Others send the
    latest input alone; a repeated opening or request counter is a retry.
    """
    if request.is_new:
        return None  # the carrier opened this live session again: same screen
    if not request.cumulative:
        if request.sequence is not None and session.history == f"#{request.sequence}":
            return None
        return request.text
    history = session.history
    if request.text == history:
        return None  # the carrier repeated the last request: show the same screen
    if not history:
        return request.text
    if request.text.startswith(history + "*"):
        return request.text[len(history) + 1:]
    return "\x00"  # a history we cannot follow: answered as an invalid choice


class _Menu:
    """Views, their screens, and what each choice on them does."""

    def __init__(self, engine: Engine, learner: LearnerRecord, carrier: Carrier,
                 service_code: str):
        self.engine = engine
        self.learner = learner
        self.carrier = carrier
        self.service_code = service_code
        self._alphabet: tuple[str, Alphabet] | None = None  # for the locale it was made for

    # The learner's language may change mid-session: these follow it.
    @property
    def locale(self) -> str:
        return screen_locale(self.learner.locale, self.carrier)

    @property
    def words(self) -> Wording:
        return Wording(self.locale)

    @property
    def alphabet(self) -> Alphabet:
        locale = self.locale
        if self._alphabet is None or self._alphabet[0] != locale:
            self._alphabet = (locale, alphabet_for(locale, self.carrier))
        return self._alphabet[1]

    @property
    def limit(self) -> int:
        return self.alphabet.limit

    def fit(self, text: str) -> str:
        return self.alphabet.fit(text)

    def width(self, text: str) -> int:
        return self.alphabet.width(text)

    @property
    def compact(self) -> bool:
        """UCS-2 screens hold less than half a GSM-7 one: cards there put 'next' on the
        navigation line and show their head line on the first page only."""
        return self.alphabet.encoding == UCS2

    def ask(self, intent: i.Intent) -> tuple[r.Reply, ...]:
        self._read_in_screen_language()
        return self.engine.handle(self.learner, intent, interactive=True).replies

    def here(self) -> tuple[r.Reply, ...]:
        """What the learner has before them, moving nothing (Engine.here)."""
        self._read_in_screen_language()
        return self.engine.here(self.learner)

    def _read_in_screen_language(self) -> None:
        locale = self.locale
        self.engine.read_in = locale if locale != self.learner.locale else None

    # -- views --------------------------------------------------------------------------

    def main_view(self) -> dict:
        return {"v": "main"}

    def joined_view(self, program_id: str) -> dict:
        """Join the program and show it: its first course's first card, said joined."""
        replies = self.ask(i.Join(program_id, "ussd"))
        said = " ".join(self.words.reply(reply) for reply in replies
                        if isinstance(reply, r.Joined))
        rest = tuple(reply for reply in replies if not isinstance(reply, r.Joined))
        if any(isinstance(reply, r.CardShown | r.QuestionAsked) for reply in rest):
            return self.from_replies(rest, prefix=said)
        return self.info_view(said)

    def continue_view(self, *, welcome_back: bool = False) -> dict:
        prefix = self.words.welcome_back() if welcome_back else ""
        return self.from_replies(self.ask(i.Start()), prefix=prefix)

    def info_view(self, text: str, then: str = "main", head: str = "",
                  retake: str | None = None) -> dict:
        """A message in pages; after it, 1 continues (`then` 'continue'), takes the course
        titled `retake` again ('retake'), or nothing but the menu ('main')."""
        if self.compact:
            nav = max((self._info_nav(more, then) for more in (True, False)), key=self.width)
            first = body_width(self.limit, self.width(self.fit(head)), [], nav, self.width)
            rest = body_width(self.limit, 0, [], nav, self.width)
            pages = paginate(self.fit(text), rest, self.width, first_width=first)
            return {"v": "info", "head": self.fit(head), "pages": pages, "page": 0,
                    "then": then}
        options = self._info_options(then, retake)
        nav = self._nav(more=True, back=False)
        width = body_width(self.limit, self._head_width(head), options, nav, self.width)
        return {"v": "info", "head": self.fit(head),
                "pages": paginate(self.fit(text), width, self.width), "page": 0, "then": then}

    def from_replies(self, replies: tuple[r.Reply, ...], prefix: str = "") -> dict:
        """The view that shows what the engine answered; `prefix` opens its head line."""
        w = self.words
        shown = [reply for reply in replies if not isinstance(reply, r.Welcome)]
        last = shown[-1] if shown else None
        notices = [reply for reply in shown if isinstance(reply, r.Notice)]
        head = w.notice(notices[0]) if notices and len(shown) > 1 else prefix
        greeting = {"greeting": self.fit(prefix)} if prefix and head == prefix else {}
        match last:
            case r.CardShown() as card:
                return {**self._card_view(card, head), **greeting}
            case r.QuestionAsked() as question if not any(
                    isinstance(reply, r.Feedback) for reply in shown):
                return {**self._question_view(question, head), **greeting,
                        "asked": self.engine.question_waiting(self.learner)}
            case r.CourseList() as catalogue:
                return {"v": "courses", "head": self.fit(head), "count": len(catalogue.courses)}
            case r.LanguageChoices() as choices:
                return {"v": "language", "locales": list(choices.locales)}
            case r.ChannelShown(changed=False, refused=None) as shown:
                return {"v": "channel", "offered": list(shown.offered),
                        "head": self.fit(w.reply(shown))}
            case None:
                return self.main_view()
        then = "continue"
        if any(isinstance(reply, r.CourseDone | r.Progress | r.HelpShown | r.LanguageChanged
                          | r.ChannelShown | r.Notice) for reply in shown):
            then = "main"
        failed = _failed_course(shown)
        if failed is not None:
            then = "retake"
        text = "\n".join(w.reply(reply) for reply in shown if not isinstance(reply,
                                                                             r.QuestionAsked))
        view = self.info_view(text, then, retake=failed)
        return {**view, "retake": failed} if failed is not None else view

    def _card_view(self, card: r.CardShown, prefix: str) -> dict:
        w = self.words
        head = " ".join(part for part in (prefix, w.card_head(card)) if part)
        if prefix and self.width(self.fit(head)) > self.limit // 2:
            # On a short screen the card's place comes first: what came before it (a
            # greeting, a notice) gives way rather than be cut.
            head = w.card_head(card)
        body = card.text if card.card_number > 1 else f"{card.lesson_title}\n{card.text}"
        if self.compact:
            nav = max((self._nav(more=more, back=True, next_=True) for more in (True, False)),
                      key=self.width)
            first = body_width(self.limit, self.width(self.fit(head)), [], nav, self.width)
            rest = body_width(self.limit, 0, [], nav, self.width)
            if first < rest // 3:
                # The head would leave room for a word or two under it, alone on a screen:
                # the card's text gets the whole first screen instead.
                head, first = "", rest
            pages = paginate(self.fit(body), rest, self.width, first_width=first)
            return {"v": "card", "head": self.fit(head), "pages": pages, "page": 0,
                    "first": card.card_number == 1}
        options = [w.option(1, w.next_())]
        width = body_width(self.limit, self._head_width(head), options,
                           self._nav(more=True, back=True), self.width)
        return {"v": "card", "head": self.fit(head),
                "pages": paginate(self.fit(body), width, self.width), "page": 0,
                "first": card.card_number == 1}

    def _question_view(self, question: r.QuestionAsked, head: str) -> dict:
        w = self.words
        options = [self.fit(w.option(n, option)) for n, option in enumerate(question.options, 1)]
        text = self.fit(w.question(question))
        head = self.fit(head)
        pages = [text]
        width = body_width(self.limit, self.width(head), options,
                           self._nav(more=False, back=False), self.width)
        if self.width(text) > width:  # rare: question and options take more than a screen
            pages = paginate(text, body_width(self.limit, self.width(head), [],
                                              self._nav(more=True, back=False), self.width),
                             self.width)
            if self.width(pages[-1]) > width:
                pages.append("")  # the options get a page of their own
        groups = self._option_groups(options)
        if len(groups) > 1:  # the options alone take more than a screen: pages of their own
            return {"v": "question", "head": head, "page": 0, "options": options,
                    "pages": [p for p in pages if p] + [""] * len(groups), "groups": groups}
        return {"v": "question", "head": head, "pages": pages, "page": 0, "options": options}

    def _option_groups(self, options: list[str]) -> list[list[int]]:
        """The options as [first, end) runs that each fit a screen with the navigation
        line, in order: one run unless the options together take more than a screen (long
        answers on a short UCS-2 screen), so that no option is ever cut."""
        alone = "" if self.compact else self._nav(more=False, back=False)
        if self.width(compose("", "", options, alone)) <= self.limit:
            return [[0, len(options)]]
        nav = self._nav(more=True, back=False)  # 98: 1 is an option on these pages
        groups: list[list[int]] = []
        for number, option in enumerate(options):
            if groups and self.width(compose("", "", [*options[groups[-1][0]:number], option],
                                             nav)) <= self.limit:
                groups[-1][1] = number + 1
            else:
                groups.append([number, number + 1])
        return groups

    # -- choices ----------------------------------------------------------------------------

    def step(self, view: dict, choice: str | None) -> tuple[dict, str | None]:
        """The next view after `choice` on `view`, and a notice for an invalid choice."""
        if choice is None:
            return view, None
        typed = choice.strip()
        choice = ascii_digits(typed)
        kind = view.get("v")
        if choice == HOME:
            return self.main_view(), None
        if kind in ("ask", "draft"):  # text, not only a choice: kept as typed
            found = self._on_ask(view, typed) if kind == "ask" else self._on_draft(view, typed)
            return (found, None) if found is not None else (view, self.words.invalid())
        more_pages = "pages" in view and view["page"] + 1 < len(view["pages"])
        # '98' turns the page; so does '1' (next, continue) on cards and messages, and on a
        # question whose option 1 is still to come, so a learner never skips the rest of a
        # text (or answers unseen options) by pressing on.
        if more_pages and (choice == MORE or (choice == "1" and (
                kind in ("card", "info")
                or (kind == "question" and view["page"] < _first_options_page(view))))):
            return {**view, "page": view["page"] + 1}, None
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            found = handler(view, choice)
            if found is not None:
                return found, None
        return view, self.words.invalid()

    def _on_main(self, view: dict, choice: str) -> dict | None:
        page = view.get("page", 0)
        if choice == MORE and page + 1 < len(self._main_pages()):
            return {"v": "main", "page": page + 1}
        match choice:
            case "1":
                return self.continue_view()
            case "2":
                return self.from_replies(self.ask(i.Courses()))
            case "3":  # the progress screen; a question waiting is one 1 (continue) away
                return self.from_replies(tuple(
                    reply for reply in self.ask(i.Status())
                    if not isinstance(reply, r.QuestionAsked)))
            case "4":
                return self.from_replies(self.ask(i.Language(None)))
            case "5":
                return self.info_view(self.words.help())
            case "6" if len(self.engine.pacing.channels) > 1:
                return self.from_replies(self.ask(i.Channel(None)))
            case "0":
                return {"v": "goodbye"}
        if choice == str(self._ask_number()):
            return {"v": "ask"}
        return None

    def _ask_number(self) -> int:
        """The main menu's number for asking a tutor: after the channel choice, if any."""
        return 7 if len(self.engine.pacing.channels) > 1 else 6

    def draft_view(self, draft: str) -> dict:
        """The question typed so far, offering to send it, add more or cancel."""
        return {"v": "draft", "draft": draft}

    def _on_ask(self, view: dict, typed: str) -> dict | None:
        """A piece of a question typed on the ask screen, as one USSD input carries it (a
        network takes up to about 160 characters and cuts the rest), after any typed
        before; 0 goes back (to the menu, or to the question so far)."""
        draft = view.get("draft", "")
        if ascii_digits(typed) == BACK:
            return self.draft_view(draft) if draft else self.main_view()
        if not typed:
            return None
        return self.draft_view(_joined(draft, typed))

    def _on_draft(self, view: dict, typed: str) -> dict | None:
        """On the question so far: 1 sends it, 2 asks for more, 0 cancels it. Text typed
        here rather than a number is more of the question (nothing typed is lost); a
        number that is no choice is answered as one."""
        draft, choice = view["draft"], ascii_digits(typed)
        full = len(draft) >= asking.MAX_CHARS
        if choice == "1":
            return self.from_replies(self.ask(i.Ask(draft)))
        if choice == "2" and not full:
            return {"v": "ask", "draft": draft}
        if choice == BACK:
            return self.main_view()
        if not typed or choice.isdigit() or full:
            return None
        return self.draft_view(_joined(draft, typed))

    def _on_courses(self, view: dict, choice: str) -> dict | None:
        if choice == BACK:
            return self.main_view()
        if _picked(choice, view["count"]) is not None:
            return self.from_replies(self.ask(i.Start(choice)))
        return None

    def _on_card(self, view: dict, choice: str) -> dict | None:
        if choice == "1":
            return self.from_replies(self.ask(i.Next()))
        if choice == BACK:
            if view["page"] > 0:
                return {**view, "page": view["page"] - 1}
            if view.get("first"):  # nothing before a lesson's first card: the menu
                return self.main_view()
            return self.from_replies(self.ask(i.Back()))
        return None

    def _on_question(self, view: dict, choice: str) -> dict | None:
        if choice == BACK:
            return self.main_view()
        picked = _picked(choice, len(view["options"]))
        if picked is None:
            return None
        if "asked" in view and view["asked"] != self.engine.question_waiting(self.learner):
            # Answered on another channel while this screen showed it: what waits now,
            # moving nothing (never a course started over).
            return self.from_replies(self.here())
        return self.from_replies(self.ask(i.Answer(picked - 1)))

    def _on_info(self, view: dict, choice: str) -> dict | None:
        if choice == "1" and view["then"] in ("continue", "retake"):
            return self.continue_view()
        if choice == BACK:
            return self.main_view()
        return None

    def _on_channel(self, view: dict, choice: str) -> dict | None:
        if choice == BACK:
            return self.main_view()
        offered = view["offered"]
        picked = _picked(choice, len(offered))
        if picked is not None:
            return self.from_replies(self.ask(i.Channel(offered[picked - 1])))
        return None

    def _on_language(self, view: dict, choice: str) -> dict | None:
        if choice == BACK:
            return self.main_view()
        locales = view["locales"]
        picked = _picked(choice, len(locales))
        if picked is not None:
            return self.from_replies(self.ask(i.Language(locales[picked - 1])))
        return None

    # -- screens ------------------------------------------------------------------------------

    def _nav(self, *, more: bool, back: bool, next_: bool = False, home: bool = True) -> str:
        """The navigation line; `home` False leaves out '00 Menu' where 0 (back) leads to
        the main menu too, to save a UCS-2 screen's room."""
        w = self.words
        items = []
        if next_:  # '1' turns the page too: it says 'more' while there is more
            items.append(f"1 {w.more() if more else w.next_()}")
        elif more:
            items.append(f"{MORE} {w.more()}")
        if back:
            items.append(f"{BACK} {w.back()}")
        if home or not back:
            items.append(f"{HOME} {w.menu()}")
        return self.fit(" ".join(items))

    def _info_options(self, then: str, retake: str | None) -> list[str]:
        """The option under a message on a GSM-7 screen: continue, take the course again,
        or none."""
        w = self.words
        if then == "continue":
            return [w.option(1, w.continue_())]
        if then == "retake" and retake:
            return [w.option(1, w.start_again(retake))]
        return []

    def _info_nav(self, more: bool, then: str) -> str:
        """A compact message page's navigation: 1 for more, to continue or to take the
        course again, 00 menu."""
        w = self.words
        first = f"1 {w.more()}" if more else (f"1 {w.continue_()}" if then == "continue"
                                               else f"1 {w.again()}" if then == "retake"
                                               else "")
        return self.fit(" ".join(part for part in (first, f"{HOME} {w.menu()}") if part))

    def _head_width(self, head: str) -> int:
        return max(self.width(self.fit(head)), self.width(self.fit(self.words.invalid())))

    def render(self, view: dict, notice: str | None = None) -> str:
        """The screen for a view, with `notice` in place of its head line."""
        w = self.words
        kind = view["v"]
        if kind == "goodbye":
            return self.fit(w.goodbye(self.service_code))
        if kind == "main":
            pages = self._main_pages()
            head, options, nav = pages[min(view.get("page", 0), len(pages) - 1)]
            body = ""
        elif kind == "courses":
            head, body = view.get("head") or w.courses(), ""
            nav = self._nav(more=False, back=True, home=not self.compact)
            options = self._course_options()
        elif kind == "channel":
            head, body, nav = view["head"], "", self._nav(more=False, back=True,
                                                          home=not self.compact)
            options = [w.option(n, w.channel_name(name)) for n, name in
                       enumerate(view["offered"], 1)]
        elif kind == "ask":
            head = w.ask_more() if view.get("draft") else w.ask_prompt()
            body, options = "", []
            nav = self._nav(more=False, back=True, home=not self.compact)
        elif kind == "draft":
            head, body, options, nav = self._draft_screen(view["draft"], notice)
        elif kind == "language":
            head, body, nav = w.language(), "", self._nav(more=False, back=True,
                                                         home=not self.compact)
            options = [w.option(n, w.language_name(loc)) for n, loc in
                       enumerate(view["locales"], 1)]
        else:
            pages, page = view["pages"], view["page"]
            more = page + 1 < len(pages)
            head, body = view.get("head", ""), pages[page]
            if kind == "card" and self.compact:
                options, nav = [], self._nav(more=more, back=True, next_=True)
                head = head if page == 0 else ""
            elif kind == "card":
                options = [w.option(1, w.next_())]
                nav = self._nav(more=more, back=True)
            elif kind == "question":
                options = _options_on(view)
                nav = self._nav(more=more, back=False)
                if options and self.width(compose(head, body, options, nav)) > self.limit:
                    head = ""  # the options before a head line (welcome back) they would cut
                if self.compact and more and not options:
                    nav = self._info_nav(True, "main")
                elif self.compact and not more \
                        and self.width(compose(head, body, options, nav)) > self.limit:
                    nav = ""  # the options first; 00 still leads to the menu
            elif self.compact:
                options, nav = [], self._info_nav(more, view["then"])
                head = head if page == 0 else ""
            else:
                options = self._info_options(view["then"], view.get("retake"))
                nav = self._nav(more=more, back=False)
            if page > 0 and view.get("greeting") and head.startswith(view["greeting"]):
                head = head[len(view["greeting"]):].strip()  # "Welcome back!" once
        if notice:
            head = notice
            if kind in ("question", "card", "info") and self.width(
                    compose(self.fit(head), body, options, nav)) > self.limit:
                # The learner has just read the question or page: the notice and choices.
                # Only compact UCS-2 screens lack the room to keep a page under a notice.
                body = ""
        return _fit(compose(self.fit(head), body, [self.fit(o) for o in options], nav),
                    self.alphabet)

    def _draft_screen(self, draft: str, notice: str | None) -> tuple[str, str, list[str], str]:
        """The question so far: how long it is, its end (as much as the screen holds) and
        the choices; on a compact UCS-2 screen the choices share one line and the head
        line gives way where it would leave the question little room."""
        w = self.words
        choices = [(1, w.send()), *([] if len(draft) >= asking.MAX_CHARS
                                    else [(2, w.add_more())]), (0, w.cancel())]
        head = notice or w.draft_head(len(draft), asking.MAX_CHARS)
        if self.compact:
            options, nav = [], self.fit(" ".join(f"{n} {label}" for n, label in choices))
        else:
            options, nav = [self.fit(w.option(n, label)) for n, label in choices], ""
        room = body_width(self.limit, self.width(self.fit(head)), options, nav, self.width)
        if self.compact and not notice and room < self.limit // 3:
            head, room = "", body_width(self.limit, 0, options, nav, self.width)
        return head, self._tail(draft, room), options, nav

    def _tail(self, text: str, room: int) -> str:
        """`text` whole if it fits in `room` units, else "..." and as much of its end as
        fits, from a word's start where that keeps most of it."""
        text = self.fit(" ".join(text.split()))
        if self.width(text) <= room:
            return text
        room -= self.width("...")
        if room < 4:
            return ""
        start = len(text)
        while start > 0 and self.width(text[start - 1:]) <= room:
            start -= 1
        tail = text[start:]
        if text[start - 1] != " " and " " in tail:
            word = tail.index(" ") + 1
            if word <= len(tail) // 3:
                tail = tail[word:]
        return "..." + tail

    def _main_pages(self) -> list[tuple[str, list[str], str]]:
        """The main menu's screens as (head, options, navigation): one where every item
        fits, with the "Learnline" line, else without it, else with option 1 shortened to
        "Continue" (a long course title). On a screen too short even so (UCS-2 at its
        smallest, or GSM-7 at 100 with the channel choice), the items run on over pages
        each ending in "98 More", in order, none left out or cut."""
        w = self.words
        options = [self.fit(option) for option in self._main_options()]

        def fits(head: str, shown: list[str], nav: str = "") -> bool:
            return self.width(compose(head, "", shown, nav)) <= self.limit

        if fits("Learnline", options):
            return [("Learnline", options, "")]
        if not fits("", options):
            options[0] = self.fit(w.option(1, w.continue_()))
        if fits("", options):
            return [("", options, "")]
        nav = self.fit(f"{MORE} {w.more()}")
        pages: list[tuple[str, list[str], str]] = []
        while options:
            if fits("", options):
                pages.append(("", options, ""))
                break
            taken = 1
            while taken < len(options) and fits("", options[:taken + 1], nav):
                taken += 1
            pages.append(("", options[:taken], nav))
            options = options[taken:]
        return pages

    def _main_options(self) -> list[str]:
        w = self.words
        progress = self.ask(i.Status())[0]
        return [
            w.option(1, w.continue_label(progress, self.engine.courses_for(self.learner))),
            w.option(2, w.courses_label()),
            w.option(3, w.progress_label()),
            w.option(4, w.language()),
            w.option(5, w.help_label()),
            *([w.option(6, w.channel_label())] if len(self.engine.pacing.channels) > 1
              else []),
            w.option(self._ask_number(), w.ask_label()),
            w.option(0, w.exit_label()),
        ]

    def _course_options(self) -> list[str]:
        catalogue = self.ask(i.Courses())[0]
        assert isinstance(catalogue, r.CourseList)
        return [self.words.course_option(entry) for entry in catalogue.courses]


def _picked(choice: str, count: int) -> int | None:
    """The option numbered `choice` (from 1), if the screen offered `count` of them."""
    number = whole_number(choice)
    return number if number is not None and 1 <= number <= count else None


def _joined(draft: str, piece: str) -> str:
    """A question so far and the next piece typed, one space between, within the longest
    question kept (`asking.MAX_CHARS`)."""
    return " ".join(f"{draft} {piece}".split())[:asking.MAX_CHARS]


def _failed_course(shown: list[r.Reply]) -> str | None:
    """The title of a course these replies say was finished below its pass mark, or None."""
    for reply in shown:
        if isinstance(reply, r.CourseDone) and not reply.passed:
            return reply.course_title
        if isinstance(reply, r.Notice) and reply.kind == "course_complete" \
                and reply.details.get("passed") is False:
            return reply.details["course"]
    return None


def _first_options_page(view: dict) -> int:
    """The page of a question view where its options begin: the last page, or the first
    of their own pages when they take several (`groups`)."""
    return len(view["pages"]) - len(view.get("groups") or [None])


def _options_on(view: dict) -> list[str]:
    """The options a question view shows on its current page: all of them on its last
    page, or their run on each of their own pages (`groups`); none on pages before."""
    run = view["page"] - _first_options_page(view)
    if run < 0:
        return []
    groups = view.get("groups")
    return view["options"][groups[run][0]:groups[run][1]] if groups else view["options"]


def _fit(text: str, alphabet: Alphabet) -> str:
    """Last guard: shorten the longest line so a screen never exceeds the limit."""
    limit, width = alphabet.limit, alphabet.width
    while width(text) > limit:
        lines = text.split("\n")
        longest = max(range(len(lines)), key=lambda n: len(lines[n]))
        excess = width(text) - limit
        cut = max(len(lines[longest]) - excess - 3, 1)
        if cut <= 1 and len(lines) > 1:
            lines.pop(longest)
        else:
            lines[longest] = lines[longest][:cut].rstrip() + "..."
        text = "\n".join(lines)
    return text
