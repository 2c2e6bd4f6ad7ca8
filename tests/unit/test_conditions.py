"""``if:`` / ``unless:`` conditions: evaluated in the bounded sandbox, so a hostile one fails fast."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.core import conditions
from engine.core.business import SAMPLE_BUSINESS, BusinessProfile
from engine.core.conditions import ConditionError
from engine.core.planner import Planner
from engine.core.playbooks import Playbook
from engine.core.values import Booking, Customer
from engine.exceptions import UserInputError
from engine.messages.lint import Linter

REPO = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
CONTEXT: dict[str, Any] = {"booking": {"confirmed": False, "facts": {"km": 120_000}}}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("booking.confirmed", False),
        ("not booking.confirmed and booking.facts.km > 100000", True),
        ("booking.facts.colour == 'red'", False),  # undefined counts as false
        ("'ab' * 2 == 'abab' and 2 ** 10 == 1024", True),
    ],
)
def test_ordinary_conditions_are_unchanged(expression: str, expected: bool) -> None:
    assert conditions.evaluate(expression, CONTEXT) is expected


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("'x' * 10**10", "the repetition would be 10000000000 characters"),
        ("[0] * 10**10", "the repetition would be 10000000000 characters or items"),
        ("9 ** 999999 > 0", "a power of more than"),
        ("'x'.ljust(10**10)", "str.ljust() would be"),
        ("'%999999999s' % 'a'", "the formatted text would be"),
        ("'{:>999999999}'.format(1)", "the formatted text would be"),
        ("('x' * 900000) ~ ('x' * 900000)", "the joined text would be"),
        ("'x' | center(10**10)", "the centred text would be"),
        ("lipsum(10**6)", "lipsum of more than"),
    ],
)
def test_a_value_too_large_to_build_is_a_condition_error(expression: str, says: str) -> None:
    with pytest.raises(ConditionError) as caught:
        conditions.evaluate(expression, CONTEXT)
    assert str(caught.value).startswith(f"condition {expression!r} stopped: ")
    assert says in str(caught.value)


def test_the_time_budget_is_checked_as_the_condition_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conditions, "MAX_CONDITION_SECONDS", 0.0)  # spent before the first check
    with pytest.raises(ConditionError, match="the condition took longer than 0 s and was stopped"):
        conditions.evaluate("'x' * 2 == 'xx'", CONTEXT)


def test_a_hostile_condition_stops_planning_with_a_condition_error_instead_of_hanging() -> None:
    playbook = Playbook.model_validate(
        {
            "playbook": "car_service",
            "title": "Car service",
            "timezone": "Europe/Oslo",
            "channels": ["sms"],
            "steps": [{"id": "reminder", "at": "start - 1d", "if": "'x' * 10**10", "template": "reminder"}],
        }
    )
    start = datetime(2026, 11, 26, 10, 0, tzinfo=OSLO)
    created = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
    booking = Booking(
        id="1",
        ref="R1",
        playbook="car_service",
        customer=Customer(name="Kari Nordmann", phone="+4791234567"),
        start=start,
        end=start + timedelta(hours=2),
        promised_start=start,
        promised_end=start + timedelta(hours=2),
        timezone="Europe/Oslo",
        locale="nb",
        created_at=created,
    )
    planner = Planner(playbook, BusinessProfile(name="Verksted AS"))
    with pytest.raises(ConditionError, match="the repetition would be 10000000000 characters") as caught:
        planner.timed(booking, now=created)
    assert isinstance(caught.value, UserInputError)  # one line from the CLI, a 4xx from the API


def test_a_condition_that_does_not_compile_is_reported_by_check() -> None:
    with pytest.raises(ConditionError, match="bad condition"):
        conditions.check("booking.confirmed and")
    conditions.check("'x' * 10**10")  # compiles: refused when evaluated, not folded at compile time


def test_lint_evaluates_conditions_on_the_sample_booking(tmp_path: Path) -> None:
    source = (REPO / "playbooks" / "car_service.yaml").read_text(encoding="utf-8")
    assert "    unless: booking.confirmed" in source
    path = tmp_path / "car_service.yaml"
    path.write_text(source.replace("    unless: booking.confirmed", "    unless: \"'x' * 10**10\""), "utf-8")
    report = Linter(REPO / "templates", SAMPLE_BUSINESS).lint(path)
    [error] = [e for e in report.errors if "condition" in e]
    assert error.startswith(f"{path}:")
    assert "step reminder_day_before: condition \"'x' * 10**10\" stopped: the repetition would be" in error
