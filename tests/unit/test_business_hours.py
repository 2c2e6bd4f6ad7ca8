"""business.yaml's opening hours, slot grid and capacity: what they mean and errors that name the field."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from engine.core.business import BusinessProfile, load_business
from engine.exceptions import ConfigurationError

BASE = "name: Fjordbyen Bil & Rør AS\n"


def load(tmp_path: Path, text: str) -> BusinessProfile:
    path = tmp_path / "business.yaml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_business(path)


@pytest.mark.parametrize(
    ("yaml", "error"),
    [
        ('hours: {mon: "8-16"}', """hours.mon: expected opening hours such as "08:00-16:00", got '8-16'"""),
        ('hours: {mon: "16:00-08:00"}', "hours.mon: closes at 08:00 before it opens at 16:00"),
        ('hours: {sat: "10:00-25:00"}', "hours.sat: expected opening hours such as"),
        ('hours: {mo: "08:00-16:00"}', "hours: unknown day 'mo' (use mon, tue, ...)"),
        (
            'open_days: [mon]\nhours: {mon: "08:00-16:00", sat: "10:00-14:00"}',
            "hours: the days with hours (mon, sat) differ from open_days (mon)",
        ),
        ("slot_minutes: 0", "slot_minutes: Input should be greater than or equal to 5"),
        ("capacity: 0", "capacity: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_file_and_the_field(
    tmp_path: Path, yaml: str, error: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, yaml)
    assert str(caught.value).startswith(f"{tmp_path / 'business.yaml'}: {error}")


def test_without_hours_the_open_days_are_open_eight_to_four(tmp_path: Path) -> None:
    business = load(tmp_path, "open_days: [mon, wed]\n")
    assert business.opening_hours == {0: (time(8), time(16)), 2: (time(8), time(16))}
    assert (business.slot_minutes, business.capacity) == (30, 1)


def test_hours_name_the_open_days_when_open_days_is_not_given(tmp_path: Path) -> None:
    business = load(tmp_path, 'hours: {mon: "08:00-16:00", sat: "10:00-14:00"}\ncapacity: 3\n')
    assert business.open_days == ["mon", "sat"]
    assert business.opening_hours == {0: (time(8), time(16)), 5: (time(10), time(14))}
    assert business.capacity == 3


def test_the_demo_business_is_open_weekdays_with_room_for_two() -> None:
    business = load_business(Path(__file__).resolve().parents[2] / "business.yaml")
    assert sorted(business.opening_hours) == [0, 1, 2, 3, 4]
    assert (business.slot_minutes, business.capacity) == (30, 2)
