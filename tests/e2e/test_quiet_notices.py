"""Quiet hours hold the notices the engine makes itself, and an invite update travels with its notice.

A car service booked on Monday 23 November 2026 at noon in Oslo, its
confirmation sent by email with the calendar invite (so changes follow as
invites); the business's quiet hours are 21:00-08:00. Staff act in the night
through the real CLI; dispatch passes run at the times given.
"""

from __future__ import annotations

import email
from email.policy import default
from typing import Any

from tests.conftest import Project
from tests.e2e import journeys

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
TUESDAY_0200 = "2026-11-24T02:00:00+01:00"
TUESDAY_0335 = "2026-11-24T03:35:00+01:00"
TUESDAY_0800 = "2026-11-24T08:00:00+01:00"


def book(project: Project, start: str, end: str) -> None:
    journeys.book(
        project,
        "C-7",
        playbook="car_service",
        email="kari@example.com",
        locale="nb",
        start=start,
        end=end,
        facts=["vehicle=Toyota Corolla"],
        now=MONDAY_NOON,
    )
    project.run("dispatch", "--once", now=MONDAY_NOON)  # the confirmation and its invite


def rows(project: Project, *steps: str, now: str) -> list[dict[str, Any]]:
    return [m for m in project.json("messages", "C-7", now=now) if m["step"] in steps]


def invite_method(project: Project, now: str) -> str:
    """The METHOD of the calendar part of the invite update's email, as a mail client reads it."""
    [row] = rows(project, "invite_update", now=now)
    mail = email.message_from_bytes((project.outbox / f"{row['id']}.eml").read_bytes(), policy=default)
    [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    return str(part.get_param("method"))


def sent(project: Project, *steps: str, now: str) -> list[tuple[str, str, str, str | None]]:
    return [
        (m["step"], m["channel"], m["status"], m["sent_at"])
        for m in rows(project, *steps, now=now)
        if m["status"] != "cancelled"
    ]


def test_a_night_reschedule_sends_the_notice_and_the_invite_together_at_eight(project: Project) -> None:
    book(project, "2026-11-30T10:00", "2026-11-30T14:00")
    project.run("reschedule", "C-7", "--start", "2026-12-01T10:00", now=TUESDAY_0200)
    project.run("dispatch", "--once", now=TUESDAY_0200)
    planned = rows(project, "moved", "invite_update", now=TUESDAY_0200)
    assert [(m["step"], m["channel"], m["status"], m["due_at"]) for m in planned] == [
        ("moved", "sms", "planned", TUESDAY_0800),
        ("invite_update", "email", "planned", TUESDAY_0800),
    ]
    project.run("dispatch", "--once", now=TUESDAY_0800)
    assert sent(project, "moved", "invite_update", now=TUESDAY_0800) == [
        ("moved", "sms", "sent", TUESDAY_0800),
        ("invite_update", "email", "sent", TUESDAY_0800),
    ]
    [notice] = [s for s in project.sms_files() if s["step"] == "moved"]
    assert "1. desember" in notice["body"]
    assert invite_method(project, TUESDAY_0800) == "REQUEST"


def test_a_night_cancel_of_a_booking_next_week_waits_until_eight(project: Project) -> None:
    book(project, "2026-11-30T10:00", "2026-11-30T14:00")
    project.run("cancel", "C-7", now=TUESDAY_0335)
    project.run("dispatch", "--once", now=TUESDAY_0335)
    assert [s for s in project.sms_files() if s["step"] == "cancelled"] == []
    project.run("dispatch", "--once", now=TUESDAY_0800)
    assert sent(project, "cancelled", "invite_update", now=TUESDAY_0800) == [
        ("cancelled", "sms", "sent", TUESDAY_0800),
        ("invite_update", "email", "sent", TUESDAY_0800),
    ]
    assert invite_method(project, TUESDAY_0800) == "CANCEL"


def test_a_night_cancel_of_a_booking_at_half_past_seven_goes_at_once(project: Project) -> None:
    book(project, "2026-11-24T07:30", "2026-11-24T11:30")
    project.run("cancel", "C-7", now=TUESDAY_0335)
    project.run("dispatch", "--once", now=TUESDAY_0335)
    # Eight would be after the moment it is about, and last evening's 21:00 has passed.
    assert sent(project, "cancelled", "invite_update", now=TUESDAY_0335) == [
        ("cancelled", "sms", "sent", TUESDAY_0335),
        ("invite_update", "email", "sent", TUESDAY_0335),
    ]
