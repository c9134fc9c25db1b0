"""The tutors' inbox: questions asked by SMS (a carrier's webhook), USSD and the web reach
it with the learner's context; tutors claim, reassign, close and answer them, each
recorded; an answer is priced before it goes, refused when it does not fit one message,
sent once when two tutors answer at once, and queued on the channel the learner asked
on; saved replies per lesson are kept, inserted and edited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import create_app
from gateway.ops import staff, tutoring
from gateway.store import Store, questions, saved_replies
from gateway.store import staff as accounts
from tests.conftest import AUTH_TOKEN, TwilioWebhooks, carriers_toml, csrf, web_sign_in
from tests.fakes.aggregator import FakeAggregator
from tests.fakes.clock import SimulatedClock

SMS_LEARNER = "+2348030000001"  # Nigeria, through Twilio
WEB_LEARNER = "+2348030000002"
USSD_LEARNER = "+254712345678"  # Kenya, through Africa's Talking's USSD
AT_TOKEN = "inbox-ussd-token-0123456789"
AT_KEY = "inbox-at-api-key"
TUTOR_PASSWORD = "tutor pass phrase 42"
OTHER_PASSWORD = "other tutor phrase 43"
ADMIN_PASSWORD = "admin pass phrase 41"
START = 4_102_444_800.0 + 9 * 3600  # 2100-01-01 09:00 UTC, a Friday


def inbox_carriers(twilio_url: str, at_url: str, *, segments: int = 2) -> str:
    """The test carriers (Twilio in Nigeria, console) and Africa's Talking in Kenya for
    USSD, which sends SMS too; Twilio priced per segment."""
    twilio = carriers_toml(twilio_url).replace(
        "tps = 200\n", f'tps = 200\nprice_per_segment = 0.02\ncurrency = "USD"\n'
                       f"max_segments = {segments}\n")
    return twilio + f"""
[carriers.at]
adapter = "africastalking"
country = "KE"
locale = "en"
sender = "12345"
webhook_token = "{AT_TOKEN}"
username = "learnline"
api_key = "{AT_KEY}"
api_base_url = "{at_url}"
price_per_segment = 0.8
currency = "KES"
"""


@pytest.fixture
def aggregator():
    with FakeAggregator(AT_KEY) as api:
        yield api


@pytest.fixture
def carriers_file(tmp_path: Path, twilio_api, aggregator, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    path = tmp_path / "carriers.toml"
    path.write_text(inbox_carriers(twilio_api.url, aggregator.url))
    return path


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def app(db_path, carriers_file, clock):
    return create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                       "SECRET_KEY": "inbox-tests-secret-0123456789", "CLOCK": clock,
                       "TESTING": True})


@pytest.fixture
def store(db_path, clock, app):
    with Store.open(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def people(store):
    staff.add_account(store, "amina", "Amina Diallo", "admin", ADMIN_PASSWORD)
    staff.add_account(store, "tunde", "Tunde Bello", "tutor", TUTOR_PASSWORD)
    staff.add_account(store, "wanjiru", "Wanjiru Kamau", "tutor", OTHER_PASSWORD)


def signed_in(app, username: str, password: str):
    client = app.test_client()
    answer = client.post("/admin/signin", data={
        "csrf": csrf(client, "/admin/signin"), "username": username, "password": password})
    assert answer.status_code == 303, answer.text
    return client


def ussd(client, session: str, text: str) -> str:
    answer = client.post(f"/carriers/at/ussd?token={AT_TOKEN}", data={
        "sessionId": session, "phoneNumber": USSD_LEARNER, "serviceCode": "*384*12#",
        "text": text, "networkCode": "63902"})
    assert answer.status_code == 200, answer.text
    return answer.text


def ask_everywhere(app, store) -> None:
    """A question by SMS (Twilio's webhook) from the course's first card, one by USSD
    (Africa's Talking's webhook) from the first card too, one on the web."""
    client = app.test_client()
    twilio = TwilioWebhooks(client)
    for text in ("START", "ASK How much should I charge for a dress?"):
        assert twilio.sms(SMS_LEARNER, text).status_code == 200
    ussd(client, "s1", "")
    ussd(client, "s1", "1")  # the course's first card
    ussd(client, "s1", "1*00")
    ussd(client, "s1", "1*00*6")
    ussd(client, "s1", "1*00*6*Is a deposit fair")  # the question so far: 1 sends it
    assert "reached the tutors" in ussd(client, "s1", "1*00*6*Is a deposit fair*1")
    web = app.test_client()
    web_sign_in(web, store, WEB_LEARNER)
    answer = web.post("/ask", data={"csrf": csrf(web, "/ask"),
                                    "question": "Where do I find clients?"})
    assert answer.status_code == 200


def ids(store) -> dict[str, int]:
    return {q.channel: q.id for q in questions.open_questions(store)}


def form_csrf(client, path: str) -> str:
    """The session's CSRF token, from the page at `path` when it has a form, else from
    the account page (every form of a session carries the same token)."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text) or re.search(
        r'name="csrf" value="([^"]+)"', client.get("/admin/account").text)
    return found.group(1)


def test_questions_by_sms_ussd_and_web_reach_the_inbox_with_their_context(app, store,
                                                                         people, clock):
    ask_everywhere(app, store)
    clock.now += 3 * 3600
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    page = tutor.get("/admin/inbox")
    assert page.status_code == 200
    text = page.text
    assert "3 open questions, oldest first" in text
    # Oldest first, each with how it came, the masked number, language and lesson.
    order = [text.index(q) for q in ("How much should I charge for a dress?",
                                     "Is a deposit fair", "Where do I find clients?")]
    assert order == sorted(order)
    assert "3 h ago by SMS; +23480******01, English (en); Find a skill people pay for" \
        in text
    assert "ago by USSD; +25471*****78, English (en); Find a skill people pay for" in text
    assert "ago by web; +23480******02, English (en)" in text
    assert SMS_LEARNER not in text and USSD_LEARNER not in text

    asked = ids(store)
    sms_page = tutor.get(f"/admin/inbox/{asked['sms']}").text
    card = store.lesson("start-freelancing", "find-your-skill", "en").cards[0].text
    assert "Lesson: Find a skill people pay for, card 1." in sms_page
    assert card.split("\n")[0][:40] in sms_page.replace("&#39;", "'")
    assert "Course: Start freelancing." in sms_page
    assert "Asked 2100-01-01 09:00 UTC (3 h ago) by SMS through twilio" in sms_page
    ussd_page = tutor.get(f"/admin/inbox/{asked['ussd']}").text
    assert "by USSD through at" in ussd_page and "card 1." in ussd_page


def test_the_learners_last_quiz_answers_and_earlier_questions_show(app, store, people,
                                                                  clock):
    twilio = TwilioWebhooks(app.test_client())
    for text in ("START", "ASK first question?"):
        twilio.sms(SMS_LEARNER, text)
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    first = ids(store)["sms"]
    send = tutor.post(f"/admin/inbox/{first}/answer", data={
        "csrf": form_csrf(tutor, f"/admin/inbox/{first}"), "answer": "Ask clients.",
        "send": "yes"})
    assert send.status_code == 303
    with store.write():
        store.record_answer(SMS_LEARNER, "start-freelancing", "find-your-skill", 1, 2,
                            False, True)
    clock.now += 60
    twilio.sms(SMS_LEARNER, "ASK second question?")
    second = ids(store)["sms"]
    page = tutor.get(f"/admin/inbox/{second}").text
    assert "find-your-skill question 2: C, wrong" in page
    assert "<bdi>first question?</bdi><br>Answer: <bdi>Ask clients.</bdi>" in page


def test_a_question_cannot_turn_the_inbox_text_around_it(app, store, people):
    """A right-to-left override in a learner's question (or any text of theirs) stays
    inside that text on the tutors' pages: isolated, it cannot reverse the lines after it."""
    TwilioWebhooks(app.test_client()).sms(SMS_LEARNER, "ASK \u202eevil question")
    asked = ids(store)["sms"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    inbox = tutor.get("/admin/inbox").text
    assert re.search(r"<bdi>\u202eevil question</bdi></a>", inbox), inbox
    page = tutor.get(f"/admin/inbox/{asked}").text
    assert '<blockquote dir="auto">\u202eevil question</blockquote>' in page


def test_a_tutor_answers_after_seeing_the_cost_and_the_learner_gets_it_by_sms(
        app, store, people):
    ask_everywhere(app, store)
    asked = ids(store)
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    path = f"/admin/inbox/{asked['sms']}"
    preview = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": "  About 5,000 naira.  "})
    assert preview.status_code == 200
    assert "Your tutor answers: About 5,000 naira." in preview.text
    assert "1 SMS segment through twilio: 0.02 USD." in preview.text
    assert questions.get(store, asked["sms"]).status == "open"  # nothing sent yet
    before = len(store.outbox(SMS_LEARNER))
    assert re.search(r'name="answer" value="About 5,000 naira."', preview.text)
    sent = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                              "answer": "About 5,000 naira.", "send": "yes"})
    assert sent.status_code == 303
    assert "Answer sent." in tutor.get(sent.location).text
    [queued] = store.outbox(SMS_LEARNER)[before:]
    assert (queued.carrier_id, queued.body) == ("twilio", "Your tutor answers: About 5,000 "
                                                          "naira.")
    done = questions.get(store, asked["sms"])
    tunde = accounts.find(store, "tunde")
    assert (done.status, done.answer, done.answered_by) == ("answered", "About 5,000 naira.",
                                                           tunde.id)
    assert "About 5,000 naira." not in tutor.get("/admin/inbox").text
    assert ("tunde", "answered", f"question {asked['sms']}") in [
        (row.actor, row.action, row.subject) for row in accounts.audit_rows(store)]


def test_a_ussd_question_is_answered_by_sms_on_its_carrier(app, store, people):
    ask_everywhere(app, store)
    question_id = ids(store)["ussd"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    path = f"/admin/inbox/{question_id}"
    preview = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": "Yes, half up front."})
    assert "1 SMS segment through at: 0.80 KES." in preview.text
    tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                       "answer": "Yes, half up front.", "send": "yes"})
    [queued] = [m for m in store.outbox(USSD_LEARNER) if "tutor" in m.body]
    assert (queued.carrier_id, queued.body) == ("at", "Your tutor answers: Yes, half up "
                                                      "front.")


def test_a_web_question_is_answered_through_the_learners_carrier_and_on_their_page(
        app, store, people):
    ask_everywhere(app, store)
    question_id = ids(store)["web"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    path = f"/admin/inbox/{question_id}"
    tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                       "answer": "Ask at the market.", "send": "yes"})
    assert store.outbox(WEB_LEARNER)[-1].body == "Your tutor answers: Ask at the market."
    web = app.test_client()
    web_sign_in(web, store, WEB_LEARNER)
    page = web.get("/ask").text
    assert "Where do I find clients?" in page
    assert "answered on" in page and "Ask at the market." in page


def test_a_too_long_answer_is_refused_saying_how_much_shorter(app, store, people):
    ask_everywhere(app, store)
    question_id = ids(store)["sms"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    path = f"/admin/inbox/{question_id}"
    # Twilio here sends at most 2 segments of GSM-7: 306 characters, "Your tutor
    # answers: " (20) included.
    long = "x" * 290
    preview = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": long})
    assert preview.status_code == 422
    assert "does not fit in one message: make it 4 characters shorter." in preview.text
    assert 'value="yes"' not in preview.text  # no Send button
    before = len(store.outbox())
    sent = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                              "answer": long, "send": "yes"})
    assert sent.status_code == 422
    assert "make it 4 characters shorter" in sent.text
    assert len(store.outbox()) == before
    assert questions.get(store, question_id).status == "open"
    fits = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                              "answer": long[:286], "send": "yes"})
    assert fits.status_code == 303
    assert len(store.outbox()) == before + 1


def test_two_tutors_answering_at_once_send_one_answer(app, store, people):
    ask_everywhere(app, store)
    question_id = ids(store)["sms"]
    path = f"/admin/inbox/{question_id}"
    tunde = signed_in(app, "tunde", TUTOR_PASSWORD)
    wanjiru = signed_in(app, "wanjiru", OTHER_PASSWORD)
    forms = {who: form_csrf(client, path) for who, client in
             (("tunde", tunde), ("wanjiru", wanjiru))}  # both have the page open
    before = len(store.outbox(SMS_LEARNER))
    first = tunde.post(path + "/answer", data={"csrf": forms["tunde"], "answer": "Yes.",
                                               "send": "yes"})
    second = wanjiru.post(path + "/answer", data={"csrf": forms["wanjiru"],
                                                  "answer": "No.", "send": "yes"})
    assert first.status_code == 303
    assert second.status_code == 409
    assert "already answered by Tunde Bello: nothing was sent." in second.text
    assert [m.body for m in store.outbox(SMS_LEARNER)[before:]] == [
        "Your tutor answers: Yes."]
    assert questions.get(store, question_id).answer == "Yes."


def test_claim_reassign_and_close_are_recorded_and_a_held_question_is_its_holders(
        app, store, people):
    ask_everywhere(app, store)
    asked = ids(store)
    tunde = signed_in(app, "tunde", TUTOR_PASSWORD)
    wanjiru = signed_in(app, "wanjiru", OTHER_PASSWORD)
    admin = signed_in(app, "amina", ADMIN_PASSWORD)
    path = f"/admin/inbox/{asked['sms']}"
    assert tunde.post(path + "/claim", data={"csrf": form_csrf(tunde, path)}
                      ).status_code == 303
    assert "held by Tunde Bello" in wanjiru.get("/admin/inbox").text
    held = wanjiru.get(path).text
    assert "held by Tunde Bello (tunde)" in held
    assert "Tunde Bello holds this question: they or an administrator answer" in held
    assert 'name="answer"' not in held and 'name="answer"' in admin.get(path).text
    for action, data in (("claim", {}), ("close", {}), ("reassign", {"to": "wanjiru"}),
                         ("answer", {"answer": "mine now", "send": "yes"})):
        refused = wanjiru.post(f"{path}/{action}", data={
            "csrf": form_csrf(wanjiru, "/admin/account"), **data})
        assert refused.status_code == 409, action
        assert "Tunde Bello" in refused.text and "holds question" in refused.text
    assert questions.get(store, asked["sms"]).claimed_by == accounts.find(store, "tunde").id
    # The holder gives it to another tutor, who closes it; an administrator may act on
    # any question.
    assert tunde.post(path + "/reassign", data={"csrf": form_csrf(tunde, path),
                                                "to": "wanjiru"}).status_code == 303
    assert tunde.post(path + "/reassign", data={"csrf": form_csrf(tunde, path),
                                                "to": "wanjiru"}).status_code == 409
    assert wanjiru.post(path + "/reassign", data={"csrf": form_csrf(wanjiru, path),
                                                  "to": "nobody-here"}).status_code == 422
    assert wanjiru.post(path + "/close", data={"csrf": form_csrf(wanjiru, path)}
                        ).status_code == 303
    closed = questions.get(store, asked["sms"])
    assert (closed.status, closed.closed_by) == ("closed", accounts.find(store, "wanjiru").id)
    other = f"/admin/inbox/{asked['ussd']}"
    wanjiru.post(other + "/claim", data={"csrf": form_csrf(wanjiru, other)})
    assert admin.post(other + "/close", data={"csrf": form_csrf(admin, other)}
                      ).status_code == 303
    assert "Closed without an answer" in admin.get(other).text
    record = [(row.actor, row.action, row.subject) for row in accounts.audit_rows(store)]
    for line in (("tunde", "claimed", f"question {asked['sms']}"),
                 ("tunde", "reassigned", f"question {asked['sms']} to wanjiru"),
                 ("wanjiru", "closed", f"question {asked['sms']}"),
                 ("amina", "closed", f"question {asked['ussd']}")):
        assert line in record, line
    audit_page = admin.get("/admin/audit").text
    assert f"question {asked['sms']} to wanjiru" in audit_page
    # Closing sends nothing.
    assert not [m for m in store.outbox(SMS_LEARNER) if "tutor answers" in m.body]


def test_saved_replies_are_added_inserted_edited_and_deleted(app, store, people):
    ask_everywhere(app, store)
    question_id = ids(store)["sms"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    added = tutor.post("/admin/replies", data={
        "csrf": form_csrf(tutor, "/admin/replies"), "lesson": "start-freelancing/"
        "find-your-skill", "title": "Pricing", "text": "Count your hours and materials."})
    assert added.status_code == 303
    assert tutor.post("/admin/replies", data={
        "csrf": form_csrf(tutor, "/admin/replies"), "lesson": "nowhere/none",
        "title": "x", "text": "y"}).status_code == 422
    [reply] = saved_replies.every(store)
    path = f"/admin/inbox/{question_id}"
    page = tutor.get(path).text
    assert f'name="insert" value="{reply.id}">Pricing</button>' in page
    inserted = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                  "answer": "Hello!", "insert": reply.id})
    assert inserted.status_code == 200
    assert ">Hello!\nCount your hours and materials.</textarea>" in inserted.text
    changed = tutor.post(f"/admin/replies/{reply.id}", data={
        "csrf": form_csrf(tutor, "/admin/replies"), "title": "Pricing a dress",
        "text": "Add your hours to the cloth."})
    assert changed.status_code == 303
    assert saved_replies.get(store, reply.id).text == "Add your hours to the cloth."
    assert "Pricing a dress" in tutor.get(path).text
    assert tutor.post(f"/admin/replies/{reply.id}/delete", data={
        "csrf": form_csrf(tutor, "/admin/replies")}).status_code == 303
    assert saved_replies.every(store) == []
    assert "Pricing a dress" not in tutor.get(path).text
    record = [row.action for row in accounts.audit_rows(store)]
    assert {"saved reply added", "saved reply changed", "saved reply deleted"} <= set(record)


def test_a_tutor_lands_on_the_inbox_and_a_question_that_is_not_there_is_404(app, people):
    client = app.test_client()
    answer = client.post("/admin/signin", data={
        "csrf": csrf(client, "/admin/signin"), "username": "tunde",
        "password": TUTOR_PASSWORD})
    assert answer.location.endswith("/admin/inbox")
    assert "No question waits for a tutor." in client.get("/admin/inbox").text
    assert client.get("/admin/inbox/999").status_code == 404
    assert client.post("/admin/inbox/999/claim", data={
        "csrf": csrf(client, "/admin/account")}).status_code == 404


def test_the_answer_goes_in_the_learners_language(app, store, people):
    twilio = TwilioWebhooks(app.test_client())
    for text in ("START", "LANGUAGE fr", "ASK combien?"):
        twilio.sms(SMS_LEARNER, text)
    question_id = ids(store)["sms"]
    with store.write():
        sent = tutoring.answer_question(store, app.extensions["learnline.carriers"],
                                        question_id, accounts.find(store, "tunde"),
                                        "5 000 nairas.")
    assert sent.text == "Votre tuteur répond : 5 000 nairas."
    assert store.outbox(SMS_LEARNER)[-1].body == sent.text


def test_a_learner_who_sent_stop_gets_no_answer_by_message(app, store, people):
    ask_everywhere(app, store)
    asked = ids(store)
    twilio = TwilioWebhooks(app.test_client())
    for phone in (SMS_LEARNER, WEB_LEARNER):
        twilio.sms(phone, "STOP")
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    before = len(store.outbox())
    path = f"/admin/inbox/{asked['sms']}"
    # Checking the cost says so at once, and offers no Send.
    previewed = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                   "answer": "Yes."})
    assert previewed.status_code == 409
    assert "This learner sent STOP: no message reaches them." in previewed.text
    assert 'name="send"' not in previewed.text
    refused = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": "Yes.", "send": "yes"})
    assert refused.status_code == 409
    assert "This learner sent STOP: no message reaches them." in refused.text
    assert questions.get(store, asked["sms"]).status == "open"
    path = f"/admin/inbox/{asked['web']}"  # asked on the web: shown there only
    preview = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": "Yes."})
    assert "the answer shows on their web page (Ask a tutor) only" in preview.text
    assert tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                              "answer": "Yes.", "send": "yes"}
                      ).status_code == 303
    assert len(store.outbox()) == before


def test_two_answers_sent_at_the_same_moment_leave_one_message(app, store, people, db_path):
    """Two tutors' sends racing in two threads, each on its own connection: one is
    queued, the other refused, whichever wins."""
    import threading

    ask_everywhere(app, store)
    question_id = ids(store)["sms"]
    carriers = app.extensions["learnline.carriers"]
    before = len(store.outbox(SMS_LEARNER))
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def send(username: str) -> None:
        with Store.open(db_path) as own:
            actor = accounts.find(own, username)
            start.wait()
            try:
                tutoring.answer_question(own, carriers, question_id, actor, f"From {username}.")
                outcomes[username] = "sent"
            except tutoring.TutoringError as refused:
                outcomes[username] = str(refused)

    threads = [threading.Thread(target=send, args=(name,)) for name in ("tunde", "wanjiru")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert list(outcomes.values()).count("sent") == 1
    refused = next(text for text in outcomes.values() if text != "sent")
    assert "already answered by" in refused and "nothing was sent" in refused
    [answer] = store.outbox(SMS_LEARNER)[before:]
    winner = next(name for name, outcome in outcomes.items() if outcome == "sent")
    assert answer.body == f"Your tutor answers: From {winner}."


def test_the_fit_check_counts_the_whole_text_in_the_learners_language(app, store, people):
    """An Arabic learner's answer starts with Arabic words, so the whole SMS is UCS-2:
    two segments hold 134 characters, the 12 of "يجيب معلمك: " included, whatever the
    tutor writes in."""
    twilio = TwilioWebhooks(app.test_client())
    for text in ("START", "LANGUAGE ar", "ASK kiasi gani?"):
        twilio.sms(SMS_LEARNER, text)
    assert store.learner(SMS_LEARNER).locale == "ar"
    question_id = ids(store)["sms"]
    carriers = app.extensions["learnline.carriers"]
    asked = questions.get(store, question_id)
    assert tutoring.preview(store, carriers, asked, "x" * 122).fits
    too_long = tutoring.preview(store, carriers, asked, "x" * 123)
    assert too_long.over_by == 1 and too_long.text.startswith("يجيب معلمك: ")
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    path = f"/admin/inbox/{question_id}"
    refused = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                                 "answer": "x" * 123, "send": "yes"})
    assert "make it 1 character shorter" in refused.text
    sent = tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                              "answer": "x" * 122})
    assert "2 SMS segments through twilio: 0.04 USD." in sent.text


def test_an_answer_is_logged_without_its_text_and_a_long_inbox_says_how_many_wait(
        app, store, people, caplog, monkeypatch):
    import logging

    from gateway.ops import inbox

    ask_everywhere(app, store)
    question_id = ids(store)["sms"]
    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    monkeypatch.setattr(inbox, "INBOX_ROWS", 2)
    listed = tutor.get("/admin/inbox").text
    assert "3 open questions, oldest first (the first 2 here)." in listed
    assert "Where do I find clients?" not in listed
    path = f"/admin/inbox/{question_id}"
    with caplog.at_level(logging.INFO, logger="gateway.ops.tutoring"):
        tutor.post(path + "/answer", data={"csrf": form_csrf(tutor, path),
                                           "answer": "Secret advice.", "send": "yes"})
    assert f"question {question_id} answered by tunde, through twilio" in caplog.text
    assert "Secret advice" not in caplog.text and "charge for a dress" not in caplog.text


def test_the_phone_simulators_pretend_learners_questions_stay_out_of_the_inbox(
        app, store, people):
    """An author trying ASK in the phone simulator: no carrier reaches that learner, so
    tutors are not asked to answer."""
    questions.add(store, "+99900000001", "sms", "simulator", "Is this the real thing?")
    ask_everywhere(app, store)
    page = signed_in(app, "tunde", TUTOR_PASSWORD).get("/admin/inbox").text
    assert "Is this the real thing?" not in page
    assert "Where do I find clients?" in page
    assert questions.open_count(store) == 3


def test_a_tutors_pages_link_only_where_a_tutor_may_go(app, store, people):
    """The header's first link is the inbox for a tutor (the dashboard would refuse
    them), the dashboard for an administrator."""
    tutor_page = signed_in(app, "tunde", TUTOR_PASSWORD).get("/admin/inbox").text
    assert 'href="/admin"' not in tutor_page and 'href="/admin/audit"' not in tutor_page
    assert "<b>Learnline</b> inbox" in tutor_page
    admin_page = signed_in(app, "amina", ADMIN_PASSWORD).get("/admin/inbox").text
    assert 'href="/admin"' in admin_page and 'href="/admin/inbox"' in admin_page


def test_a_missing_staff_page_is_compressed_once(app, store, people):
    """The 404 page under /admin, signed in, reads as HTML once its one encoding is undone."""
    import gzip

    tutor = signed_in(app, "tunde", TUTOR_PASSWORD)
    missing = tutor.get("/admin/inbox/99999", headers={"Accept-Encoding": "gzip"})
    assert missing.status_code == 404
    assert missing.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(missing.data).lstrip().startswith(b"<!DOCTYPE html>")
