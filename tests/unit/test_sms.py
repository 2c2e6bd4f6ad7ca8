"""GSM-7 / UCS-2 detection and segment counts (the boundaries Twilio bills on)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages.sms import SmsInfo, gsm_friendly, is_gsm7, sms_info

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
TYPOGRAPHIC = "\u2013\u2014\u2212\u00a0\u202f\u2009\u2018\u2019\u201c\u201d\u2026"
EMOJI = "😀🚗📅"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsInfo(encoding="GSM-7", segments=1, units=0)),
        ("Hei! Bilen din er klar.", SmsInfo(encoding="GSM-7", segments=1, units=23)),
        ("æøåÆØÅé", SmsInfo(encoding="GSM-7", segments=1, units=7)),
        ("a" * 160, SmsInfo(encoding="GSM-7", segments=1, units=160)),
        ("a" * 161, SmsInfo(encoding="GSM-7", segments=2, units=161)),
        ("a" * 306, SmsInfo(encoding="GSM-7", segments=2, units=306)),
        ("a" * 307, SmsInfo(encoding="GSM-7", segments=3, units=307)),
        ("€" * 80, SmsInfo(encoding="GSM-7", segments=1, units=160)),
        ("€" * 81, SmsInfo(encoding="GSM-7", segments=2, units=162)),
        # 152 + 2 + 152 = 306 septets would fill two segments exactly, but the
        # euro sign does not fit in the one septet left of the first: three.
        ("a" * 152 + "€" + "a" * 152, SmsInfo(encoding="GSM-7", segments=3, units=306)),
        ("a" * 151 + "€" + "a" * 153, SmsInfo(encoding="GSM-7", segments=2, units=306)),
        ("ç" * 70, SmsInfo(encoding="UCS-2", segments=1, units=70)),
        ("ç" * 71, SmsInfo(encoding="UCS-2", segments=2, units=71)),
        ("😀" * 35, SmsInfo(encoding="UCS-2", segments=1, units=70)),
        ("😀" * 36, SmsInfo(encoding="UCS-2", segments=2, units=72)),
        # 66 + 2 + 66 = 134 units would fill two segments of 67; the emoji's
        # surrogate pair is not split, so it starts the second: three.
        ("ç" * 66 + "😀" + "ç" * 66, SmsInfo(encoding="UCS-2", segments=3, units=134)),
        ("ç" * 65 + "😀" + "ç" * 67, SmsInfo(encoding="UCS-2", segments=2, units=134)),
        # In UCS-2 the euro sign is one code unit, not two septets.
        ("ç" + "€" * 69, SmsInfo(encoding="UCS-2", segments=1, units=70)),
    ],
)
def test_encoding_and_segments(text: str, expected: SmsInfo) -> None:
    assert sms_info(text) == expected


@pytest.mark.parametrize(
    ("char", "encoding"),
    [
        ("Ç", "GSM-7"),  # 0x09 in Twilio's table
        ("ç", "UCS-2"),
        ("\f", "GSM-7"),
        ("\x1b", "UCS-2"),  # ESC only introduces extension characters
        ("`", "UCS-2"),
        ("\t", "UCS-2"),
        ("\u00a0", "UCS-2"),  # what Babel puts in "3 450,00 kr"
        ("\u202f", "UCS-2"),
        ("\u2013", "UCS-2"),
    ],
)
def test_single_characters(char: str, encoding: str) -> None:
    assert sms_info(f"Pris {char} 100").encoding == encoding


def test_extension_characters_cost_two_septets() -> None:
    assert sms_info("{[|]}").units == 10
    assert sms_info("a€b").units == 4


@pytest.mark.parametrize(
    ("text", "friendly"),
    [
        ("10:00\u201310:30", "10:00-10:30"),
        ("nå \u2014 straks", "nå - straks"),
        ("\u22125", "-5"),
        ("3\u00a0450,00\u00a0kr", "3 450,00 kr"),
        ("10:00\u202fAM", "10:00 AM"),
        ("a\u2009b", "a b"),
        ("\u201cklar\u201d og \u2018ferdig\u2019", "\"klar\" og 'ferdig'"),
        ("vent\u2026", "vent..."),
        ("«ok»", '"ok"'),
    ],
)
def test_gsm_friendly_replaces_typography(text: str, friendly: str) -> None:
    assert gsm_friendly(text) == friendly
    assert sms_info(gsm_friendly(text)).encoding == "GSM-7"


def test_gsm_friendly_keeps_what_has_no_look_alike() -> None:
    assert gsm_friendly("Takk 😀 ç") == "Takk 😀 ç"


gsm_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=400)
any_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION + TYPOGRAPHIC + EMOJI + "çñ中", max_size=400)


@given(any_text)
def test_one_segment_exactly_when_it_fits(text: str) -> None:
    info = sms_info(text)
    single = 160 if info.encoding == "GSM-7" else 70
    assert (info.segments == 1) == (info.units <= single)


@given(any_text)
def test_a_boundary_wastes_at_most_one_unit(text: str) -> None:
    info = sms_info(text)
    multipart = 153 if info.encoding == "GSM-7" else 67
    if info.segments > 1:
        assert -(-info.units // multipart) <= info.segments <= -(-info.units // (multipart - 1))


@given(any_text, st.sampled_from(GSM_BASIC + GSM_EXTENSION + TYPOGRAPHIC + EMOJI))
def test_appending_never_saves_a_segment(text: str, char: str) -> None:
    assert sms_info(text + char).segments >= sms_info(text).segments


@given(gsm_text)
def test_gsm_alphabet_is_gsm7(text: str) -> None:
    assert sms_info(text).encoding == "GSM-7"
    assert is_gsm7(text)


@given(st.text(alphabet=GSM_BASIC + TYPOGRAPHIC, max_size=200))
def test_gsm_friendly_text_is_gsm7(text: str) -> None:
    assert is_gsm7(gsm_friendly(text))
    assert gsm_friendly(gsm_friendly(text)) == gsm_friendly(text)
