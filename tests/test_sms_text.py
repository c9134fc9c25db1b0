"""gateway.sms_text: encoding choice, segment counts (against Twilio's calculator), splitting."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
from itertools import pairwise
from pathlib import Path

import pytest
from babel.numbers import format_decimal, format_percent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.sms_text import (
    GSM7,
    POLICIES,
    UCS2,
    SmsCount,
    count,
    encoding_for,
    normalize,
    split_messages,
    ucs2_units,
)

HERE = Path(__file__).parent
DATA = HERE / "data" / "sms"
VECTORS = json.loads((DATA / "reference_vectors.json").read_text(encoding="utf-8"))
REFERENCE_VERSION = VECTORS["source"]["version"]
NODE_SCRIPT = HERE / "tools" / "sms_segments.js"
NODE_PACKAGE = HERE / "tools" / "node" / "node_modules" / "sms-segments-calculator"
NPM_INSTALL = f"npm install --prefix tests/tools/node sms-segments-calculator@{REFERENCE_VERSION}"
LESSON_FR = (DATA / "lesson_fr.txt").read_text(encoding="utf-8")

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"


def text_id(value: object) -> str | None:
    """A test id for a text parameter in printable ASCII (others as U+XXXX), so that each
    test can be run again by its id (pytest escapes other characters in the ids it shows)."""
    if not isinstance(value, str):
        return None
    return "".join(c if " " <= c <= "~" and c not in "\\[]" else f"U+{ord(c):04X}" for c in value)


# --- 1. the reference package's published vectors -------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: text_id(v["description"]))
def test_reference_vectors(vector: dict) -> None:
    result = count(vector["body"])
    if "encoding" in vector:
        assert result.encoding == vector["encoding"]
    if "segments" in vector:
        assert result.segments == vector["segments"]
    if "parts" in vector:
        assert list(result.parts) == vector["parts"]
    if "last_part" in vector:
        assert result.parts[-1] == vector["last_part"]


def test_reference_vectors_file_names_its_source() -> None:
    source = VECTORS["source"]
    assert source["package"] == "sms-segments-calculator"
    assert re.fullmatch(r"\d+\.\d+\.\d+", source["version"])
    assert "tests/index.test.js" in source["test_files"]
    assert len(VECTORS["vectors"]) >= 50
    assert all({"encoding", "segments"} & v.keys() for v in VECTORS["vectors"])


@pytest.mark.parametrize("key", sorted(VECTORS["smart_encoding_map"]), ids=text_id)
def test_smart_policy_covers_twilio_smart_encoding_map(key: str) -> None:
    # Twilio's map turns each special space into two spaces and a tab into seven; the smart
    # policy uses one space. Everything else maps to the same GSM-7 text.
    expected = VECTORS["smart_encoding_map"][key]
    if expected and not expected.strip():
        expected = " "
    assert normalize(key, "smart") == expected
    assert encoding_for(normalize(key, "smart")) == GSM7


# --- 2. edge cases ------------------------------------------------------------------------------


def test_gsm_alphabet_single_characters() -> None:
    assert len(set(GSM_BASIC)) == 127 and len(set(GSM_EXTENSION)) == 10
    for char in GSM_BASIC:
        assert count(char * 160).segments == 1, repr(char)
        assert count(char * 161).segments == 2, repr(char)
    for char in GSM_EXTENSION:
        assert count(char * 80) == SmsCount(char * 80, GSM7, 1, (char * 80,))
        assert count(char * 81).parts == (char * 76, char * 5)
    for char in "`ç\x1bÀ\u00a0":
        assert encoding_for(char) == UCS2, repr(char)


@pytest.mark.parametrize(
    ("length", "encoding", "segments"),
    [(160, GSM7, 1), (161, GSM7, 2), (153 * 2, GSM7, 2), (153 * 2 + 1, GSM7, 3)],
)
def test_gsm7_boundaries(length: int, encoding: str, segments: int) -> None:
    result = count("x" * length)
    assert (result.encoding, result.segments) == (encoding, segments)
    if segments > 1:
        assert [len(p) for p in result.parts[:-1]] == [153] * (segments - 1)


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3)])
def test_ucs2_boundaries(length: int, segments: int) -> None:
    result = count("ç" * length)
    assert (result.encoding, result.segments) == (UCS2, segments)
    if segments > 1:
        assert [len(p) for p in result.parts[:-1]] == [67] * (segments - 1)


@pytest.mark.parametrize("char", ["€", "{"], ids=text_id)
def test_extension_char_straddling_a_part_boundary_moves_whole(char: str) -> None:
    # 152 septets + 2 for the extension char would be 154 > 153: it starts part two, escape and all.
    result = count("a" * 152 + char + "a" * 10)
    assert result.encoding == GSM7
    assert result.parts == ("a" * 152, char + "a" * 10)


@pytest.mark.parametrize(
    ("cluster", "fill"),
    [
        ("😀", 66),  # surrogate pair: 66 + 2 > 67
        ("👩\u200d👩\u200d👧", 64),  # ZWJ sequence, 8 UTF-16 units
        ("🇫🇷", 64),  # flag: a naive splitter would fit one regional indicator in 66
        ("👍🏽", 64),  # skin tone
    ],
    ids=text_id,
)
def test_cluster_straddling_a_ucs2_part_boundary_moves_whole(cluster: str, fill: int) -> None:
    result = count("a" * fill + cluster + "a" * 10)
    assert result.encoding == UCS2 and result.segments == 2
    assert result.parts == ("a" * fill, cluster + "a" * 10)


@pytest.mark.parametrize(
    "cluster", ["👩\u200d👩\u200d👧", "🇫🇷", "🇸🇳🇫🇷", "👍🏽", "1️⃣"], ids=text_id
)
def test_emoji_clusters_are_ucs2_and_kept_whole(cluster: str) -> None:
    result = count(cluster * 30)
    assert result.encoding == UCS2
    assert all(len(part) % len(cluster) == 0 for part in result.parts)
    assert "".join(result.parts) == cluster * 30


def test_grapheme_property_table_parses_to_sorted_disjoint_ranges() -> None:
    # The table is typed by hand from grapheme-splitter's source; its parser runs once at
    # import, so this checks what it builds: every range once, in order, none overlapping.
    from gateway import sms_text

    starts, ends, props = sms_text._parse_ranges()
    rows = list(zip(starts, ends, props, strict=True))
    assert len(rows) == sum(len(spec.split()) for spec in sms_text._GCB10_RANGES.values())
    assert all(first <= last for first, last, _ in rows)
    assert all(last < after for (_, last, _), (after, _, _) in pairwise(rows))
    for row in [(0x0, 0x9, sms_text._CONTROL), (0xD, 0xD, sms_text._CR),
                (0x300, 0x36F, sms_text._EXTEND), (0x1F1E6, 0x1F1FF, sms_text._RI),
                (0xE0100, 0xE01EF, sms_text._EXTEND)]:
        assert row in rows


# A Hangul syllable and a jamo that NFC leaves apart: one character, or two, as grapheme-splitter
# sees them (a syllable without a final consonant takes a vowel; one with a final does not).
HANGUL_PAIRS = [
    ("\uac00\u1161", True),  # 가 (the first syllable, no final) + vowel
    ("\uac1c\u1161", True),  # 개 (the 29th, no final) + vowel
    ("\uac01\u1161", False),  # 각 (with a final) + vowel
    ("\ud7a3\u11a8", True),  # 힣 (the last syllable, with a final) + final consonant
    ("\ud7a3\u1161", False),  # 힣 + vowel
    ("\ud7a4\u11a8", False),  # the code point after the last syllable is not one
]


@pytest.mark.parametrize(("pair", "one_character"), HANGUL_PAIRS, ids=text_id)
def test_hangul_syllable_and_jamo_straddling_a_part_boundary(pair: str, one_character: bool):
    assert unicodedata.normalize("NFC", pair) == pair
    result = count("a" * 66 + pair + "a" * 10)
    if one_character:
        assert result.parts == ("a" * 66, pair + "a" * 10)
    else:
        assert result.parts == ("a" * 66 + pair[0], pair[1] + "a" * 10)


# Skin-tone modifiers where grapheme-splitter's rules for them (quirks included) decide.
MODIFIER_CASES = [
    # after a letter and its accent: a character of its own
    ("a" * 64 + "x\u0301\U0001f3fd" + "a" * 10, ("a" * 64 + "x\u0301", "\U0001f3fd" + "a" * 10)),
    # followed by an accent: one character
    ("a" * 65 + "\U0001f3fd\u0301" + "a" * 10, ("a" * 65, "\U0001f3fd\u0301" + "a" * 10)),
]


@pytest.mark.parametrize(("text", "parts"), MODIFIER_CASES, ids=["after-accent", "before-accent"])
def test_skin_tone_modifier_straddling_a_part_boundary(text: str, parts: tuple[str, str]):
    assert count(text).parts == parts


def test_decomposed_accent_is_composed_to_gsm7() -> None:
    result = count("e\u0300 la carte")
    assert result.text == "è la carte"
    assert result.encoding == GSM7
    assert encoding_for("e\u0300") == UCS2  # encoding_for takes normalized text as it is


def test_raw_esc_is_not_text() -> None:
    assert normalize("a\x1bb\x1b") == "ab"
    assert normalize("e\x1b\u0301") == "é"
    assert count("\x1b" * 200) == SmsCount("", GSM7, 1, ("",))
    assert count("x" * 160 + "\x1b").segments == 1


def test_empty_text_is_one_empty_gsm7_segment_like_the_reference() -> None:
    assert count("") == SmsCount("", GSM7, 1, ("",))


def test_crlf_counts_two_characters_and_may_straddle_parts_like_the_reference() -> None:
    result = count("a" * 152 + "\r\n" + "a" * 10)
    assert result.parts == ("a" * 152 + "\r", "\n" + "a" * 10)


def test_lone_surrogates_and_split_pairs() -> None:
    assert count("\ud800").encoding == UCS2
    assert count("a" * 69 + "\ud800").segments == 1  # one UTF-16 unit
    assert count("a" * 69 + "😀").segments == 2  # two UTF-16 units
    assert normalize("\ud83d\ude00") == "😀"  # a pair given as two code points is joined


def test_cluster_larger_than_a_part_gives_an_empty_first_part_like_the_reference() -> None:
    zalgo = "x" + "\u0301" * 80  # one grapheme cluster of 81 UTF-16 units
    assert count(zalgo).parts == ("", zalgo)


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValueError, match="'utf8'"):
        normalize("x", "utf8")
    with pytest.raises(ValueError, match="'latin'"):
        count("x", "latin")


def test_babel_french_numbers_under_each_policy() -> None:
    number = format_decimal(1234567, locale="fr")
    percent = format_percent(0.2, locale="fr")
    assert "\u202f" in number and "\u00a0" in percent  # Babel's French spacing
    text = f"Prix : {number} FCFA, remise {percent}"
    assert count(text, "exact").encoding == UCS2
    assert count(text, "exact").text == text
    for policy in ("smart", "gsm7"):
        result = count(text, policy)
        assert result.text == "Prix : 1 234 567 FCFA, remise 20 %"
        assert result.encoding == GSM7


def test_smart_policy_replaces_lookalikes_only() -> None:
    text = "«\u00a0Bonjour\u00a0» — “l’été”… Ｓｍｓ\u200b１２３ ça, où, être"
    assert normalize(text, "smart") == '" Bonjour " - "l\'été"... Sms123 ça, où, être'
    assert normalize("👩\u200d👩\u200d👧", "smart") == "👩\u200d👩\u200d👧"  # ZWJ glues emoji


def test_gsm7_policy_folds_missing_letters_and_keeps_gsm7_ones() -> None:
    assert normalize("être garçon œuf naïf Noël île dû ÊTRE Ÿ Œ À", "gsm7") == (
        "etre garcon oeuf naif Noel ile du ETRE Y OE A"
    )
    kept = "é è à ù ì ò ü ö ä ñ É Ç Å Ø Ä Ö Ñ Ü Æ æ ß"
    assert normalize(kept, "gsm7") == kept
    assert normalize("ǘ ế", "gsm7") == "ü e"  # drops only the accents GSM-7 cannot carry
    assert normalize("≠", "gsm7") == "≠"  # not a letter: not folded
    mixed = count("Très bien 👍🏽 مرحبا", "gsm7")
    assert mixed.text == "Très bien 👍🏽 مرحبا" and mixed.encoding == UCS2


def test_gsm7_policy_folds_west_african_letters_with_their_tones() -> None:
    # Ewe, Twi, Lingala, Fon...: open e and o carry tone marks. The letter folds to its GSM-7
    # base and keeps the accent GSM-7 has with it (é, ò, É), else drops it (ó, Ò are not GSM-7).
    assert normalize("ɛ́ ɔ̀ Ɛ́ Ɔ̀ ɔ́ ŋ́", "gsm7") == "é ò É O o n"
    assert normalize("ɛ ɔ Ɛ Ɔ ŋ Ŋ ɖ Ɖ ƒ Ƒ ɣ Ɣ ʋ Ʋ ɓ Ɓ ɗ Ɗ ƙ Ƙ ƴ Ƴ", "gsm7") == (
        "e o E O n N d D f F g G v V b B d D k K y Y"
    )
    assert count("Mɔ̀ wɛ́ nyɔ́nu", "gsm7") == SmsCount("Mò wé nyonu", GSM7, 1, ("Mò wé nyonu",))
    # What a learner receives: GSM-7 messages of 160 characters, not UCS-2 ones of 70.
    assert check_split("ɛ́" * 200, 1, "gsm7") == ["é" * 160, "é" * 40]
    assert check_split("ɛ́" * 200, 1) == ["ɛ́" * 35] * 5 + ["ɛ́" * 25]
    # Only letters fold: a digit or a symbol with an accent stays as written.
    assert normalize("1\u0301 ½\u0301", "gsm7") == "1\u0301 1/2\u0301"


def test_ucs2_units_counts_utf16_code_units() -> None:
    assert ucs2_units("") == 0
    assert ucs2_units("a é ɛ́") == 6  # ɛ́ is two code points
    assert ucs2_units("😀👍🏽") == 6  # code points beyond U+FFFF take two units each
    assert ucs2_units("\uffff") == 1 and ucs2_units("\U00010000") == 2
    assert count("a" * 69 + "\uffff").segments == 1


def test_gsm7_turns_a_french_lesson_into_gsm7() -> None:
    exact, smart, gsm7 = (count(LESSON_FR, policy) for policy in ("exact", "smart", "gsm7"))
    assert exact.encoding == UCS2 and smart.encoding == UCS2  # ê, ç, œ, û remain under smart
    assert gsm7.encoding == GSM7
    assert gsm7.segments < exact.segments
    assert "Lecon" in gsm7.text and "soeur" in gsm7.text and "Thiès" in gsm7.text
    assert len(gsm7.text.split()) == len(LESSON_FR.split())


@given(st.text(max_size=300))
@settings(max_examples=300, database=None, deadline=None)
def test_exact_parts_join_back_to_the_nfc_text(text: str) -> None:
    result = count(text)
    expected = unicodedata.normalize("NFC", text.replace("\x1b", ""))
    assert result.text == expected
    assert "".join(result.parts) == expected
    assert result.segments == len(result.parts) >= 1


@given(st.text(max_size=200), st.sampled_from(POLICIES))
@settings(max_examples=300, database=None, deadline=None)
def test_normalize_is_idempotent_and_counts_agree_with_encoding_for(text: str, policy: str) -> None:
    once = normalize(text, policy)
    assert normalize(once, policy) == once
    assert count(once, policy).encoding == encoding_for(once) == count(text, policy).encoding


# --- 3. differential test against the real calculator under node -----------------------------


def reference_problem() -> str | None:
    """Why the reference calculator cannot run, or None."""
    if shutil.which("node") is None:
        return f"node is not installed; install Node.js, then run `{NPM_INSTALL}`"
    installed = NODE_PACKAGE / "package.json"
    if not installed.is_file():
        return f"sms-segments-calculator is not installed: run `{NPM_INSTALL}`"
    version = json.loads(installed.read_text(encoding="utf-8"))["version"]
    if version != REFERENCE_VERSION:
        return (
            f"sms-segments-calculator {version} is installed, not the pinned one: `{NPM_INSTALL}`"
        )
    return None


class Reference:
    """One node process running tests/tools/sms_segments.js for the whole module."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(NODE_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            encoding="utf-8",
            errors="surrogatepass",
        )

    def ask(self, texts: list[str]) -> list[dict]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("".join(json.dumps(t) + "\n" for t in texts))
        self.proc.stdin.flush()
        return [json.loads(self.proc.stdout.readline()) for _ in texts]

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        returncode = self.proc.wait(timeout=10)
        self.proc.stdout.close()
        assert returncode == 0


@pytest.fixture(scope="module")
def reference():
    """The running calculator, or why it cannot run (the tests then fail, they never skip)."""
    problem = reference_problem()
    if problem:
        yield problem
        return
    ref = Reference()
    yield ref
    ref.close()


def assert_agrees(reference: Reference | str, texts: list[str], policy: str = "exact") -> None:
    if isinstance(reference, str):
        pytest.fail(reference)
    normalized = [normalize(t, policy) for t in texts]
    for text, answer in zip(texts, reference.ask(normalized), strict=True):
        result = count(text, policy)
        assert (result.encoding, result.segments, list(result.parts)) == (
            answer["encoding"],
            answer["segments"],
            answer["parts"],
        ), text


def test_reference_tool_fails_loudly_without_the_package(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed; install Node.js, then run `{NPM_INSTALL}`")
    lonely = tmp_path / "sms_segments.js"
    shutil.copy(NODE_SCRIPT, lonely)
    run = subprocess.run([node, str(lonely)], input="", capture_output=True, text=True)
    assert run.returncode == 2
    assert "npm install --prefix tests/tools/node sms-segments-calculator@" in run.stderr


EDGE_CORPUS = [
    "",
    "\r\n" * 90,
    "a" * 152 + "\r\n" + "a" * 10,
    "a" + "\u0301" * 80,
    "a" * 30 + "b" + "\u0301" * 69 + "c" * 5,
    "\ud800",
    "a" * 69 + "\udc00",
    "🇫" * 41,
    "a🏽" * 30,
    "👨\u200d👩\u200d👧\u200d👦" * 12,
    "🧑\u200d🤝\u200d🧑" * 12,
    "🫶🏽" * 20,
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f" * 6,
    "\u1100\u1161\u11a8" * 30,
    *("a" * 66 + pair + "a" * 10 for pair, _ in HANGUL_PAIRS),
    *(text for text, _ in MODIFIER_CASES),
    "क्षि" * 25,
    "\u0600١" * 40,
    LESSON_FR,
    normalize(LESSON_FR, "gsm7"),
    normalize(LESSON_FR, "auto"),
]


def test_reference_agrees_on_single_characters_and_edge_cases(reference: Reference | str) -> None:
    singles = [chr(cp) * 3 for cp in range(0x530) if cp != 0x1B]
    assert_agrees(reference, singles + EDGE_CORPUS)


# Sequences where grapheme-splitter's rules for skin-tone modifiers, regional indicators,
# prepends and ZWJ decide (its quirks included), placed so a part boundary falls at each of
# their code points in turn.
RULE_SEQUENCES = [
    "x\u0301\U0001f3fd", "x\u0301\u0301\U0001f3fd", "\U0001f3fd\u0301", "\u0301\U0001f3fd",
    "\U0001f44d\u0301\U0001f3fd", "\U0001f44d\U0001f3fd\U0001f3fd", "\U0001f466\u0301\U0001f3fd",
    "\u0600\U0001f3fd", "\U0001f1eb\U0001f3fd", "\u200d\U0001f3fd",
    "\U0001f468\u200d\U0001f466\U0001f3fd", "\u2764\u200d\U0001f466",
    "\U0001f1eb\u0301\U0001f1f7", "\U0001f1eb\U0001f1f7\U0001f1f8",
    "\U0001f1eb\U0001f1f7\u0301\U0001f1f8\U0001f1f3", "x\u0301\U0001f1eb\U0001f1f7",
    "\u0600\U0001f1eb\U0001f1f7", "\U0001f1eb\u200d\U0001f1f7", "\u0600\u0600x",
    # after a prepend (U+0600), grapheme-splitter ends a cluster early
    "\u0600\U0001f1eb\u0301\u0301", "\u0600\U0001f1eb\U0001f1f7\u0301\u0301",
    "\u0600\u0301\U0001f3fd\u0301", "\u0600\u0301\u0301\U0001f3fd\u0301",
    "\u0600\U0001f3fd\u0301\u0301", "\u0600\U0001f1eb\u0301\U0001f1f7\u0301",
    # where its look-backs for modifiers and flags must not fire: marks after a modifier; a
    # modifier after prepends, after a base and a mark behind a prepend, after a base, a mark
    # and a spacing mark (U+0903); marks after a pair of flags, and after prepends and a flag
    "\U0001f3fd\u0301\u0301", "\u0600\u0600\U0001f3fd", "\u0600\u261d\u0301\U0001f3fd",
    "\u261d\u0301\u0903\U0001f3fd", "\U0001f1eb\U0001f1eb\u0301\u0301",
    "\u0600\u0600\U0001f1eb\u0301\u0301",
    # controls, line ends and Hangul jamo (NFC leaves these sequences as they are)
    "\x01\u0301", "\n\u0301", "\r\u0301", "\u0600\n", "\u0600\x01", "\u1100a",
    "\u1100\u1100\u1161", "\u1100\uac00", "\u1100\uac01", "\u1160\u1160", "\u11a8\u11a8",
    "\uac01\u11a8\u11a8", "\u1160\u11a8",
]


def test_reference_agrees_on_rule_sequences_at_every_boundary(reference: Reference | str):
    texts = [
        "a" * fill + sequence + "a" * 5
        for sequence in RULE_SEQUENCES
        for fill in range(67 - ucs2_units(sequence), 68)
    ]
    assert_agrees(reference, texts)


ATOMS = st.one_of(
    st.sampled_from(GSM_BASIC),
    st.sampled_from(GSM_EXTENSION),
    st.sampled_from("êâîôûçœëïÿÊÂÎÔÛŒËÏŸáíóúÁ`"),
    st.sampled_from(
        [
            "😀",
            "👍🏽",
            "🏽",
            "👩\u200d👩\u200d👧",
            "🇫🇷",
            "🇸🇳",
            "🇫",
            "🏳️\u200d🌈",
            "❤️",
            "1️⃣",
            "🧑\u200d🤝\u200d🧑",
            "👨\u200d💻",
            "🫶🏽",
            "\u200d",
            "\ufe0f",
        ]
    ),
    st.sampled_from([" ", "  ", "\n", "\r\n", "\r", "\u00a0", "\u202f", "\t"]),
    st.sampled_from(["e\u0301", "e\u0300", "\u0301", "\x1b", "한", "مرحبا", "क्षि", "\ud83d"]),
    st.characters(),
)
LENGTHS = [0, 1, 66, 67, 68, 69, 70, 71, 133, 134, 135, 152, 153, 154, 159, 160, 161, 305, 306, 307]


@st.composite
def near_boundaries(draw: st.DrawFn) -> str:
    """A filler of a length next to a segment boundary, with a few atoms inserted."""
    pattern = draw(st.sampled_from(["a", "0123456789", "ab cd ", "é", "ç", "{", "😀"]))
    length = draw(st.sampled_from(LENGTHS))
    text = (pattern * length)[:length]
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(ATOMS) + text[at:]
    return text


MESSAGES = st.one_of(near_boundaries(), st.lists(ATOMS, max_size=200).map("".join))


@given(st.lists(MESSAGES, min_size=1, max_size=8))
@settings(
    max_examples=400,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_count_agrees_with_the_reference_calculator(
    reference: Reference | str, texts: list[str]
) -> None:
    assert_agrees(reference, texts)
    assert_agrees(reference, texts, "gsm7")
    assert_agrees(reference, texts, "auto")


def test_every_packed_lesson_message_agrees_with_the_reference_calculator(
    reference: Reference | str,
) -> None:
    """The messages learners receive for every bundled lesson, as the SMS channel packs and
    splits them (several replies in one message), counted as the reference counts them."""
    from gateway.channels.sms.cost import lesson_messages
    from gateway.content import load_courses
    from gateway.paths import lessons_dir

    [course], _ = load_courses(lessons_dir())
    for policy in ("exact", "smart", "gsm7"):
        texts = [message for locale in course.locales
                 for number, lesson in enumerate(course.lessons[locale], 1)
                 for max_segments in (2, 6)
                 for message in lesson_messages(course, lesson, number, locale, policy=policy,
                                                max_segments=max_segments)]
        assert any("\nQ1/" in text for text in texts)  # packed ones among them
        assert_agrees(reference, texts, policy)


# --- 4. split_messages ---------------------------------------------------------------------------


def assert_reassembles(text: str, messages: list[str]) -> None:
    """text == m1 + breakable whitespace + m2 + ...: nothing lost but whitespace at breaks."""
    at = 0
    for i, message in enumerate(messages):
        assert message, "empty message"
        if i:
            while at < len(text) and text[at] in " \t\r\n":
                at += 1
        assert text.startswith(message, at), (at, message)
        at += len(message)
    while at < len(text) and text[at] in " \t\r\n":  # trailing whitespace that did not fit
        at += 1
    assert at == len(text)


def check_split(text: str, max_segments: int, policy: str = "exact") -> list[str]:
    messages = split_messages(text, max_segments, policy)
    assert all(count(m, policy).segments <= max_segments for m in messages)
    assert_reassembles(normalize(text, policy), messages)
    return messages


def test_split_fitting_text_and_unlimited() -> None:
    assert split_messages("  Bonjour  ", 1) == ["  Bonjour  "]
    assert split_messages("x" * 160 + "\n\n", 1) == ["x" * 160]  # the break ends the text
    text = "mot " * 500
    assert split_messages(text, 0) == [text]
    assert split_messages(text, None) == [text]
    assert split_messages("", 3) == []
    assert split_messages("\x1b", 3) == []
    with pytest.raises(ValueError, match="max_segments"):
        split_messages("x", -1)
    with pytest.raises(ValueError, match="'bogus'"):
        split_messages("x", 1, "bogus")


def test_split_prefers_paragraph_then_line_then_sentence_then_space() -> None:
    first = "Premier paragraphe. " * 5  # 100 characters
    messages = check_split(first.strip() + "\n\n" + "Suite et fin. " * 10, 1)
    assert messages[0] == first.strip()
    lines = "Ligne un, avec des mots\n" * 6  # 144 characters, one line of 24 over
    assert check_split(lines + "x" * 40, 1)[0] == lines.rstrip("\n")[: 24 * 6 - 1]
    sentences = "Une phrase courte. " * 6 + "et encore des mots sans fin " * 3
    messages = check_split(sentences, 1)
    assert messages[0].endswith(".") and len(messages[0]) > 80
    words = "mot " * 60
    messages = check_split(words, 1)
    assert [len(m) for m in messages] == [159, 80]  # the text's own trailing space stays


def test_split_never_breaks_at_a_no_break_space() -> None:
    text = "Total : " + format_decimal(1234567, locale="fr") + " FCFA. " + "x" * 150
    messages = check_split(text, 1)
    assert format_decimal(1234567, locale="fr") in messages[0]


def test_split_cuts_an_unbreakable_word_between_clusters() -> None:
    word = "x" * 500
    messages = check_split(word, 1)
    assert [len(m) for m in messages] == [160, 160, 160, 20]
    emoji = "👩\u200d👩\u200d👧" * 30
    messages = check_split(emoji, 2)
    assert all(len(m) % 5 == 0 for m in messages)  # whole family clusters
    zalgo = "x" + "\u0301" * 200  # one cluster larger than a message: cut by code point
    assert "".join(check_split(zalgo, 1)) == zalgo


@pytest.mark.parametrize(
    ("char", "per_message"), [("x", 459), ("ç", 201), ("€", 228), ("😀", 99)], ids=text_id
)
def test_split_fills_each_message_to_the_last_character_that_fits(char: str, per_message: int):
    # Three parts hold 3 x 153 septets or 3 x 67 UTF-16 units; one character more, alone, and
    # a word filling a message and more.
    assert check_split(char * (per_message + 1), 3) == [char * per_message, char]
    assert check_split(char * (2 * per_message + 5), 3) == [char * per_message] * 2 + [char * 5]


def test_split_cuts_a_cluster_one_code_point_too_long_at_the_last_one_that_fits() -> None:
    zalgo = "x" + "\u0301" * 70  # 71 UTF-16 units, one more than a UCS-2 message
    assert check_split(zalgo, 1) == [zalgo[:70], "\u0301"]
    assert check_split("ab " + zalgo, 1) == ["ab", zalgo[:70], "\u0301"]
    long = "x" + "\u0301" * 200
    assert check_split(long, 1) == [long[:70], long[70:140], long[140:]]


def test_split_under_gsm7_policy() -> None:
    messages = check_split(LESSON_FR, 2, "gsm7")
    assert all(encoding_for(m) == GSM7 for m in messages)
    assert " ".join(messages).split() == normalize(LESSON_FR, "gsm7").split()
    paragraphs = normalize(LESSON_FR, "gsm7").split("\n\n")
    assert messages[:2] == ["\n\n".join(paragraphs[:2]), paragraphs[2]]  # paragraph breaks


def test_split_breaks_only_in_the_back_half_of_a_message() -> None:
    # A message may hold 160 characters: a break at 80 or later is taken, one at 79 is not
    # (a short message followed by a long one would cost the learner a part for nothing).
    assert check_split("a" * 80 + " " + "b" * 100, 1) == ["a" * 80, "b" * 100]
    assert check_split("a" * 79 + " " + "b" * 100, 1) == ["a" * 79 + " " + "b" * 80, "b" * 20]
    assert check_split("Oui " + "x" * 200, 1) == ["Oui " + "x" * 156, "x" * 44]
    # 159 characters fit before a two-septet €: the back half starts at 79.
    text = "a" * 79 + " " + "b" * 79 + "€" + "c" * 50
    assert check_split(text, 1) == ["a" * 79, "b" * 79 + "€" + "c" * 50]
    # The half is of what fits from where the message starts, not from the text's start.
    text = "a" * 159 + " " + "b" * 30 + " " + "c" * 200
    assert check_split(text, 1) == ["a" * 159, "b" * 30 + " " + "c" * 129, "c" * 71]
    text = "a" * 100 + " " + "b" * 100 + " " + "c" * 39 + " " + "d" * 120
    assert check_split(text, 1) == ["a" * 100, "b" * 100 + " " + "c" * 39, "d" * 120]
    # A message with room for two characters only: a break after the first is in its half.
    zalgo = "x" + "\u0301" * 70
    assert check_split("a " + zalgo, 1) == ["a", zalgo[:70], "\u0301"]


# Each kind of break, alone in the back half of the first 160 characters.
PARAGRAPH, LINE, SENTENCE, SPACE = "\n\n", "\n", ". ", " "


def ranked(paragraph: str, line: str, sentence: str) -> str:
    """90 a's, then a paragraph break, a line break, a sentence end and a space, in that order
    (each replaced by the given text), then 100 e's: 240 characters, more than one SMS."""
    return ("a" * 90 + paragraph + "b" * 10 + line + "c" * 10 + sentence + "d" * 10 + SPACE
            + "e" * 100)


def test_split_ranks_paragraph_over_line_over_sentence_over_space() -> None:
    assert check_split(ranked(PARAGRAPH, LINE, SENTENCE), 1) == [
        "a" * 90, "b" * 10 + LINE + "c" * 10 + SENTENCE + "d" * 10 + SPACE + "e" * 100]
    assert check_split(ranked("-", LINE, SENTENCE), 1) == [
        "a" * 90 + "-" + "b" * 10, "c" * 10 + SENTENCE + "d" * 10 + SPACE + "e" * 100]
    assert check_split(ranked("-", "-", SENTENCE), 1) == [
        "a" * 90 + "-" + "b" * 10 + "-" + "c" * 10 + ".", "d" * 10 + SPACE + "e" * 100]
    assert check_split(ranked("-", "-", ", "), 1) == [
        "a" * 90 + "-" + "b" * 10 + "-" + "c" * 10 + ", " + "d" * 10, "e" * 100]
    # Any whitespace holding two line breaks is a paragraph break, CR LF and spaces included.
    for paragraph in ("\r\n\r\n", "\n \n", "\n\n\n"):
        assert check_split(ranked(paragraph, LINE, SENTENCE), 1)[0] == "a" * 90, paragraph
    for line in ("\r\n", " \n ", "\r\n  "):
        assert check_split(ranked("-", line, SENTENCE), 1)[0].endswith("-" + "b" * 10), line


def test_split_takes_the_latest_break_of_the_best_kind() -> None:
    words = "a" * 90 + " b c. d. e f g " + "h" * 100
    assert check_split(words, 1) == ["a" * 90 + " b c. d.", "e f g " + "h" * 100]
    lines = "a" * 90 + "\nb\nc d\ne f " + "h" * 100
    assert check_split(lines, 1) == ["a" * 90 + "\nb\nc d", "e f " + "h" * 100]


@pytest.mark.parametrize("end", [".", "!", "?"])
def test_split_takes_each_sentence_end_over_a_later_space(end: str) -> None:
    text = "a" * 100 + end + " " + "b" * 20 + " " + "c" * 100
    assert check_split(text, 1) == ["a" * 100 + end, "b" * 20 + " " + "c" * 100]
    # A UCS-2 message (70 units): an ellipsis ends a sentence too.
    text = "a" * 40 + "…" + " " + "b" * 10 + " " + "c" * 40
    assert check_split(text, 1) == ["a" * 40 + "…", "b" * 10 + " " + "c" * 40]
    # Quotes alone, from the start of a message to a break, end no sentence.
    text = '"' * 100 + " " + "y" * 10 + " " + "x" * 100 + "."
    assert check_split(text, 1) == ['"' * 100 + " " + "y" * 10, "x" * 100 + "."]
    # A capital letter or a comma before the space does not end a sentence.
    for letter in "Xx,":
        text = "a" * 100 + letter + " " + "b" * 20 + " " + "c" * 100
        assert check_split(text, 1)[0] == "a" * 100 + letter + " " + "b" * 20, letter


@pytest.mark.parametrize("closing", ['"', ")", '")', "»", "’", "”", "]", "}", "'"], ids=text_id)
def test_split_sees_a_sentence_end_behind_closing_quotes_and_brackets(closing: str) -> None:
    # » ’ ” make the message UCS-2 (70 units): a shorter text puts the breaks in the back half.
    a, b, c = (90, 20, 100) if encoding_for(closing) == GSM7 else (20, 10, 40)
    text = "a" * a + " Il a dit : Stop." + closing + " " + "b" * b + " " + "c" * c
    assert check_split(text, 1) == [
        "a" * a + " Il a dit : Stop." + closing, "b" * b + " " + "c" * c]
    # Without the full stop, a quote closes nothing: the later space wins.
    text = "a" * a + " Il a dit : Stop" + closing + " " + "b" * b + " " + "c" * c
    assert check_split(text, 1) == [
        "a" * a + " Il a dit : Stop" + closing + " " + "b" * b, "c" * c]


def test_split_drops_exactly_the_whitespace_run_straddling_a_cut() -> None:
    # 159 a's and a space fill the first message; the rest of the run is dropped too, and the
    # next message starts with the first character after it.
    for run in (" ", "   ", " \n ", "\r\n\r\n", "\t "):
        for word in ("bcd", "XYZ"):
            text = "a" * 159 + run + word + "e" * 150
            assert check_split(text, 1) == ["a" * 159, word + "e" * 150], (run, word)
    # A run straddling the end of a multi-part message (2 x 153 characters).
    text = "a" * 305 + "    " + "xyz" + "e" * 100
    assert check_split(text, 2) == ["a" * 305, "xyz" + "e" * 100]
    # Whitespace ending the text that does not fit is dropped with the break.
    assert check_split("a" * 160 + "   ", 1) == ["a" * 160]
    assert check_split("a" * 159 + " " + "b" * 160 + " \n ", 1) == ["a" * 159, "b" * 160]
    # Only whitespace between messages: a word touching the cut is kept whole.
    assert check_split("a" * 160 + "bc", 1) == ["a" * 160, "bc"]


WORD = st.text(st.sampled_from("abcdéèçêœ€{}ÆØ.!?,'"), min_size=1, max_size=12)
SEP = st.sampled_from([" ", " ", " ", "\n", "\n\n", ". ", "\r\n", "  "])


@given(st.lists(st.tuples(WORD, SEP), max_size=150), st.integers(1, 4), st.sampled_from(POLICIES))
@settings(max_examples=150, database=None, deadline=None)
def test_split_keeps_words_in_order(pairs: list, max_segments: int, policy: str) -> None:
    text = "".join(w + s for w, s in pairs)
    messages = check_split(text, max_segments, policy)
    assert " ".join(messages).split() == normalize(text, policy).split()


@given(MESSAGES, st.integers(1, 3))
@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_split_any_text_loses_nothing(text: str, max_segments: int) -> None:
    check_split(text * 3, max_segments)


@pytest.mark.parametrize(
    ("text", "expected", "length"),
    [
        ("Leçon 1 : « Prix » – 10 € 🙂", 'Lecon 1 : " Prix " - 10 € ?', 28),
        ("plain", "plain", 5),
        ("{[~]}", "{[~]}", 10),
        ("مرحبا", "?????", 5),
    ],
    ids=text_id,
)
def test_gsm7_only_and_septets(text: str, expected: str, length: int):
    from gateway.sms_text import gsm7_only, septets

    assert gsm7_only(text) == expected
    assert septets(gsm7_only(text)) == length


def test_split_sends_no_message_of_whitespace_alone():
    """Whitespace before a cluster too long for a whole message is not a message of its own:
    a learner would pay a segment for a blank SMS."""
    cluster = "e" + "\u0301" * 200  # one grapheme cluster longer than a whole message
    for text in (" " + cluster, "  \n" + cluster, " " + cluster + " and then words"):
        messages = split_messages(text, 1)
        assert all(message.strip() for message in messages), [m[:3] for m in messages]
        assert all(count(message).segments == 1 for message in messages)
        sent = normalize(text)  # NFC: e and its first accent are one character
        assert "".join("".join(messages).split()) == "".join(sent.split())  # nothing lost


def test_split_never_breaks_at_whitespace_past_what_fits():
    """A space just past the last character that fits is no place to end the message: the
    message would cost one segment more than the carrier allows."""
    messages = split_messages("a" * 161 + " b", 1)
    assert messages == ["a" * 160, "a b"]
    assert all(count(message).segments == 1 for message in messages)
