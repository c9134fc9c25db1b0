"""The learning engine at the edges of a conversation, over a real store: going BACK with
no course, at a lesson's first card, or after the course; messages it cannot read once
the course is done; review questions answered out of range, or whose lesson a new
course pack removed."""

from __future__ import annotations

import pytest

from gateway.learning import Answer, Back, Engine, Next, Start, Unknown
from gateway.learning import replies as r
from gateway.store import Store
from tests.test_engine import Learner, kinds


@pytest.fixture
def learner(store: Store) -> Learner:
    return Learner(store)


def finish_course(learner: Learner) -> tuple:
    """Read and answer every lesson right; the replies of the last answer."""
    learner.do(Start())
    for _ in range(200):
        learner.read_to_quiz()
        while True:
            replies = learner.do(Answer(learner.right_answer()))
            if any(isinstance(reply, r.CourseDone) for reply in replies):
                return replies
            if not isinstance(replies[-1], r.QuestionAsked):
                break
    raise AssertionError("the course never ended")


def test_back_before_any_course_says_how_to_start(learner: Learner):
    replies = learner.do(Back())
    assert kinds(replies) == ["Notice", "CourseList"]
    assert replies[0].kind == "not_enrolled"


def test_back_at_the_first_card_shows_it_again(learner: Learner):
    first = learner.do(Start())[-1]
    again = learner.do(Back())
    assert kinds(again) == ["CardShown"]
    assert (again[0].lesson_number, again[0].card_number, again[0].text) == \
        (first.lesson_number, first.card_number, first.text)


def test_back_goes_one_card_back_and_next_forward_again(learner: Learner):
    learner.do(Start())
    second = learner.do(Next())[-1]
    assert second.card_number == 2
    back = learner.do(Back())[-1]
    assert back.card_number == 1
    assert learner.do(Next())[-1].card_number == 2


def test_after_the_course_back_and_unreadable_messages_point_to_the_courses(learner: Learner):
    finish_course(learner)
    back = learner.do(Back())
    assert kinds(back) == ["Notice"] and back[0].kind == "course_complete"
    [unknown] = learner.do(Unknown("what now"))
    assert (unknown.kind, unknown.details) == ("not_understood", {"expecting": "courses"})
    [answer] = learner.do(Answer(0))  # a letter with no question waiting
    assert answer.kind == "no_question"


def test_an_unreadable_message_in_a_quiz_says_which_letters(learner: Learner):
    learner.do(Start())
    question = learner.read_to_quiz()
    [notice] = learner.do(Unknown("maybe"))
    assert (notice.kind, notice.details) == (
        "not_understood", {"expecting": "answer", "count": len(question.options)})


def review_of(learner: Learner, question: int = 0, lesson: str | None = None):
    """Ask the learner a review question of their course's first lesson."""
    course = learner.course()
    with learner.store.write():
        engine = Engine(learner.store)
        record = engine.learner(learner.phone, "console", "en")
        return engine.review_question(record, {"course_id": course.id,
                                               "lesson_id": lesson or course.lesson_ids[0],
                                               "question": question})


def test_a_review_answer_out_of_range_asks_the_same_question_again(learner: Learner):
    finish_course(learner)
    asked = review_of(learner)
    assert isinstance(asked, r.ReviewAsked)
    replies = learner.do(Answer(len(asked.options) + 2))
    assert kinds(replies) == ["Notice", "ReviewAsked"]
    assert replies[0].kind == "answer_out_of_range"
    assert replies[0].details == {"count": len(asked.options)}
    assert replies[1].text == asked.text
    lesson = learner.store.lesson(learner.course().id, learner.course().lesson_ids[0], "en")
    [feedback] = learner.do(Answer(lesson.questions[0].answer))  # still waiting: now answered
    assert isinstance(feedback, r.ReviewFeedback) and feedback.correct


def test_a_review_of_a_question_or_lesson_that_is_gone_is_not_asked(learner: Learner):
    finish_course(learner)
    assert review_of(learner, question=99) is None
    assert review_of(learner, lesson="a-lesson-removed-since") is None
    assert learner.store.learner(learner.phone).pending_review is None


def test_a_pending_review_whose_lesson_is_gone_is_answered_plainly(learner: Learner):
    finish_course(learner)
    assert review_of(learner) is not None
    with learner.store.write():  # as a later pack leaves it: the lesson's id changed
        learner_record = learner.store.learner(learner.phone)
        learner_record.pending_review = {**learner_record.pending_review,
                                         "lesson": "a-lesson-removed-since"}
        learner.store.save_learner(learner_record)
    [notice] = learner.do(Answer(0))
    assert notice.kind == "no_question"
    assert learner.store.learner(learner.phone).pending_review is None


def here(learner: Learner) -> tuple:
    with learner.store.write():
        engine = Engine(learner.store)
        return engine.here(engine.learner(learner.phone, "console", "en"))


def test_here_shows_again_what_is_before_the_learner_and_moves_nothing(learner: Learner):
    """What a channel shows a learner who acted on an old message: the courses, the card
    they are on, the question waiting, how to go on between lessons, a finished course, a
    review waiting; never a step on, never an event."""
    def unmoved(shown: tuple) -> tuple:
        events = learner.store.db.execute("SELECT count(*) FROM events").fetchone()[0]
        place = learner.store.enrollment(learner.phone, learner.course().id)
        assert here(learner) == shown
        assert learner.store.db.execute("SELECT count(*) FROM events").fetchone()[0] == events
        assert learner.store.enrollment(learner.phone, learner.course().id) == place
        return shown

    assert kinds(here(learner)) == ["Notice", "CourseList"]
    learner.do(Start())
    [card] = learner.do(Next())
    unmoved((card,))
    unmoved((learner.read_to_quiz(),))
    while isinstance(learner.do(Answer(learner.right_answer()))[-1], r.QuestionAsked):
        pass
    [between] = unmoved(here(learner))
    assert (between.kind, between.details) == ("not_understood", {"expecting": "next"})
    finish_course(learner)
    [done] = unmoved(here(learner))
    assert done.kind == "course_complete"
    unmoved((review_of(learner),))
