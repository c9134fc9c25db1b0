"""Word the engine's replies as text in the learner's language: the SMS channel's
messages, and the WhatsApp channel's beneath its cards and buttons.

Short on purpose: every 153 characters is another segment a carrier charges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway.channels.vocabulary import command_words
from gateway.channels.wording import Wording
from gateway.i18n import language_name
from gateway.learning import badges
from gateway.learning import replies as r
from gateway.learning.certificates import format_code
from gateway.urls import gateway_url, lesson_link_path

LETTERS = "ABCD"
# The longest language a learner asked for that a reply quotes back ("LANG xx"): a word.
MAX_ASKED_LANGUAGE = 20


def _clock(hour: int) -> str:
    """An hour of the day as SMS shows it: 24-hour, the same in every language."""
    return f"{hour:02d}:00"


def render(replies: tuple[r.Reply, ...] | list[r.Reply], locale: str,
           web_url: str | None = None) -> str:
    """All replies to one message as one text (the channel splits it if too long); a
    page they point to is given under `web_url` (the carrier's); a certificate's page,
    without it, under the gateway's `LEARNLINE_PUBLIC_URL`, else as a path."""
    return "\n".join(render_parts(replies, locale, web_url)).strip()


def render_parts(replies: tuple[r.Reply, ...] | list[r.Reply], locale: str,
                 web_url: str | None = None) -> list[str]:
    """The text of each reply to one message, in order, worded knowing what follows it (a
    card followed by its quiz's question tells no command to send): what packing groups
    into messages (gateway/channels/sms/packing.py)."""
    renderer = TextRenderer(locale, web_url)
    return [renderer.one(reply, replies[n + 1] if n + 1 < len(replies) else None)
            for n, reply in enumerate(replies)]


_BOLD = re.compile(r"\*([^*\n]+)\*")


def typed_choices(body: str, payload: Mapping[str, Any] | None, locale: str) -> str:
    """A message with reply buttons or a list (WhatsApp's, gateway/outbox/queue.py) as
    text a learner answers by typing, as SMS words it: the body without WhatsApp's *bold*
    marks, then each lettered choice the body does not already write out (`A) ...`), and
    how to answer (`Reply A-D`, `Reply NEXT`) when the body does not say it."""
    text = _BOLD.sub(r"\1", body)
    listed = (payload or {}).get("list") or {}
    choices = (payload or {}).get("buttons") or listed.get("rows") or []
    renderer = TextRenderer(locale)
    lines = [text] if text else []
    lettered = [c for c in choices if str(c.get("id", "")) in LETTERS]
    for choice in lettered:
        letter = str(choice["id"])
        if not re.search(rf"(^|\n){letter}\) ", text):
            option = str(choice.get("description") or choice.get("title") or "")
            lines.append(f"{letter}) {option.removeprefix(f'{letter}) ')}")
    if lettered:
        hint = renderer._("Reply %(letters)s", letters=renderer.letters(len(lettered)))
        if hint not in text:
            lines.append(hint)
    elif any(str(c.get("id", "")).upper() == "NEXT" for c in choices) \
            and renderer.word["next"] not in text:
        lines.append(renderer._("Reply %(next)s", next=renderer.word["next"]))
    return "\n".join(lines)


class TextRenderer(Wording):
    """Each reply of the engine as text; a channel words some replies its own way by
    overriding `one`."""

    def __init__(self, locale: str, web_url: str | None = None):
        super().__init__(locale)
        self.word = command_words(locale)
        self.web_url = web_url.rstrip("/") if web_url else ""

    def letters(self, count: int) -> str:
        return f"{LETTERS[0]}-{LETTERS[count - 1]}"

    def one(self, reply: r.Reply, following: r.Reply | None = None) -> str:
        w = self.word
        match reply:
            case r.Welcome(course_title=title, lesson_count=count, resumed=True):
                return self._("Welcome back to %(course)s.", course=title)
            case r.Welcome(course_title=title, lesson_count=count):
                return self.n_(
                    "Welcome to %(course)s: %(n)d lesson.",
                    "Welcome to %(course)s: %(n)d lessons.",
                    count, course=title,
                )
            case r.CardShown() as card:
                return self._card(card, isinstance(following, r.QuestionAsked))
            case r.QuestionAsked() as q:
                head = (
                    self._("Again, Q%(number)d/%(total)d: %(text)s",
                           number=q.number, total=q.total, text=q.text)
                    if q.again
                    else self._("Q%(number)d/%(total)d: %(text)s",
                                number=q.number, total=q.total, text=q.text)
                )
                options = [f"{LETTERS[n]}) {option}" for n, option in enumerate(q.options)]
                if q.familiar:  # the lettered options say it: a wrong reply explains
                    return "\n".join([head, *options])
                hint = self._("Reply %(letters)s", letters=self.letters(len(q.options)))
                return "\n".join([head, *options, hint])
            case r.Feedback(correct=True, explanation=why):
                return self._("Right! %(why)s", why=why)
            case r.Feedback() as f:
                text = self._(
                    "Not quite: it's %(letter)s) %(answer)s. %(why)s",
                    letter=LETTERS[f.right_option], answer=f.right_text, why=f.explanation,
                )
                if f.will_return:
                    text += " " + self._("You will see this question again.")
                return text
            case r.LessonDone(familiar=True) as done:
                text = self._("Lesson done: %(score)d/%(total)d.", score=done.score,
                              total=done.total)
                if done.next_lesson_title:
                    text += " " + self._("%(next)s> %(title)s", next=w["next"],
                                         title=done.next_lesson_title)
                return text
            case r.LessonDone() as done:
                text = self._(
                    "Lesson done: %(score)d/%(total)d right first time.",
                    score=done.score, total=done.total,
                )
                if done.next_lesson_title:
                    text += " " + self._(
                        "Reply %(next)s for the next lesson: %(title)s",
                        next=w["next"], title=done.next_lesson_title,
                    )
                return text
            case r.CourseDone() as done:
                text = self._(
                    "Course complete: %(course)s. Score %(score)d/%(total)d (%(percent)s).",
                    course=done.course_title, score=done.score, total=done.total,
                    percent=self.percent(done.score, done.total),
                )
                if done.passed:
                    text += " " + self._("Well done, you passed!")
                    if done.certificate:
                        text += "\n" + self._certificate_code(done.certificate)
                    return text
                return text + " " + self._retake(done.pass_mark)
            case r.Progress() as p:
                return self._progress(p)
            case r.CourseList(courses=courses):
                if not courses:
                    return self._("No courses are available yet. Please try again later.")
                lines = [self._("Courses:")]
                for entry in courses:
                    lines.append(
                        self.n_(
                            "%(number)d) %(title)s (%(n)d lesson)",
                            "%(number)d) %(title)s (%(n)d lessons)",
                            entry.lesson_count, number=entry.number, title=entry.title,
                        )
                    )
                lines.append(self._(
                    "Reply %(start)s and a number, e.g. %(start)s %(number)d",
                    start=w["start"], number=courses[0].number,
                ))
                return "\n".join(lines)
            case r.HelpShown() as h:
                return self._help(h)
            case r.LanguageChanged(locale=locale):
                return self._("Language: %(language)s.", language=language_name(locale))
            case r.ChannelShown() as shown:
                return self._channel(shown)
            case r.LanguageChoices(locales=locales, asked=asked):
                names = ", ".join(f"{loc.upper()} {language_name(loc)}" for loc in locales)
                listed = self._(
                    "Languages: %(names)s. Reply %(lang)s and a code, e.g. %(lang)s %(code)s",
                    names=names, lang=w["lang"], code=locales[-1].upper(),
                )
                asked = (asked or "").strip()
                if not asked or len(asked) > MAX_ASKED_LANGUAGE or not asked.isprintable():
                    return listed  # nothing asked, or no word to quote back
                return self._("%(asked)s is not one of our languages.", asked=asked) + " " \
                    + listed
            case r.Joined(program=program, already=True):
                return self._("You are already in %(program)s.", program=program)
            case r.Joined(program=program):
                return self._("You have joined %(program)s.", program=program)
            case r.Stopped():
                return self._(
                    "You will get no more messages. Reply %(start)s to come back.",
                    start=w["start"],
                )
            case r.ScheduleShown() as shown:
                return self._schedule(shown)
            case r.ScheduleOffer(hour=hour):
                return self._(
                    "Want the next lesson every day? Reply %(daily)s to get it at %(time)s, "
                    "or %(time_word)s and an hour, e.g. %(time_word)s 18.",
                    daily=w["daily"], time=_clock(hour), time_word=w["time"],
                )
            case r.LessonLinked() as linked:
                # Title and link first, one short line after: each character costs.
                return self._(
                    "%(title)s (%(number)d/%(count)d): %(link)s",
                    title=linked.lesson_title, number=linked.lesson_number,
                    count=linked.lesson_count,
                    link=self.web_url + lesson_link_path(linked.token),
                ) + "\n" + self._("Quiz there, or reply %(next)s.", next=w["next"])
            case r.DeliveryChanged(mode="link"):
                return self._("Lessons now come as a link, one SMS each. Reply %(text)s for "
                              "full SMS lessons.", text=w["text"])
            case r.DeliveryChanged(links=False):
                return self._("Lessons now come in full by SMS.")
            case r.DeliveryChanged():
                return self._("Lessons now come in full by SMS. Reply %(link)s to get each "
                              "as a link instead.", link=w["link"])
            case r.LinkOffer():
                return self._("Can you open web pages? Get each lesson as a link, in one "
                              "SMS. Reply %(link)s.", link=w["link"])
            case r.DailyLesson():
                return self._("Your daily lesson:")
            case r.Reminder() as reminder:
                if reminder.in_quiz:
                    return self._(
                        "A question of %(lesson)s is waiting for you. Reply %(next)s to see "
                        "it, %(pause)s for no reminders.",
                        lesson=reminder.lesson_title, next=w["next"], pause=w["pause"],
                    )
                return self._(
                    "You stopped in %(lesson)s (%(course)s). Reply %(next)s to go on, "
                    "%(pause)s for no reminders.",
                    lesson=reminder.lesson_title, course=reminder.course_title,
                    next=w["next"], pause=w["pause"],
                )
            case r.ReviewAsked() as review:
                options = [f"{LETTERS[n]}) {option}" for n, option in enumerate(review.options)]
                return "\n".join([
                    self._("Review from %(lesson)s: %(text)s", lesson=review.lesson_title,
                           text=review.text),
                    *options,
                    self._("Reply %(letters)s", letters=self.letters(len(review.options))),
                ])
            case r.ReviewFeedback() as f:
                if f.correct:
                    text = self._("Right! %(why)s", why=f.explanation)
                    return text + " " + (self._("You have mastered this question.") if f.done
                                         else self._("It will come back once more."))
                return self._(
                    "Not quite: it's %(letter)s) %(answer)s. %(why)s",
                    letter=LETTERS[f.right_option], answer=f.right_text, why=f.explanation,
                ) + " " + self._("It will come back in a few days.")
            case r.NameShown() as shown:
                return self._name(shown)
            case r.CertificateShown(revoked=True) as found:
                return self._(
                    "Certificate %(code)s (%(course)s) was revoked by its issuer: %(reason)s",
                    code=format_code(found.code), course=found.course_title,
                    reason=found.revocation_reason or "-",
                )
            case r.CertificateShown() as found:
                # Badges on: no digit of the number (r.CertificateShown.public_holder).
                holder = found.public_holder(badges.on_by_environment())
                return self._(
                    "Certificate %(code)s is genuine: %(course)s, completed on %(date)s by "
                    "%(holder)s, score %(score)d/%(total)d (%(percent)s).",
                    code=format_code(found.code), course=found.course_title,
                    date=self.date(found.issued_at),
                    holder=holder if holder is not None else self._("a Learnline learner"),
                    score=found.score,
                    total=found.total, percent=self.percent(found.score, found.total),
                )
            case r.QuestionReceived() as received:
                return self.question_received(received)
            case r.QuestionsOpen() as waiting:
                return self.questions_open(waiting)
            case r.Notice() as notice:
                return self._notice(notice)
        raise TypeError(f"no SMS wording for {reply!r}")

    def _channel(self, shown: r.ChannelShown) -> str:
        """The channel, and the command that changes it when there is a choice."""
        text = self.channel_shown(shown)
        if shown.refused is None and "whatsapp" in shown.offered and shown.channel == "sms":
            text += " " + self._("Reply %(channel)s WHATSAPP to get them on WhatsApp.",
                                 channel=self.word["channel"])
        elif shown.refused is None and "sms" in shown.offered and shown.channel != "sms":
            text += " " + self._("Reply %(channel)s SMS to get them by SMS.",
                                 channel=self.word["channel"])
        return text

    def _card(self, card: r.CardShown, question_follows: bool) -> str:
        """A card with its navigation: the lesson's title on its first card; the card's
        place and the command that moves on, spelt out until the learner has finished a
        lesson, terse after; none when the quiz's first question comes with it."""
        lines = []
        if card.card_number == 1:
            lines.append(self._(
                "Lesson %(number)d/%(count)d: %(title)s",
                number=card.lesson_number, count=card.lesson_count, title=card.lesson_title,
            ))
        lines.append(card.text)
        number, count, nxt = card.card_number, card.card_count, self.word["next"]
        if question_follows:
            if not card.familiar:
                lines.append(f"[{number}/{count}]")
        elif card.familiar and number < count:
            lines.append(self._("%(number)d/%(count)d %(next)s>", number=number, count=count,
                                next=nxt))
        elif number < count:
            lines.append(self._("[%(number)d/%(count)d] Reply %(next)s", number=number,
                                count=count, next=nxt))
        else:
            lines.append(self._("[%(number)d/%(count)d] Reply %(next)s for the quiz",
                                number=number, count=count, next=nxt))
        return "\n".join(lines)

    def _certificate_code(self, code: str) -> str:
        shown = format_code(code)
        # Whoever checks it is anywhere: the carrier's address for its learners, else
        # the gateway's own.
        base = self.web_url or gateway_url() or ""
        path = f"{base}/verify/{shown}"  # outside the call: Babel reads its arguments
        return self._("Your certificate code: %(code)s.", code=shown) + " " + self._(
            "Anyone can check it: text %(verify)s %(code)s, or open %(path)s on the "
            "Learnline website.",
            verify=self.word["verify"], code=shown, path=path,
        )

    def _name(self, shown: r.NameShown) -> str:
        w = self.word
        if shown.changed and shown.certificates:
            return self._("Saved. Your certificates now show the name %(name)s.",
                          name=shown.name)
        if shown.changed:
            return self._("Saved. Certificates you earn from now on show the name %(name)s.",
                          name=shown.name)
        if shown.name:
            return self._(
                "Your certificates show the name %(name)s. To change it, reply %(word)s and "
                "your name.", name=shown.name, word=w["name"])
        if badges.on_by_environment():
            # Those checking the code see no digit of it (r.CertificateShown.public_holder).
            return self._(
                'Your certificates show "%(learner)s", not your number. To show your name '
                "instead, reply %(word)s and your name.",
                learner=self._("a Learnline learner"), word=w["name"])
        return self._(
            "Your certificates show your number as %(number)s. To show your name instead, "
            "reply %(word)s and your name.", number=shown.number, word=w["name"])

    def _schedule(self, shown: r.ScheduleShown) -> str:
        w = self.word
        if shown.paused:
            return self._("Daily lessons and reminders are paused. Reply %(resume)s to go on.",
                          resume=w["resume"])
        if shown.frequency == "off":
            if shown.changed and not shown.resumed:
                return self._("Daily lessons are off.")
            text = self._(
                "Daily lessons are off. Reply %(daily)s to get the next lesson every day, or "
                "%(time_word)s and an hour, e.g. %(time_word)s 7.",
                daily=w["daily"], time_word=w["time"],
            )
            return self._("Reminders are on again.") + " " + text if shown.resumed else text
        if shown.frequency == "weekdays":
            first, last = shown.workdays
            text = self._("Your next lesson will come %(first)s to %(last)s at %(time)s.",
                          first=self.weekday(first), last=self.weekday(last),
                          time=_clock(shown.hour))
        else:
            text = self._("Your next lesson will come every day at %(time)s.",
                          time=_clock(shown.hour))
        if shown.moved_from is not None:
            text += " " + self._("No messages are sent before then, not at %(asked)s.",
                                 asked=_clock(shown.moved_from))
        return text + " " + self._("Reply %(pause)s to hold them.", pause=w["pause"])

    def _retake(self, pass_mark: int) -> str:
        return self._("The pass mark is %(mark)s. Reply %(start)s to take it again.",
                      mark=self.percent(pass_mark, 100), start=self.word["start"])

    def _progress(self, p: r.Progress) -> str:
        if p.completed:
            if p.passed is False:
                return self.progress(p) + " " + self._retake(p.pass_mark)
            return self.progress(p)
        if p.in_quiz:  # the question follows, with how to answer it
            return self.progress(p)
        return self.progress(p) + " " + self._("Reply %(next)s", next=self.word["next"])

    def _help(self, h: r.HelpShown) -> str:
        """The commands, then one line for the moment: how to answer in a quiz, how to
        begin without a course, else (where the carrier offers a choice) how to choose the
        channel of daily lessons, or how to ask a tutor; within one SMS (two in Arabic) in
        every case."""
        w = self.word
        if h.stopped:
            return self._(
                "Learnline: you stopped messages. Reply %(start)s to learn again.",
                start=w["start"],
            )
        text = self._(
            "Learnline: %(next)s continue, %(status)s progress, %(courses)s courses, "
            "%(lang)s language, %(stop)s stop.",
            next=w["next"], status=w["status"], courses=w["courses"], lang=w["lang"],
            stop=w["stop"],
        )
        if h.in_quiz:
            text += " " + self._(
                "Answer the question with %(letters)s.", letters=self.letters(h.option_count)
            )
        elif not h.enrolled:
            text += " " + self._("Reply %(start)s to begin.", start=w["start"])
        elif h.channel_choice:  # one situational line: an SMS's room is for the moment's
            text += " " + self._("%(channel)s: lessons by SMS or WhatsApp.",
                                 channel=w["channel"])
        else:
            text += " " + self._("%(ask)s and a question: a tutor answers.", ask=w["ask"])
        return text

    def _notice(self, notice: r.Notice) -> str:
        w = self.word
        d = notice.details
        match notice.kind:
            case "not_understood":
                expecting = d.get("expecting")
                if expecting == "answer":
                    return self._(
                        "Please answer with a letter, %(letters)s, or reply %(help)s.",
                        letters=self.letters(d["count"]), help=w["help"],
                    )
                if expecting == "next":
                    return self._(
                        "Reply %(next)s to go on, %(status)s for your progress, %(help)s for help.",
                        next=w["next"], status=w["status"], help=w["help"],
                    )
                if expecting == "courses":
                    return self._(
                        "Reply %(courses)s to choose a course, or %(help)s for help.",
                        courses=w["courses"], help=w["help"],
                    )
                if d.get("course"):
                    return self._(
                        "Welcome to Learnline! Reply %(start)s to begin, %(help)s for help.",
                        start=w["start"], help=w["help"],
                    )
                return self._(
                    "Welcome to Learnline! Reply %(courses)s to see the courses, "
                    "%(help)s for help.",
                    courses=w["courses"], help=w["help"],
                )
            case "unknown_course":
                return self._("There is no course %(asked)s.", asked=d.get("asked", ""))
            case "no_question":
                return self._("No question is waiting. Reply %(next)s to go on.", next=w["next"])
            case "answer_out_of_range":
                return self._("Please answer %(letters)s.", letters=self.letters(d["count"]))
            case "answer_first":
                return self._("Answer this question first:")
            case "not_enrolled":
                return self._("You have not started a course yet.")
            case "hour_unclear":
                return self._(
                    "Lessons come on the hour. Reply %(time_word)s and an hour from 0 to 23, "
                    "e.g. %(time_word)s 7 or %(time_word)s 19.", time_word=w["time"])
            case "course_complete":
                if d.get("passed") is False:
                    return self._("You finished %(course)s.", course=d["course"]) + " " + \
                        self._retake(d["pass_mark"])
                return self._(
                    "You finished %(course)s. Reply %(courses)s to choose another course.",
                    course=d["course"], courses=w["courses"],
                )
            case "no_courses":
                return self._("No courses are available yet. Please try again later.")
            case "verify_how":
                return self._(
                    "To check a certificate, reply %(verify)s and its code, e.g. %(verify)s "
                    "7KQM-2XHD-9P.", verify=w["verify"])
            case "no_certificate" if d.get("malformed"):
                return self._(
                    "%(code)s is not a certificate code. Codes have 10 letters and digits, "
                    "like 7KQM-2XHD-9P.", code=d.get("code", ""))
            case "no_certificate":
                return self._("No certificate has the code %(code)s. Please check it and "
                              "try again.", code=d.get("code", ""))
            case "link_unavailable":
                return self._("Lessons by link are not available here yet.")
            case "earlier_button":
                return self._("That button belongs to an earlier message.")
            case "ask_how":
                return self._("To ask a tutor, reply %(ask)s and your question, e.g. %(ask)s "
                              "what is a verb?", ask=w["ask"])
            case "ask_limited":
                return self.ask_limited(d["limit"])
            case "verify_limited":
                return self._("You have checked many codes this hour. Please try again "
                              "later.")
        raise ValueError(f"no SMS wording for notice {notice.kind!r}")
