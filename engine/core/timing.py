"""Durations, anchors, wall-clock arithmetic, quiet hours and open days (pure).

Instants are aware datetimes. Calendar units (``d``, ``w``, ``mo``) move the
booking's wall clock, so ``start - 1d`` is the same local time the day before
across a DST change; elapsed units (``h``, ``m``, ``s``) move the instant.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.exceptions import UserInputError

_TOKEN = re.compile(r"(\d+)(mo|w|d|h|m|s)")
_CALENDAR_UNITS = ("mo", "w", "d")
_AT = re.compile(r"^\s*([a-z_]+)\s*(?:([+-])\s*(\S+))?\s*$")
_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

#: Anchors a timed step may use; all but start/end come from an event.
EVENT_ANCHORS = {
    "created": "booking.created",
    "confirmed": "booking.confirmed",
    "started": "job.started",
    "ready": "job.ready",
    "completed": "job.completed",
}
ANCHORS = frozenset({"start", "end", *EVENT_ANCHORS})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar part (months, days) applied on the wall clock, then elapsed seconds."""

    months: int = 0
    days: int = 0
    seconds: int = 0

    @property
    def elapsed(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def is_zero(self) -> bool:
        return not (self.months or self.days or self.seconds)


def parse_duration(text: str, *, allow_seconds: bool = False) -> Duration:
    """Parse ``1d2h``, ``11mo``, ``30m``; calendar units first. Raises ``ValueError``."""
    raw = str(text).strip()
    pos, months, days, seconds = 0, 0, 0, 0
    seen_elapsed = False
    for match in _TOKEN.finditer(raw):
        if match.start() != pos:
            break
        value, unit = int(match.group(1)), match.group(2)
        if unit in _CALENDAR_UNITS and seen_elapsed:
            raise ValueError(f"bad duration {raw!r}: calendar units (mo, w, d) come first")
        if unit == "s" and not allow_seconds:
            raise ValueError(f"bad duration {raw!r}: use m, h, d, w or mo")
        if unit == "mo":
            months += value
        elif unit == "w":
            days += 7 * value
        elif unit == "d":
            days += value
        else:
            seen_elapsed = True
            seconds += value * {"h": 3600, "m": 60, "s": 1}[unit]
        pos = match.end()
    if not raw or pos != len(raw):
        raise ValueError(f"bad duration {raw!r}: expected e.g. 30m, 2h, 1d2h, 11mo")
    return Duration(months=months, days=days, seconds=seconds)


def parse_timedelta(text: str) -> timedelta:
    """An elapsed duration for settings (``5m``, ``12h``, ``30s``); no calendar units."""
    duration = parse_duration(text, allow_seconds=True)
    if duration.months:
        raise ValueError(f"bad duration {text!r}: months have no fixed length here")
    return timedelta(days=duration.days, seconds=duration.seconds)


@dataclass(frozen=True, slots=True)
class AtExpression:
    """``anchor +/- duration`` of a timed step."""

    anchor: str
    sign: int
    offset: Duration

    @property
    def is_before_anchor(self) -> bool:
        return self.sign < 0 and not self.offset.is_zero()


def parse_at(text: str) -> AtExpression:
    match = _AT.match(str(text))
    if not match:
        raise ValueError(f"bad time trigger {text!r}: expected 'anchor +/- duration'")
    anchor, sign, offset = match.groups()
    if anchor not in ANCHORS:
        known = ", ".join(sorted(ANCHORS))
        raise ValueError(f"unknown anchor {anchor!r} (known: {known})")
    if (sign is None) != (offset is None):
        raise ValueError(f"bad time trigger {text!r}")
    duration = parse_duration(offset) if offset else Duration()
    return AtExpression(anchor=anchor, sign=-1 if sign == "-" else 1, offset=duration)


def parse_local_time(text: str) -> time:
    match = _LOCAL_TIME.match(str(text))
    if not match:
        raise ValueError(f'bad time of day {text!r}: expected a quoted "HH:MM"')
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``UserInputError`` names it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserInputError(f"unknown time zone {name!r}", field="timezone") from exc


def is_gap(local: datetime, tz: ZoneInfo) -> bool:
    """True when the naive wall-clock ``local`` does not exist in ``tz`` (spring gap)."""
    aware = local.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local


def wall(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) of the naive wall-clock ``local`` in ``tz``.

    An ambiguous autumn time means its first occurrence; a time in the spring
    gap moves forward by the gap (fold=0 reads it with the offset before the
    change, which lands exactly one gap later).
    """
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def add_months(local: datetime, months: int) -> datetime:
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return local.replace(year=year, month=month + 1, day=min(local.day, last_day))


def shift(instant: datetime, sign: int, offset: Duration, tz: ZoneInfo) -> datetime:
    """``instant +/- offset``: the calendar part on ``tz``'s wall clock, then elapsed time.

    Returns UTC: Python subtracts and compares two datetimes that share one
    ``ZoneInfo`` by wall clock, which is wrong across DST; UTC never is.
    """
    result = instant.astimezone(UTC)
    if offset.months or offset.days:
        local = instant.astimezone(tz).replace(tzinfo=None)
        local = add_months(local, sign * offset.months) + timedelta(days=sign * offset.days)
        result = wall(local, tz)
    return result + sign * offset.elapsed


def at_local_time(instant: datetime, clock: time, tz: ZoneInfo) -> datetime:
    """The given wall-clock time on ``instant``'s local date."""
    local_date = instant.astimezone(tz).date()
    return wall(datetime.combine(local_date, clock), tz)


def parse_instant(text: str, tz: ZoneInfo, *, field: str) -> datetime:
    """ISO 8601 with an offset (that instant) or without (wall-clock in ``tz``)."""
    try:
        parsed = datetime.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise UserInputError(f"{field}: not an ISO 8601 time: {text!r}", field=field) from exc
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    if is_gap(parsed, tz):
        raise UserInputError(f"{field}: {text} does not exist in {tz.key} (the clocks skip it)", field=field)
    return wall(parsed, tz)


def parse_clock_instant(text: str) -> datetime:
    """An engine-clock value (``--now``/``FORVENT_NOW``): must carry an offset."""
    try:
        parsed = datetime.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise UserInputError(f"--now: not an ISO 8601 time: {text!r}", field="now") from exc
    if parsed.tzinfo is None:
        raise UserInputError(f"--now: {text!r} needs an offset such as +01:00 or Z", field="now")
    return parsed


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times strictly after ``start`` and strictly before ``end`` are quiet."""

    start: time
    end: time

    def is_quiet(self, clock: time) -> bool:
        if self.start <= self.end:
            return self.start < clock < self.end
        return clock > self.start or clock < self.end


def quiet_window(due: datetime, quiet: QuietHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The (from, to) instants of the quiet window ``due`` falls in."""
    local = due.astimezone(tz).replace(tzinfo=None)
    begin = datetime.combine(local.date(), quiet.start)
    if begin >= local:
        begin -= timedelta(days=1)
    end = datetime.combine(local.date(), quiet.end)
    if end <= local:
        end += timedelta(days=1)
    return wall(begin, tz), wall(end, tz)


@dataclass(frozen=True, slots=True)
class QuietDecision:
    """Where a message due in quiet hours goes.

    ``due`` is the new time; ``None`` means the window's start has already
    passed, so there is no allowed time before the moment the message is about.
    """

    due: datetime | None
    moved: bool


def apply_quiet_hours(
    due: datetime,
    *,
    quiet: QuietHours | None,
    tz: ZoneInfo,
    about: datetime | None,
    now: datetime,
) -> QuietDecision:
    """SPEC's two rules: wait for the window's end, unless that is too late for ``about``."""
    if quiet is None or not quiet.is_quiet(due.astimezone(tz).time()):
        return QuietDecision(due=due, moved=False)
    begin, end = quiet_window(due, quiet, tz)
    if about is None or end < about:
        return QuietDecision(due=end, moved=True)
    if begin < now:
        return QuietDecision(due=None, moved=True)
    return QuietDecision(due=begin, moved=True)


def next_open_day(
    due: datetime, tz: ZoneInfo, open_days: Collection[int], closed_dates: Collection[date]
) -> datetime:
    """The same local time on the first open day at or after ``due``'s local date."""
    local = due.astimezone(tz).replace(tzinfo=None)
    for _ in range(366):
        if local.weekday() in open_days and local.date() not in closed_dates:
            return due if local == due.astimezone(tz).replace(tzinfo=None) else wall(local, tz)
        local += timedelta(days=1)
    return due  # no open day within a year: keep the time rather than loop forever


def is_open_day(day: date, open_days: Collection[int], closed_dates: Collection[date]) -> bool:
    return day.weekday() in open_days and day not in closed_dates


def utc_z(instant: datetime | None) -> str | None:
    """``2026-11-24T09:00:00Z``, the form of every ``*_utc`` field."""
    if instant is None:
        return None
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_iso(instant: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with seconds and the local offset, the form of every printed time."""
    if instant is None:
        return None
    return instant.astimezone(tz).isoformat(timespec="seconds")
