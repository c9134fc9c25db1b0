"""Learners see their tutors' answers: the web's /ask page lists a learner's questions,
newest first, with their status and the answer once given; the privacy export holds the
answers."""

from __future__ import annotations

import re

from gateway.store import Store, privacy, questions
from gateway.store import staff as staff_accounts
from tests.conftest import csrf, web_sign_in

PHONE = "+2348030000000"
OTHER = "+2348030000001"


def tutor(store: Store) -> int:
    """A tutor's staff account (its password hash is not used here)."""
    staff_accounts.add(store, "amina", "Amina", "tutor", "not-a-real-hash")
    return staff_accounts.find(store, "amina").id


def ask(client, text: str):
    return client.post("/ask", data={"csrf": csrf(client, "/ask"), "question": text})


def test_the_ask_page_lists_questions_newest_first_with_the_answers(client, store: Store):
    web_sign_in(client, store, PHONE)
    ask(client, "How much is a fair deposit?")
    store.db.execute("UPDATE questions SET asked_at = asked_at - 86400")  # a day before
    ask(client, "Can I <b>refuse</b> a client?")
    questions.add(store, OTHER, "sms", "twilio", "Someone else's question")
    older, _ = questions.of_learner(store, PHONE)
    questions.mark_answered(store, older.id, "Half before you start is <i>common</i>.",
                            tutor(store))
    page = client.get("/ask").get_data(as_text=True)
    listed = page[page.index("Your questions"):]
    assert "Someone else" not in page
    # Newest first: the open one, then the answered one with its answer, escaped.
    assert listed.index("Can I &lt;b&gt;refuse&lt;/b&gt; a client?") \
        < listed.index("How much is a fair deposit?")
    assert re.search(r"Asked on [^<]+, waiting for a tutor\.", listed)
    assert re.search(r"Asked on [^<]+, answered on [^<]+:", listed)
    assert "Half before you start is &lt;i&gt;common&lt;/i&gt;." in listed
    assert "<script" not in page
    # The open count on the page and /progress no longer holds the answered one.
    assert "1 question waits for a tutor" in page
    assert "1 question waits for a tutor" in client.get("/progress").get_data(as_text=True)


def test_a_closed_question_says_so_and_the_refused_one_is_not_listed(client, store: Store):
    web_sign_in(client, store, PHONE)
    ask(client, "Is this closed?")
    [asked] = questions.of_learner(store, PHONE)
    store.db.execute("UPDATE questions SET status = 'closed' WHERE id = ?", [asked.id])
    questions.add(store, PHONE, "sms", "twilio", "", status=questions.REFUSED)
    listed = client.get("/ask").get_data(as_text=True).split("Your questions", 1)[1]
    assert re.search(r"Asked on [^<]+, closed without an answer\.", listed)
    assert listed.count("Asked on") == 1


def test_recording_an_answer_sets_it_answered_with_who_and_when(store: Store):
    asked = questions.add(store, PHONE, "ussd", "at", "How?")
    staff_id = tutor(store)
    assert questions.mark_answered(store, asked, "Like this.", staff_id) is True
    [answered] = questions.of_learner(store, PHONE)
    assert (answered.status, answered.answer, answered.answered_by) == (
        "answered", "Like this.", staff_id)
    assert answered.answered_at is not None and answered.answered_at >= answered.asked_at
    # Answered once: a second answer to the same question changes nothing.
    assert questions.mark_answered(store, asked, "Again.", staff_id) is False
    assert questions.of_learner(store, PHONE)[0].answer == "Like this."


def test_the_export_holds_the_answer(store: Store):
    asked = questions.add(store, PHONE, "web", "twilio", "What is a deposit?")
    questions.mark_answered(store, asked, "Money paid before the work.", tutor(store))
    [exported] = privacy.learner_export(store, PHONE)["questions"]
    assert exported["text"] == "What is a deposit?"
    assert exported["status"] == "answered"
    assert exported["answer"] == "Money paid before the work."
    assert exported["answered_at"] and exported["answered_by"]
