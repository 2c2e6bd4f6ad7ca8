"""The foundation walk-through, as a new user would try it: the real CLI on a real SQLite file.

Monday 23 November 2026 12:00 in Oslo: book a plumber visit for Tuesday 10:00-10:30,
dispatch, delay by three hours at Tuesday 08:00, dispatch, complete.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime

from icalendar import Calendar

from tests.conftest import Project
from tests.e2e.journeys import MONDAY_NOON, book_plumber

TUESDAY_0800 = "2026-11-24T08:00:00+01:00"


def test_booking_then_one_pass_writes_a_confirmation_email_with_invite_and_an_sms(
    project: Project,
) -> None:
    book_plumber(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)

    [sms] = [s for s in project.sms_files() if s["step"] == "confirmation"]
    assert sms["to"] == "+4791234567"
    assert sms["booking"] == "P-100"
    assert "10:00-10:30" in sms["body"]
    assert sms["encoding"] == "GSM-7"

    [eml] = project.eml_files()
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["X-Forvent-Booking"] == "P-100"
    assert message["X-Forvent-Step"] == "confirmation"
    calendar_parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_parts, "the confirmation carries an invite"
    invite = Calendar.from_ical(calendar_parts[0].get_content())
    event = next(iter(invite.walk("VEVENT")))
    assert event.decoded("DTSTART").isoformat() == "2026-11-24T10:00:00+01:00"


def test_delay_at_0800_sends_the_new_window_before_10_and_on_my_way_then_names_the_new_time(
    project: Project,
) -> None:
    book_plumber(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    before = {m["step"]: m for m in project.json("messages", "P-100", now=MONDAY_NOON)}
    assert "on_my_way" not in before  # sent when the plumber sets off, never on a timer

    project.run("delay", "P-100", "--minutes", "180", now=TUESDAY_0800)
    project.run("dispatch", "--once", now=TUESDAY_0800)

    delay_sms = [s for s in project.sms_files() if s["step"] == "delay_notice"]
    assert len(delay_sms) == 1
    assert "13:00-13:30" in delay_sms[0]["body"]
    rows = project.json("messages", "P-100", now=TUESDAY_0800)
    notice = next(m for m in rows if m["step"] == "delay_notice" and m["channel"] == "sms")
    assert notice["status"] == "sent"
    assert datetime.fromisoformat(notice["sent_at"]) < datetime.fromisoformat("2026-11-24T10:00:00+01:00")
    assert not any(m["step"] == "on_my_way" for m in rows)

    # The plumber sets off at 12:20; the arrival defaults to the delayed start.
    project.run("on-my-way", "P-100", now="2026-11-24T12:20:00+01:00")
    project.run("dispatch", "--once", now="2026-11-24T12:20:00+01:00")
    [on_my_way] = [s for s in project.sms_files() if s["step"] == "on_my_way"]
    assert "Rørleggeren er på vei og er hos deg ca. kl. 13:00." in on_my_way["body"]


def test_complete_plans_the_review_request_two_hours_later(project: Project) -> None:
    book_plumber(project)
    project.run("complete", "P-100", "--at", "2026-11-24T11:15", now="2026-11-24T11:20:00+01:00")
    review = [m for m in project.json("messages", "P-100", now=MONDAY_NOON) if m["step"] == "review_request"]
    assert review and review[0]["due_at"] == "2026-11-24T13:15:00+01:00"
    assert review[0]["status"] == "planned"
