"""Web sign-in under attack: SMS pumping to premium and satellite ranges, limits that
hold under concurrent guesses, and a real learner who still signs in meanwhile."""

from __future__ import annotations

import html
import http.client
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.pumping import attack_numbers, replay
from gateway import create_app
from gateway.store import LearnerRecord, Store
from tests.conftest import csrf
from tests.served import serve_gateway

LEARNER = "+2348030000000"


@pytest.fixture
def web(db_path, carriers_file):
    app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                      "SECRET_KEY": "test-secret-key-0123456789"})
    return app.test_client()


def codes(store) -> list[str]:
    return [m.phone for m in store.outbox() if "code is" in m.body]


@pytest.mark.parametrize("phone", [
    "+449091234567",  # UK premium rate
    "+19001234567",  # North American premium rate
    "+448712345678",  # UK shared cost
    "+448001234567",  # UK toll free
    "+97912345678",  # international premium rate
    "+881612345678",  # satellite (a mobile type, but no country)
    "+221800123456",  # Senegal is served, but this is no mobile or fixed line
])
def test_no_code_goes_to_premium_satellite_or_unserved_numbers(web, store, phone):
    response = web.post("/signin", data={"csrf": csrf(web), "phone": phone})
    assert response.status_code == 400
    assert "not a phone number we can reach" in response.data.decode()
    assert codes(store) == []
    assert store.db.execute("SELECT count(*) FROM rate_events").fetchone()[0] == 0


@pytest.mark.parametrize("phone, lang, said", [
    # Kenya and Armenia: mobile numbers, of countries no carrier here serves (the test
    # carriers serve Nigeria and Senegal). The page names the countries that are served.
    ("+254 712 345 678", "en",
     "We send codes only to phone numbers of these countries: Nigeria and Senegal."),
    ("+37477123456", "fr", "Nous n'envoyons de codes qu'aux numéros de ces pays"),
])
def test_a_number_of_a_country_no_carrier_serves_is_told_which_are(web, store, phone, lang,
                                                                    said):
    web.post("/lang", data={"csrf": csrf(web), "lang": lang, "next": "/signin"})
    response = web.post("/signin", data={"csrf": csrf(web), "phone": phone})
    assert response.status_code == 400
    text = html.unescape(response.data.decode())
    assert said in text, text
    assert "not a phone number we can reach" not in text
    if lang == "fr":
        assert "Nigeria" in text and "Sénégal" in text
    assert codes(store) == []


@pytest.mark.parametrize("phone", ["+2348030000001", "+221771234567", "0803 000 0002"])
def test_mobile_numbers_of_served_countries_get_their_code(web, store, phone):
    response = web.post("/signin", data={"csrf": csrf(web), "phone": phone})
    assert response.status_code == 302
    assert len(codes(store)) == 1


def test_the_pumping_attack_sends_nothing_and_the_learner_still_signs_in(app, store):
    """500 requests from 120 addresses for premium-rate and satellite numbers."""
    with store.write():
        store.save_learner(LearnerRecord(phone=LEARNER, locale="en", carrier_id="twilio"))
    result = replay(app, store, requests=500, addresses=120)
    assert result["attack_codes_sent"] == 0
    assert result["learner_answer"] == 302 and result["learner_got_code"]


def test_pumping_a_served_countrys_numbers_leaves_learners_their_codes(app, store):
    """Valid Nigerian mobile numbers, each new, from many addresses: past the overall
    limit on new numbers nothing more is sent, and every number gets the same answer (so
    none is told apart as a learner); a learner asking meanwhile gets their code."""
    with store.write():
        store.save_learner(LearnerRecord(phone=LEARNER, locale="en", carrier_id="twilio"))
    client = app.test_client()
    token = csrf(client)
    statuses = set()
    for n in range(1, 521):
        phone = f"+234{(803, 805, 807, 809, 813)[n % 5]}{n * 7919 % 10_000_000:07d}"
        statuses.add(client.post("/signin", data={"csrf": token, "phone": phone},
                                 environ_base={"REMOTE_ADDR": f"198.51.100.{n % 120}"}
                                 ).status_code)
    assert statuses == {302}
    assert len(codes(store)) == 500
    learner = app.test_client()
    answer = learner.post("/signin", data={"csrf": csrf(learner), "phone": LEARNER},
                          environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.status_code == 302 and codes(store)[-1] == LEARNER
    stranger = app.test_client()
    answer = stranger.post("/signin", data={"csrf": csrf(stranger), "phone": "+2348039999999"},
                           environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert answer.status_code == 302 and codes(store)[-1] == LEARNER  # nothing sent


def test_attack_numbers_are_possible_numbers_of_the_pumped_ranges():
    numbers = attack_numbers(500)
    assert len(set(numbers)) == 500
    assert {re.match(r"\+(44909|1900|979|8816|37477)", n).group(1) for n in numbers} == {
        "44909", "1900", "979", "8816", "37477"}


# -- limits that hold under concurrent requests ------------------------------------------------


def _request(base: str, path: str, cookie: str, form: dict[str, str] | None = None
             ) -> tuple[int, str, str]:
    """(status, body, the session cookie as the browser then holds it)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Cookie": cookie})
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=30) as response:
            status, body, headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        status, body, headers = exc.code, exc.read().decode(), exc.headers
    found = re.search(r"learnline=([^;]+)", headers.get("Set-Cookie", ""))
    return status, body, f"learnline={found.group(1)}" if found else cookie


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def threaded_gateway(tmp_path, carriers_file, monkeypatch):
    """A served gateway with a thread for each of 50 concurrent requests."""
    monkeypatch.setenv("LEARNLINE_WEB_THREADS", "25")
    yield from serve_gateway(tmp_path, carriers_file)


def test_fifty_concurrent_wrong_codes_count_at_most_five(threaded_gateway):
    """50 wrong codes posted at once by a served gateway's threads: at most 5 are
    counted (so at most 5 are ever compared), and the right code is then refused."""
    gateway = threaded_gateway
    status, body, cookie = _request(gateway.base, "/signin", "")
    token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    status, _, cookie = _request(gateway.base, "/signin", cookie,
                                 {"csrf": token, "phone": LEARNER})
    assert status == 302
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        code = re.search(r"code is (\d{6})", store.outbox(LEARNER)[-1].body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    start = threading.Barrier(50)

    form = urllib.parse.urlencode({"csrf": token, "code": wrong})

    def guess(_: int) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        connection.connect()
        start.wait()  # every connection open: the posts arrive together
        connection.request("POST", "/signin/code", form, headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        answer = response.status, response.read().decode()
        connection.close()
        return answer

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(guess, range(50)))
    assert {status for status, _ in answers} == {400}
    told_tries_left = [body for _, body in answers if "tries left" in body or "try left" in body]
    assert len(told_tries_left) <= 4
    with Store.open(gateway.env["LEARNLINE_DB"]) as store:
        tries = store.db.execute("SELECT sum(tries) FROM signin_codes").fetchone()[0]
    assert tries <= 5, (tries, len(told_tries_left))
    status, body, _ = _request(gateway.base, "/signin/code", cookie,
                               {"csrf": token, "code": code})
    assert status == 400 and "no longer works" in body


def _without_countries(carriers_file, languages: str = "") -> None:
    text = carriers_file.read_text().replace('country = "NG"\n', languages)
    carriers_file.write_text(text.replace('country = "SN"\n', ""))


@pytest.mark.parametrize("languages", ["", 'languages = { NG = "en", SN = "fr" }\n'])
def test_without_a_carrier_naming_its_country_web_sign_in_sends_no_code(
        db_path, carriers_file, store, caplog, languages):
    """No SMS carrier names a `country` (a `languages` table maps countries to languages,
    it does not say where the carrier delivers): web sign-in sends no code anywhere, says
    so on the page, and start-up warns."""
    _without_countries(carriers_file, languages)
    with caplog.at_level("WARNING"):
        app = create_app({"DATABASE": str(db_path), "CARRIERS_FILE": str(carriers_file),
                          "SECRET_KEY": "test-secret-key-0123456789"})
    assert any("no SMS carrier names its country" in r.getMessage() for r in caplog.records)
    web = app.test_client()
    page = web.get("/signin")
    assert "Sign-in by SMS code is not available here." in page.text
    assert 'name="phone"' not in page.text
    for phone in ("+2348030000001", "+221771234567", "+37477123456"):
        response = web.post("/signin", data={"csrf": csrf(web), "phone": phone})
        assert response.status_code == 503
        assert "Sign-in by SMS code is not available here." in response.text
    assert codes(store) == []
    french = app.test_client().get("/signin", headers={"Accept-Language": "fr"})
    assert "La connexion par code SMS n'est pas disponible ici." in html.unescape(french.text)
    # No page invites to sign in where it cannot be done.
    reader = app.test_client()
    path = "/courses/start-freelancing/find-your-skill/quiz"
    results = reader.post(path, data={"csrf": csrf(reader, path), "q0": "0", "q1": "0",
                                      "q2": "0"})
    assert "of 3 right" in results.text and 'href="/signin"' not in results.text
    for path in ("/", "/progress", "/courses/start-freelancing", "/help"):
        page = reader.get(path).text
        assert 'href="/signin"' not in page and "Sign in with your phone" not in page, path


def test_where_codes_can_be_sent_the_pages_invite_to_sign_in(web):
    path = "/courses/start-freelancing/find-your-skill/quiz"
    results = web.post(path, data={"csrf": csrf(web, path), "q0": "0", "q1": "0", "q2": "0"})
    assert 'href="/signin"' in results.text
    for path in ("/", "/progress"):
        assert 'href="/signin"' in web.get(path).text, path
    assert "Sign in with your phone number to keep your progress." in web.get("/help").text


def test_the_addresses_of_one_ipv6_64_share_one_limit(web, store):
    """Each of a /64's 2^64 addresses is not a new client: past 10 codes an hour from
    the /64, the next is refused, whatever its last 64 bits; another /64 is not."""
    answers = [web.post("/signin", data={"csrf": csrf(web), "phone": f"+2348030{n:06d}"},
                        environ_base={"REMOTE_ADDR": f"2001:db8:5:6::{n + 1:x}"}).status_code
               for n in range(11)]
    assert answers == [302] * 10 + [429]
    assert web.post("/signin", data={"csrf": csrf(web), "phone": "+2348059990000"},
                    environ_base={"REMOTE_ADDR": "2001:db8:5:7::1"}).status_code == 302
