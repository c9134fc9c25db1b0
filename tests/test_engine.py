"""The learning engine over a real store: enrolment, cards, quizzes, progress, opt-out."""

from __future__ import annotations

import pytest

from gateway.content.model import Course
from gateway.learning import (
    Answer,
    Courses,
    Engine,
    Help,
    Language,
    Next,
    Start,
    Status,
    Stop,
    Unknown,
)
from gateway.learning import replies as r
from gateway.store import Store

PHONE = "+2348030000000"


class Learner:
    """Drives the engine as one learner would, one intent per transaction."""

    def __init__(self, store: Store, phone: str = PHONE, locale: str = "en"):
        self.store = store
        self.phone = phone
        self.locale = locale

    def do(self, intent) -> tuple:
        with self.store.write():
            engine = Engine(self.store)
            learner = engine.learner(self.phone, "console", self.locale)
            outcome = engine.handle(learner, intent)
        self.last_outcome = outcome
        return outcome.replies

    def course(self) -> Course:
        return self.store.courses()[0]

    def right_answer(self) -> int:
        """The right option of the question now asked (read from the stored lesson)."""
        learner = self.store.learner(self.phone)
        enrollment = self.store.enrollment(self.phone, learner.current_course)
        course = self.store.course(learner.current_course)
        lesson = self.store.lesson(course.id, course.lesson_ids[enrollment.position],
                                   course.locale_for(learner.locale))
        return lesson.questions[enrollment.quiz.queue[0]].answer

    def read_to_quiz(self) -> r.QuestionAsked:
        while True:
            replies = self.do(Next())
            if isinstance(replies[-1], r.QuestionAsked):
                return replies[-1]
            assert isinstance(replies[-1], r.CardShown)


@pytest.fixture
def learner(store: Store) -> Learner:
    return Learner(store)


def kinds(replies) -> list[str]:
    return [type(reply).__name__ for reply in replies]


def test_start_enrolls_and_shows_the_first_card(learner: Learner):
    replies = learner.do(Start())
    assert kinds(replies) == ["Welcome", "CardShown"]
    welcome, card = replies
    assert welcome.course_title == "Start freelancing" and welcome.lesson_count >= 5
    assert (card.lesson_number, card.card_number) == (1, 1)
    assert card.text.startswith("A good freelance skill")


def test_start_with_a_code_or_number_and_an_unknown_course(learner: Learner):
    assert kinds(learner.do(Start("nope"))) == ["Notice", "CourseList"]
    assert kinds(learner.do(Start("freelance"))) == ["Welcome", "CardShown"]
    other = Learner(learner.store, "+2348030000001")
    assert kinds(other.do(Start("1"))) == ["Welcome", "CardShown"]


def test_cards_then_quiz_then_next_lesson(learner: Learner):
    learner.do(Start())
    lesson = learner.store.lesson(learner.course().id, learner.course().lesson_ids[0], "en")
    numbers = [learner.do(Next())[0].card_number for _ in range(len(lesson.cards) - 1)]
    assert numbers == list(range(2, len(lesson.cards) + 1))
    question = learner.do(Next())[0]
    assert isinstance(question, r.QuestionAsked)
    assert (question.number, question.total) == (1, len(lesson.questions))
    assert question.options == lesson.questions[0].options
    for number in range(len(lesson.questions)):
        replies = learner.do(Answer(learner.right_answer()))
        assert replies[0].correct
        if number < len(lesson.questions) - 1:
            assert replies[1].number == number + 2
    assert isinstance(replies[-1], r.LessonDone)
    assert replies[-1].score == replies[-1].total == len(lesson.questions)
    nxt = learner.do(Next())[0]
    assert (nxt.lesson_number, nxt.card_number) == (2, 1)


def test_a_wrong_answer_explains_and_the_question_comes_back_once(learner: Learner):
    learner.do(Start())
    first = learner.read_to_quiz()
    right = learner.right_answer()
    wrong = (right + 1) % len(first.options)
    feedback, following = learner.do(Answer(wrong))
    assert not feedback.correct and feedback.will_return
    assert feedback.right_option == right and feedback.explanation
    assert following.number == 2  # the next question first
    while not (isinstance(following, r.QuestionAsked) and following.again):
        feedback, following = learner.do(Answer(learner.right_answer()))[:2]
    assert following.number == 1 and following.text == first.text
    # Wrong again: explained, not asked a third time; the lesson ends.
    replies = learner.do(Answer(wrong))
    assert not replies[0].correct and not replies[0].will_return
    done = replies[-1]
    assert isinstance(done, r.LessonDone)
    assert done.score == done.total - 1  # the first question was missed on the first try
    answers = list(learner.store.db.query(
        "SELECT question, correct, first_try FROM answers ORDER BY id"))
    assert answers[0] == {"question": 0, "correct": 0, "first_try": 1}
    assert answers[-1] == {"question": 0, "correct": 0, "first_try": 0}


def test_answers_out_of_range_or_without_a_question(learner: Learner):
    learner.do(Start())
    assert learner.do(Answer(0))[0] == r.Notice("no_question")
    question = learner.read_to_quiz()
    notice, again = learner.do(Answer(7))
    assert notice == r.Notice("answer_out_of_range", {"count": len(question.options)})
    assert again == question
    # NEXT during a quiz asks for an answer instead of skipping.
    assert kinds(learner.do(Next())) == ["Notice", "QuestionAsked"]


def test_course_completion_with_score_and_pass_mark(learner: Learner):
    learner.do(Start())
    course = learner.course()
    replies = ()
    for lesson_number in range(len(course.lesson_ids)):
        learner.read_to_quiz()
        while True:
            replies = learner.do(Answer(learner.right_answer()))
            if isinstance(replies[1], r.LessonDone):
                break
        assert replies[1].next_lesson_title is None or lesson_number < len(course.lesson_ids) - 1
    done = replies[-1]
    assert isinstance(done, r.CourseDone)
    assert done.passed and done.score == done.total and done.pass_mark == course.pass_mark
    status = learner.do(Status())[0]
    assert status.completed and status.lessons_done == len(course.lesson_ids)
    assert learner.do(Next())[0].kind == "course_complete"
    # START again begins the course anew.
    again = learner.do(Start())
    assert kinds(again) == ["Welcome", "CardShown"] and again[1].lesson_number == 1


def test_failing_the_pass_mark(learner: Learner):
    learner.do(Start())
    course = learner.course()
    for _ in course.lesson_ids:
        learner.read_to_quiz()
        while True:
            wrong = (learner.right_answer() + 1) % 2
            replies = learner.do(Answer(wrong))
            if isinstance(replies[-1], r.LessonDone | r.CourseDone):
                break
    assert isinstance(replies[-1], r.CourseDone)
    assert not replies[-1].passed and replies[-1].score == 0


def test_status_reports_where_the_learner_is(learner: Learner):
    assert learner.do(Status())[0] == r.Notice("not_enrolled")
    learner.do(Start())
    learner.do(Next())
    status = learner.do(Status())[0]
    assert isinstance(status, r.Progress)
    assert (status.lessons_done, status.card_number, status.in_quiz) == (0, 2, False)


def test_stop_silences_everything_but_start_and_help(learner: Learner):
    learner.do(Start())
    assert learner.do(Stop()) == (r.Stopped(),) and learner.last_outcome.to_stopped_ok
    assert learner.store.learner(PHONE).stopped
    for intent in (Next(), Status(), Courses(), Answer(0), Unknown("hello"), Language("fr")):
        assert learner.do(intent) == ()
    help_reply = learner.do(Help())
    assert help_reply[0].stopped and learner.last_outcome.to_stopped_ok
    replies = learner.do(Start())
    assert not learner.store.learner(PHONE).stopped
    assert isinstance(replies[0], r.Welcome) and replies[0].resumed
    # Resuming shows the card the learner was on, not the next one.
    assert replies[1].card_number == 1


def test_language_switch_changes_lesson_language(learner: Learner):
    learner.do(Start())
    assert learner.do(Language("french")) == (r.LanguageChanged("fr"),)
    card = learner.do(Next())[0]
    french = learner.store.lesson(learner.course().id, learner.course().lesson_ids[0], "fr")
    assert card.text == french.cards[1].text
    assert card.course_title == "Se lancer en freelance"
    choices = learner.do(Language("xx"))[0]
    assert isinstance(choices, r.LanguageChoices) and set(choices.locales) >= {"en", "fr"}


def test_unknown_input_gets_help_that_fits_the_moment(learner: Learner):
    assert learner.do(Unknown("hi"))[0].details["expecting"] == "start"
    learner.do(Start())
    assert learner.do(Unknown("hmm"))[0].details["expecting"] == "next"
    question = learner.read_to_quiz()
    notice = learner.do(Unknown("maybe"))[0]
    assert notice.details == {"expecting": "answer", "count": len(question.options)}


def test_progress_is_per_learner(store: Store):
    one, two = Learner(store, "+2348030000001"), Learner(store, "+2348030000002")
    one.do(Start())
    one.do(Next())
    two.do(Start())
    assert one.do(Status())[0].card_number == 2
    assert two.do(Status())[0].card_number == 1


def test_scores_of_a_lesson_removed_from_the_course_no_longer_count(learner: Learner):
    import dataclasses

    from gateway.content import load_courses
    from gateway.paths import lessons_dir

    learner.do(Start())
    learner.read_to_quiz()
    while not isinstance(learner.do(Answer(learner.right_answer()))[-1], r.LessonDone):
        pass
    assert learner.do(Status())[0].lessons_done == 1
    [course], _ = load_courses(lessons_dir())
    shorter = dataclasses.replace(
        course,
        lesson_ids=course.lesson_ids[1:],
        lessons={loc: lessons[1:] for loc, lessons in course.lessons.items()},
    )
    learner.store.save_course(shorter, 0)
    status = learner.do(Status())[0]
    assert (status.lessons_done, status.score, status.total) == (0, 0, 0)
    assert status.lesson_count == len(course.lesson_ids) - 1


def test_a_message_reads_the_learners_place_once_and_then_what_it_saved(learner: Learner):
    """Within one message the learner's place in their course is read from the database
    once; after the engine moved it on, what it reads (to plan the next check) is the new
    place, not the one read at the start."""
    store = learner.store
    learner.do(Start())
    course = learner.course()
    lesson = store.lesson(course.id, course.lesson_ids[0], "en")
    for _ in range(len(lesson.cards) - 1):
        assert isinstance(learner.do(Next())[-1], r.CardShown)
    statements: list[str] = []
    with store.write():  # one message: NEXT on the last card opens the quiz
        engine = Engine(store)
        person = engine.learner(PHONE, "console", "en")
        store.db.conn.set_trace_callback(statements.append)
        try:
            replies = engine.handle(person, Next()).replies
            in_quiz = engine.in_quiz(person)
        finally:
            store.db.conn.set_trace_callback(None)
    assert isinstance(replies[-1], r.QuestionAsked)
    assert in_quiz
    reads = [sql for sql in statements
             if sql.lstrip().upper().startswith("SELECT") and "FROM enrollments" in sql]
    assert len(reads) == 1
