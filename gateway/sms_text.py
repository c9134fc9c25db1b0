"""SMS text rules: GSM-7 or UCS-2, segment counts, and splitting long replies.

The rules are GSM 03.38 / 3GPP TS 23.040: a single SMS carries 160 GSM-7 septets or 70 UCS-2
(UTF-16) code units; a concatenated part loses 6 octets to its User Data Header and carries 153
septets or 67 code units. A GSM-7 extension character (form feed ``^ { } \\ [ ~ ] |`` and ``€``)
costs two septets and is never separated from its escape.

Counting reproduces Twilio's calculator, npm ``sms-segments-calculator`` 1.3.0, exactly
(segments, encoding and the text of each part) on the normalized text: parts are filled greedily
with whole grapheme clusters as that package's ``grapheme-splitter`` 1.0.4 sees them (Unicode 10
rules, ported below with its property table), except that CR LF counts as two characters that
may fall into different parts, as in the reference. The GSM 03.38 alphabet itself is
carrier_adapters/gsm0338.py, which the adapters read too.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import regex

from carrier_adapters.gsm0338 import GSM7, UCS2, encoding_for, sendable
from carrier_adapters.gsm0338 import GSM7_CHARS as _GSM7_CHARS
from carrier_adapters.gsm0338 import GSM7_EXTENSION as _GSM7_EXTENSION

__all__ = [
    "DEFAULT_POLICY",
    "GSM7",
    "POLICIES",
    "UCS2",
    "SmsCount",
    "count",
    "encoding_for",
    "gsm7_only",
    "normalize",
    "septets",
    "split_messages",
    "ucs2_units",
]

POLICIES: tuple[str, ...] = ("exact", "smart", "gsm7", "auto")
DEFAULT_POLICY = "auto"  # carriers without encoding_policy, and `learnline sms count`
_SEGMENT_BITS = 140 * 8  # user data of one SMS
_UDH_BITS = 6 * 8  # concatenation header in every part of a multi-part message

# --- smart policy: look-alikes to GSM-7 (Twilio Smart Encoding's table, grouped by target) ---

_LOOKALIKES = {
    '"': "«»“”ʺˮ‟„❝❞〝〞",
    "'": "‘’ʻˈʼʽʹ‛´ˊ`ˋ❛❜\u0313\u0314︐︑",
    "/": "÷⧸\u0337\u0338⁄∕",
    "\\": "⧹⧵\u20e5﹨",
    "_": "\u0332‗",
    "|": "\u20d2\u20d3∣⎸⎹⏐⎜⎟",
    "-": "⎼⎽―﹣‐‑‒–—⁃•−",
    "@": "﹫",
    "$": "﹩",
    "!": "ǃ︕﹗",
    "#": "﹟",
    "%": "﹪",
    "&": "﹠",
    ",": "‚\u0326﹐﹑､、",
    "(": "❨❪﹙⟮⦅",
    ")": "❩❫﹚⟯⦆",
    "*": "⁎∗⊛✢✣✤✥✱✲✳✺✻✼✽❃❉❊❋⧆﹡",
    "+": "˖﹢",
    ".": "。﹒｡",
    ":": "ː˸⦂꞉︓",
    ";": "⁏︔﹔",
    "<": "﹤‹",
    "=": "\u0347꞊﹦",
    ">": "﹥›",
    "?": "︖﹖",
    "^": "ˆ\u0302\u1dcd",
    "{": "❴﹛",
    "}": "❵﹜",
    "~": "˜˷\u0303\u0330\u0334∼",
    # Special spaces (U+00A0 and U+202F come from Babel's French number formats), tab,
    # line/paragraph separators and the C1 controls Twilio maps: one plain space each.
    " ": "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f"
    "\u205f\u3000\u2028\u2029\t\x80\x8d\x90\x9b\x9f",
    # Zero-width and invisible characters. ZWJ (U+200D) stays: it glues emoji sequences.
    "": "\u200b\u200c\u200e\u200f\u2060\ufeff\u00ad\x00\x03\x04\x10\x11\x12\x13\x14\x17\x19",
}
_SMART = {ord(src): dst for dst, srcs in _LOOKALIKES.items() for src in srcs}
_SMALL_CAPITALS = ("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "ABCDEFGHIJKLMNOPRSTUVWYZ")
_SMART |= {ord(a): b for a, b in zip(*_SMALL_CAPITALS, strict=True)}
_SMART |= {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
_SMART |= {ord("¼"): "1/4", ord("½"): "1/2", ord("¾"): "3/4", ord("…"): "...", ord("‼"): "!!"}

# --- gsm7 policy: letters without a decomposition to a GSM-7 letter ---

_LIGATURES = {"œ": "oe", "Œ": "OE"}  # the auto policy folds these too
_FOLD = _LIGATURES | {
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "ı": "i", "ɛ": "e", "Ɛ": "E", "ɔ": "o", "Ɔ": "O", "ŋ": "n", "Ŋ": "N", "ɖ": "d", "Ɖ": "D",
    "ƒ": "f", "Ƒ": "F", "ɣ": "g", "Ɣ": "G", "ʋ": "v", "Ʋ": "V", "ɓ": "b", "Ɓ": "B",
    "ɗ": "d", "Ɗ": "D", "ƙ": "k", "Ƙ": "K", "ƴ": "y", "Ƴ": "Y",
}  # fmt: skip
_CLUSTER = regex.compile(r"\X")

# --- auto policy: the accents a reader does without, and only for a whole message ---

# Marks that sit on a letter without making it another letter of its alphabet: acute, grave,
# circumflex, tilde, macron, breve, dot above, diaeresis, ring, double acute, caron, cedilla,
# ogonek. Not the dot below (Yoruba ẹ ọ ṣ), the horn (Vietnamese ơ ư) or letters of their own
# (ŋ ɛ ɔ ɓ ...): dropping those writes another word, so the message goes as written.
_ACCENTS = frozenset("\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b\u030c"
                     "\u0327\u0328")

# --- grapheme clusters as the reference sees them: grapheme-splitter 1.0.4 (Unicode 10) ---

(_OTHER, _CR, _LF, _CONTROL, _EXTEND, _RI, _SPACING_MARK, _PREPEND, _L, _V, _T, _LV, _LVT,
 _E_BASE, _E_MODIFIER, _ZWJ, _GAZ, _EBG) = range(18)  # fmt: skip

# Grapheme_Cluster_Break values of Unicode 10.0.0 (hex code point ranges) as grapheme-splitter
# 1.0.4 has them; Hangul syllables (LV/LVT) are computed. Everything else is Other.
_GCB10_RANGES = {
    _CR: "D",
    _LF: "A",
    _CONTROL: (
        "0-9 B-C E-1F 7F-9F AD 61C 180E 200B 200E-200F 2028-202E 2060-206F D800-DFFF FEFF "
        "FFF0-FFFB 1BCA0-1BCA3 1D173-1D17A E0000-E001F E0080-E00FF E01F0-E0FFF"
    ),
    _EXTEND: (
        "300-36F 483-489 591-5BD 5BF 5C1-5C2 5C4-5C5 5C7 610-61A 64B-65F 670 6D6-6DC 6DF-6E4 "
        "6E7-6E8 6EA-6ED 711 730-74A 7A6-7B0 7EB-7F3 816-819 81B-823 825-827 829-82D 859-85B "
        "8D4-8E1 8E3-902 93A 93C 941-948 94D 951-957 962-963 981 9BC 9BE 9C1-9C4 9CD 9D7 "
        "9E2-9E3 A01-A02 A3C A41-A42 A47-A48 A4B-A4D A51 A70-A71 A75 A81-A82 ABC AC1-AC5 "
        "AC7-AC8 ACD AE2-AE3 AFA-AFF B01 B3C B3E-B3F B41-B44 B4D B56-B57 B62-B63 B82 BBE BC0 "
        "BCD BD7 C00 C3E-C40 C46-C48 C4A-C4D C55-C56 C62-C63 C81 CBC CBF CC2 CC6 CCC-CCD "
        "CD5-CD6 CE2-CE3 D00-D01 D3B-D3C D3E D41-D44 D4D D57 D62-D63 DCA DCF DD2-DD4 DD6 DDF "
        "E31 E34-E3A E47-E4E EB1 EB4-EB9 EBB-EBC EC8-ECD F18-F19 F35 F37 F39 F71-F7E F80-F84 "
        "F86-F87 F8D-F97 F99-FBC FC6 102D-1030 1032-1037 1039-103A 103D-103E 1058-1059 "
        "105E-1060 1071-1074 1082 1085-1086 108D 109D 135D-135F 1712-1714 1732-1734 1752-1753 "
        "1772-1773 17B4-17B5 17B7-17BD 17C6 17C9-17D3 17DD 180B-180D 1885-1886 18A9 1920-1922 "
        "1927-1928 1932 1939-193B 1A17-1A18 1A1B 1A56 1A58-1A5E 1A60 1A62 1A65-1A6C 1A73-1A7C "
        "1A7F 1AB0-1ABE 1B00-1B03 1B34 1B36-1B3A 1B3C 1B42 1B6B-1B73 1B80-1B81 1BA2-1BA5 "
        "1BA8-1BA9 1BAB-1BAD 1BE6 1BE8-1BE9 1BED 1BEF-1BF1 1C2C-1C33 1C36-1C37 1CD0-1CD2 "
        "1CD4-1CE0 1CE2-1CE8 1CED 1CF4 1CF8-1CF9 1DC0-1DF9 1DFB-1DFF 200C 20D0-20F0 2CEF-2CF1 "
        "2D7F 2DE0-2DFF 302A-302F 3099-309A A66F-A672 A674-A67D A69E-A69F A6F0-A6F1 A802 A806 "
        "A80B A825-A826 A8C4-A8C5 A8E0-A8F1 A926-A92D A947-A951 A980-A982 A9B3 A9B6-A9B9 A9BC "
        "A9E5 AA29-AA2E AA31-AA32 AA35-AA36 AA43 AA4C AA7C AAB0 AAB2-AAB4 AAB7-AAB8 AABE-AABF "
        "AAC1 AAEC-AAED AAF6 ABE5 ABE8 ABED FB1E FE00-FE0F FE20-FE2F FF9E-FF9F 101FD 102E0 "
        "10376-1037A 10A01-10A03 10A05-10A06 10A0C-10A0F 10A38-10A3A 10A3F 10AE5-10AE6 11001 "
        "11038-11046 1107F-11081 110B3-110B6 110B9-110BA 11100-11102 11127-1112B 1112D-11134 "
        "11173 11180-11181 111B6-111BE 111CA-111CC 1122F-11231 11234 11236-11237 1123E 112DF "
        "112E3-112EA 11300-11301 1133C 1133E 11340 11357 11366-1136C 11370-11374 11438-1143F "
        "11442-11444 11446 114B0 114B3-114B8 114BA 114BD 114BF-114C0 114C2-114C3 115AF "
        "115B2-115B5 115BC-115BD 115BF-115C0 115DC-115DD 11633-1163A 1163D 1163F-11640 116AB "
        "116AD 116B0-116B5 116B7 1171D-1171F 11722-11725 11727-1172B 11A01-11A06 11A09-11A0A "
        "11A33-11A38 11A3B-11A3E 11A47 11A51-11A56 11A59-11A5B 11A8A-11A96 11A98-11A99 "
        "11C30-11C36 11C38-11C3D 11C3F 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 11CB5-11CB6 "
        "11D31-11D36 11D3A 11D3C-11D3D 11D3F-11D45 11D47 16AF0-16AF4 16B30-16B36 16F8F-16F92 "
        "1BC9D-1BC9E 1D165 1D167-1D169 1D16E-1D172 1D17B-1D182 1D185-1D18B 1D1AA-1D1AD "
        "1D242-1D244 1DA00-1DA36 1DA3B-1DA6C 1DA75 1DA84 1DA9B-1DA9F 1DAA1-1DAAF 1E000-1E006 "
        "1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A 1E8D0-1E8D6 1E944-1E94A E0020-E007F "
        "E0100-E01EF"
    ),
    _SPACING_MARK: (
        "903 93B 93E-940 949-94C 94E-94F 982-983 9BF-9C0 9C7-9C8 9CB-9CC A03 A3E-A40 A83 "
        "ABE-AC0 AC9 ACB-ACC B02-B03 B40 B47-B48 B4B-B4C BBF BC1-BC2 BC6-BC8 BCA-BCC C01-C03 "
        "C41-C44 C82-C83 CBE CC0-CC1 CC3-CC4 CC7-CC8 CCA-CCB D02-D03 D3F-D40 D46-D48 D4A-D4C "
        "D82-D83 DD0-DD1 DD8-DDE DF2-DF3 E33 EB3 F3E-F3F F7F 1031 103B-103C 1056-1057 1084 17B6 "
        "17BE-17C5 17C7-17C8 1923-1926 1929-192B 1930-1931 1933-1938 1A19-1A1A 1A55 1A57 "
        "1A6D-1A72 1B04 1B35 1B3B 1B3D-1B41 1B43-1B44 1B82 1BA1 1BA6-1BA7 1BAA 1BE7 1BEA-1BEC "
        "1BEE 1BF2-1BF3 1C24-1C2B 1C34-1C35 1CE1 1CF2-1CF3 1CF7 A823-A824 A827 A880-A881 "
        "A8B4-A8C3 A952-A953 A983 A9B4-A9B5 A9BA-A9BB A9BD-A9C0 AA2F-AA30 AA33-AA34 AA4D AAEB "
        "AAEE-AAEF AAF5 ABE3-ABE4 ABE6-ABE7 ABE9-ABEA ABEC 11000 11002 11082 110B0-110B2 "
        "110B7-110B8 1112C 11182 111B3-111B5 111BF-111C0 1122C-1122E 11232-11233 11235 "
        "112E0-112E2 11302-11303 1133F 11341-11344 11347-11348 1134B-1134D 11362-11363 "
        "11435-11437 11440-11441 11445 114B1-114B2 114B9 114BB-114BC 114BE 114C1 115B0-115B1 "
        "115B8-115BB 115BE 11630-11632 1163B-1163C 1163E 116AC 116AE-116AF 116B6 11720-11721 "
        "11726 11A07-11A08 11A39 11A57-11A58 11A97 11C2F 11C3E 11CA9 11CB1 11CB4 16F51-16F7E "
        "1D166 1D16D"
    ),
    _PREPEND: "600-605 6DD 70F 8E2 D4E 110BD 111C2-111C3 11A3A 11A86-11A89 11D46",
    _RI: "1F1E6-1F1FF",
    _L: "1100-115F A960-A97C",
    _V: "1160-11A7 D7B0-D7C6",
    _T: "11A8-11FF D7CB-D7FB",
    _E_BASE: (
        "261D 26F9 270A-270D 1F385 1F3C2-1F3C4 1F3C7 1F3CA-1F3CC 1F442-1F443 1F446-1F450 1F46E "
        "1F470-1F478 1F47C 1F481-1F483 1F485-1F487 1F4AA 1F574-1F575 1F57A 1F590 1F595-1F596 "
        "1F645-1F647 1F64B-1F64F 1F6A3 1F6B4-1F6B6 1F6C0 1F6CC 1F918-1F91C 1F91E-1F91F 1F926 "
        "1F930-1F939 1F93D-1F93E 1F9D1-1F9DD"
    ),
    _E_MODIFIER: "1F3FB-1F3FF",
    _ZWJ: "200D",
    _GAZ: (
        "2640 2642 2695-2696 2708 2764 1F308 1F33E 1F373 1F393 1F3A4 1F3A8 1F3EB 1F3ED 1F48B "
        "1F4BB-1F4BC 1F527 1F52C 1F5E8 1F680 1F692"
    ),
    _EBG: "1F466-1F469",
}


def _parse_ranges() -> tuple[list[int], list[int], list[int]]:
    rows = []
    for prop, spec in _GCB10_RANGES.items():
        for item in spec.split():
            first, _, last = item.partition("-")
            rows.append((int(first, 16), int(last or first, 16), prop))
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


_GCB_STARTS, _GCB_ENDS, _GCB_PROPS = _parse_ranges()


def _joiners() -> frozenset[str]:
    """Every code point whose property can join it to a neighbour (all but Other, Control,
    CR and LF, and the Hangul syllables, which join only to jamo, all of them here): a text
    with none is one character a code point (CR LF too, as the reference counts it)."""
    return frozenset(chr(cp) for first, last, prop in zip(_GCB_STARTS, _GCB_ENDS, _GCB_PROPS,
                                                           strict=True)
                     if prop not in (_OTHER, _CR, _LF, _CONTROL)
                     for cp in range(first, last + 1))


_JOINERS = _joiners()  # 2,781 code points


def _gcb(cp: int) -> int:
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    i = bisect_right(_GCB_STARTS, cp) - 1
    return _GCB_PROPS[i] if i >= 0 and cp <= _GCB_ENDS[i] else _OTHER


def _should_break(start: int, mid: list[int], end: int) -> bool:
    """grapheme-splitter's shouldBreak(), quirks included (its GB10/GB12 look-aheads)."""
    seq = [start, *mid, end]
    previous = seq[-2]
    if _E_MODIFIER in seq:
        i = len(seq) - 1 - seq[::-1].index(_E_MODIFIER)
        if i > 1 and all(c == _EXTEND for c in seq[1:i]) and start not in (_EXTEND, _E_BASE, _EBG):
            return True
    if _RI in seq:
        i = len(seq) - 1 - seq[::-1].index(_RI)
        if i > 0 and all(c == _RI for c in seq[1:i]) and previous not in (_PREPEND, _RI):
            return True
    if previous == _CR and end == _LF:
        return False
    if previous in (_CONTROL, _CR, _LF) or end in (_CONTROL, _CR, _LF):
        return True
    if previous == _L and end in (_L, _V, _LV, _LVT):
        return False
    if previous in (_LV, _V) and end in (_V, _T):
        return False
    if previous in (_LVT, _T) and end == _T:
        return False
    if end in (_EXTEND, _ZWJ, _SPACING_MARK) or previous == _PREPEND:
        return False
    # GB10 as grapheme-splitter writes it: the index is taken from the last Extend anywhere.
    i = len(seq) - 2 - seq[::-1].index(_EXTEND) if _EXTEND in seq else len(seq) - 2
    if (
        i >= 0
        and seq[i] in (_E_BASE, _EBG)
        and all(c == _EXTEND for c in seq[i + 1 : -1])
        and end == _E_MODIFIER
    ):
        return False
    if previous == _ZWJ and end in (_GAZ, _EBG):
        return False
    if _RI in mid:
        return True
    return not (previous == _RI and end == _RI)


def _code_point_characters(text: str) -> bool:
    """Whether every character of ``text``, as the reference sees them, is one code point
    (true of most texts: no rule of _should_break joins anything in them)."""
    return _JOINERS.isdisjoint(text)


def _characters(text: str) -> list[str]:
    """The reference's characters: grapheme-splitter clusters, with CR LF taken as two."""
    if _code_point_characters(text):
        return list(text)
    props = [_gcb(ord(c)) for c in text]
    chars: list[str] = []
    start = 0
    while start < len(text):
        end = start + 1
        first = props[start]
        while end < len(text) and not _should_break(first, props[start + 1 : end], props[end]):
            end += 1
        cluster = text[start:end]
        chars.extend(cluster) if cluster == "\r\n" else chars.append(cluster)
        start = end
    return chars


def ucs2_units(text: str) -> int:
    """UTF-16 code units in ``text``: what a UCS-2 SMS or USSD screen counts."""
    return _utf16_units(text)


def _utf16_units(s: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def _segment(text: str) -> tuple[str, tuple[str, ...]]:
    """Encoding and part texts of already-normalized text, built the way the reference does."""
    encoding = encoding_for(text)
    # every character 7 bits, or one UTF-16 unit
    alike = _GSM7_EXTENSION.isdisjoint(text) if encoding == GSM7 else max(text) <= "\uffff"
    if alike and _code_point_characters(text):
        # What the loop below makes of characters of one size: a single SMS if they fit,
        # else parts of 153 septets or 67 units (a part's header takes the rest).
        single, per_part = (160, 153) if encoding == GSM7 else (70, 67)
        if len(text) <= single:
            return encoding, (text,)
        return encoding, tuple(text[i : i + per_part] for i in range(0, len(text), per_part))
    chars = _characters(text)
    if encoding == UCS2:
        sizes = [16 * _utf16_units(c) for c in chars]
    else:
        sizes = [14 if c in _GSM7_EXTENSION else 7 for c in chars]
    parts: list[list[int]] = [[]]
    used = [0]  # bits in each part, header included
    for i, bits in enumerate(sizes):
        if _SEGMENT_BITS - used[-1] < bits:
            carried: list[int] = []
            if len(parts) == 1:  # the first part gets its header now and may shed characters
                used[0] += _UDH_BITS
                while used[0] > _SEGMENT_BITS:
                    carried.insert(0, parts[0].pop())
                    used[0] -= sizes[carried[0]]
            parts.append(carried)
            used.append(_UDH_BITS + sum(sizes[j] for j in carried))
        parts[-1].append(i)
        used[-1] += bits
    return encoding, tuple("".join(chars[j] for j in part) for part in parts)


def _fold_cluster(cluster: str, accents_only: bool = False) -> str:
    """Nearest GSM-7 spelling of one grapheme cluster that starts with a letter, else itself.
    With ``accents_only``, only œ Œ and letters whose marks are all _ACCENTS fold."""
    if encoding_for(cluster) == GSM7 or not unicodedata.category(cluster[0]).startswith("L"):
        return cluster
    if cluster in _LIGATURES:
        return _LIGATURES[cluster]
    if cluster in _FOLD and not accents_only:
        return _FOLD[cluster]
    base, *marks = unicodedata.normalize("NFD", cluster)
    if accents_only and not _ACCENTS.issuperset(marks):
        return cluster
    base = base if accents_only else _FOLD.get(base, base)
    for keep in range(len(marks), -1, -1):  # drop accents from the outside in: ǘ -> ü -> u
        candidate = unicodedata.normalize("NFC", base + "".join(marks[:keep]))
        if encoding_for(candidate) == GSM7:
            return candidate
    return cluster


def normalize(text: str, policy: str = "exact") -> str:
    """Return the text that would be sent under ``policy``.

    Every policy NFC-normalizes, joins UTF-16 surrogate pairs into code points and drops raw ESC
    (U+001B), which is not text. ``smart`` also replaces look-alikes with GSM-7 characters (curly
    quotes, dashes, ellipsis, special spaces including U+00A0 and U+202F, full-width ASCII) and
    removes zero-width characters, like Twilio Smart Encoding. ``gsm7`` also folds letters GSM-7
    lacks to the nearest GSM-7 spelling (ê -> e, ç -> c, œ -> oe, Ê -> E) while keeping the ones
    it has (é è à ù ì ò ü ö ä ñ É Ç Å Ø ...); what cannot be folded (emoji, Arabic) stays.
    ``auto`` (DEFAULT_POLICY) gives the ``smart`` text with accents GSM-7 lacks dropped
    (ê -> e, ç -> c, õ -> o, œ -> oe; é è à ù É Ç ... kept) when that makes the whole text
    GSM-7, and the ``exact`` text otherwise: a message with an emoji, another script or a
    letter that is not an accented one (ŋ, ɛ, ẹ) goes as written, never half folded.
    Raises ValueError naming the policy if it is not one of POLICIES.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown SMS text policy {policy!r}; expected one of {POLICIES}")
    text = sendable(text)
    if policy == "exact":
        return text
    smart = unicodedata.normalize("NFC", text.translate(_SMART))
    if policy in ("gsm7", "auto") and encoding_for(smart) == GSM7:
        return smart  # nothing to fold
    # A cluster of one GSM-7 character needs no folding (most of them): not looked at.
    if policy == "gsm7":
        return "".join(c if c in _GSM7_CHARS else _fold_cluster(c)
                       for c in _CLUSTER.findall(smart))
    if policy == "auto":
        folded = "".join(c if c in _GSM7_CHARS else _fold_cluster(c, accents_only=True)
                         for c in _CLUSTER.findall(smart))
        return folded if encoding_for(folded) == GSM7 else text
    return smart


def gsm7_only(text: str, replacement: str = "?") -> str:
    """The text under the ``gsm7`` policy with anything still outside GSM-7 (emoji, other
    scripts) replaced, for channels that cannot carry UCS-2 at all (USSD)."""
    folded = normalize(text, "gsm7")
    if encoding_for(folded) == GSM7:
        return folded
    return "".join(c if c in _GSM7_CHARS else replacement for c in folded)


def septets(text: str) -> int:
    """Length of GSM-7 ``text`` in septets: extension characters count two."""
    return len(text) + sum(1 for c in text if c in _GSM7_EXTENSION)


@dataclass(frozen=True)
class SmsCount:
    """What a message costs: the normalized text, its encoding, and its parts (one per segment).

    Under the ``exact`` policy ``"".join(parts)`` is the NFC text without raw ESC. The empty
    message is one (empty) GSM-7 segment, as in the reference.
    """

    text: str
    encoding: str
    segments: int
    parts: tuple[str, ...]


def count(text: str, policy: str = "exact") -> SmsCount:
    """Normalize ``text`` under ``policy`` and count its segments as Twilio's calculator does:
    160 septets or 70 UTF-16 units in one SMS, else 153 / 67 per part, each part filled greedily
    with whole characters (no word splitting); never splits an escape from its extension
    character, a surrogate pair or a grapheme cluster."""
    normalized = normalize(text, policy)
    encoding, parts = _segment(normalized)
    return SmsCount(text=normalized, encoding=encoding, segments=len(parts), parts=parts)


_BREAK_RUN = regex.compile(r"[ \t\r\n]+")  # breakable whitespace (NBSP and U+202F are not)
_CLOSERS = "\"')]}»”’"


def _fits(text: str, max_segments: int) -> bool:
    return len(_segment(text)[1]) <= max_segments


def _longest_fitting_end(text: str, start: int, ends: list[int], max_segments: int) -> int:
    """Largest cluster end after ``start`` whose prefix fits; by code point if no cluster fits."""
    lo = bisect_right(ends, start)
    hi = bisect_right(ends, start + 160 * max_segments) - 1  # a character costs at least 1 unit
    if not _fits(text[start : ends[lo]], max_segments):  # one cluster larger than the budget
        ends = list(range(start + 1, ends[lo]))  # its code points; the first always fits
        lo, hi = 0, len(ends) - 1
    while lo < hi:  # fitting is monotonic in the prefix length
        mid = (lo + hi + 1) // 2
        if _fits(text[start : ends[mid]], max_segments):
            lo = mid
        else:
            hi = mid - 1
    return ends[lo]


def _break_before(text: str, start: int, limit: int) -> tuple[int, int]:
    """Where to end a message starting at ``start`` that may run to ``limit``, and where the
    next one starts: the best whitespace run in the back half (paragraph > line > sentence end >
    space; the latest of the best kind), else a hard cut at ``limit``."""
    best = (-1, limit, limit)
    for run in _BREAK_RUN.finditer(text, start + 1, limit + 1):
        if run.start() - start < (limit - start) // 2:
            continue
        newlines = run.group().count("\n")
        j = run.start() - 1
        while j > start and text[j] in _CLOSERS:
            j -= 1
        kind = 3 if newlines >= 2 else 2 if newlines else 1 if text[j] in ".!?…" else 0
        if kind >= best[0]:
            resume = run.end()
            while resume < len(text) and text[resume] in " \t\r\n":
                resume += 1
            best = (kind, run.start(), resume)
    return best[1], best[2]


def split_messages(text: str, max_segments: int | None, policy: str = "exact") -> list[str]:
    """Split the text normalized under ``policy`` into messages costing at most ``max_segments``
    segments each (by count()), for replies longer than a carrier allows.

    Each message ends at the best break in its back half, preferring a paragraph break
    ("\\n\\n"), then a line break, then a sentence end, then a space. The whitespace at a break
    is dropped (also whitespace ending the text that does not fit in the last message), nothing
    else: no truncation, no other character lost, grapheme clusters kept whole (a word longer
    than a message is cut between clusters, a cluster longer than a message between code
    points). ``max_segments`` 0 or None means unlimited: one message. No message is empty; empty
    text gives []. Raises ValueError for a negative ``max_segments`` or an unknown policy.
    """
    # Most replies are lesson cards, the same for every learner: split each once.
    return list(_split_messages(text, max_segments, policy))


@lru_cache(maxsize=4096)
def _split_messages(text: str, max_segments: int | None, policy: str) -> tuple[str, ...]:
    text = normalize(text, policy)
    if max_segments is not None and max_segments < 0:
        raise ValueError(f"max_segments must be >= 0 or None, not {max_segments}")
    if not text:
        return ()
    if not max_segments:
        return (text,)
    ends = [m.end() for m in _CLUSTER.finditer(text)]
    messages: list[str] = []
    start = 0
    while start < len(text):
        if _fits(text[start:], max_segments):
            messages.append(text[start:])
            break
        limit = _longest_fitting_end(text, start, ends, max_segments)
        cut, resume = _break_before(text, start, limit)
        if not text[start:cut].isspace():  # whitespace alone before a break is no message
            messages.append(text[start:cut])
        start = resume
    return tuple(messages)
