"""USSD wording in the learner's language (gettext), before GSM-7 folding."""

from __future__ import annotations

from babel import Locale

from gateway.channels.wording import Wording as _Base
from gateway.i18n import language_name, needs_ucs2
from gateway.learning import replies as r
from gateway.learning.certificates import format_code


class Wording(_Base):
    """Every USSD label and message, for one locale."""

    # -- labels -------------------------------------------------------------------------

    @staticmethod
    def option(number: int, label: str) -> str:
        return f"{number}. {label}"

    def next_(self) -> str:
        return self._("Next")

    def continue_(self) -> str:
        return self._("Continue")

    def more(self) -> str:
        return self._("More")

    def again(self) -> str:
        """Take a course again, as short as a navigation line needs."""
        return self._("Start again")

    def start_again(self, course: str) -> str:
        return self._("Start again: %(course)s", course=course)

    def back(self) -> str:
        return self._("Back")

    def menu(self) -> str:
        return self._("Menu")

    def invalid(self) -> str:
        return self._("Invalid choice. Try again.")

    def welcome_back(self) -> str:
        return self._("Welcome back!")

    def goodbye(self, service_code: str) -> str:
        if service_code:
            return self._("Goodbye! Dial %(code)s to continue where you left off.",
                          code=service_code)
        return self._("Goodbye!")

    def courses(self) -> str:
        return self._("Courses:")

    def courses_label(self) -> str:
        return self._("Courses")

    def progress_label(self) -> str:
        return self._("My progress")

    def language(self) -> str:
        return self._("Language")

    def help_label(self) -> str:
        return self._("Help")

    def exit_label(self) -> str:
        return self._("Exit")

    def channel_label(self) -> str:
        return self._("SMS or WhatsApp")

    def ask_label(self) -> str:
        return self._("Ask a tutor")

    def ask_prompt(self) -> str:
        """The screen that takes a question as typed text."""
        return self._("Type your question for the tutors and send it. You can add more "
                      "after.")

    def ask_more(self) -> str:
        """The screen that takes the next piece of a question typed in several inputs."""
        return self._("Type the next part of your question.")

    def draft_head(self, count: int, most: int) -> str:
        """The head of the screen showing the question typed so far: its length."""
        return self._("Your question (%(count)d/%(most)d):", count=count, most=most)

    def send(self) -> str:
        return self._("Send")

    def add_more(self) -> str:
        return self._("Add more")

    def cancel(self) -> str:
        return self._("Cancel")

    @staticmethod
    def channel_name(name: str) -> str:
        """A channel as the menu names it: its own name, the same in every language."""
        return "WhatsApp" if name == "whatsapp" else "SMS"

    def language_name(self, locale: str) -> str:
        """A language's name in its own script ('Français', 'العربية'), except a script
        GSM-7 lacks on a GSM-7 screen (this wording's language is Latin-script): there, its
        name in this wording's language ('Arabic', 'Arabe')."""
        if needs_ucs2(locale) and not needs_ucs2(self.locale):
            return Locale.parse(locale).get_display_name(self.locale).capitalize()
        return language_name(locale)

    def continue_label(self, progress: r.Reply, courses: list) -> str:
        """Main menu option 1: where the learner left off, or where to begin."""
        if isinstance(progress, r.Progress):
            if progress.completed:
                return self.start_again(progress.course_title)
            lesson = progress.lesson_number
            if progress.in_quiz:
                return self._("Continue: %(course)s, lesson %(lesson)d quiz",
                              course=progress.course_title, lesson=lesson)
            return self._(
                "Continue: %(course)s, lesson %(lesson)d, card %(card)d/%(cards)d",
                course=progress.course_title, lesson=lesson, card=progress.card_number,
                cards=progress.card_count,
            )
        if len(courses) == 1:
            return self._("Start: %(course)s", course=courses[0].title_in(self.locale))
        return self._("Choose a course")

    def course_option(self, entry: r.CourseEntry) -> str:
        return self.n_("%(number)d. %(title)s (%(n)d lesson)",
                       "%(number)d. %(title)s (%(n)d lessons)",
                       entry.lesson_count, number=entry.number, title=entry.title)

    def card_head(self, card: r.CardShown) -> str:
        return self._("Lesson %(lesson)d/%(lessons)d, card %(card)d/%(cards)d",
                      lesson=card.lesson_number, lessons=card.lesson_count,
                      card=card.card_number, cards=card.card_count)

    def question(self, q: r.QuestionAsked) -> str:
        if q.again:
            return self._("Again, Q%(number)d/%(total)d: %(text)s", number=q.number,
                          total=q.total, text=q.text)
        return self._("Q%(number)d/%(total)d: %(text)s", number=q.number, total=q.total,
                      text=q.text)

    def help(self) -> str:
        return self._(
            "Choose a number and send it. 98 shows more of a long text, 0 goes back, "
            "00 opens the menu. Your progress is the same by SMS and on the web."
        )

    # -- engine replies shown as text ------------------------------------------------------

    def _pass_mark(self, mark: int) -> str:
        return self._("Pass mark: %(mark)s.", mark=self.percent(mark, 100))

    def notice(self, notice: r.Notice) -> str:
        match notice.kind:
            case "unknown_course":
                return self._("There is no course %(asked)s.", asked=notice.details.get("asked"))
            case "not_enrolled":
                return self._("You have not started a course yet.")
            case "course_complete":
                text = self._("You finished %(course)s.", course=notice.details["course"])
                if notice.details.get("passed") is False:
                    text += " " + self._pass_mark(notice.details["pass_mark"])
                return text
            case "no_courses":
                return self._("No courses are available yet. Please try again later.")
            case "ask_limited":
                return self.ask_limited(notice.details["limit"])
        return self.invalid()

    def reply(self, reply: r.Reply) -> str:
        """A reply that the USSD channel shows as text (feedback, results, progress...)."""
        match reply:
            case r.Feedback(correct=True, explanation=why):
                return self._("Right! %(why)s", why=why)
            case r.Feedback() as f:
                text = self._("Not quite: it's %(letter)s) %(answer)s. %(why)s",
                              letter=f.right_option + 1, answer=f.right_text, why=f.explanation)
                if f.will_return:
                    text += " " + self._("You will see this question again.")
                return text
            case r.LessonDone() as done:
                text = self._("Lesson done: %(score)d/%(total)d right first time.",
                              score=done.score, total=done.total)
                if done.next_lesson_title:
                    text += " " + self._("Next: %(title)s", title=done.next_lesson_title)
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
                        text += " " + self._("Your certificate code: %(code)s.",
                                             code=format_code(done.certificate))
                    return text
                return text + " " + self._pass_mark(done.pass_mark)
            case r.Progress() as p:
                if p.passed is False:
                    return self.progress(p) + " " + self._pass_mark(p.pass_mark)
                return self.progress(p)
            case r.LanguageChanged(locale=locale):
                return self._("Language: %(language)s.", language=self.language_name(locale))
            case r.ChannelShown() as shown:
                return self.channel_shown(shown)
            case r.HelpShown():
                return self.help()
            case r.QuestionReceived() as received:
                return self.question_received(received)
            case r.QuestionsOpen() as waiting:
                return self.questions_open(waiting)
            case r.Notice() as notice:
                return self.notice(notice)
            case r.ReviewFeedback(correct=True, explanation=why):
                return self._("Right! %(why)s", why=why)
            case r.ReviewFeedback() as f:
                return self._("Not quite: it's %(letter)s) %(answer)s. %(why)s",
                              letter=f.right_option + 1, answer=f.right_text, why=f.explanation)
            case r.Joined(program=program, already=True):
                return self._("You are already in %(program)s.", program=program)
            case r.Joined(program=program):
                return self._("You have joined %(program)s.", program=program)
            case r.Stopped() | r.ScheduleShown() | r.ScheduleOffer() | r.DailyLesson() \
                    | r.Reminder() | r.ReviewAsked():
                return ""  # SMS only: the USSD menu offers none of these
        raise TypeError(f"no USSD wording for {reply!r}")
