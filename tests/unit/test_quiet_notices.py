"""One quiet-hours rule for the notices the engine makes, and invite updates that travel with them."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.core.planner import Planner
from engine.core.values import Event
from tests.unit.test_planner import BUSINESS, MONDAY_NOON, OSLO, booking, playbook

TUESDAY_0200 = datetime(2026, 11, 24, 2, 0, tzinfo=OSLO)
TUESDAY_0800 = datetime(2026, 11, 24, 8, 0, tzinfo=OSLO)
NEXT_MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=OSLO)


def plan(
    event: str, start: datetime, now: datetime, **changes: object
) -> list[tuple[str, str, datetime | None]]:
    b = booking(start, created=MONDAY_NOON)
    planner = Planner(playbook(**changes), BUSINESS)
    out = planner.for_event(b, Event(id="9", name=event, at=now), now=now, invite_sent=True)
    return [(m.step, m.channel, m.due_at) for m in out]


@pytest.mark.parametrize("event", ["booking.rescheduled", "booking.cancelled", "booking.delayed"])
def test_an_engine_notice_in_the_night_and_its_invite_wait_for_the_morning(event: str) -> None:
    step = "cancelled" if event == "booking.cancelled" else "moved"
    bare = [s for s in playbook().model_dump()["steps"] if s["when"] != "booking.delayed"]
    assert plan(event, NEXT_MONDAY_10, TUESDAY_0200, steps=bare) == [
        (step, "sms", TUESDAY_0800),
        ("invite_update", "email", TUESDAY_0800),
    ]


def test_a_notice_about_a_moment_before_the_morning_goes_at_once_and_its_invite_with_it() -> None:
    seven_thirty = datetime(2026, 11, 24, 7, 30, tzinfo=OSLO)
    assert plan("booking.cancelled", seven_thirty, TUESDAY_0200) == [
        ("cancelled", "sms", TUESDAY_0200),
        ("invite_update", "email", TUESDAY_0200),
    ]


def test_an_urgent_playbook_step_ignores_quiet_hours_and_its_invite_goes_with_it() -> None:
    assert plan("booking.delayed", NEXT_MONDAY_10, TUESDAY_0200) == [
        ("delay_notice", "sms", TUESDAY_0200),
        ("invite_update", "email", TUESDAY_0200),
    ]


def test_an_invite_with_no_notice_to_travel_with_is_held_like_one() -> None:
    assert plan("booking.no_show", NEXT_MONDAY_10, TUESDAY_0200) == [("invite_update", "email", TUESDAY_0800)]
