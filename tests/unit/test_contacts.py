"""Names and email addresses are judged at the door, not at send time."""

from __future__ import annotations

import pytest

from engine.core.contacts import check_name, normalise_email
from engine.exceptions import UserInputError


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Kari\r\nBcc: all@example.com", "U+000D"),
        ("Kari\nNordmann", "U+000A"),
        ("Kari\tNordmann", "U+0009"),
        ("Kari\x00", "U+0000"),
        ("Kari\x7f", "U+007F"),
        ("Kari\x85Nordmann", "U+0085"),  # C1 NEXT LINE
        ("Kari\u2028Nordmann", "U+2028"),  # LINE SEPARATOR
        ("Kari\ud800", "U+D800"),  # a lone surrogate, from a JSON "\ud800"
    ],
)
def test_a_name_with_control_characters_or_line_breaks_is_refused(name: str, code: str) -> None:
    with pytest.raises(UserInputError) as info:
        check_name(name)
    assert info.value.field == "name"
    assert info.value.message == f"name: must not contain control characters or line breaks (found {code})"


@pytest.mark.parametrize("name", ["Kari Nordmann", "Łukasz Żółć", "Anne-Lise O'Brien", "Søren Ærø", "李小龙"])
def test_names_in_any_script_are_kept_as_given(name: str) -> None:
    assert check_name(name) == name


def test_a_non_ascii_local_part_is_refused_because_no_channel_can_send_to_it() -> None:
    with pytest.raises(UserInputError) as info:
        normalise_email("kåre@example.com")
    assert info.value.field == "email"
    assert info.value.message.startswith("email: 'kåre@example.com' is not a valid email address (")
    assert normalise_email("kåre@example.com", allow_smtputf8=True) == "kåre@example.com"
    assert normalise_email("Kari@Example.COM") == "Kari@example.com"
