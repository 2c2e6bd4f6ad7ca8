"""What a person typed for a booking, read and checked before anything is stored.

``book``, the API, ``import`` and the previews fill a ``BookingInput`` with
strings as typed; the functions here read them (times in the booking's zone,
phone numbers in the business's country, amounts by the business's
conventions) and refuse with a ``UserInputError`` naming the field. Nothing
here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.core import timing
from engine.core.contacts import check_name, normalise_email, normalise_phone
from engine.core.playbooks import Playbook
from engine.exceptions import ConflictError, UserInputError

PAST_START_GRACE = timedelta(hours=1)
EVENT_CLOCK_SKEW = timedelta(minutes=5)
EVENT_MAX_AGE = timedelta(days=30)
MAX_TEXT = 2000  # characters


@dataclass(kw_only=True)
class BookingInput:
    """What ``book``, the API and ``import`` give; strings as typed by a person."""

    ref: str
    playbook: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    start: str | datetime | None = None
    end: str | datetime | None = None
    timezone: str | None = None
    locale: str | None = None
    location: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    marketing_ok: bool | None = None
    assignee: str | None = None  # None: not given; "": clear it


def text(value: str | None, field_name: str, limit: int = MAX_TEXT) -> str | None:
    """Trimmed, at most ``limit`` characters; blank is ``None``."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise UserInputError(f"{field_name}: longer than {limit} characters", field=field_name)
    return value or None


def assignee(value: str | None) -> str | None:
    """Who does the job, as the board shows and filters it; blank is nobody."""
    name = text(value, "assignee", 100)
    if name is not None and any(not c.isprintable() for c in name):
        raise UserInputError("assignee: must be printable text on one line", field="assignee")
    return name


def check_ref(ref: str) -> str:
    """The booking's own reference: it goes into URLs and file names as it is."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 100 or any(c.isspace() or c in "/?#%" for c in ref):
        raise UserInputError(f"ref: {ref!r} must be 1-100 characters without spaces or / ? # %", field="ref")
    return ref


def instant(value: str | datetime, tz: ZoneInfo, field_name: str) -> datetime:
    """An aware instant; a wall time without offset is read in ``tz``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return timing.parse_instant(value.isoformat(), tz, field=field_name)
        return value.astimezone(tz)
    return timing.parse_instant(value, tz, field=field_name)


def check_window(start: datetime, end: datetime, *, now: datetime, allow_past: bool = False) -> None:
    if end <= start:
        raise UserInputError("end: must be after start", field="end")
    if not allow_past and start < now - PAST_START_GRACE:
        raise UserInputError("start: more than 1 h in the past", field="start")


def window(
    start: str | datetime | None,
    end: str | datetime | None,
    *,
    tz: ZoneInfo,
    duration: timing.Duration,
    now: datetime,
    allow_past: bool,
) -> tuple[datetime, datetime]:
    """The booked window; without ``end`` it lasts the playbook's ``duration``."""
    if start is None:
        raise UserInputError("start: required", field="start")
    first = instant(start, tz, "start")
    last = instant(end, tz, "end") if end is not None else timing.shift(first, 1, duration, tz)
    check_window(first, last, now=now, allow_past=allow_past)
    return first, last


def customer_fields(data: BookingInput, *, country: str) -> dict[str, Any]:
    """The customer's columns ``data`` sets; a blank phone or email clears it."""
    out: dict[str, Any] = {}
    if data.name is not None:
        name = text(data.name, "name", 200)
        if not name:
            raise UserInputError("name: required", field="name")
        out["name"] = check_name(name)
    if data.phone is not None:
        out["phone"] = normalise_phone(data.phone, country=country) if data.phone.strip() else None
    if data.email is not None:
        out["email"] = normalise_email(data.email) if data.email.strip() else None
    if data.marketing_ok is not None:
        out["marketing_ok"] = bool(data.marketing_ok)
    return out


def locale(requested: str | None, *, current: str | None, playbook: Playbook, fallback: str) -> str:
    """The asked-for locale, else the booking's, the playbook's or ``fallback``; one the playbook has."""
    chosen = requested or current or playbook.default_locale or fallback
    if chosen not in playbook.all_locales:
        raise UserInputError(
            f"locale: {chosen!r} is not one of {playbook.playbook}'s locales "
            f"({', '.join(playbook.all_locales)})",
            field="locale",
        )
    return chosen


def event_time(at: str | datetime | None, tz: ZoneInfo, now: datetime) -> datetime:
    """When a reported event happened: by the engine clock, or ``at`` within ``EVENT_MAX_AGE``.

    An event cannot have happened in the future (beyond a little clock skew) nor
    long before anyone could report it; either is a typo that would corrupt the
    report's lateness figures.
    """
    if at is None:
        return now
    when = instant(at, tz, "at")
    if when > now + EVENT_CLOCK_SKEW:
        raise UserInputError(
            f"at: {timing.local_iso(when, tz)} is in the future (the engine clock says "
            f"{timing.local_iso(now, tz)})",
            field="at",
        )
    if when < now - EVENT_MAX_AGE:
        raise UserInputError(
            f"at: {timing.local_iso(when, tz)} is more than {EVENT_MAX_AGE.days} days ago", field="at"
        )
    return when


def check_delay_amount(action: str, minutes: int | None, until: str | datetime | None) -> None:
    """A delay and a ready delay take exactly one of a whole number of minutes (1+) and a time."""
    if (minutes is None) == (until is None):
        raise UserInputError(f"{action}: give exactly one of --minutes and --until", field="minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1):
        raise UserInputError("minutes: must be a whole number of at least 1", field="minutes")


def check_later(new: datetime, expected: datetime, tz: ZoneInfo, what: str) -> None:
    """Refuse (409) an ``until`` not later than the time ``what`` is expected now."""
    if new <= expected:
        raise ConflictError(
            f"until: {timing.local_iso(new, tz)} is not later than the expected {what} "
            f"{timing.local_iso(expected, tz)}",
            field="until",
        )
