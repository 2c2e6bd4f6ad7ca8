"""SMS encoding and segment counts (GSM 03.38 / UCS-2), as Twilio counts them.

A message is GSM-7 when every character is in the GSM 03.38 basic table or its
extension table, otherwise UCS-2. One segment holds 160 septets (GSM-7) or 70
UTF-16 code units (UCS-2); a longer message is split into segments of 153 or
67, because each part carries a 6-octet concatenation header. Segments are
packed greedily and a character is never split across two of them: an
extension character (two septets, ``ESC`` + code) or a surrogate pair (an
emoji) that does not fit moves whole to the next segment, leaving one unit of
the previous segment unused. This is what Twilio's segment calculator
(TwilioDevEd/message-segment-calculator) does; ``tests/integration`` checks
against it.

One known difference: Twilio's calculator packs whole grapheme clusters (an
emoji with a skin tone, a flag, a letter plus a combining accent), while this
module packs code points. The counts differ only when such a cluster
straddles a segment boundary of a UCS-2 message, where Twilio may count one
segment more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

# The GSM 03.38 basic table, in code order (0x00-0x7F). ESC (0x1B) is left
# out: it introduces extension characters and cannot be sent on its own. 0x09
# is the capital C-cedilla, as Twilio maps it; a small "ç" forces UCS-2.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (ESC + code).
_EXTENSION: Final = "\f^{}\\[~]|€"
_GSM: Final = frozenset(_BASIC + _EXTENSION)
_BMP_END: Final = "\uffff"  # a character above it is a surrogate pair in UTF-16

GSM_SINGLE: Final = 160  # septets in a message of one segment
GSM_MULTIPART: Final = 153  # septets per segment of a longer message
UCS2_SINGLE: Final = 70  # UTF-16 code units in a message of one segment
UCS2_MULTIPART: Final = 67  # UTF-16 code units per segment of a longer message

# Typographic characters that force UCS-2, and their GSM-7 look-alikes.
# Babel emits no-break (U+00A0) and narrow no-break (U+202F) spaces in money
# and times; template authors paste curly quotes and dashes from word processors.
_FRIENDLY: Final = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007", " "),
        **dict.fromkeys("\u2008\u2009\u200a\u202f\u205f", " "),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        "\u2026": "...",
    }
)


@dataclass(frozen=True, kw_only=True)
class SmsInfo:
    """How an SMS body travels.

    ``units`` counts septets for GSM-7 (an extension character counts two)
    and UTF-16 code units for UCS-2 (an emoji outside the BMP counts two).
    """

    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int


def sms_info(text: str) -> SmsInfo:
    """The encoding, segment count and size of ``text``; the empty text is one GSM-7 segment."""
    if _GSM.issuperset(text):
        wide = sum(map(text.count, _EXTENSION))
        widths = (2 if char in _EXTENSION else 1 for char in text)
        segments = _segments(widths, len(text) + wide, wide, GSM_SINGLE, GSM_MULTIPART)
        return SmsInfo(encoding="GSM-7", segments=segments, units=len(text) + wide)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    widths = (2 if char > _BMP_END else 1 for char in text)
    segments = _segments(widths, units, units - len(text), UCS2_SINGLE, UCS2_MULTIPART)
    return SmsInfo(encoding="UCS-2", segments=segments, units=units)


def _segments(widths: Iterable[int], units: int, wide: int, single: int, multipart: int) -> int:
    """Segments for characters of ``widths`` units, ``wide`` of them two units wide.

    Packed greedily: a two-unit character that does not fit in what is left of
    a segment starts the next one.
    """
    if units <= single:
        return 1
    if not wide:  # nothing can straddle a boundary
        return -(-units // multipart)
    count, used = 1, 0
    for width in widths:
        if used + width > multipart:
            count, used = count + 1, 0
        used += width
    return count


def is_gsm7(text: str) -> bool:
    """True when ``text`` can be sent in the GSM-7 alphabet."""
    return _GSM.issuperset(text)


def gsm_friendly(text: str) -> str:
    """``text`` with typographic dashes, spaces, quotes and ellipses replaced by GSM-7 look-alikes.

    Only characters that would force UCS-2 are touched; anything else outside
    GSM-7 (an emoji, a "ç") is kept, so the message stays what the author wrote.
    """
    return text.translate(_FRIENDLY)
