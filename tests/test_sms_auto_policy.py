"""The default SMS text policy, `auto`: Latin-script text goes GSM-7 wherever GSM-7 has a
faithful stand-in for every character, and anything else goes exactly as written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from gateway.channels.sms import receive_inbound
from gateway.channels.sms.cost import lesson_messages
from gateway.cli.main import main
from gateway.config import Carrier, load_carriers
from gateway.content import load_courses
from gateway.ops.announcements import announce
from gateway.outbox.queue import queue_text
from gateway.paths import lessons_dir
from gateway.sms_text import GSM7, UCS2, count, normalize, split_messages
from gateway.store import Store
from tests.test_sms_text import Reference, assert_agrees, reference  # noqa: F401 (fixture)

DEFAULT = Carrier.of(id="console", adapter="console").encoding_policy

FRENCH = ("Leçon 2 : être sûr de son prix, c’est à toi de décider « où » et « quand » — "
          "même à Thiès, garçon ! Noël, naïf, île, cœur.")
FRENCH_SENT = ('Lecon 2 : etre sur de son prix, c\'est à toi de décider " où " et " quand " - '
               "meme à Thiès, garcon ! Noel, naif, ile, coeur.")
PORTUGUESE = ("Você não sabe o preço? Ação: peça à cliente uma informação útil, é o início "
              "das negociações. Três opções: “sim”, “não” ou “talvez”.")
PORTUGUESE_SENT = ("Voce nao sabe o preco? Acao: peca à cliente uma informacao util, é o inicio "
                   'das negociacoes. Tres opcoes: "sim", "nao" ou "talvez".')
SWAHILI = "Somo la 1: “Tafuta ujuzi wako” – bei ni 1\u202f000 KES… Jibu A au B."
SWAHILI_SENT = 'Somo la 1: "Tafuta ujuzi wako" - bei ni 1 000 KES... Jibu A au B.'


def test_the_default_policy_is_auto_for_carriers_and_for_sms_count(tmp_path: Path):
    path = tmp_path / "carriers.toml"
    path.write_text('[carriers.sn]\nadapter = "console"\ncountry = "SN"\n', encoding="utf-8")
    assert load_carriers(path, env={})["sn"].encoding_policy == "auto" == DEFAULT
    result = CliRunner().invoke(main, ["sms", "count", "Leçon 1 : « Être sûr »", "Bravo 👍"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ['GSM-7\t1\tLecon 1 : " Etre sur "',
                                          "UCS-2\t1\tBravo 👍"]
    help_text = CliRunner().invoke(main, ["sms", "count", "--help"]).output
    assert "[default: auto]" in " ".join(help_text.split())


def test_french_goes_gsm7_keeping_the_accents_gsm7_has():
    result = count(FRENCH, DEFAULT)
    assert (result.encoding, result.text) == (GSM7, FRENCH_SENT)
    assert result.segments == 1 < count(FRENCH, "smart").segments == 2
    # Capitals: É and Ç are GSM-7 and stay; À, Ê, Ô are not and lose their accent.
    assert normalize("À BIENTÔT, ÇA VA ? ÉCOLE, ÊTRE", DEFAULT) == "A BIENTOT, ÇA VA ? ÉCOLE, ETRE"
    kept = "é è à ù ì ò Ç É Ä ä Ö ö Ñ ñ Ü ü Å å Ø ø Æ æ ß"
    assert normalize(kept, DEFAULT) == kept
    # Every accent a reader does without: acute, grave, circumflex, tilde, macron, breve,
    # dot above, diaeresis, ring, double acute, caron, cedilla, ogonek; and the ligature.
    assert normalize("á È â ã ā ă ż ë Ů ő č ç ą œ Œ", DEFAULT) == (
        "a E a a a a z e U o c c a oe OE")


def test_portuguese_goes_gsm7_keeping_the_accents_gsm7_has():
    result = count(PORTUGUESE, DEFAULT)
    assert (result.encoding, result.text) == (GSM7, PORTUGUESE_SENT)
    assert result.segments == 1 < count(PORTUGUESE, "smart").segments == 2


def test_swahili_punctuation_and_spaces_become_gsm7():
    assert count(SWAHILI, DEFAULT).text == SWAHILI_SENT
    assert count(SWAHILI, DEFAULT).encoding == GSM7


def test_a_message_with_a_character_without_stand_in_goes_ucs2_as_written():
    for text in (
        "Très bien, leçon finie 👍 « bravo » à demain…",  # an emoji
        "Bonjour, مرحبا : la leçon d’aujourd’hui",  # Arabic inside French
        "أحسنت… الدرس ١ من ٦\u200c",  # Arabic: the ellipsis and ZWNJ stay too
        "Jërëjëf, ŋaka nga def ?",  # Wolof ŋ is a letter of its own, not n with an accent
        "Ẹ ku àárọ̀",  # Yoruba ẹ and ọ are letters of their own
        "Mɔ̀ wɛ́ nyɔ́nu",  # Ewe ɔ and ɛ too, whatever accent they carry
    ):
        result = count(text, DEFAULT)
        assert (result.encoding, result.text) == (UCS2, text)
    # The gsm7 policy, by contrast, folds what it can and leaves the rest.
    assert normalize("Jërëjëf, ŋaka nga def ?", "gsm7") == "Jerejef, naka nga def ?"
    assert normalize("Très bien, leçon finie 👍", "gsm7") == "Très bien, lecon finie 👍"
    assert normalize("Ẹ ku àárọ̀", "gsm7") == "E ku àaro"


def test_a_long_reply_with_an_emoji_is_sent_as_written_in_every_message(store: Store,
                                                                          db_path: Path):
    reply = ("Leçon terminée : 3 sur 3, bravo ! " * 12) + "À demain 👍"
    carrier = Carrier.of(id="console", adapter="console", max_segments=2)
    parts = split_messages(reply, 2, DEFAULT)
    assert len(parts) > 1 and all("Leçon" in part for part in parts[:-1])
    queue_text(store, carrier, "+221770000001", reply)
    with sqlite3.connect(db_path) as db:
        queued = db.execute("SELECT body, segments FROM outbox ORDER BY id").fetchall()
    assert [body for body, _ in queued] == parts
    # Each message is priced as it goes out (UCS-2, two segments), not as if folded to GSM-7.
    assert all(count(body, "exact").encoding == UCS2 for body, _ in queued)
    assert [segments for _, segments in queued] == [count(b, "exact").segments for b in parts]
    assert queued[0][1] == 2


def test_an_announcement_is_priced_as_its_messages_go_out(store: Store, tmp_path: Path):
    path = tmp_path / "carriers.toml"
    path.write_text('[carriers.console]\nadapter = "console"\nmax_segments = 2\n'
                    "price_per_segment = 1\n", encoding="utf-8")
    carriers = load_carriers(path, env={})
    receive_inbound(store, carriers["console"], "m1", "+2348030000000", "START")
    text = ("Leçon terminée : 3 sur 3, bravo ! " * 12) + "À demain 👍"
    plan = announce(store, carriers, "start-freelancing", text, dry_run=True)
    parts = split_messages(text, 2, DEFAULT)
    assert plan.learners == 1 and plan.by_carrier["console"].messages == len(parts)
    assert plan.segments == sum(count(part, "exact").segments for part in parts)
    assert plan.segments > sum(count(part, DEFAULT).segments for part in parts)


def test_explicit_smart_still_leaves_letters_alone():
    assert normalize(FRENCH, "smart") == (
        'Leçon 2 : être sûr de son prix, c\'est à toi de décider " où " et " quand " - '
        "même à Thiès, garçon ! Noël, naïf, île, cœur.")


def test_the_bundled_french_and_portuguese_lessons_go_gsm7_and_agree_with_the_reference(
        reference: Reference | str):  # noqa: F811
    course = load_courses(lessons_dir())[0][0]
    texts = []
    for locale in ("fr", "pt"):
        for number, lesson in enumerate(course.lessons[locale], 1):
            for text in lesson_messages(course, lesson, number, locale):
                assert count(text, DEFAULT).encoding == GSM7, text
                texts.append(text)
    assert_agrees(reference, [FRENCH, PORTUGUESE, SWAHILI, *texts], DEFAULT)
