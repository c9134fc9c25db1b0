"""What a lesson costs in SMS, measured on the real path: a simulated learner texts the SMS
channel over a scratch database, and the outbox says what each message is charged."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.channels.sms.cost import DEFAULT_BUDGET, KINDS, CostWalker, budget
from gateway.config import DEFAULT_CONSOLE
from gateway.content import load_courses
from gateway.content.model import SMS, Card, Lesson
from gateway.paths import lessons_dir
from gateway.sms_text import count
from tests.courses import long_card_course
from tests.test_content import VALID, course_toml, write_course


@pytest.fixture(scope="module")
def bundled():
    [course], _ = load_courses(lessons_dir())
    return course


def by_sms(lesson: Lesson) -> Lesson:
    """`lesson` as SMS teaches it: its SMS edition, web-only cards left out (the bundled
    lessons' SMS editions have three cards of five)."""
    edition = lesson.edition(SMS)
    return dataclasses.replace(edition, cards=tuple(c for c in edition.cards if c.text))


@pytest.fixture(scope="module")
def long_course(tmp_path_factory):
    """A course of cards longer than one SMS (the bundled SMS edition's are short)."""
    [course], _ = load_courses(long_card_course(tmp_path_factory.mktemp("long")))
    return course


@pytest.fixture(scope="module")
def bundled_costs(bundled):
    with CostWalker(bundled) as walker:
        yield {locale: {c.lesson_id: c for c in walker.lesson_cost(DEFAULT_CONSOLE, locale)}
               for locale in ("en", "fr")}


def test_a_learner_who_answers_right_pays_one_message_a_card_and_a_question_and_the_result(
        bundled, bundled_costs):
    lesson = by_sms(bundled.lessons["en"][1])
    cost = bundled_costs["en"][lesson.id]
    bodies = [m.body for m in cost.right.messages]

    # A message a card and one a question, each question's with the feedback before it
    # and the result with the last feedback; the last card and the first question share
    # one message (the quiz comes with the last card, packed: it costs no more), so one
    # fewer than cards + questions + the result.
    assert len(bodies) == len(lesson.cards) + len(lesson.questions) == 3 + 3
    last_card = bodies[len(lesson.cards) - 1]
    assert last_card.startswith(lesson.cards[-1].text)
    assert f"\nQ1/3: {lesson.questions[0].text}\n" in last_card
    assert bodies[0].startswith(f"Lesson 2/6: {lesson.title}")
    # After the first lesson, navigation is terse.
    assert bodies[1].endswith("\n2/3 NEXT>")
    assert bodies[-1].endswith(f"NEXT> {bundled.lessons['en'][2].title}")
    assert cost.right.segments == sum(count(m.body, DEFAULT_CONSOLE.encoding_policy).segments
                                      for m in cost.right.messages)


def test_a_learner_who_answers_each_question_wrong_once_gets_each_asked_again(
        bundled, bundled_costs):
    lesson = by_sms(bundled.lessons["en"][1])
    cost = bundled_costs["en"][lesson.id]
    wrong = [m.body for m in cost.wrong_once.messages]

    # As answering right (the last card with the first question), each question asked
    # again: the first again with the last one's feedback, the others with the feedback
    # on the one before.
    assert len(wrong) == len(lesson.cards) + 2 * len(lesson.questions) == 3 + 2 * 3
    assert f"\nQ1/3: {lesson.questions[0].text}\n" in wrong[len(lesson.cards) - 1]
    assert sum("Not quite" in body for body in wrong) == len(lesson.questions)
    assert sum(body.count("Again, Q") for body in wrong) == len(lesson.questions)
    assert cost.wrong_once.segments > cost.right.segments


def test_the_split_by_kind_adds_up_and_follows_the_authors_text(bundled, bundled_costs):
    for locale, lessons in bundled_costs.items():
        for cost in lessons.values():
            for paid in (cost.right, cost.wrong_once):
                split = paid.split()
                assert set(split) == set(KINDS)
                assert sum(split.values()) == paid.segments, (locale, cost.lesson_id)
                assert min(split.values()) > 0
            # Questions asked twice, and twice the feedback: the quiz costs more. The SMS
            # edition's explanations are short, so twice the feedback may still round to
            # the same share of segments: it is twice the characters, never fewer segments.
            wrong, right = cost.wrong_once.split(), cost.right.split()
            assert wrong["questions"] > right["questions"]
            assert wrong["feedback"] >= right["feedback"]
            assert sum(m.chars["feedback"] for m in cost.wrong_once.messages) > sum(
                m.chars["feedback"] for m in cost.right.messages)
    card = by_sms(bundled.lessons["en"][0]).cards[1].text  # the second card SMS sends
    second = bundled_costs["en"][bundled.lessons["en"][0].id].right.messages[1]
    assert card in second.body
    assert second.chars["cards"] == len(card)
    assert second.chars["navigation"] == len(second.body) - len(card)


def test_cutting_the_characters_named_saves_one_segment_and_one_fewer_does_not(
        bundled, bundled_costs):
    lesson = bundled.lessons["en"][2]
    cost = bundled_costs["en"][lesson.id]
    item = next(i for i in cost.costliest if i.kind == "card" and i.save)
    assert item.segments >= 2

    # The card as numbered for SMS learners ([3/3]): its place in the file, web-only
    # cards counted, is found among the cards SMS sends.
    index = [n for n, card in enumerate(lesson.cards) if not card.web_only][item.number - 1]

    def walked_with(cut: int) -> int:
        card = lesson.cards[index]
        assert card.sms  # SMS sends the card's short form: that is what is cut
        cards = list(lesson.cards)
        cards[index] = Card(card.text, card.sms[:len(card.sms) - cut])
        lessons = list(bundled.lessons["en"])
        lessons[2] = dataclasses.replace(lesson, cards=tuple(cards))
        course = dataclasses.replace(bundled, lessons={"en": tuple(lessons)},
                                     locales=("en",))
        with CostWalker(course) as walker:
            [found] = [c for c in walker.lesson_cost(DEFAULT_CONSOLE, "en")
                       if c.lesson_id == lesson.id]
        return found.right.segments

    assert walked_with(item.save) == cost.right.segments - 1
    assert walked_with(item.save - 1) == cost.right.segments


def test_the_costliest_items_are_distinct_messages_naming_what_each_carries(
        bundled_costs, long_course):
    # The last card and the first question share one message: it is named once, with what
    # it carries, and the next costliest message is named beside it. The bundled SMS
    # edition's messages mostly fit a segment or two, so a course of long cards shows it:
    # card 1 (with the welcome) and card 3 (with Q1) cost 3 segments each, card 2 two.
    with CostWalker(long_course) as walker:
        [cost] = walker.lesson_cost(DEFAULT_CONSOLE, "en")
    first, second = cost.costliest
    assert [(item.name, item.sent_with, item.segments) for item in cost.costliest] == [
        ("card 1", (), 3), ("card 3", ("Q1",), 3)]
    assert first.save and second.save
    for lessons in bundled_costs.values():
        for cost in lessons.values():
            named = [name for item in cost.costliest for name in (item.name, *item.sent_with)]
            assert len(named) == len(set(named)), (cost.locale, cost.lesson_id)
            assert all(item.segments > 1 for item in cost.costliest)


def test_the_carriers_policy_prices_the_messages(bundled):
    gsm7 = dataclasses.replace(DEFAULT_CONSOLE, encoding_policy="gsm7")
    exact = dataclasses.replace(DEFAULT_CONSOLE, encoding_policy="exact")
    with CostWalker(bundled) as walker:
        folded = walker.lesson_cost(gsm7, "fr")[0]
        as_written = walker.lesson_cost(exact, "fr")[0]

    assert folded.right.encoding == "GSM-7"
    assert "UCS-2" in as_written.right.encoding
    assert folded.right.segments < as_written.right.segments


def test_a_lesson_over_its_budget_is_flagged(tmp_path):
    write_course(tmp_path, toml="sms_budget = 3\n" + course_toml(),
                 files={"en/one.txt": VALID, "fr/one.txt": VALID})
    [course], _ = load_courses(tmp_path)

    with CostWalker(course) as walker:
        [cost] = walker.lesson_cost(DEFAULT_CONSOLE, "en")

    assert cost.budget == 3
    assert cost.right.segments > 3 and cost.over


def test_budgets_default_to_eight_segments_and_twice_that_in_scripts_gsm7_lacks(tmp_path):
    write_course(tmp_path, files={"en/one.txt": VALID})
    [course], _ = load_courses(tmp_path)

    assert DEFAULT_BUDGET == 8
    assert (budget(course, "en"), budget(course, "fr"), budget(course, "ar")) == (8, 8, 16)
    course = dataclasses.replace(course, sms_budget=5, sms_budget_per_locale={"fr": 7})
    assert (budget(course, "en"), budget(course, "fr"), budget(course, "ar")) == (5, 7, 10)


def test_the_bundled_course_sets_the_budgets_it_is_held_to(bundled):
    assert {locale: budget(bundled, locale) for locale in bundled.locales} == {
        "en": 8, "fr": 8, "pt": 8, "sw": 8, "ar": 16}
    assert bundled.sms_budget == 8
    assert bundled.sms_budget_per_locale == {"ar": 16}


def test_a_card_cut_into_several_messages_still_counts_as_card(long_course):
    # Cards longer than one segment (the bundled SMS edition's fit one), on a carrier
    # sending at most one segment a message.
    one_segment = dataclasses.replace(DEFAULT_CONSOLE, max_segments=1)
    lesson = long_course.lessons["en"][0]
    with CostWalker(long_course) as walker:
        cost = walker.lesson_cost(one_segment, "en")[0]

    assert len(cost.right.messages) > len(lesson.cards) + len(lesson.questions) + 1
    assert {m.segments for m in cost.right.messages} == {1}
    counted = sum(m.chars["cards"] for m in cost.right.messages)
    written = sum(len(card.text) for card in lesson.cards)
    # Only the space at each cut is lost (the carrier is not sent it either).
    assert written - len(cost.right.messages) <= counted < written
