"""The learning engine: turns a learner's intent into progress and semantic replies.

It knows courses, lessons, quizzes and learners; it knows nothing of HTTP,
SMS lengths or carriers. Callers run `handle` inside a store write
transaction, so the progress it saves and the replies a channel queues from
its answer commit together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gateway import programs
from gateway.content.model import FULL, Course, Lesson
from gateway.i18n import available_locales, normalize_locale
from gateway.learning import asking, certificates
from gateway.learning import intents as i
from gateway.learning import replies as r
from gateway.learning.delivery import completion_mode
from gateway.learning.timing import (
    DAY,
    Pacing,
    hour_outside_quiet,
    learner_zone,
    local,
    working_days,
)
from gateway.phones import masked
from gateway.store import EnrollmentRecord, LearnerRecord, Store, cohorts, questions, web_sessions
from gateway.store import programs as members
from gateway.store.records import CertificateRecord, QuizState


@dataclass(frozen=True)
class QuizSubmitted:
    """A quiz answered on a page: its grading, what to tell the learner (a lesson or the
    course done), and whether this try scored the lesson (Engine.submit_quiz)."""

    graded: r.QuizGraded
    replies: tuple[r.Reply, ...]
    scored: bool

    def going_on(self, course: Course, position: int) -> tuple[str | None, int | None]:
        """(the lesson to take next, when this try finished its lesson; the number, from
        1, of that lesson when it comes before the one at `position`: the first one the
        learner skipped, to go back to)."""
        done = next((reply for reply in self.replies if isinstance(reply, r.LessonDone)),
                    None)
        if done is None or done.next_lesson_id is None:
            return None, None
        number = course.lesson_ids.index(done.next_lesson_id)
        return done.next_lesson_id, number + 1 if number < position else None


@dataclass(frozen=True)
class Outcome:
    """The engine's answer to one input.

    `replies` may be empty: a learner who opted out hears nothing until they
    start again. `to_stopped_ok` marks replies that may reach a learner who
    opted out (the opt-out confirmation and help).
    """

    replies: tuple[r.Reply, ...]
    to_stopped_ok: bool = False


# Engine.learner's `stored` when the caller has not read the learner.
_UNREAD = object()
log = logging.getLogger(__name__)
# Certificate checks by SMS, per number (codes must not be enumerable).
VERIFY_PER_HOUR = 10
HOUR = 3600.0


class Engine:
    """Courses and progress for learners, over one store."""

    def __init__(self, store: Store, pacing: Pacing | None = None,
                 read_in: str | None = None, *, caller_saves_learner: bool = False,
                 edition: str = FULL, channel: str | None = None,
                 quiz_with_last_card: bool = False):
        self.store = store
        # The edition of course text the channel teaches in: FULL (the lite web) or SMS
        # (SMS and USSD: short forms where authored, web-only cards left out). Places
        # count cards the same in every edition, so a learner moves between channels.
        self.edition = edition
        # The channel running the engine ('sms', 'ussd', 'web', 'whatsapp'): each lesson
        # completed is noted with the delivery mode it makes (learning/delivery.py). None:
        # not noted.
        self.channel = channel
        # A channel whose every step costs the learner a message (SMS) has the quiz open
        # with a lesson's last card: its first question comes with the card, and the
        # learner's next reply answers it (the quiz is open for every channel then).
        self.quiz_with_last_card = quiz_with_last_card
        # The caller saves the learner itself, in the same transaction, once done with
        # them (the SMS channel always does, when it notes them seen): the engine then
        # writes a learner's row only to create it, and every change goes in that one save.
        self.caller_saves_learner = caller_saves_learner
        self.pacing = pacing or Pacing()
        # A channel that cannot show the learner's script (USSD without UCS-2) asks for
        # course text in another language; the learner's own choice stays as it is.
        self.read_in = read_in
        # Learners' places in courses, read once a message (gateway/store/progress.py),
        # not again when its next check is planned.
        self.places = store.places()
        # Whether the request being handled is a session the learner opened (USSD): a
        # lesson then shows on it, never as a link.
        self._interactive = False

    def reading_locale(self, learner: LearnerRecord) -> str:
        """The language course text is given in for this request: the learner's own,
        unless the channel asked for another (`read_in`)."""
        return self.read_in or learner.locale

    # -- learners --------------------------------------------------------------------

    def learner(self, phone: str, carrier_id: str, default_locale: str, *,
                stored: object = _UNREAD) -> LearnerRecord:
        """The learner for this number, created with `default_locale` on first contact.
        `stored` is what the caller has just read with Store.learner(phone) in this
        transaction, when it has (None: no learner), so as not to read it again."""
        learner = self.store.learner(phone) if stored is _UNREAD else stored
        assert learner is None or isinstance(learner, LearnerRecord)
        if learner is None:
            learner = LearnerRecord(phone=phone, locale=default_locale, carrier_id=carrier_id)
            self.store.save_learner(learner, new=True)  # now: enrollments refer to it
            # First contact with this edge: the hub then knows the edge serves this
            # learner and sends it their history from other edges (docs/sync.md).
            self.store.record_event(phone, "met", {})
        elif learner.carrier_id != carrier_id:
            learner.carrier_id = carrier_id
            self._save_learner(learner)
        return learner

    def _save_learner(self, learner: LearnerRecord) -> None:
        if not self.caller_saves_learner:
            self.store.save_learner(learner)

    # -- the one entry point ------------------------------------------------------------

    def handle(
        self, learner: LearnerRecord, intent: i.Intent, *, interactive: bool = False
    ) -> Outcome:
        """Apply one intent for a learner; return what to tell them.

        `interactive` is a session the learner opened themselves (USSD, web): an
        opt-out from messages does not silence it.
        """
        if learner.stopped and not interactive \
                and not isinstance(intent, i.Start | i.Help | i.Join):
            return Outcome(())
        self._interactive = interactive
        match intent:
            case i.Start(course=ref):
                return Outcome(self._start(learner, ref, opt_in=not interactive))
            case i.Courses():
                return Outcome((self._catalogue(learner),))
            case i.Next():
                return Outcome(self._next(learner))
            case i.Back():
                return Outcome(self._back(learner))
            case i.Status():
                return Outcome(self._status(learner))
            case i.Help():
                return Outcome((self._help(learner),), to_stopped_ok=True)
            case i.Language(code=code):
                return Outcome(self._language(learner, code))
            case i.Stop():
                learner.stopped = True
                self._save_learner(learner)
                self.store.record_event(learner.phone, "opted_out", {})
                web_sessions.end_lesson_links(self.store, learner.phone)
                return Outcome((r.Stopped(),), to_stopped_ok=True)
            case i.Answer(choice=choice):
                return Outcome(self._answer(learner, choice))
            case i.Schedule(unclear_hour=str()):
                return Outcome((r.Notice("hour_unclear"),))
            case i.Schedule(frequency=frequency, hour=hour):
                return Outcome((self._schedule(learner, frequency, hour),))
            case i.Pause() | i.Resume():
                return Outcome((self._pause(learner, paused=isinstance(intent, i.Pause)),))
            case i.SetName(name=name):
                return Outcome((self._set_name(learner, name),))
            case i.Verify(code=code):
                return Outcome((self._verify(learner, code),))
            case i.Delivery(mode=mode):
                return Outcome(self._delivery(learner, mode))
            case i.Channel(name=name):
                return Outcome((self._channel(learner, name),))
            case i.Ask(text=text):
                return Outcome(self._ask(learner, text))
            case i.Join(program=program, via=via):
                return Outcome(self._join(learner, program, via, opt_in=not interactive))
            case i.Unknown():
                return Outcome((self._not_understood(learner),))
        raise TypeError(f"not an intent: {intent!r}")

    # -- intents ---------------------------------------------------------------------------

    def _start(self, learner: LearnerRecord, ref: str | None, *,
               opt_in: bool = True) -> tuple[r.Reply, ...]:
        if learner.stopped and opt_in:
            learner.stopped = False
            self._save_learner(learner)
            self.store.record_event(learner.phone, "opted_in", {})
        courses = self.courses_for(learner)
        if not courses:
            return (r.Notice("no_courses"),)
        if ref is None:
            if learner.current_course:
                course = self.store.course(learner.current_course)
            elif len(courses) == 1:
                course = courses[0]
            else:
                return (self._catalogue(learner),)
        else:
            course = _find_course(courses, ref)
            if course is None:
                return (r.Notice("unknown_course", {"asked": ref}), self._catalogue(learner))
        assert course is not None
        enrollment = self.places.get(learner.phone, course.id)
        resumed = enrollment is not None
        if enrollment is None or enrollment.completed:
            self._record_enrolled(learner, course, restart=enrollment is not None)
            if enrollment is not None:
                # Taken again: each lesson is scored anew, and the course completes on
                # this attempt's scores alone (its certificate, if any, stays).
                self.store.start_attempt(learner.phone, course.id)
            enrollment = EnrollmentRecord(phone=learner.phone, course_id=course.id)
        learner.current_course = course.id
        self._save_learner(learner)
        welcome = r.Welcome(
            course.title_in(self.reading_locale(learner)), len(course.lesson_ids), resumed=resumed
        )
        # A learner coming back sees the card they were on; a new lesson opens on its first.
        opening = enrollment.card < 0
        return (welcome, *self._current(learner, course, enrollment, advance_card=opening))

    def courses_for(self, learner: LearnerRecord | None) -> list[Course]:
        """The courses `learner` may see, in catalogue order: every course when no program
        is configured; else the courses of no program and those of the programs they
        belong to (None, a reader not signed in: the courses of no program). A course of
        another program is unknown to them, as a course that does not exist."""
        courses = self.store.courses()
        if not programs.current():
            return courses
        mine = members.programs_of(self.store, learner.phone) if learner else set()
        return [course for course in courses if not course.program or course.program in mine]

    def _join(self, learner: LearnerRecord, program_id: str, via: str, *,
              opt_in: bool) -> tuple[r.Reply, ...]:
        program = programs.current().get(program_id)
        if program is None:  # the file changed since the channel read it
            return (self._not_understood(learner),)
        # Answering a cohort's invitation is the consent it asked for: they join by it,
        # and start the cohort's course (docs/programs.md, Cohorts).
        invited = cohorts.invitation_for(self.store, program.id, learner.phone)
        with self.store.write():
            joined = members.join(self.store, program.id, learner.phone,
                                  "invitation" if invited else via,
                                  cohort_id=invited.id if invited else None)
            if invited is not None:
                cohorts.mark_joined(self.store, invited.id, learner.phone)
        if not joined and invited is None:
            return (r.Joined(program.name, already=True),)
        if learner.current_course is None:
            # No course yet: the program's language is theirs until they choose one.
            learner.locale = program.default_locale
            self._save_learner(learner)
        first = next((c for c in self.store.courses() if c.program == program.id), None)
        if invited is not None and self.store.course(invited.course_id) is not None:
            first = self.store.course(invited.course_id)
        if not joined:
            if first is None:
                return (r.Joined(program.name, already=True),)
            return (r.Joined(program.name, already=True),
                    *self._start(learner, first.id, opt_in=opt_in))
        if first is None:
            return (r.Joined(program.name),)
        return (r.Joined(program.name), *self._start(learner, first.id, opt_in=opt_in))

    def _catalogue(self, learner: LearnerRecord) -> r.CourseList:
        entries = []
        for number, course in enumerate(self.courses_for(learner), 1):
            enrollment = self.places.get(learner.phone, course.id)
            entries.append(
                r.CourseEntry(
                    number=number,
                    code=course.code,
                    title=course.title_in(self.reading_locale(learner)),
                    summary=course.summary_in(self.reading_locale(learner)),
                    lesson_count=len(course.lesson_ids),
                    enrolled=enrollment is not None,
                    completed=bool(enrollment and enrollment.completed),
                )
            )
        return r.CourseList(tuple(entries))

    def _next(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        found = self._current_enrollment(learner)
        if found is None:
            return (r.Notice("not_enrolled"), self._catalogue(learner))
        course, enrollment = found
        if enrollment.completed:
            return (self._completed_notice(learner, course),)
        if _asks(enrollment):
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            question = self._question(lesson, enrollment, learner)
            quiz = enrollment.quiz
            if learner.delivery == "link" and quiz is not None and not quiz.requeued \
                    and not quiz.right_first_try and len(quiz.queue) == len(lesson.questions):
                # A lesson link's SMS offers its quiz by NEXT: the first question, no reproach.
                return (question,)
            return (r.Notice("answer_first"), question)
        return self._current(learner, course, enrollment, advance_card=True)

    def _back(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        found = self._current_enrollment(learner)
        if found is None:
            return (r.Notice("not_enrolled"), self._catalogue(learner))
        course, enrollment = found
        if enrollment.completed:
            return (self._completed_notice(learner, course),)
        if enrollment.quiz is None and enrollment.card > 0:
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            before = [n for n in _shown(lesson) if n < enrollment.card]
            if before:
                enrollment.card = before[-1] - 1  # _current moves one on
                return self._current(learner, course, enrollment, advance_card=True)
        return self._current(learner, course, enrollment, advance_card=enrollment.card < 0)

    def _answer(self, learner: LearnerRecord, choice: int) -> tuple[r.Reply, ...]:
        found = self._current_enrollment(learner)
        if found is None or not _asks(found[1]):
            if learner.pending_review:
                return self._review_answer(learner, choice)
            if found is None:  # a letter from someone with no course yet: how to start
                return (r.Notice("not_enrolled"), self._catalogue(learner))
            return (r.Notice("no_question"),)
        course, enrollment = found
        quiz = enrollment.quiz
        assert quiz is not None
        lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
        number = quiz.queue[0]
        question = lesson.questions[number]
        if not 0 <= choice < len(question.options):
            return (
                r.Notice("answer_out_of_range", {"count": len(question.options)}),
                self._question(lesson, enrollment, learner),
            )
        correct = choice == question.answer
        first_try = number not in quiz.requeued
        self._keep_answer(learner, course, lesson.id, number, choice, correct, first_try)
        quiz.queue.pop(0)
        will_return = False
        if correct and first_try:
            quiz.right_first_try.append(number)
        elif not correct and first_try:
            quiz.requeued.append(number)
            quiz.queue.append(number)
            will_return = True
            self._schedule_review(learner, course.id, lesson.id, number)
        feedback = r.Feedback(
            correct=correct,
            right_option=question.answer,
            right_text=question.options[question.answer],
            explanation=question.explanation,
            will_return=will_return,
        )
        if quiz.queue:
            self._save_place(learner, course, enrollment)
            return (feedback, self._question(lesson, enrollment, learner))
        return (feedback, *self._finish_lesson(learner, course, enrollment, lesson))

    def _status(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        """Where the learner stands, and what they can do from there: with no course yet,
        the courses; in a quiz, the question waiting for their answer."""
        progress = self._progress(learner)
        waiting = self.open_questions(learner)
        asked = (waiting,) if waiting is not None else ()
        if isinstance(progress, r.Notice):
            return (progress, *asked, self._catalogue(learner))
        found = self._current_enrollment(learner)
        if found is not None and _asks(found[1]):
            course, enrollment = found
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            return (progress, *asked, self._question(lesson, enrollment, learner))
        return (progress, *asked)

    def open_questions(self, learner: LearnerRecord) -> r.QuestionsOpen | None:
        """The learner's questions waiting for a tutor (how many, the oldest's text), or
        None when none is."""
        waiting = questions.of_learner(self.store, learner.phone, questions.OPEN)
        return r.QuestionsOpen(len(waiting), waiting[0].text) if waiting else None

    def asked_questions(self, learner: LearnerRecord,
                        limit: int = 20) -> tuple[r.AskedQuestion, ...]:
        """The learner's latest `limit` questions, newest first, with their answers once
        given (the one refused past the daily limit, which kept no text, left out)."""
        kept = [asked for asked in questions.of_learner(self.store, learner.phone)
                if asked.status != questions.REFUSED]
        return tuple(r.AskedQuestion(asked.text, asked.asked_at, asked.status, asked.answer,
                                     asked.answered_at) for asked in reversed(kept[-limit:]))

    def _ask(self, learner: LearnerRecord, text: str | None) -> tuple[r.Reply, ...]:
        """Keep a question for the tutors with where the learner is, and say when to
        expect an answer. Past the daily limit nothing is kept but one text-less mark, so
        the polite notice goes once (on a session the learner opened, USSD or the web,
        it shows each time: it costs them nothing)."""
        text = " ".join((text or "").split())[:asking.MAX_CHARS]
        if not text:
            return (r.Notice("ask_how"),)
        now = self.store.clock()
        asked = questions.asked_since(self.store, learner.phone, now - DAY)
        channel = self.channel or "sms"
        if asked >= asking.DAILY_LIMIT:
            if asked == asking.DAILY_LIMIT:
                questions.add(self.store, learner.phone, channel, learner.carrier_id, "",
                              status=questions.REFUSED)
            elif not self._interactive:
                return ()
            return (r.Notice("ask_limited", {"limit": asking.DAILY_LIMIT}),)
        place: dict[str, Any] = {}
        found = self._current_enrollment(learner)
        if found is not None and found[0].lesson_ids:
            course, enrollment = found
            place["course_id"] = course.id
            if not enrollment.completed:
                position = min(enrollment.position, len(course.lesson_ids) - 1)
                place["lesson_id"] = course.lesson_ids[position]
                if _asks(enrollment):
                    assert enrollment.quiz is not None
                    place["quiz_question"] = enrollment.quiz.queue[0] + 1
                elif enrollment.card >= 0:
                    place["card"] = enrollment.card + 1
        asked_id = questions.add(self.store, learner.phone, channel, learner.carrier_id, text,
                                 locale=learner.locale, **place)
        log.info("question %d asked by %s on %s", asked_id, masked(learner.phone), channel)
        zone = learner_zone(learner.phone, learner.timezone, self.pacing.timezone)
        when = asking.expected(local(now, zone), asking.tutor_hours())
        return (r.QuestionReceived(when.day, when.hour, when.weekday),)

    def _progress(self, learner: LearnerRecord) -> r.Reply:
        found = self._current_enrollment(learner)
        if found is None:
            return r.Notice("not_enrolled")
        course, enrollment = found
        results = self._results(learner, course)
        lesson_title = None
        card_count, card_number = 0, max(enrollment.card, 0) + 1
        if not enrollment.completed:
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            shown = _shown(lesson)
            lesson_title, card_count = lesson.title, len(shown)
            card_number = max(1, sum(1 for n in shown if n <= max(enrollment.card, 0)))
        score, total = _totals(results)
        return r.Progress(
            course_title=course.title_in(self.reading_locale(learner)),
            lessons_done=len(results),
            lesson_count=len(course.lesson_ids),
            score=score,
            total=total,
            lesson_title=lesson_title,
            card_number=card_number,
            card_count=card_count,
            in_quiz=_asks(enrollment),
            completed=enrollment.completed,
            lesson_number=enrollment.position + 1,
            pass_mark=course.pass_mark,
            passed=_passes(course, score, total) if enrollment.completed else None,
        )

    def _help(self, learner: LearnerRecord) -> r.HelpShown:
        found = self._current_enrollment(learner)
        option_count = 0
        in_quiz = False
        if found is not None and _asks(found[1]):
            course, enrollment = found
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            in_quiz = True
            option_count = len(lesson.questions[enrollment.quiz.queue[0]].options)
        return r.HelpShown(
            enrolled=found is not None, in_quiz=in_quiz, option_count=option_count,
            stopped=learner.stopped, channel_choice=len(self.pacing.channels) > 1,
        )

    def _language(self, learner: LearnerRecord, code: str | None) -> tuple[r.Reply, ...]:
        locale = normalize_locale(code)
        if locale is None:
            return (r.LanguageChoices(available_locales(), asked=code),)
        self.set_language(learner, locale)
        return (r.LanguageChanged(locale),)

    def set_language(self, learner: LearnerRecord, locale: str) -> None:
        """The learner chose a language (a normalized locale), on any channel: keep it."""
        learner.locale = locale
        self._save_learner(learner)
        self.store.record_event(learner.phone, "language_set", {"locale": locale})

    def _schedule(self, learner: LearnerRecord, frequency: str | None,
                  hour: int | None) -> r.ScheduleShown:
        if frequency is None and hour is None:
            return self._schedule_shown(learner, paused=learner.schedule_paused, changed=False)
        moved_from = None
        if hour is not None:
            allowed = hour_outside_quiet(hour, self.pacing.quiet_hours)
            moved_from = hour if allowed != hour else None
            learner.schedule_hour = allowed
            if frequency is None and learner.schedule == "off":
                frequency = "daily"
        if frequency is not None:
            learner.schedule = frequency
        learner.schedule_paused = False
        learner.schedule_offered = True
        self._save_learner(learner)
        return self._schedule_shown(learner, moved_from=moved_from)

    def _pause(self, learner: LearnerRecord, *, paused: bool) -> r.ScheduleShown:
        # Whatever the schedule: with daily lessons off, reminders and review questions
        # still come, and PAUSE (offered in every reminder) holds them too.
        changed = learner.schedule_paused != paused
        if changed:
            learner.schedule_paused = paused
            self._save_learner(learner)
        return self._schedule_shown(learner, paused=paused, changed=changed,
                                    resumed=changed and not paused)

    def _channel(self, learner: LearnerRecord, name: str | None) -> r.ChannelShown:
        """The channel unsolicited messages come by, chosen when `name` is one the
        learner's carrier offers (`Pacing.channels`); a channel it does not offer is
        refused and nothing changes."""
        offered = self.pacing.channels
        current = learner.channel if learner.channel in offered else offered[0]
        if name is None:
            return r.ChannelShown(current, offered)
        if name not in offered:
            return r.ChannelShown(current, offered, refused=name)
        learner.channel = name
        self._save_learner(learner)
        return r.ChannelShown(name, offered, changed=True)

    def _delivery(self, learner: LearnerRecord, mode: str) -> tuple[r.Reply, ...]:
        """Lessons from now on by link ('link') or in full ('sms'). Choosing links sends
        the current lesson's link at once; going back to full lessons ends every link,
        and a linked lesson whose quiz is untouched starts again card by card."""
        if mode not in ("link", "sms"):
            raise ValueError(f"no delivery mode {mode!r}")
        was = learner.delivery
        learner.delivery = mode
        learner.link_offered = True  # chosen: no need to offer it
        self._save_learner(learner)
        replies: tuple[r.Reply, ...] = (r.DeliveryChanged(mode),)
        if mode == "sms":
            web_sessions.end_lesson_links(self.store, learner.phone)
        found = self._current_enrollment(learner)
        if found is None or found[1].completed:
            return replies
        course, enrollment = found
        if mode == "link":
            return (*replies, self._link_lesson(learner, course, enrollment))
        quiz = enrollment.quiz
        if was == "link" and quiz is not None and not quiz.requeued \
                and not quiz.right_first_try and len(quiz.queue) == len(self._lesson(
                    course, enrollment.position, self.reading_locale(learner)).questions):
            enrollment.card, enrollment.quiz = -1, None
            return (*replies, *self._current(learner, course, enrollment, advance_card=True))
        if _asks(enrollment):
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            return (*replies, self._question(lesson, enrollment, learner))
        return replies

    def _link_lesson(self, learner: LearnerRecord, course: Course,
                     enrollment: EnrollmentRecord) -> r.LessonLinked:
        """The learner's current lesson as a link to its page, made now for them alone.
        Its cards count as given: on every channel, what comes next is its quiz (its
        first question, if they answer by message)."""
        lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
        if enrollment.quiz is None and lesson.questions:
            enrollment.card = len(lesson.cards) - 1
            enrollment.quiz = QuizState(queue=list(range(len(lesson.questions))))
            self._save_place(learner, course, enrollment)
        token = web_sessions.start_lesson_link(self.store, learner.phone, course.id, lesson.id)
        return r.LessonLinked(
            course_title=course.title_in(self.reading_locale(learner)),
            lesson_number=enrollment.position + 1, lesson_count=len(course.lesson_ids),
            lesson_title=lesson.title, token=token, question_count=len(lesson.questions))

    @staticmethod
    def _schedule_shown(learner: LearnerRecord, **details: Any) -> r.ScheduleShown:
        return r.ScheduleShown(learner.schedule, learner.schedule_hour,
                               workdays=working_days(learner.phone), **details)

    # -- what the scheduler sends ----------------------------------------------------------

    def standing(self, learner: LearnerRecord) -> str:
        """Where the learner is in their current course: 'none' (no course), 'start' (a
        lesson not yet opened), 'middle' (reading a lesson or in its quiz) or 'completed'."""
        return self.place(learner)[0]

    def place(self, learner: LearnerRecord) -> tuple[str, bool]:
        """(standing, whether a quiz question waits for an answer), in one look."""
        found = self._current_enrollment(learner)
        if found is None:
            return "none", False
        enrollment = found[1]
        return _standing(enrollment), _asks(enrollment)

    def daily_lesson(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        """The next lesson's first card, headed as the day's lesson; () unless the learner
        stands at the start of a lesson."""
        found = self._current_enrollment(learner)
        if found is None or _standing(found[1]) != "start":
            return ()
        course, enrollment = found
        head = r.DailyLesson(enrollment.position + 1, len(course.lesson_ids))
        return (head, *self._current(learner, course, enrollment, advance_card=True))

    def reminder(self, learner: LearnerRecord) -> r.Reminder | None:
        """A reminder of the lesson the learner stopped in, or None if they are not in one."""
        found = self._current_enrollment(learner)
        if found is None or _standing(found[1]) != "middle":
            return None
        course, enrollment = found
        lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
        return r.Reminder(course.title_in(self.reading_locale(learner)), lesson.title,
                          in_quiz=_asks(enrollment))

    def here(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        """What the learner has before them, shown again without moving them or recording
        anything: the card they are reading, or the question waiting for their answer (a
        review's included); between two lessons, how to go on; a finished course's notice;
        with no course, the courses."""
        found = self._current_enrollment(learner)
        if found is not None and _asks(found[1]):
            course, enrollment = found
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            return (self._question(lesson, enrollment, learner),)
        review = self._pending_review(learner)
        if review:
            return review
        if found is None:
            return (r.Notice("not_enrolled"), self._catalogue(learner))
        course, enrollment = found
        if enrollment.completed:
            return (self._completed_notice(learner, course),)
        lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
        card = next((n for n in _shown(lesson) if n >= enrollment.card), None) \
            if enrollment.quiz is None and enrollment.card >= 0 else None
        if card is None:
            return (r.Notice("not_understood", {"expecting": "next"}),)
        return (self._card_shown(learner, course, enrollment, lesson, card),)

    def _pending_review(self, learner: LearnerRecord) -> tuple[r.Reply, ...]:
        """The review question waiting for the learner's answer, asked again; () if none."""
        pending = learner.pending_review
        if not pending:
            return ()
        course = self.store.course(pending.get("course", ""))
        if course is None or pending.get("lesson") not in course.lesson_ids:
            return ()
        lesson = self._lesson(course, course.lesson_ids.index(pending["lesson"]),
                              self.reading_locale(learner))
        number = pending.get("question", -1)
        if not 0 <= number < len(lesson.questions):
            return ()
        question = lesson.questions[number]
        return (r.ReviewAsked(lesson.title, question.text, question.options),)

    def question_waiting(self, learner: LearnerRecord) -> list | None:
        """The quiz question waiting for the learner's answer, as [course id, lesson
        position, question number, questions left], or None: what a screen that showed a
        question checks a choice against, since the learner may have answered it on
        another channel meanwhile (a USSD menu stays on screen while they text)."""
        found = self._current_enrollment(learner)
        if found is None or not _asks(found[1]):
            return None
        course, enrollment = found
        assert enrollment.quiz is not None
        return [course.id, enrollment.position, enrollment.quiz.queue[0],
                len(enrollment.quiz.queue)]

    def in_quiz(self, learner: LearnerRecord) -> bool:
        """Whether a quiz question waits for the learner's answer."""
        return self.place(learner)[1]

    # -- spaced review --------------------------------------------------------------------

    def _schedule_review(self, learner: LearnerRecord, course_id: str, lesson_id: str,
                         question: int) -> None:
        due = self.store.clock() + self.pacing.review_after_days * DAY
        self.store.add_review(learner.phone, course_id, lesson_id, question, due)

    def review_question(self, learner: LearnerRecord, review: dict) -> r.ReviewAsked | None:
        """Ask a question due for review (from Store.due_review) and remember it is asked;
        None if its course or lesson is gone."""
        course = self.store.course(review["course_id"])
        if course is None or review["lesson_id"] not in course.lesson_ids:
            return None
        lesson = self._lesson(course, course.lesson_ids.index(review["lesson_id"]),
                              self.reading_locale(learner))
        if not 0 <= review["question"] < len(lesson.questions):
            return None
        question = lesson.questions[review["question"]]
        learner.pending_review = {"course": course.id, "lesson": lesson.id,
                                  "question": review["question"]}
        self._save_learner(learner)
        return r.ReviewAsked(lesson.title, question.text, question.options)

    def _review_answer(self, learner: LearnerRecord, choice: int) -> tuple[r.Reply, ...]:
        pending = learner.pending_review or {}
        course = self.store.course(pending.get("course", ""))
        learner.pending_review = None
        self._save_learner(learner)
        if course is None or pending.get("lesson") not in course.lesson_ids:
            return (r.Notice("no_question"),)
        lesson = self._lesson(course, course.lesson_ids.index(pending["lesson"]),
                              self.reading_locale(learner))
        number = pending.get("question", -1)
        if not 0 <= number < len(lesson.questions):
            return (r.Notice("no_question"),)
        question = lesson.questions[number]
        if not 0 <= choice < len(question.options):
            learner.pending_review = pending
            self._save_learner(learner)
            return (r.Notice("answer_out_of_range", {"count": len(question.options)}),
                    r.ReviewAsked(lesson.title, question.text, question.options))
        correct = choice == question.answer
        due = self.store.clock() + self.pacing.review_after_days * DAY
        done = self.store.answer_review(learner.phone, course.id, lesson.id, number, correct,
                                        due)
        return (r.ReviewFeedback(correct, question.answer, question.options[question.answer],
                                 question.explanation, done),)

    def _not_understood(self, learner: LearnerRecord) -> r.Reply:
        found = self._current_enrollment(learner)
        if found is None:
            courses = self.courses_for(learner)
            return r.Notice(
                "not_understood",
                {"expecting": "start", "course": courses[0].code if len(courses) == 1 else None},
            )
        course, enrollment = found
        if _asks(enrollment):
            lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
            count = len(lesson.questions[enrollment.quiz.queue[0]].options)
            return r.Notice("not_understood", {"expecting": "answer", "count": count})
        if enrollment.completed:
            return r.Notice("not_understood", {"expecting": "courses"})
        return r.Notice("not_understood", {"expecting": "next"})

    # -- certificates ---------------------------------------------------------------------------

    def _set_name(self, learner: LearnerRecord, name: str | None) -> r.NameShown:
        cleaned = certificates.clean_display_name(name)
        if cleaned is None:
            return r.NameShown(learner.display_name, masked(learner.phone))
        learner.display_name = cleaned
        self._save_learner(learner)
        self.store.record_event(learner.phone, "name_set", {"name": cleaned})
        held = len(self.store.certificates_of(learner.phone))
        self.store.rename_certificates(learner.phone, cleaned)
        return r.NameShown(cleaned, masked(learner.phone), changed=True, certificates=held)

    def certificates_of(self, learner: LearnerRecord) -> list[r.CertificateShown]:
        """The certificates the learner holds, oldest first, as anyone checking them sees
        them."""
        return [_certificate_shown(found)
                for found in self.store.certificates_of(learner.phone)]

    def _verify(self, learner: LearnerRecord, asked: str | None) -> r.Reply:
        if not asked:
            return r.Notice("verify_how")
        over = self.store.take_rate([(f"verify/sms:{learner.phone}", VERIFY_PER_HOUR, HOUR)])
        if over is not None:
            return r.Notice("verify_limited")
        found = self.find_certificate(asked)
        if found is None:
            return r.Notice("no_certificate", {
                "code": asked[:24],
                "malformed": certificates.normalize_code(asked) is None})
        return found

    def find_certificate(self, asked: str) -> r.CertificateShown | None:
        """The certificate whose code someone typed (any case, dashes, confusables), or
        None when no certificate has it or it cannot be a code. Callers limit how often
        one asker may look (codes must not be enumerable)."""
        code = certificates.normalize_code(asked)
        found = self.store.certificate(code) if code else None
        return _certificate_shown(found) if found is not None else None

    def _certify(self, learner: LearnerRecord, course: Course, score: int, total: int) -> str:
        """The learner's certificate code for a course passed: issued now, in the caller's
        transaction, or the one they already had."""
        issued = self.store.issue_certificate(
            learner.phone, course.id, course.title_in(learner.locale),
            learner.display_name or masked(learner.phone), score, total,
            certificates.new_code)
        return issued.code

    # -- whole lessons at once (pages) ---------------------------------------------------------

    def outline(self, course_id: str, locale: str, learner: LearnerRecord | None = None,
                results: dict[str, tuple[int, int]] | None = None) -> r.CourseOutline | None:
        """A course's lessons with the learner's standing: from the store for a known
        learner, else from `results` (lesson id to score, total) kept elsewhere."""
        course = self.store.course(course_id)
        if course is None:
            return None
        enrollment = None
        if learner is not None:
            results = self._results(learner, course)
            enrollment = self.places.get(learner.phone, course.id)
        results = {k: v for k, v in (results or {}).items() if k in course.lesson_ids}
        current = enrollment.position if enrollment and not enrollment.completed else None
        if current is None and enrollment is None:
            current = next((n for n, lesson_id in enumerate(course.lesson_ids)
                            if lesson_id not in results), None)
        lessons = []
        for number, lesson_id in enumerate(course.lesson_ids):
            lesson = self._lesson(course, number, locale)
            score, total = results.get(lesson_id, (0, len(lesson.questions)))
            lessons.append(r.LessonStatus(number + 1, lesson_id, lesson.title,
                                          lesson_id in results, score, total,
                                          number == current))
        completed = bool(enrollment and enrollment.completed) or (
            enrollment is None and len(results) == len(course.lesson_ids))
        return r.CourseOutline(course.id, course.code, course.title_in(locale),
                               course.summary_in(locale), tuple(lessons), completed,
                               course.pass_mark)

    def lesson_at(self, course_id: str, lesson_id: str,
                  locale: str) -> tuple[Course, int, Lesson] | None:
        """A lesson of a course in the reader's language, with its position."""
        course = self.store.course(course_id)
        if course is None or lesson_id not in course.lesson_ids:
            return None
        position = course.lesson_ids.index(lesson_id)
        return course, position, self._lesson(course, position, locale)

    @staticmethod
    def grade(lesson: Lesson, answers: dict[int, int]) -> r.QuizGraded:
        """Grade a whole quiz: `answers` maps question number (0-based) to option."""
        return r.QuizGraded(lesson.title, tuple(
            r.QuestionResult(n + 1, q.text, q.options, answers.get(n), q.answer, q.explanation)
            for n, q in enumerate(lesson.questions)
        ))

    def read_lesson(self, learner: LearnerRecord, course: Course, position: int) -> None:
        """The learner read a whole lesson (on a page): on every channel, what comes next
        is its quiz, unless they are already further on."""
        moved_here = learner.current_course != course.id
        learner.current_course = course.id
        self._save_learner(learner)
        enrollment = self.places.get(learner.phone, course.id)
        if enrollment is None:
            self._record_enrolled(learner, course, restart=False)
            enrollment = EnrollmentRecord(phone=learner.phone, course_id=course.id)
        if enrollment.completed or enrollment.position > position or (
                enrollment.quiz is not None and enrollment.position == position):
            # Reading again what they have done changes nothing but the current course.
            if moved_here:
                self._record_place(learner, course, enrollment)
            return
        lesson = self._lesson(course, position, self.reading_locale(learner))
        enrollment.position = position
        enrollment.card = len(lesson.cards) - 1
        enrollment.quiz = None
        self._save_place(learner, course, enrollment, shown="lesson")

    def submit_quiz(self, learner: LearnerRecord, course: Course, position: int,
                    answers: dict[int, int], *, first_try: bool = True) -> QuizSubmitted:
        """Grade a quiz answered on a page and keep it. The first try scores the lesson:
        a try the learner does not call a retry, of a lesson with no score yet in their
        current attempt at the course, wherever it is (pages let them skip ahead). Scored
        at or after their place, the lesson is finished there (with the LessonDone and
        CourseDone replies, see `_finish_lesson`). Any other try only records its answers
        (`scored` False): a lesson's score, once earned, is not earned again by answering
        once more, until the course is taken again."""
        lesson = self._lesson(course, position, self.reading_locale(learner))
        graded = self.grade(lesson, answers)
        enrollment = self.places.get(learner.phone, course.id)
        at_or_ahead = enrollment is None or (
            not enrollment.completed and enrollment.position <= position)
        scored = first_try and lesson.id not in self._results(learner, course)
        # The quiz open at this lesson on another channel (SMS, USSD, WhatsApp): the
        # questions answered there had their first try, which stands.
        open_quiz = enrollment.quiz if enrollment is not None and \
            enrollment.position == position and not enrollment.completed else None
        tried = _first_tried(open_quiz, len(lesson.questions))
        for result in graded.results:
            if result.chosen is not None:
                first = scored and result.number - 1 not in tried
                self._keep_answer(learner, course, lesson.id, result.number - 1,
                                  result.chosen, result.correct, first)
                if first and not result.correct:
                    self._schedule_review(learner, course.id, lesson.id, result.number - 1)
        if not scored:
            return QuizSubmitted(graded, (), scored=False)
        moved_here = learner.current_course != course.id
        learner.current_course = course.id
        self._save_learner(learner)
        if enrollment is None:
            self._record_enrolled(learner, course, restart=False)
            enrollment = EnrollmentRecord(phone=learner.phone, course_id=course.id)
        if not at_or_ahead:
            self._keep_result(learner, course, lesson.id, graded.score,
                              len(lesson.questions))
            if moved_here:
                self._record_place(learner, course, enrollment)
            return QuizSubmitted(graded, (), scored=True)
        right = {result.number - 1 for result in graded.results
                 if result.correct and result.number - 1 not in tried}
        if open_quiz is not None:
            right |= set(open_quiz.right_first_try)
        enrollment.position = position
        enrollment.quiz = QuizState(queue=[], right_first_try=sorted(right))
        return QuizSubmitted(graded, self._finish_lesson(learner, course, enrollment, lesson),
                             scored=True)

    def merge_results(self, learner: LearnerRecord, course_id: str,
                      results: dict[str, tuple[int, int]]) -> None:
        """Keep lesson results earned before the learner was known (anonymously on the
        web): lessons they had not finished, but the one whose quiz they are answering on
        another channel (its first tries stand); their place moves on to the first lesson
        after the furthest kept that has no score yet, and the course completes, with its
        certificate if passed, when every lesson has one."""
        course = self.store.course(course_id)
        if course is None:
            return
        known = self.store.lesson_results(learner.phone, course.id)
        enrollment = self.places.get(learner.phone, course.id)
        answering = (course.lesson_ids[enrollment.position]
                     if enrollment is not None and enrollment.quiz is not None
                     and not enrollment.completed
                     and enrollment.position < len(course.lesson_ids) else None)
        furthest = -1
        for position, lesson_id in enumerate(course.lesson_ids):
            if lesson_id in results and lesson_id not in known and lesson_id != answering:
                score, total = results[lesson_id]
                self._keep_result(learner, course, lesson_id, int(score), int(total))
                furthest = position
        if furthest < 0:
            return
        if enrollment is None:
            self._record_enrolled(learner, course, restart=False)
            enrollment = EnrollmentRecord(phone=learner.phone, course_id=course.id)
        moved = False
        # A quiz open on another channel keeps the learner where they are: its first
        # tries stand, and the lesson finishes there.
        if enrollment.position <= furthest and not enrollment.completed and answering is None:
            done = self._results(learner, course)
            following = _unscored(course, done, after=furthest)
            enrollment.card = -1
            enrollment.quiz = None
            if following is None:
                enrollment.position = len(course.lesson_ids) - 1
                enrollment.completed = True
            else:
                enrollment.position = following
            self._save_place(learner, course, enrollment)
            if enrollment.completed:
                score, total = _totals(done)
                if self._record_completed(learner, course, score, total):
                    self._certify(learner, course, score, total)
            moved = True
        if learner.current_course is None:
            learner.current_course = course.id
            self._save_learner(learner)
            if not moved:
                self._record_place(learner, course, enrollment)
        elif moved and learner.current_course != course.id:
            # The current course is the one of the latest place: record it again, last.
            current = self.store.course(learner.current_course)
            place = self.places.get(learner.phone, learner.current_course)
            if current is not None and place is not None:
                self._record_place(learner, current, place)

    # -- moving through a course -------------------------------------------------------------

    def _current(
        self, learner: LearnerRecord, course: Course, enrollment: EnrollmentRecord,
        *, advance_card: bool,
    ) -> tuple[r.Reply, ...]:
        """Show where the learner is, moving one card on when asked. A lesson opened for
        a learner who takes lessons by link, outside a session they opened, is its link."""
        if advance_card and enrollment.quiz is None and enrollment.card < 0 \
                and learner.delivery == "link" and not self._interactive:
            return (self._link_lesson(learner, course, enrollment),)
        lesson = self._lesson(course, enrollment.position, self.reading_locale(learner))
        if enrollment.quiz is not None:
            if not enrollment.quiz.queue:
                return self._finish_lesson(learner, course, enrollment, lesson)
            self._save_place(learner, course, enrollment)
            return (self._question(lesson, enrollment, learner),)
        shown = _shown(lesson)
        # Moving on goes to the next card this edition has; a place on a card it leaves
        # out (web only) stands for the next one it has.
        after = enrollment.card if advance_card else max(enrollment.card, 0) - 1
        card = next((n for n in shown if n > after), None)
        if card is None:
            enrollment.card = max(enrollment.card + int(advance_card), len(lesson.cards))
            enrollment.quiz = QuizState(queue=list(range(len(lesson.questions))))
            self._save_place(learner, course, enrollment)
            return (self._question(lesson, enrollment, learner),)
        enrollment.card = card
        card_shown = self._card_shown(learner, course, enrollment, lesson, card)
        if self.quiz_with_last_card and card == shown[-1]:
            enrollment.quiz = QuizState(queue=list(range(len(lesson.questions))))
            self._save_place(learner, course, enrollment, shown="card")
            return (card_shown, self._question(lesson, enrollment, learner))
        self._save_place(learner, course, enrollment, shown="card")
        return (card_shown,)

    def _card_shown(self, learner: LearnerRecord, course: Course,
                    enrollment: EnrollmentRecord, lesson: Lesson, card: int) -> r.CardShown:
        """Card `card` (0-based, one the lesson's edition shows) as the learner sees it."""
        shown = _shown(lesson)
        return r.CardShown(
            course_title=course.title_in(self.reading_locale(learner)),
            lesson_number=enrollment.position + 1,
            lesson_count=len(course.lesson_ids),
            lesson_title=lesson.title,
            card_number=shown.index(card) + 1,
            card_count=len(shown),
            text=lesson.cards[card].text,
            familiar=self._familiar(learner, enrollment),
        )

    def _finish_lesson(
        self, learner: LearnerRecord, course: Course, enrollment: EnrollmentRecord,
        lesson: Lesson,
    ) -> tuple[r.Reply, ...]:
        quiz = enrollment.quiz
        assert quiz is not None
        score = len(set(quiz.right_first_try))
        total = len(lesson.questions)
        familiar = self._familiar(learner, enrollment)  # before this lesson's result
        self._keep_result(learner, course, lesson.id, score, total)
        enrollment.card = -1
        enrollment.quiz = None
        # On to the next lesson without a score in this attempt; the course is complete
        # once every lesson has one: a learner who skipped ahead (a page lets them) goes
        # back to the first lesson they skipped.
        results = self._results(learner, course)
        following = _unscored(course, results, after=enrollment.position)
        next_title = next_id = None
        if following is None:
            enrollment.position = len(course.lesson_ids) - 1
            enrollment.completed = True
        else:
            enrollment.position = following
            next_id = course.lesson_ids[following]
            next_title = self._lesson(course, following, self.reading_locale(learner)).title
        self._save_place(learner, course, enrollment)
        done: tuple[r.Reply, ...] = (
            r.LessonDone(lesson.title, score, total, next_title, familiar=familiar,
                         next_lesson_id=next_id),)
        if following is None:
            course_score, course_total = _totals(results)
            passed = self._record_completed(learner, course, course_score, course_total)
            done += (
                r.CourseDone(
                    course_title=course.title_in(self.reading_locale(learner)),
                    score=course_score,
                    total=course_total,
                    pass_mark=course.pass_mark,
                    passed=passed,
                    certificate=self._certify(learner, course, course_score, course_total)
                    if passed else None,
                ),
            )
        return done

    def _question(self, lesson: Lesson, enrollment: EnrollmentRecord,
                  learner: LearnerRecord) -> r.QuestionAsked:
        quiz = enrollment.quiz
        assert quiz is not None and quiz.queue
        number = quiz.queue[0]
        question = lesson.questions[number]
        return r.QuestionAsked(
            lesson_title=lesson.title,
            number=number + 1,
            total=len(lesson.questions),
            text=question.text,
            options=question.options,
            again=number in quiz.requeued,
            familiar=self._familiar(learner, enrollment),
        )

    def _familiar(self, learner: LearnerRecord, enrollment: EnrollmentRecord) -> bool:
        """Whether the learner has finished a lesson before, in any course, on any channel:
        they have been through cards and a quiz once, so a channel need not explain each
        step again."""
        return enrollment.position > 0 or self.store.has_lesson_results(learner.phone)

    # -- events: every change to a learner is also a fact (docs/sync.md) ---------------------

    def _save_place(self, learner: LearnerRecord, course: Course,
                    enrollment: EnrollmentRecord, *, shown: str | None = None) -> None:
        """Save the learner's place in a course, and record it (`card_reached`); `shown`
        says what the learner was given to read in this step: "card" (the card of the
        place), "lesson" (the whole lesson, on a page)."""
        self.places.save(enrollment)
        self._record_place(learner, course, enrollment, shown=shown)

    def _record_place(self, learner: LearnerRecord, course: Course,
                      enrollment: EnrollmentRecord, *, shown: str | None = None) -> None:
        quiz = enrollment.quiz
        ids = course.lesson_ids
        self.store.record_event(learner.phone, "card_reached", {
            "course": course.id, "position": enrollment.position, "card": enrollment.card,
            # By id too: a course pack that reorders lessons keeps the learner's lesson.
            "lesson": ids[enrollment.position] if 0 <= enrollment.position < len(ids)
            else None,
            "quiz": None if quiz is None else {
                "queue": quiz.queue, "requeued": quiz.requeued, "right": quiz.right_first_try},
            **({"shown": shown} if shown else {}),
            **self._where(learner, course),
        })

    def _where(self, learner: LearnerRecord, course: Course | None) -> dict[str, str]:
        """What a learning step's event says of how it was taken: the channel that ran
        the engine and the language the course was read in (for the school's LRS,
        docs/integrations.md); empty for a channel the engine was not told."""
        if self.channel is None:
            return {}
        locale = self.reading_locale(learner)
        return {"channel": self.channel,
                "language": course.locale_for(locale) if course else locale}

    def _record_enrolled(self, learner: LearnerRecord, course: Course, *,
                         restart: bool) -> None:
        self.store.record_event(learner.phone, "enrolled",
                                {"course": course.id, "restart": restart,
                                 **self._where(learner, course)})

    def _record_completed(self, learner: LearnerRecord, course: Course, score: int,
                          total: int) -> bool:
        """Record the course completed with this score; return whether it is passed."""
        passed = _passes(course, score, total)
        self.store.record_event(learner.phone, "course_completed", {
            "course": course.id, "score": score, "total": total, "passed": passed,
            **self._where(learner, course)})
        return passed

    def _keep_answer(self, learner: LearnerRecord, course: Course, lesson_id: str,
                     question: int, choice: int, correct: bool, first_try: bool) -> None:
        self.store.record_answer(learner.phone, course.id, lesson_id, question, choice,
                                 correct, first_try)
        self.store.record_event(learner.phone, "answered", {
            "course": course.id, "lesson": lesson_id, "question": question,
            "choice": choice, "correct": correct, "first_try": first_try,
            **self._where(learner, course)})

    def _keep_result(self, learner: LearnerRecord, course: Course, lesson_id: str,
                     score: int, total: int) -> None:
        self.store.save_lesson_result(learner.phone, course.id, lesson_id, score, total)
        data: dict[str, Any] = {"course": course.id, "lesson": lesson_id, "score": score,
                                "total": total}
        if learner.delivery == "link":  # the lesson came as a link (reports count by mode)
            data["delivery"] = "link"
        where = self._where(learner, course)
        data.update(where)
        self.store.record_event(learner.phone, "lesson_completed", data)
        if self.channel is not None:
            self.store.record_lesson_completion(
                learner.phone, course.id, lesson_id, completion_mode(self.channel, learner),
                where["language"])

    # -- lookups ------------------------------------------------------------------------------

    def current_lesson(self, learner: LearnerRecord) -> tuple[str, str] | None:
        """(course id, lesson id) of the lesson the learner is in now, from its first card
        shown to its end, or None (no current course, the course completed, or the next
        lesson not begun): what a channel counts a lesson's cost toward. Reads only: the
        place is not fitted to the content, and no lesson is loaded."""
        if not learner.current_course:
            return None
        course = self.store.course(learner.current_course)
        enrollment = self.places.get(learner.phone, learner.current_course)
        if course is None or enrollment is None or enrollment.completed \
                or not course.lesson_ids or (enrollment.card < 0 and enrollment.quiz is None):
            return None
        return course.id, course.lesson_ids[min(enrollment.position, len(course.lesson_ids) - 1)]

    def _current_enrollment(
        self, learner: LearnerRecord
    ) -> tuple[Course, EnrollmentRecord] | None:
        if not learner.current_course:
            return None
        course = self.store.course(learner.current_course)
        enrollment = self.places.get(learner.phone, learner.current_course)
        if course is None or enrollment is None:
            return None
        self._fit_to_content(course, enrollment)
        return course, enrollment

    def _completed_notice(self, learner: LearnerRecord, course: Course) -> r.Notice:
        """The course is done: its title, and whether its score passes (if not, START
        takes it again)."""
        return r.Notice("course_complete", {
            "course": course.title_in(self.reading_locale(learner)),
            "passed": _passes(course, *_totals(self._results(learner, course))),
            "pass_mark": course.pass_mark})

    def _results(self, learner: LearnerRecord, course: Course) -> dict[str, tuple[int, int]]:
        """Scores of the learner's finished lessons that the course still has."""
        results = self.store.lesson_results(learner.phone, course.id)
        return {lesson_id: results[lesson_id] for lesson_id in course.lesson_ids
                if lesson_id in results}

    def _lesson(self, course: Course, position: int, locale: str) -> Lesson:
        lesson_id = course.lesson_ids[position]
        lesson = self.store.lesson(course.id, lesson_id, course.locale_for(locale))
        if lesson is None:
            lesson = self.store.lesson(course.id, lesson_id, course.default_locale)
        if lesson is None:
            raise LookupError(f"lesson {course.id}/{lesson_id} is not loaded")
        return lesson.edition(self.edition)

    def _fit_to_content(self, course: Course, enrollment: EnrollmentRecord) -> None:
        """Keep a learner's place valid after authors changed a course in place."""
        if enrollment.position >= len(course.lesson_ids):
            enrollment.position = len(course.lesson_ids) - 1
            enrollment.card = 10**6
            if not enrollment.completed:
                enrollment.quiz = None
        if enrollment.completed:
            return
        lesson = self._lesson(course, enrollment.position, course.default_locale)
        enrollment.card = min(enrollment.card, len(lesson.cards) - 1)
        if enrollment.quiz is not None:
            count = len(lesson.questions)
            quiz = enrollment.quiz
            quiz.queue = [q for q in quiz.queue if q < count]
            quiz.requeued = [q for q in quiz.requeued if q < count]
            quiz.right_first_try = [q for q in quiz.right_first_try if q < count]


def _standing(enrollment: EnrollmentRecord) -> str:
    """'completed', 'start' (a lesson not yet opened) or 'middle' (in a lesson or its quiz)."""
    if enrollment.completed:
        return "completed"
    if enrollment.quiz is None and enrollment.card < 0:
        return "start"
    return "middle"


def _certificate_shown(found: CertificateRecord) -> r.CertificateShown:
    return r.CertificateShown(found.code, found.course_title, found.holder, found.score,
                              found.total, found.issued_at, revoked=found.revoked_at is not None,
                              revocation_reason=found.revocation_reason,
                              badge_id=found.badge_id, revoked_at=found.revoked_at,
                              erased=found.phone is None,
                              holder_is_number=(found.phone is not None
                                                and found.holder == masked(found.phone)))


def _find_course(courses: list[Course], ref: str) -> Course | None:
    """A course by its code (any case) or its catalogue number."""
    wanted = ref.strip().upper()
    for number, course in enumerate(courses, 1):
        if wanted in (course.code.upper(), str(number), course.id.upper()):
            return course
    return None


def _passes(course: Course, score: int, total: int) -> bool:
    """Whether a course's score reaches its pass mark (a course without questions passes)."""
    return (100 * score / total if total else 100) >= course.pass_mark


def _shown(lesson: Lesson) -> list[int]:
    """The numbers (0-based) of the cards a lesson's edition shows: in the SMS edition a
    web-only card has no text and is left out."""
    return [n for n, card in enumerate(lesson.cards) if card.text]


def _asks(enrollment: EnrollmentRecord) -> bool:
    """Whether a quiz question waits for the learner's answer in this enrollment."""
    return enrollment.quiz is not None and bool(enrollment.quiz.queue)


def _first_tried(quiz: QuizState | None, count: int) -> set[int]:
    """The questions (of `count`) of an open quiz answered at a first try already: those
    no longer in its queue, and those back in it after a wrong first answer."""
    if quiz is None:
        return set()
    return {n for n in range(count) if n not in quiz.queue or n in quiz.requeued}


def _unscored(course: Course, results: dict[str, tuple[int, int]], *,
              after: int) -> int | None:
    """The first lesson after position `after` with no score in `results`, else the first
    one before it (a lesson skipped), else None: every lesson is scored."""
    missing = [n for n, lesson_id in enumerate(course.lesson_ids) if lesson_id not in results]
    return next((n for n in missing if n > after), missing[0] if missing else None)


def _totals(results: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Right first answers and questions over a course's finished lessons."""
    return sum(score for score, _ in results.values()), sum(total for _, total in results.values())
