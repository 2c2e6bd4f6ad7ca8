"""Free start times for self-service booking (pure): opening hours, closed days, capacity.

A slot starts on the business's grid (every ``step`` from opening time, on the
wall clock of the business's zone) and ends ``duration`` later, by the elapsed
clock, no later than closing time on the same day's wall clock. It is free while fewer
than ``capacity`` busy bookings overlap at any instant of it. Instants are
compared in UTC, so a day when the clocks change has its true hours: a 08:00
start is 08:00 local on either side of the change, and a slot across the
night's gap is as long as the time that really passes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.core import timing

HORIZON_DAYS = 14
MIN_LEAD = timedelta(hours=2)  # no slot sooner than this: nobody can plan for it


@dataclass(frozen=True, kw_only=True)
class SlotRules:
    """Where slots may lie: the business's hours and closed dates, on a grid, ``capacity`` at once."""

    hours: Mapping[int, tuple[time, time]]  # weekday (0 = Monday) -> (opens, closes), local
    closed_dates: Collection[date]
    tz: ZoneInfo
    step: timedelta = timedelta(minutes=30)
    capacity: int = 1
    lead: timedelta = MIN_LEAD
    days: int = HORIZON_DAYS

    def __post_init__(self) -> None:
        if self.step <= timedelta(0) or self.capacity < 1 or self.days < 1:
            raise ValueError("slot rules need a positive step, capacity and number of days")


Interval = tuple[datetime, datetime]


def free_slots(
    rules: SlotRules, *, duration: timedelta, busy: Sequence[Interval], now: datetime
) -> list[datetime]:
    """Free start instants (UTC) from today (local) for ``rules.days`` days, at least ``lead`` ahead."""
    if duration <= timedelta(0):
        raise ValueError("a slot needs a positive duration")
    earliest = now + rules.lead
    intervals = sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in busy if e > s)
    return [
        start
        for start, end in candidates(rules, duration=duration, today=now.astimezone(rules.tz).date())
        if start >= earliest and peak(intervals, start, end) < rules.capacity
    ]


def is_free(
    rules: SlotRules, start: datetime, *, duration: timedelta, busy: Sequence[Interval], now: datetime
) -> bool:
    """``start`` is one of ``free_slots`` (the check made again under the lock before booking it)."""
    return start.astimezone(UTC) in free_slots(rules, duration=duration, busy=busy, now=now)


def candidates(rules: SlotRules, *, duration: timedelta, today: date) -> Iterator[Interval]:
    """Every grid start within opening hours on the open days, whether taken or not."""
    for offset in range(rules.days):
        day = today + timedelta(days=offset)
        span = rules.hours.get(day.weekday())
        if span is None or day in rules.closed_dates:
            continue
        opens, closes = span
        local = datetime.combine(day, opens)
        while local.date() == day and local.time() < closes:
            # Grid times are wall-clock times: one in the spring gap does not exist and is left out.
            if not timing.is_gap(local, rules.tz):
                start = timing.wall(local, rules.tz)
                end = start + duration
                # Closing time is read on the wall clock too, as the hours are written.
                finish = end.astimezone(rules.tz)
                if finish.date() == day and finish.time() <= closes:
                    yield start, end
            local += rules.step


def peak(intervals: Sequence[Interval], start: datetime, end: datetime) -> int:
    """The most ``intervals`` (half-open) overlapping at any one instant of [start, end)."""
    edges: list[tuple[datetime, int]] = []
    for first, last in intervals:
        if first < end and last > start:
            edges += [(max(first, start), 1), (min(last, end), -1)]
    # At equal instants an end comes before a start: back-to-back bookings do not overlap.
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    most = current = 0
    for _, change in edges:
        current += change
        most = max(most, current)
    return most
