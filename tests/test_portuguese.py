"""A learner in Mozambique: Portuguese replies, menus and command words by SMS and USSD.

The bundled course has no Portuguese text yet, so its lessons are taught in the course's
default language (Course.locale_for) inside Portuguese wording.
"""

from __future__ import annotations

import pytest

from carrier_adapters import CarrierSettings
from gateway.i18n import translations
from gateway.sms_text import encoding_for, septets
from gateway.store import Store
from tests.conftest import TwilioWebhooks
from tests.test_ussd import Phone

MOZAMBIQUE = "+258841234567"  # Vodacom Moçambique
COURSE = "start-freelancing"


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
    assert "pt" not in course.locales
    assert course.locale_for("pt") == course.default_locale == "en"
    first_card = store.lesson(COURSE, "find-your-skill", "en").cards[0].text
    # Portuguese around the lesson, the lesson itself in the course's default language.
    assert welcome.startswith("Bem-vindo a Start freelancing: 6 lições.\n"
                              "Lição 1/6: Find a skill people pay for\n")
    assert first_card in " ".join(welcome.split())
    assert welcome.endswith("[1/5] Responda SEGUINTE")

    second = texted(twilio, store, "SEGUINTE")
    second_card = store.lesson(COURSE, "find-your-skill", "en").cards[1].text
    assert second_card in " ".join(second.split())
    assert second.endswith("[2/5] Responda SEGUINTE")

    assert texted(twilio, store, "Próximo").endswith("[3/5] Responda SEGUINTE")

    status = texted(twilio, store, "ESTADO")
    assert status == ("Start freelancing: 0/6 lições feitas. "
                      "Agora: Find a skill people pay for, ficha 3/5. Responda SEGUINTE")

    help_text = texted(twilio, store, "AJUDA")
    assert help_text == ("Learnline: SEGUINTE continuar, ESTADO progresso, CURSOS cursos, "
                         "LINGUA língua, PARAR parar.")

    assert texted(twilio, store, "olá") == (
        "Responda SEGUINTE para continuar, ESTADO para o progresso, AJUDA para ajuda.")

    # English command words always work too, and the replies stay Portuguese.
    assert texted(twilio, store, "STATUS") == status
    assert texted(twilio, store, "NEXT").endswith("[4/5] Responda SEGUINTE")


def test_a_mozambican_can_switch_to_english_and_back(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, "COMECAR")
    assert texted(twilio, store, "LINGUA en") == "Language: English."
    assert store.learner(MOZAMBIQUE).locale == "en"
    assert texted(twilio, store, "IDIOMA pt") == "Língua: Português."
    assert store.learner(MOZAMBIQUE).locale == "pt"


def test_stop_in_portuguese_is_confirmed_in_portuguese(twilio: TwilioWebhooks, store: Store):
    texted(twilio, store, "INICIAR")
    assert texted(twilio, store, "PARAR") == (
        "Não vai receber mais mensagens. Responda INICIAR para voltar.")
    assert store.learner(MOZAMBIQUE).stopped
    assert texted(twilio, store, "SEGUINTE") == ""  # silence until the learner comes back


@pytest.mark.parametrize("limit", [182, 160])
def test_a_ussd_session_in_portuguese_fits_the_screen(store: Store, limit: int):
    # Phone checks every screen: within the limit, in GSM-7.
    carrier = CarrierSettings(id="at", adapter="africastalking", country="MZ",
                              ussd_max_chars=limit)
    phone = Phone(store, "+258851234567", carrier)
    menu = phone.dial().text
    assert menu.splitlines() == ["Learnline", "1. Comecar: Start freelancing", "2. Cursos",
                                 "3. O meu progresso", "4. Lingua", "5. Ajuda", "0. Sair"]
    card = phone.press("1").text
    assert card.startswith("Licao 1/6, ficha 1/5\nFind a skill people pay for\n")
    assert "1. Seguinte" in card and "0 Voltar 00 Menu" in card
    menu = phone.press("00").text
    assert "1. Continuar: Start freelancing, licao 1, ficha 1/5" in menu
    assert phone.press("3").text.startswith("Start freelancing: 0/6 licoes feitas.")
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
