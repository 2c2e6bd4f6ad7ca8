"""Invites read back by two parsers: icalendar and vobject (written independently)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, Timezone

from engine.messages.invites import Invite, build_invite

OSLO = ZoneInfo("Europe/Oslo")
TRICKY_TEXT = 'Linje 1\nLinje 2, med komma; og semikolon \\ "sitat" æøå ÆØÅ 😀🚗'

BASE = Invite(
    uid="forvent-42@forvent.example.com",
    sequence=0,
    method="REQUEST",
    start=datetime(2026, 7, 14, 10, tzinfo=OSLO),
    end=datetime(2026, 7, 14, 11, tzinfo=OSLO),
    timezone="Europe/Oslo",
    summary="EU-kontroll",
    description="Lever bilen før 08:00.",
    location="Storgata 1, 0155 Oslo",
    url="https://forvent.example.com/b/42",
    organizer_name="Ærlig Bil, avd. Øst",
    organizer_email="post@aerligbil.no",
    attendee_name="Åse Øvre",
    attendee_email="ase@example.com",
    stamp=datetime(2026, 7, 1, 9, 30, tzinfo=UTC),
    alarm=timedelta(hours=1),
)


def _invite(**changes: Any) -> Invite:
    return dataclasses.replace(BASE, **changes)


def _parse(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    (event,) = calendar.events
    return calendar, event


def _prop(event: Event, name: str) -> Any:
    """A property of ``event``; icalendar types every value as a 30-way union."""
    return event[name]


def _lines(data: bytes) -> list[bytes]:
    """The physical lines, after checking every one ends in CRLF."""
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines), "bare CR or LF"
    return lines


def _tzids_used(data: bytes) -> set[str]:
    unfolded = data.replace(b"\r\n ", b"").decode()
    return set(re.findall(r";TZID=([^:;]+)[:;]", unfolded))


def _vtimezones(calendar: Calendar) -> dict[str, Timezone]:
    return {tz.tz_name: tz for tz in calendar.timezones}


def _resolve_with_vtimezone(calendar: Calendar, event: Event, name: str) -> datetime:
    """The instant of DTSTART/DTEND read through the file's own VTIMEZONE, not tzdata."""
    value: datetime = _prop(event, name).dt
    tzid = _prop(event, name).params.get("TZID")
    if tzid is None:
        assert value.tzinfo is not None
        return value.astimezone(UTC)
    zone: tzinfo = _vtimezones(calendar)[tzid].to_tz(lookup_tzid=False)
    return value.replace(tzinfo=zone).astimezone(UTC)


# --- the request as calendars read it ---------------------------------------------------


def test_request_carries_the_itip_fields() -> None:
    calendar, event = _parse(build_invite(BASE))

    assert calendar["PRODID"] == "-//Forvent//Forvent//EN"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "forvent-42@forvent.example.com"
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event["TRANSP"] == "OPAQUE"
    assert event.decoded("DTSTAMP") == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert event["URL"] == "https://forvent.example.com/b/42"
    assert event["LOCATION"] == "Storgata 1, 0155 Oslo"


def test_request_is_at_the_booking_time_in_the_booking_zone() -> None:
    data = build_invite(BASE)
    _, event = _parse(data)

    assert b"DTSTART;TZID=Europe/Oslo:20260714T100000\r\n" in data
    assert b"DTEND;TZID=Europe/Oslo:20260714T110000\r\n" in data
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 7, 14, 8, tzinfo=UTC)
    assert event.decoded("DTEND").astimezone(UTC) == datetime(2026, 7, 14, 9, tzinfo=UTC)


def test_vobject_reads_the_same_instants() -> None:
    parsed = vobject.readOne(
        build_invite(
            _invite(
                start=datetime(2026, 11, 24, 10, tzinfo=OSLO),
                end=datetime(2026, 11, 24, 11, tzinfo=OSLO),
            )
        ).decode()
    )

    assert parsed.vevent.dtstart.value.astimezone(UTC) == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert parsed.vevent.dtend.value.astimezone(UTC) == datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_organizer_and_attendee_are_addressed_by_mailto_with_names() -> None:
    data = build_invite(BASE)
    _, event = _parse(data)

    organizer, attendee = _prop(event, "ORGANIZER"), _prop(event, "ATTENDEE")
    assert organizer == "mailto:post@aerligbil.no"
    assert organizer.params["CN"] == "Ærlig Bil, avd. Øst"
    assert attendee == "mailto:ase@example.com"
    assert dict(attendee.params) == {
        "CN": "Åse Øvre",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }


def test_alarm_reminds_before_the_start() -> None:
    _, event = _parse(build_invite(_invite(alarm=timedelta(hours=1))))

    (alarm,) = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm.decoded("TRIGGER") == -timedelta(hours=1)
    assert alarm["DESCRIPTION"] == "EU-kontroll"


def test_no_alarm_unless_asked() -> None:
    data = build_invite(_invite(alarm=None))

    assert b"BEGIN:VALARM" not in data


# --- text survives escaping and folding -------------------------------------------------


def test_special_text_round_trips_in_icalendar() -> None:
    invite = _invite(summary=TRICKY_TEXT, description=TRICKY_TEXT * 3, location=TRICKY_TEXT)
    _, event = _parse(build_invite(invite))

    assert event["SUMMARY"] == TRICKY_TEXT
    assert event["DESCRIPTION"] == TRICKY_TEXT * 3
    assert event["LOCATION"] == TRICKY_TEXT
    assert event.walk("VALARM")[0]["DESCRIPTION"] == TRICKY_TEXT


def test_special_text_round_trips_in_vobject() -> None:
    invite = _invite(summary=TRICKY_TEXT, description=TRICKY_TEXT * 3, location=TRICKY_TEXT)
    event = vobject.readOne(build_invite(invite).decode()).vevent

    assert event.summary.value == TRICKY_TEXT
    assert event.description.value == TRICKY_TEXT * 3
    assert event.location.value == TRICKY_TEXT
    assert event.organizer.params["CN"] == ["Ærlig Bil, avd. Øst"]


def test_organizer_name_with_quotes_round_trips() -> None:
    _, event = _parse(build_invite(_invite(organizer_name='Bil "Ærlig" AS; Øst')))

    assert _prop(event, "ORGANIZER").params["CN"] == 'Bil "Ærlig" AS; Øst'


@pytest.mark.parametrize("shift", range(4))
def test_lines_fold_at_75_octets_between_characters(shift: int) -> None:
    # Shifting the multi-byte characters by one octet at a time puts each byte
    # of a 4-octet emoji and a 2-octet "ø" on the 75th octet in turn.
    text = "a" * shift + "😀ø" * 80
    data = build_invite(_invite(description=text))

    for line in _lines(data):
        assert len(line) <= 75, line
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert _parse(data)[1]["DESCRIPTION"] == text


# --- the booking's life: change and cancel ----------------------------------------------


def test_cancel_names_the_same_event_with_a_higher_sequence() -> None:
    request = build_invite(BASE)
    cancel = build_invite(_invite(method="CANCEL", sequence=1))

    _, req_event = _parse(request)
    cancel_cal, cancel_event = _parse(cancel)
    assert cancel_cal["METHOD"] == "CANCEL"
    assert cancel_event["STATUS"] == "CANCELLED"
    assert cancel_event["UID"] == req_event["UID"]
    assert _prop(cancel_event, "SEQUENCE") > _prop(req_event, "SEQUENCE")
    assert cancel_event["ATTENDEE"] == "mailto:ase@example.com"
    # RFC 5546 3.2.5 allows no VALARM in a CANCEL.
    assert not cancel_event.walk("VALARM")


def test_publish_names_no_attendee() -> None:
    data = build_invite(_invite(method="PUBLISH", attendee_email=None))
    calendar, event = _parse(data)

    assert calendar["METHOD"] == "PUBLISH"
    assert "ATTENDEE" not in event
    assert event["STATUS"] == "CONFIRMED"


# --- zones ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Oslo", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
def test_every_tzid_used_has_a_vtimezone(zone: str) -> None:
    data = build_invite(_invite(timezone=zone))
    calendar, _ = _parse(data)

    assert _tzids_used(data) == {zone}
    assert set(_vtimezones(calendar)) == {zone}


def test_vtimezone_covers_only_the_year_of_the_booking() -> None:
    calendar, _ = _parse(build_invite(BASE))

    observances = _vtimezones(calendar)["Europe/Oslo"].subcomponents
    assert {obs.decoded("DTSTART").year for obs in observances} == {2026}
    assert not any("RDATE" in obs for obs in observances)


def test_zone_without_dst_has_one_observance() -> None:
    start = datetime(2026, 7, 14, 10, tzinfo=ZoneInfo("Asia/Kolkata"))
    invite = _invite(timezone="Asia/Kolkata", start=start, end=start + timedelta(hours=1))
    calendar, event = _parse(build_invite(invite))

    (observance,) = _vtimezones(calendar)["Asia/Kolkata"].subcomponents
    assert observance.name == "STANDARD"
    assert observance.decoded("TZOFFSETTO") == timedelta(hours=5, minutes=30)
    expected = datetime(2026, 7, 14, 4, 30, tzinfo=UTC)
    assert _resolve_with_vtimezone(calendar, event, "DTSTART") == expected


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC"])
def test_utc_zone_is_written_in_utc_form_without_vtimezone(zone: str) -> None:
    data = build_invite(_invite(timezone=zone))
    _, event = _parse(data)

    assert b"DTSTART:20260714T080000Z\r\n" in data
    assert b"DTEND:20260714T090000Z\r\n" in data
    assert b"TZID" not in data
    assert b"VTIMEZONE" not in data
    assert event.decoded("DTSTART") == datetime(2026, 7, 14, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "line"),
    [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), b"DTSTART:20261025T003000Z\r\n"),  # 02:30 CEST
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), b"DTSTART:20261025T013000Z\r\n"),  # 02:30 CET
    ],
)
def test_wall_time_that_occurs_twice_is_written_in_utc(start: datetime, line: bytes) -> None:
    # 02:30 happens twice in Oslo that night; libical and ical.js read the
    # later one, RFC 5545 the earlier: only the UTC form means one instant.
    data = build_invite(_invite(start=start, end=start + timedelta(hours=2)))
    calendar, event = _parse(data)

    assert line in data
    assert b"DTEND;TZID=Europe/Oslo:" in data
    assert _tzids_used(data) == set(_vtimezones(calendar)) == {"Europe/Oslo"}
    assert _resolve_with_vtimezone(calendar, event, "DTSTART") == start
    assert _resolve_with_vtimezone(calendar, event, "DTEND") == start + timedelta(hours=2)


def test_booking_over_new_year_resolves_without_rdate_lists() -> None:
    start = datetime(2026, 12, 31, 23, tzinfo=OSLO)
    data = build_invite(_invite(start=start, end=start + timedelta(hours=2)))
    calendar, event = _parse(data)

    # ical.js reads a VTIMEZONE with RDATE lists an hour wrong in summer.
    assert b"RDATE" not in data
    assert _resolve_with_vtimezone(calendar, event, "DTSTART") == datetime(2026, 12, 31, 22, tzinfo=UTC)
    assert _resolve_with_vtimezone(calendar, event, "DTEND") == datetime(2027, 1, 1, tzinfo=UTC)


# --- property: any booking resolves to its own instants ---------------------------------

ZONES = ("Europe/Oslo", "Europe/Copenhagen", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_MINUTES = int((datetime(2029, 1, 1, tzinfo=UTC) - WINDOW_START) / timedelta(minutes=1))
NEAR_CHANGE_MINUTES = 36 * 60


def _offset_changes(zone: ZoneInfo) -> list[datetime]:
    """The instants of 2026-2028 at which ``zone`` changes its UTC offset."""

    def offset(minute: int) -> timedelta | None:
        return (WINDOW_START + timedelta(minutes=minute)).astimezone(zone).utcoffset()

    changes = []
    day = 24 * 60
    for lo in range(0, WINDOW_MINUTES, day):
        hi = lo + day
        if offset(lo) == offset(hi):
            continue
        while hi - lo > 1:  # bisect to the first minute of the new offset
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
        changes.append(WINDOW_START + timedelta(minutes=hi))
    return changes


OFFSET_CHANGES = {name: _offset_changes(ZoneInfo(name)) for name in ZONES}


def test_offset_changes_are_found() -> None:
    # Guards the strategy below: without these it would never test a DST day.
    assert datetime(2026, 3, 29, 1, tzinfo=UTC) in OFFSET_CHANGES["Europe/Oslo"]
    assert len(OFFSET_CHANGES["Australia/Sydney"]) == 6
    assert OFFSET_CHANGES["Asia/Kolkata"] == []


@st.composite
def bookings(draw: st.DrawFn) -> tuple[str, datetime, datetime]:
    zone = draw(st.sampled_from(ZONES))
    changes = OFFSET_CHANGES[zone]
    near_change = draw(st.booleans())  # half of them within 36 h of a DST change
    if changes and near_change:
        near = draw(
            st.one_of(
                st.integers(-NEAR_CHANGE_MINUTES // 15, NEAR_CHANGE_MINUTES // 15).map(
                    lambda quarters: quarters * 15
                ),
                st.integers(-NEAR_CHANGE_MINUTES, NEAR_CHANGE_MINUTES),
            )
        )
        start = draw(st.sampled_from(changes)) + timedelta(minutes=near)
    else:
        start = WINDOW_START + timedelta(minutes=draw(st.integers(0, WINDOW_MINUTES - 1)))
    length = timedelta(minutes=draw(st.integers(15, 10 * 60)))
    return zone, start, start + length


@settings(max_examples=300, deadline=None, database=None)
@given(bookings())
def test_any_booking_resolves_to_its_own_instants(booking: tuple[str, datetime, datetime]) -> None:
    zone, start, end = booking
    invite = _invite(timezone=zone, start=start, end=end)
    data = build_invite(invite)
    calendar, event = _parse(data)

    assert _tzids_used(data) <= set(_vtimezones(calendar))
    assert b"RDATE" not in data
    for name, instant in (("DTSTART", start), ("DTEND", end)):
        assert event.decoded(name).astimezone(UTC) == instant
        assert _resolve_with_vtimezone(calendar, event, name) == instant
        if "TZID" in _prop(event, name).params:  # the calendar shows the booking's wall clock
            wall = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            assert _prop(event, name).dt.replace(tzinfo=None) == wall


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"start": datetime(2026, 7, 14, 10)},
        {"end": datetime(2026, 7, 14, 11)},
        {"stamp": datetime(2026, 7, 1, 9)},
        {"end": datetime(2026, 7, 14, 10, tzinfo=OSLO)},
        {"end": datetime(2026, 7, 14, 9, tzinfo=OSLO)},
        {"timezone": "Europe/Atlantis"},
        {"method": "REQUEST", "attendee_email": None},
        {"method": "CANCEL", "attendee_email": None},
        {"method": "REPLY"},
        {"sequence": -1},
        {"alarm": timedelta(minutes=-5)},
        {"uid": " "},
    ],
)
def test_invalid_invite_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _invite(**changes)
