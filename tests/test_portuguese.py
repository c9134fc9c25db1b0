"""A learner in Mozambique: the whole bundled course in Portuguese by SMS, Portuguese
replies, menus and command words by SMS and USSD."""

from __future__ import annotations

import pytest

from gateway.channels.ussd.screens import gsm
from gateway.config import Carrier
from gateway.content.model import SMS
from gateway.i18n import translations
from gateway.ratelimit import InboundLimits, SlidingWindows
from gateway.sms_text import DEFAULT_POLICY, encoding_for, normalize, septets
from gateway.store import Store
from tests.conftest import TwilioWebhooks
from tests.courses import take_course_by_sms
from tests.test_swahili import Clock
from tests.test_ussd import Phone

MOZAMBIQUE = "+258841234567"  # Vodacom Moçambique
COURSE = "start-freelancing"
GSM_TITLE = "Trabalhar por conta propria"  # USSD and SMS fold accents GSM-7 lacks


def sent(text: str) -> str:
    """`text` as the carriers' default encoding policy sends Portuguese: as GSM-7."""
    return normalize(text, DEFAULT_POLICY)


def texted(twilio: TwilioWebhooks, store: Store, body: str, phone: str = MOZAMBIQUE) -> str:
    """One inbound SMS through the Twilio webhook; the replies it queued, joined."""
    before = len(store.outbox(phone))
    assert twilio.sms(phone, body).status_code == 200
    return "\n".join(m.body for m in store.outbox(phone)[before:])


def test_a_mozambican_learns_by_sms_in_portuguese(twilio: TwilioWebhooks, store: Store):
    # The carrier is Nigerian (country NG, no locale): the number's country decides.
    welcome = texted(twilio, store, "INICIAR")
    learner = store.learner(MOZAMBIQUE)
    assert (learner.locale, learner.current_course) == ("pt", COURSE)

    course = store.course(COURSE)
    assert "pt" in course.locales
    # SMS sends the lesson's SMS edition: three short cards of its five.
    first = store.lesson(COURSE, "find-your-skill", "pt").edition(SMS)
    assert welcome.startswith(f"Bem-vindo a {GSM_TITLE}: 6 licoes.\n"
                              f"Licao 1/6: {sent(first.title)}\n")
    assert sent(first.cards[0].text) in " ".join(welcome.split())
    assert welcome.endswith("[1/3] Responda SEGUINTE")

    second = texted(twilio, store, "SEGUINTE")
    assert sent(first.cards[2].text) in " ".join(second.split())  # card 2 is for the web only
    assert second.endswith("[2/3] Responda SEGUINTE")

    status = texted(twilio, store, "ESTADO")
    assert status == (f"{GSM_TITLE}: 0/6 licoes feitas. "
                      f"Agora: {sent(first.title)}, ficha 2/3. Responda SEGUINTE")

    help_text = texted(twilio, store, "AJUDA")
    assert help_text == ("Learnline: SEGUINTE continuar, ESTADO progresso, CURSOS cursos, "
                         "LINGUA lingua, PARAR parar. PERGUNTA e uma pergunta: um tutor "
                         "responde.")

    assert texted(twilio, store, "olá") == (  # GSM-7 as written
        "Responda SEGUINTE para continuar, ESTADO para o progresso, AJUDA para ajuda.")

    # English command words always work too, and the replies stay Portuguese.
    assert texted(twilio, store, "STATUS") == status

    # The last card of the SMS edition brings the quiz's first question with it.
    third = texted(twilio, store, "Próximo")
    assert sent(first.cards[4].text) in " ".join(third.split())
    assert f"[3/3]\nP1/3: {sent(first.questions[0].text)}\nA) " in third
    assert third.endswith("\nResponda A-C")
    assert texted(twilio, store, "NEXT").startswith(
        "Responda primeiro a esta pergunta:\nP1/3: ")


def test_a_mozambican_takes_the_whole_course_in_portuguese(twilio: TwilioWebhooks,
                                                           store: Store):
    twilio.client.application.extensions["learnline.inbound_limits"] = InboundLimits(
        SlidingWindows(clock=Clock()))
    first = texted(twilio, store, "INICIAR")
    take_course_by_sms(lambda body: texted(twilio, store, body), store, COURSE, "pt", first,
                       "SEGUINTE", lambda _, right: "ABCD"[right], sent)
    assert store.enrollment(MOZAMBIQUE, COURSE).completed
    assert texted(twilio, store, "ESTADO").startswith(f"{GSM_TITLE}: 6/6 licoes feitas")


def test_a_mozambican_can_switch_to_english_and_back(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, "COMECAR")
    assert texted(twilio, store, "LINGUA en") == "Language: English."
    assert store.learner(MOZAMBIQUE).locale == "en"
    assert texted(twilio, store, "IDIOMA pt") == "Lingua: Portugues."
    assert store.learner(MOZAMBIQUE).locale == "pt"


def test_stop_in_portuguese_is_confirmed_in_portuguese(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, "INICIAR")
    assert texted(twilio, store, "PARAR") == (
        "Nao vai receber mais mensagens. Responda INICIAR para voltar.")
    assert store.learner(MOZAMBIQUE).stopped
    assert texted(twilio, store, "SEGUINTE") == ""  # silence until the learner comes back


@pytest.mark.parametrize("limit", [182, 160])
def test_a_ussd_session_in_portuguese_fits_the_screen(store: Store, limit: int):
    # Phone checks every screen: within the limit, in GSM-7.
    carrier = Carrier.of(id="at", adapter="africastalking", country="MZ",
                              ussd_max_chars=limit)
    phone = Phone(store, "+258851234567", carrier)
    menu = phone.dial().text
    assert menu.splitlines() == ["Learnline", f"1. Comecar: {GSM_TITLE}", "2. Cursos",
                                 "3. O meu progresso", "4. Lingua", "5. Ajuda",
                                 "6. Perguntar a um tutor", "0. Sair"]
    card = phone.press("1").text
    first = store.lesson(COURSE, "find-your-skill", "pt")
    assert card.startswith(f"Licao 1/6, ficha 1/3\n{gsm(first.title)}\n")
    assert "1. Seguinte" in card and "0 Voltar 00 Menu" in card
    menu = phone.press("00").text
    assert f"1. Continuar: {GSM_TITLE}, licao 1, ficha 1/3" in menu
    assert phone.press("3").text.startswith(f"{GSM_TITLE}: 0/6 licoes feitas.")
    phone.press("00")
    assert phone.press("5").text.startswith("Escolha um numero e envie.")
    phone.press("00")
    languages = phone.press("4").text
    assert "Portugues" in languages and "English" in languages
    assert all(septets(s) <= limit and encoding_for(s) == "GSM-7" for s in phone.screens)


def test_portuguese_plurals_follow_babels_rules():
    # Babel's rule for pt: 0 and 1 take the singular form.
    t = translations("pt")
    assert t.ngettext("%(num)d lesson", "%(num)d lessons", 1) % {"num": 1} == "1 lição"
    assert t.ngettext("%(num)d lesson", "%(num)d lessons", 2) % {"num": 2} == "2 lições"
    wrong = ("Wrong code: %(num)d try left.", "Wrong code: %(num)d tries left.")
    assert t.ngettext(*wrong, 1) % {"num": 1} == "Código errado: resta 1 tentativa."
    assert t.ngettext(*wrong, 4) % {"num": 4} == "Código errado: restam 4 tentativas."
