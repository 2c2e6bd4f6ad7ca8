"""Calendar invites (iCalendar / iTIP, RFC 5545 and 5546) built from values (pure).

An :class:`Invite` describes one booking as the customer's calendar should
show it; :func:`build_invite` turns it into the bytes of an ``.ics`` file:
CRLF line ends, lines folded at 75 octets (never inside a UTF-8 sequence),
escaping done by the ``icalendar`` library.

Invites follow the booking (SPEC, "Invites follow the booking"): every
invite of one booking has the same ``uid`` (the booking's ``invite_uid``), and
``sequence`` rises on every change of time or status, so calendars replace
the event instead of adding a second one; ``METHOD:CANCEL`` removes it.

Times. ``DTSTART``/``DTEND`` are written as wall-clock time with the
booking's ``TZID`` and a matching ``VTIMEZONE``, so the calendar shows the
booking in its own zone. Two exceptions, both still exact instants:

* a UTC zone is written in UTC form (``...Z``) and needs no ``VTIMEZONE``;
* a wall time that occurs twice (the hour repeated when DST ends) is written
  in UTC form too: RFC 5545 says such a time means its first occurrence, but
  libical and ical.js read the second, so only UTC is unambiguous to all.

The ``VTIMEZONE`` covers only the year of the event: over a wider range
(icalendar's default is 1970-2038) icalendar writes the later changes as
``RDATE`` lists, which ical.js, vobject and Radicale read one hour wrong in
summer. It is built once per zone and year and spliced in as text, so after
the first invite of a zone and year it costs next to nothing (measured with
``benchmarks/bench_invites.py``: ~400 us an invite, against ~730 us when the
``VTIMEZONE`` is rebuilt for each).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]

PRODID = "-//Forvent//Forvent//EN"
METHODS: frozenset[str] = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
#: Methods sent to one attendee, who must be named (RFC 5546 3.2.2, 3.2.5).
_ADDRESSED_METHODS = frozenset({"REQUEST", "CANCEL"})
_VEVENT_START = b"\r\nBEGIN:VEVENT\r\n"
# (zone, date range) entries; far more than the zones x years one installation sees.
_VTIMEZONE_CACHE_SIZE = 512


@dataclass(frozen=True, kw_only=True)
class Invite:
    """One booking as an iTIP message; see the module docstring for the rules.

    ``start``, ``end`` and ``stamp`` must be aware (any zone: they are
    instants); ``timezone`` is the IANA zone whose wall clock the calendar
    shows. ``attendee_email`` is required for REQUEST and CANCEL, and the
    attendee is left out of PUBLISH, as RFC 5546 requires. ``alarm`` is how
    long before the start the calendar reminds. Invalid values raise
    ``ValueError``.
    """

    uid: str
    sequence: int
    method: Method
    start: datetime
    end: datetime
    timezone: str
    summary: str
    description: str
    location: str | None
    url: str | None
    organizer_name: str
    organizer_email: str
    attendee_name: str
    attendee_email: str | None
    stamp: datetime
    alarm: timedelta | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "stamp"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"invite {name} must be timezone-aware, got {value!r}")
        if self.end <= self.start:
            raise ValueError(f"invite end {self.end} must be after start {self.start}")
        if self.method not in METHODS:
            raise ValueError(f"invite method must be one of {sorted(METHODS)}, got {self.method!r}")
        if self.method in _ADDRESSED_METHODS and not self.attendee_email:
            raise ValueError(f"a {self.method} invite needs attendee_email")
        if self.sequence < 0:
            raise ValueError(f"invite sequence must be >= 0, got {self.sequence}")
        if not self.uid.strip():
            raise ValueError("invite uid must not be empty")
        if not self.organizer_email:
            raise ValueError("invite organizer_email must not be empty")
        if self.alarm is not None and self.alarm < timedelta(0):
            raise ValueError(f"invite alarm is a time before the start, got {self.alarm}")
        _zone(self.timezone)


def build_invite(invite: Invite) -> bytes:
    """Serialize ``invite`` as one ``VCALENDAR`` with one ``VEVENT``."""
    calendar = _calendar(invite.method)
    event = _event(invite)
    calendar.add_component(event)
    body: bytes = calendar.to_ical()
    return _splice_timezones(body, _vtimezones(event, invite))


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def _event(invite: Invite) -> Event:
    zone = _zone(invite.timezone)
    event = Event()
    event.add("uid", invite.uid)
    event.add("dtstamp", invite.stamp.astimezone(UTC))
    event.add("dtstart", _wall_time(invite.start, zone))
    event.add("dtend", _wall_time(invite.end, zone))
    event.add("sequence", invite.sequence)
    event.add("status", "CANCELLED" if invite.method == "CANCEL" else "CONFIRMED")
    event.add("summary", invite.summary)
    if invite.location is not None:
        event.add("location", invite.location)
    event.add("description", invite.description)
    if invite.url is not None:
        event.add("url", invite.url)
    event.add("organizer", _address(invite.organizer_email, CN=invite.organizer_name))
    _add_attendee(event, invite)
    event.add("transp", "OPAQUE")
    _add_alarm(event, invite)
    return event


def _add_attendee(event: Event, invite: Invite) -> None:
    # RFC 5546 3.2.1: a PUBLISH names no attendees, whoever it is mailed to.
    if invite.method not in _ADDRESSED_METHODS or invite.attendee_email is None:
        return
    attendee = _address(
        invite.attendee_email,
        CN=invite.attendee_name,
        ROLE="REQ-PARTICIPANT",
        PARTSTAT="NEEDS-ACTION",
        RSVP="TRUE",
    )
    event.add("attendee", attendee)


def _add_alarm(event: Event, invite: Invite) -> None:
    # RFC 5546 3.2.5: a CANCEL carries no VALARM (the event is going away).
    if invite.alarm is None or invite.method == "CANCEL":
        return
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -invite.alarm)
    alarm.add("description", invite.summary)
    event.add_component(alarm)


def _address(email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    for key, value in params.items():
        address.params[key] = value
    return address


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"invite timezone {name!r} is not an IANA zone") from exc


def _wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` on the booking's wall clock, or in UTC when that is ambiguous."""
    local = instant.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return instant.astimezone(UTC)
    return local


def _vtimezones(event: Event, invite: Invite) -> list[bytes]:
    """The ``VTIMEZONE`` text for every TZID the event's properties use."""
    tzids = {str(event[name].params["TZID"]) for name in ("DTSTART", "DTEND") if "TZID" in event[name].params}
    zone = _zone(invite.timezone)
    first, last = _zone_range(invite.start.astimezone(zone), invite.end.astimezone(zone))
    return [_vtimezone(tzid, first, last) for tzid in sorted(tzids)]


def _zone_range(start: datetime, end: datetime) -> tuple[date, date]:
    """The dates a ``VTIMEZONE`` must cover: the start's year, so it is cached per year.

    A range holding a second year's changes makes icalendar write them as
    ``RDATE`` lists, which ical.js reads an hour wrong all summer; so a booking
    that runs into the next year is covered only up to the day after its end.
    """
    first = date(start.year, 1, 1)
    if end.year == start.year:
        return first, date(start.year + 1, 1, 1)
    return first, end.date() + timedelta(days=1)


@functools.lru_cache(maxsize=_VTIMEZONE_CACHE_SIZE)
def _vtimezone(tzid: str, first: date, last: date) -> bytes:
    """A ``VTIMEZONE`` valid from ``first`` up to ``last``, serialized."""
    timezone = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    # icalendar notes the range in a COMMENT, which RFC 5545 does not list for
    # VTIMEZONE and libical rejects once the object is stored without METHOD.
    timezone.pop("COMMENT", None)
    text: bytes = timezone.to_ical()
    return text


def _splice_timezones(body: bytes, vtimezones: list[bytes]) -> bytes:
    # VTIMEZONE goes before the VEVENT, where RFC 5545's examples and the
    # common clients put it. Escaped text never holds a bare line break and
    # folded lines start with a space, so the marker occurs exactly once.
    if not vtimezones:
        return body
    head, tail = body.split(_VEVENT_START)
    return b"".join((head, b"\r\n", *vtimezones, _VEVENT_START[2:], tail))
