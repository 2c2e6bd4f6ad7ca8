"""The pure planner: literal bookings in, planned and skipped messages out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.core.business import BusinessProfile
from engine.core.planner import Planner
from engine.core.playbooks import Playbook
from engine.core.values import Booking, BookingStatus, Customer, Event, MessageStatus

OSLO = ZoneInfo("Europe/Oslo")
BUSINESS = BusinessProfile(name="Verksted AS", quiet_hours={"from": "21:00", "to": "08:00"})  # type: ignore[arg-type]


def playbook(**changes: Any) -> Playbook:
    data: dict[str, Any] = {
        "playbook": "car_service",
        "title": "Car service",
        "locales": ["nb", "en"],
        "timezone": "Europe/Oslo",
        "channels": ["sms", "email"],
        "steps": [
            {
                "id": "confirmation",
                "when": "booking.created",
                "channels": ["email", "sms"],
                "deliver": "all",
                "template": "confirmation",
                "invite": "request",
            },
            {
                "id": "reminder_day_before",
                "at": "start - 1d",
                "at_local_time": "17:00",
                "skip_if_created_within": "36h",
                "unless": "booking.confirmed",
                "template": "reminder",
            },
            {
                "id": "reminder_2h",
                "at": "start - 2h",
                "channels": ["sms"],
                "template": "reminder_short",
            },
            {"id": "delay_notice", "when": "booking.delayed", "urgent": True, "template": "delay"},
            {"id": "review_request", "at": "completed + 2h", "template": "review"},
            {
                "id": "next_service",
                "at": "completed + 11mo",
                "at_local_time": "10:00",
                "on_closed_day": "next_open_day",
                "marketing": True,
                "template": "next_service",
            },
        ],
    }
    data.update(changes)
    return Playbook.model_validate(data)


def booking(start: datetime, *, created: datetime, **changes: Any) -> Booking:
    values: dict[str, Any] = {
        "id": "1",
        "ref": "R1",
        "playbook": "car_service",
        "customer": Customer(name="Kari Nordmann", phone="+4791234567", email="kari@example.com"),
        "start": start,
        "end": start + timedelta(hours=2),
        "promised_start": start,
        "promised_end": start + timedelta(hours=2),
        "timezone": "Europe/Oslo",
        "locale": "nb",
        "created_at": created,
    }
    values.update(changes)
    return Booking(**values)


def by_step(messages: list[Any]) -> dict[str, Any]:
    return {f"{m.step}:{m.channel}": m for m in messages}


MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
THURSDAY_10 = datetime(2026, 11, 26, 10, 0, tzinfo=OSLO)


def test_day_before_reminder_lands_at_17_local_and_2h_reminder_two_hours_before() -> None:
    planner = Planner(playbook(), BUSINESS)
    plan = by_step(planner.timed(booking(THURSDAY_10, created=MONDAY_NOON), now=MONDAY_NOON))
    assert plan["reminder_day_before:sms"].due_at == datetime(2026, 11, 25, 17, 0, tzinfo=OSLO)
    assert plan["reminder_day_before:sms"].status == MessageStatus.PLANNED
    assert plan["reminder_2h:sms"].due_at == datetime(2026, 11, 26, 8, 0, tzinfo=OSLO)
    assert "review_request:sms" not in plan  # waits for job.completed


def test_day_before_reminder_across_spring_dst_is_17_local() -> None:
    start = datetime(2026, 3, 30, 10, 0, tzinfo=OSLO)  # Monday after the change on Sunday 29 March
    created = datetime(2026, 3, 20, 12, 0, tzinfo=OSLO)
    plan = by_step(Planner(playbook(), BUSINESS).timed(booking(start, created=created), now=created))
    due = plan["reminder_day_before:sms"].due_at
    assert due.astimezone(OSLO).replace(tzinfo=None) == datetime(2026, 3, 29, 17, 0)
    assert due.astimezone(OSLO).utcoffset() == timedelta(hours=2)


def test_booked_within_36h_skips_the_day_before_reminder_as_created_recently() -> None:
    created = datetime(2026, 11, 25, 9, 0, tzinfo=OSLO)  # 32 h before the 17:00 reminder... of Wed
    plan = by_step(Planner(playbook(), BUSINESS).timed(booking(THURSDAY_10, created=created), now=created))
    assert plan["reminder_day_before:sms"].status == MessageStatus.SKIPPED
    assert plan["reminder_day_before:sms"].reason == "created_recently"


def test_a_time_that_has_passed_is_skipped_too_late_never_sent_late() -> None:
    now = datetime(2026, 11, 25, 18, 0, tzinfo=OSLO)
    b = booking(THURSDAY_10, created=now - timedelta(days=5))
    plan = by_step(Planner(playbook(), BUSINESS).timed(b, now=now))
    assert plan["reminder_day_before:sms"].reason == "too_late"
    assert plan["reminder_2h:sms"].status == MessageStatus.PLANNED


def test_reminder_in_quiet_hours_before_an_early_start_moves_to_the_evening_before() -> None:
    start = datetime(2026, 11, 26, 7, 0, tzinfo=OSLO)  # 2 h before is 05:00, quiet
    plan = by_step(Planner(playbook(), BUSINESS).timed(booking(start, created=MONDAY_NOON), now=MONDAY_NOON))
    assert plan["reminder_2h:sms"].due_at == datetime(2026, 11, 25, 21, 0, tzinfo=OSLO)


def test_reminder_in_quiet_hours_with_the_evening_passed_is_too_late() -> None:
    start = datetime(2026, 11, 26, 7, 0, tzinfo=OSLO)
    now = datetime(2026, 11, 25, 22, 0, tzinfo=OSLO)
    plan = by_step(Planner(playbook(), BUSINESS).timed(booking(start, created=now), now=now))
    assert plan["reminder_2h:sms"].reason == "too_late"


def test_a_delay_moves_start_anchored_messages_under_the_same_key() -> None:
    planner = Planner(playbook(), BUSINESS)
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    before = by_step(planner.timed(b, now=MONDAY_NOON))
    later = replace(b, start=THURSDAY_10 + timedelta(hours=3), end=THURSDAY_10 + timedelta(hours=5))
    after = by_step(planner.timed(later, now=MONDAY_NOON))
    assert after["reminder_2h:sms"].key == before["reminder_2h:sms"].key
    assert after["reminder_2h:sms"].due_at == datetime(2026, 11, 26, 11, 0, tzinfo=OSLO)


def test_a_reschedule_gives_new_keys() -> None:
    planner = Planner(playbook(), BUSINESS)
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    keys = {m.key for m in planner.timed(b, now=MONDAY_NOON)}
    moved = {m.key for m in planner.timed(replace(b, schedule_version=2), now=MONDAY_NOON)}
    assert keys.isdisjoint(moved)


def test_planning_twice_gives_the_same_messages() -> None:
    planner = Planner(playbook(), BUSINESS)
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    assert planner.timed(b, now=MONDAY_NOON) == planner.timed(b, now=MONDAY_NOON)


def test_unless_confirmed_skips_as_already_confirmed() -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON, confirmed=True, status=BookingStatus.CONFIRMED)
    plan = by_step(Planner(playbook(), BUSINESS).timed(b, now=MONDAY_NOON))
    assert plan["reminder_day_before:sms"].reason == "already_confirmed"


def test_completed_anchor_plans_review_two_hours_later_and_next_service_on_an_open_day() -> None:
    done = datetime(2026, 11, 26, 14, 30, tzinfo=OSLO)
    b = booking(
        THURSDAY_10,
        created=MONDAY_NOON,
        status=BookingStatus.COMPLETED,
        anchors={"completed": done},
    )
    plan = by_step(Planner(playbook(), BUSINESS).timed(b, now=done))
    assert plan["review_request:sms"].due_at == datetime(2026, 11, 26, 16, 30, tzinfo=OSLO)
    # 11 months later is Monday 2027-10-26? It is a Tuesday: an open day, kept at 10:00.
    assert plan["next_service:sms"].due_at == datetime(2027, 10, 26, 10, 0, tzinfo=OSLO)
    assert plan["next_service:sms"].status == MessageStatus.PLANNED  # bought just now: consent
    assert "reminder_2h:sms" not in plan


def test_next_service_on_a_weekend_moves_to_monday() -> None:
    done = datetime(2026, 11, 28, 14, 0, tzinfo=OSLO)  # a Saturday; +11mo is Tuesday 2027-10-28? no: Thursday
    b = booking(
        THURSDAY_10,
        created=MONDAY_NOON,
        status=BookingStatus.COMPLETED,
        anchors={"completed": done},
    )
    plan = by_step(Planner(playbook(), BUSINESS).timed(b, now=done))
    due = plan["next_service:sms"].due_at.astimezone(OSLO)
    assert due.weekday() < 5 and due.hour == 10


def test_marketing_without_consent_is_skipped_no_consent() -> None:
    pb = playbook(steps=[{"id": "promo", "at": "start + 30d", "marketing": True, "template": "promo"}])
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    plan = by_step(Planner(pb, BUSINESS).timed(b, now=MONDAY_NOON))
    assert plan["promo:sms"].reason == "no_consent"
    ok = replace(b, customer=replace(b.customer, marketing_ok=True))
    assert (
        by_step(Planner(pb, BUSINESS).timed(ok, now=MONDAY_NOON))["promo:sms"].status == MessageStatus.PLANNED
    )


def test_confirmation_goes_by_every_listed_channel_with_deliver_all() -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    event = Event(id="7", name="booking.created", at=MONDAY_NOON)
    plan = Planner(playbook(), BUSINESS).for_event(b, event, now=MONDAY_NOON)
    assert [(m.step, m.channel, m.due_at) for m in plan] == [
        ("confirmation", "email", MONDAY_NOON),
        ("confirmation", "sms", MONDAY_NOON),
    ]


def test_opted_out_customer_falls_to_the_next_channel_or_is_skipped() -> None:
    customer = Customer(name="Ola", phone="+4791234567", sms_opted_out=True)
    b = booking(THURSDAY_10, created=MONDAY_NOON, customer=customer)
    plan = by_step(Planner(playbook(), BUSINESS).timed(b, now=MONDAY_NOON))
    assert plan["reminder_2h:sms"].reason == "opted_out"
    with_email = replace(b, customer=replace(customer, email="ola@example.com"))
    plan = by_step(Planner(playbook(), BUSINESS).timed(with_email, now=MONDAY_NOON))
    assert plan["reminder_day_before:email"].status == MessageStatus.PLANNED


def test_each_delay_gets_its_own_notice_and_the_builtin_moved_step_when_the_playbook_has_none() -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    planner = Planner(playbook(), BUSINESS)
    first = planner.for_event(b, Event(id="10", name="booking.delayed", at=MONDAY_NOON), now=MONDAY_NOON)
    second = planner.for_event(b, Event(id="11", name="booking.delayed", at=MONDAY_NOON), now=MONDAY_NOON)
    assert first[0].step == "delay_notice" and first[0].key != second[0].key
    bare = Planner(playbook(steps=[]), BUSINESS)
    moved = bare.for_event(b, Event(id="12", name="booking.delayed", at=MONDAY_NOON), now=MONDAY_NOON)
    assert [(m.step, m.template) for m in moved] == [("moved", "moved")]


def test_a_time_change_sends_the_updated_invite_by_email_when_the_notice_goes_by_sms() -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    planner = Planner(playbook(), BUSINESS)
    plan = planner.for_event(
        b, Event(id="10", name="booking.delayed", at=MONDAY_NOON), now=MONDAY_NOON, invite_sent=True
    )
    assert [(m.step, m.channel) for m in plan] == [
        ("delay_notice", "sms"),
        ("invite_update", "email"),
    ]


def test_urgent_event_step_ignores_quiet_hours_and_others_wait() -> None:
    night = datetime(2026, 11, 23, 23, 0, tzinfo=OSLO)
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    planner = Planner(playbook(), BUSINESS)
    urgent = planner.for_event(b, Event(id="3", name="booking.delayed", at=night), now=night)
    assert urgent[0].due_at == night
    confirmation = planner.for_event(b, Event(id="4", name="booking.created", at=night), now=night)
    assert confirmation[0].due_at == datetime(2026, 11, 24, 8, 0, tzinfo=OSLO)


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.NO_SHOW])
def test_closed_bookings_plan_nothing_timed(status: BookingStatus) -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON, status=status)
    assert Planner(playbook(), BUSINESS).timed(b, now=MONDAY_NOON) == []


def test_waiting_steps_name_their_event() -> None:
    b = booking(THURSDAY_10, created=MONDAY_NOON)
    waiting = [(s.id, e) for s, e in Planner(playbook(), BUSINESS).waiting_steps(b)]
    assert waiting == [("review_request", "job.completed"), ("next_service", "job.completed")]


def test_naive_datetimes_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        booking(datetime(2026, 11, 26, 10, 0), created=datetime(2026, 11, 23, tzinfo=UTC))
