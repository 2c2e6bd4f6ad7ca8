"""Scores and unhappy words read from a customer's text: the explicit rules of engine.core.sentiment."""

from __future__ import annotations

import pytest

from engine.core.sentiment import band, read_score, reads_negative


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", (7, "")),
        (" 10! ", (10, "")),
        ("3 dårlig service", (3, "dårlig service")),
        ("3/10", (3, "")),
        ("8 av 10, takk", (8, "takk")),
        ("0", (0, "")),
        ("3,5", None),
        ("15 min forsinket", None),
        ("100", None),
        ("Ja", None),
    ],
)
def test_read_score(text: str, expected: tuple[int, str] | None) -> None:
    assert read_score(text) == expected


def test_bands_are_the_nps_bands() -> None:
    assert [band(s) for s in range(11)] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2


@pytest.mark.parametrize(
    ("text", "locale", "unhappy"),
    [
        ("Elendig service, skuffet", "nb", True),
        ("Jeg er ikke fornøyd med jobben", "nb", True),
        ("Meget utilfreds", "nb", True),  # Danish words count for a Norwegian booking too
        ("Skuffende", "da", True),
        ("Very disappointed", "en", True),
        ("ikke dårlig!", "nb", False),  # a negated unhappy word
        ("Not bad at all", "en", False),
        ("Tett avløp på badet", "nb", False),  # "bad" is a bathroom in Norwegian
        ("Takk for god hjelp", "nb", False),
    ],
)
def test_reads_negative(text: str, locale: str, unhappy: bool) -> None:
    assert reads_negative(text, locale) is unhappy
