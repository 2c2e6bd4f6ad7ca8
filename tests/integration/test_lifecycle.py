"""Booking lifecycles through the real engine: SQLite file, seed playbooks, memory channels.

The engine clock is a FixedClock moved by the test; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar

from engine.exceptions import ConflictError, PermanentChannelError, TransientChannelError
from tests.integration.world import OSLO, World


def invite_of(message: object) -> Calendar:
    ics = message.ics
    assert ics is not None
    return Calendar.from_ical(ics)


def test_confirmation_goes_by_email_with_invite_and_by_sms(world: World) -> None:
    world.book()
    stats = world.dispatcher.run_until_idle()
    assert stats.sent == 2
    [email] = world.email.sent
    assert email.step == "confirmation" and email.ics_method == "REQUEST"
    event = next(iter(invite_of(email).walk("VEVENT")))
    assert int(event["SEQUENCE"]) == 0
    [sms] = world.sms.sent
    assert "Toyota Corolla" in sms.body or "torsdag" in sms.body


def test_cancel_cancels_pending_and_sends_the_cancelling_invite(world: World) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    world.service.cancel("C-1", reason="customer called")
    assert world.row("reminder_day_before").status == "cancelled"
    assert world.row("reminder_day_before").reason == "booking_cancelled"
    world.dispatcher.run_until_idle()
    cancels = [m for m in world.email.sent if m.ics_method == "CANCEL"]
    assert len(cancels) == 1
    event = next(iter(invite_of(cancels[0]).walk("VEVENT")))
    first = next(iter(invite_of(world.email.sent[0]).walk("VEVENT")))
    assert str(event["UID"]) == str(first["UID"])
    assert int(event["SEQUENCE"]) > int(first["SEQUENCE"])
    assert any(m.step == "cancelled" for m in world.sms.sent)


def test_reschedule_supersedes_pending_rows_and_plans_the_new_date(world: World) -> None:
    world.book()
    world.at(2026, 11, 25, 17, 0)
    world.dispatcher.run_until_idle()
    assert world.row("reminder_day_before").status == "sent"
    world.service.reschedule("C-1", start="2026-12-03T10:00", end="2026-12-03T14:00")
    rows = [r for r in world.rows() if r.step == "reminder_day_before"]
    assert [r.status for r in rows] == ["sent", "planned"]
    assert rows[1].due_at == datetime(2026, 12, 2, 17, 0, tzinfo=OSLO)
    two_hour = [r for r in world.rows() if r.step == "reminder_2h"]
    assert [(r.status, r.reason) for r in two_hour] == [
        ("cancelled", "superseded"),
        ("planned", None),
    ]


def test_delay_moves_pending_rows_and_refuses_after_start(world: World) -> None:
    world.book()
    before = world.row("reminder_2h")
    world.at(2026, 11, 26, 7, 0)
    world.service.delay("C-1", minutes=45, reason="parts arrived late")
    after = world.row("reminder_2h")
    assert after.id == before.id
    assert after.due_at == before.due_at + timedelta(minutes=45)  # type: ignore[operator]
    world.service.start("C-1")
    with pytest.raises(ConflictError, match="started"):
        world.service.delay("C-1", minutes=10)


def test_small_delays_update_the_eta_silently_until_they_add_up(world: World) -> None:
    world.book()
    world.at(2026, 11, 26, 7, 0)
    world.service.delay("C-1", minutes=5)
    assert not [r for r in world.rows() if r.step == "delay_notice"]
    world.at(2026, 11, 26, 7, 30)
    world.service.delay("C-1", minutes=6)
    notices = [r for r in world.rows() if r.step == "delay_notice"]
    assert len(notices) >= 1


def test_a_second_delay_within_two_minutes_supersedes_the_unsent_notice(world: World) -> None:
    world.book()
    world.at(2026, 11, 26, 7, 0)
    world.service.delay("C-1", minutes=30)
    world.at(2026, 11, 26, 7, 1)
    world.service.delay("C-1", minutes=30)
    notices = [r for r in world.rows() if r.step == "delay_notice" and r.channel == "sms"]
    assert [(r.status, r.reason) for r in notices] == [
        ("cancelled", "superseded"),
        ("planned", None),
    ]
    world.dispatcher.run_until_idle()
    [sent] = [m for m in world.sms.sent if m.step == "delay_notice"]
    assert "11:00" in sent.body


def test_a_dispatcher_that_was_down_skips_stale_messages(world: World) -> None:
    world.book()
    world.at(2026, 11, 26, 7, 0)  # the day-before reminder (Wed 17:00) is 14 h overdue
    world.dispatcher.run_until_idle()
    assert (world.row("reminder_day_before").status, world.row("reminder_day_before").reason) == (
        "skipped",
        "stale",
    )
    assert world.row("confirmation").status == "skipped"


def test_a_permanent_sms_failure_falls_back_to_email(world: World) -> None:
    def invalid_number(message: object) -> None:
        raise PermanentChannelError("invalid number", channel="sms", provider_code="21211")

    world.sms.fault = invalid_number
    world.book()
    world.at(2026, 11, 25, 17, 0)
    world.dispatcher.run_until_idle()
    failed = world.row("reminder_day_before")
    assert (failed.status, failed.reason) == ("failed", "sms:21211")
    fallback = world.row("reminder_day_before", channel="email")
    assert fallback.status == "sent" and fallback.replaces_id == failed.id


def test_a_503_then_success_sends_once_with_two_attempts(world: World) -> None:
    calls = {"n": 0}

    def flaky(message: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientChannelError("503", channel="sms", provider_code="503")

    world.sms.fault = flaky
    world.book()
    world.dispatcher.run_until_idle()
    row = world.row("confirmation")
    assert (row.status, row.reason, row.attempts) == ("retrying", "sms:503", 1)
    assert row.next_attempt_at is not None
    world.clock.set(row.next_attempt_at)
    world.dispatcher.run_until_idle()
    row = world.row("confirmation")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len([m for m in world.sms.sent if m.step == "confirmation"]) == 1


def test_a_cancellation_notice_that_cannot_reach_the_customer_alerts_staff(world: World) -> None:
    """The engine's own notices are not urgent (quiet hours hold them), but one that fails
    with nowhere to fall back to is a customer who will turn up to a cancelled booking."""
    staff = world.rt.business.staff_phone

    def invalid_number(message: object) -> None:
        if getattr(message, "to", None) != staff:
            raise PermanentChannelError("invalid number", channel="sms", provider_code="21211")

    world.book(email=None)  # SMS only: nothing to fall back to
    world.dispatcher.run_until_idle()
    world.sms.fault = invalid_number
    world.at(2026, 11, 25, 12, 0)
    world.service.cancel("C-1", reason="garage closed")
    world.dispatcher.run_until_idle()
    notice = world.row("cancelled")
    assert (notice.status, notice.reason) == ("failed", "sms:21211")
    [alert] = [m for m in world.sms.sent if m.step == "staff_alert"]
    assert alert.to == staff and "C-1" in alert.body


def test_a_confirmation_still_queued_when_the_job_starts_is_not_sent(world: World) -> None:
    """A walk-in booked and started before the dispatcher's turn is not asked to confirm."""
    world.at(2026, 11, 26, 9, 55)
    world.book()
    world.service.start("C-1")
    world.dispatcher.run_until_idle()
    for channel in ("sms", "email"):
        confirmation = world.row("confirmation", channel=channel)
        assert (confirmation.status, confirmation.reason) == ("skipped", "already_started")
    assert not [m for m in world.sms.sent + world.email.sent if m.step == "confirmation"]


def test_a_cancellation_notice_with_nobody_to_reach_alerts_staff_when_it_is_planned(world: World) -> None:
    """The same rule at planning as at send time: a cancellation to a customer who opted out
    of SMS and has no email is skipped at once, and staff hear of it."""
    from engine.services.inbound import Inbound

    world.book(email=None)
    world.dispatcher.run_until_idle()
    Inbound(world.rt).reply("+4791234567", "STOPP")
    world.at(2026, 11, 25, 12, 0)
    world.service.cancel("C-1", reason="garage closed")
    notice = world.row("cancelled")
    assert (notice.status, notice.reason) == ("skipped", "opted_out")
    world.dispatcher.run_until_idle()
    [alert] = [m for m in world.sms.sent if m.step == "staff_alert"]
    assert alert.to == world.rt.business.staff_phone and "C-1" in alert.body
