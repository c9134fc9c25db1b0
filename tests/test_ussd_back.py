"""USSD's back key (0) on every kind of screen, as a learner presses it: from the course
list, a question, the language list, help and progress it returns to the main menu; a
choice the screen does not offer says so and shows the same screen."""

from __future__ import annotations

import pytest

from gateway.channels.ussd.screens import BACK
from gateway.store import Store
from tests.test_ussd import Phone


@pytest.fixture
def phone(store: Store) -> Phone:
    return Phone(store)


def is_main_menu(text: str) -> bool:
    lines = text.splitlines()
    return any(line.startswith("1. ") for line in lines) and "0. Exit" in lines


def test_back_from_the_course_list_is_the_main_menu(phone: Phone):
    menu = phone.dial().text
    courses = phone.press("2").text
    assert courses.startswith("Courses:")
    assert is_main_menu(phone.press(BACK).text)
    assert phone.screens[-1] == menu


def test_back_from_a_question_is_the_main_menu_and_the_question_waits(phone: Phone):
    phone.dial()
    phone.press("1")
    for _ in range(3):  # the three cards of the lesson's SMS edition
        phone.next_card()
    question = phone.screens[-1]
    assert question.startswith("Q1/3")
    assert is_main_menu(phone.press(BACK).text)
    assert phone.press("1").text == question  # continue: the same question


def test_back_from_the_language_list_keeps_the_language(phone: Phone):
    phone.dial()
    assert phone.press("4").text.splitlines()[1] == "1. English"
    assert is_main_menu(phone.press(BACK).text)
    assert phone.store.learner(phone.phone) is None or \
        phone.store.learner(phone.phone).locale == "en"


@pytest.mark.parametrize("option", ["5", "3"])  # help, progress
def test_back_from_help_or_progress_is_the_main_menu(phone: Phone, option: str):
    phone.dial()
    phone.press(option)
    assert is_main_menu(phone.press(BACK).text)


@pytest.mark.parametrize("option", ["2", "4"])  # the course list, the language list
def test_a_choice_the_list_does_not_offer_shows_it_again_saying_so(phone: Phone, option: str):
    phone.dial()
    shown = phone.press(option).text
    again = phone.press("77").text
    assert again.startswith("Invalid choice. Try again.")
    assert shown.splitlines()[-1] in again
