"""The GSM 03.38 alphabet (3GPP TS 23.038) and the text an SMS can carry: what an adapter
needs to choose a message's encoding on the wire (Kannel's coding), and what the gateway's
SMS text rules (gateway/sms_text.py) count and split by. Standard library only: importing
it loads no adapter.
"""

from __future__ import annotations

import unicodedata

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet (without ESC, which is not text) and its extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_CHARS = GSM7_BASIC | GSM7_EXTENSION


def sendable(text: str) -> str:
    """The text as any SMS carries it: UTF-16 surrogate pairs joined into code points, raw
    ESC (U+001B, which is not text) dropped, NFC-normalized."""
    if any("\ud800" <= c <= "\udfff" for c in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return unicodedata.normalize("NFC", text.replace("\x1b", ""))


def encoding_for(text: str) -> str:
    """Return GSM7 if every character of (already normalized) ``text`` is in the GSM-7 default
    or extension table, else UCS2. The empty string is GSM-7."""
    return GSM7 if GSM7_CHARS.issuperset(text) else UCS2
