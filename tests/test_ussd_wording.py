"""What a USSD screen says for the replies and situations the session tests do not reach:
a goodbye without a service code, a failed course, a review answer, a course list with
several courses, a notice the menu has no words of its own for."""

from __future__ import annotations

import pytest

from gateway.channels.ussd.wording import Wording
from gateway.learning import replies as r

EN = Wording("en")


def progress(**changes) -> r.Progress:
    fields = {"course_title": "Start freelancing", "lessons_done": 2, "lesson_count": 5,
              "score": 6, "total": 10, "lesson_title": "First clients", "card_number": 2,
              "card_count": 4, "in_quiz": False, "completed": False, "lesson_number": 3}
    return r.Progress(**{**fields, **changes})


class Course:
    def __init__(self, title: str):
        self.title = title

    def title_in(self, locale: str) -> str:
        return self.title


def test_goodbye_names_the_code_to_dial_when_there_is_one():
    assert EN.goodbye("*384*1#") == "Goodbye! Dial *384*1# to continue where you left off."
    assert EN.goodbye("") == "Goodbye!"


@pytest.mark.parametrize(("reply", "courses", "label"), [
    (progress(), [], "Continue: Start freelancing, lesson 3, card 2/4"),
    (progress(in_quiz=True), [], "Continue: Start freelancing, lesson 3 quiz"),
    (progress(completed=True), [], "Start again: Start freelancing"),
    (r.Notice("not_enrolled"), [Course("Start freelancing")], "Start: Start freelancing"),
    (r.Notice("not_enrolled"), [Course("A"), Course("B")], "Choose a course"),
])
def test_the_main_menus_first_option_says_where_the_learner_is(reply, courses, label):
    assert EN.continue_label(reply, courses) == label


@pytest.mark.parametrize(("reply", "text"), [
    (r.CourseDone("Start freelancing", 5, 10, 70, passed=False),
     "Course complete: Start freelancing. Score 5/10 (50%). Pass mark: 70%."),
    (r.CourseDone("Start freelancing", 9, 10, 70, passed=True),
     "Course complete: Start freelancing. Score 9/10 (90%). Well done, you passed!"),
    (r.LessonDone("First clients", 3, 4, None), "Lesson done: 3/4 right first time."),
    (r.Progress(**{**progress().__dict__, "completed": True, "passed": False}),
     "Pass mark: 70%."),
    (r.ReviewFeedback(True, 1, "Ask a past client", "Referrals convert best.", done=False),
     "Right! Referrals convert best."),
    (r.ReviewFeedback(False, 1, "Ask a past client", "Referrals convert best.", done=False),
     "Not quite: it's 2) Ask a past client. Referrals convert best."),
    (r.Notice("course_complete", {"course": "Start freelancing", "passed": False,
                                  "pass_mark": 70}),
     "You finished Start freelancing. Pass mark: 70%."),
    (r.Notice("unknown_course", {"asked": "9"}), "There is no course 9."),
    (r.Notice("no_courses"), "No courses are available yet. Please try again later."),
    (r.Notice("answer_first"), "Invalid choice. Try again."),
    (r.ReviewAsked("First clients", "Who first?", ("A", "B")), ""),
])
def test_a_reply_reads_on_the_screen_as_the_learner_needs_it(reply, text):
    said = EN.reply(reply)
    assert said.endswith(text) if reply.__class__ is r.Progress else said == text

