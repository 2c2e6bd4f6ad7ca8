"""Free slots (engine.core.slots): within the hours, off closed days, never over capacity, DST-true."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.slots import SlotRules, free_slots, is_free, peak

OSLO = ZoneInfo("Europe/Oslo")
WEEKDAYS = {d: (time(8), time(16)) for d in range(5)}
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=OSLO)


def rules(**changes: object) -> SlotRules:
    base: dict[str, object] = {"hours": WEEKDAYS, "closed_dates": frozenset(), "tz": OSLO}
    return SlotRules(**{**base, **changes})  # type: ignore[arg-type]


def local(value: datetime) -> str:
    return value.astimezone(OSLO).strftime("%a %d %H:%M")


def test_slots_start_two_hours_ahead_on_the_grid_and_end_by_closing_time() -> None:
    free = free_slots(rules(days=2), duration=timedelta(hours=3), busy=[], now=MONDAY_9)
    assert [local(s) for s in free] == [
        "Mon 23 11:00", "Mon 23 11:30", "Mon 23 12:00", "Mon 23 12:30", "Mon 23 13:00",
        "Tue 24 08:00", "Tue 24 08:30", "Tue 24 09:00", "Tue 24 09:30", "Tue 24 10:00",
        "Tue 24 10:30", "Tue 24 11:00", "Tue 24 11:30", "Tue 24 12:00", "Tue 24 12:30", "Tue 24 13:00",
    ]  # fmt: skip


def test_weekends_and_closed_dates_have_no_slots() -> None:
    closed = rules(closed_dates=frozenset({date(2026, 11, 24)}), days=7)
    days = {
        s.astimezone(OSLO).date()
        for s in free_slots(closed, duration=timedelta(hours=1), busy=[], now=MONDAY_9)
    }
    assert sorted(d.isoformat() for d in days) == ["2026-11-23", "2026-11-25", "2026-11-26", "2026-11-27"]


def test_a_slot_is_taken_once_capacity_bookings_overlap_it() -> None:
    tuesday_10 = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)
    busy = [(tuesday_10, tuesday_10 + timedelta(hours=1))]
    one = free_slots(rules(days=2), duration=timedelta(hours=1), busy=busy, now=MONDAY_9)
    assert "Tue 24 09:30" not in map(local, one) and "Tue 24 10:00" not in map(local, one)
    assert "Tue 24 09:00" in map(local, one) and "Tue 24 11:00" in map(local, one)  # back to back is fine
    two = free_slots(rules(days=2, capacity=2), duration=timedelta(hours=1), busy=busy, now=MONDAY_9)
    assert "Tue 24 10:00" in map(local, two)
    assert not is_free(
        rules(capacity=2), tuesday_10, duration=timedelta(hours=1), busy=busy * 2, now=MONDAY_9
    )


def test_two_bookings_one_after_the_other_fill_one_place_each_not_two() -> None:
    at = datetime(2026, 11, 24, 8, 0, tzinfo=OSLO)
    busy = [(at, at + timedelta(hours=1)), (at + timedelta(hours=1), at + timedelta(hours=2))]
    assert peak(busy, at, at + timedelta(hours=2)) == 1
    assert is_free(rules(capacity=2), at, duration=timedelta(hours=2), busy=busy, now=MONDAY_9)


def test_spring_forward_night_skips_the_missing_hour_and_counts_real_time() -> None:
    sunday = date(2026, 3, 29)  # Oslo: 02:00 becomes 03:00
    night = rules(hours={6: (time(0), time(6))}, step=timedelta(hours=1), lead=timedelta(0), days=2)
    now = datetime(2026, 3, 28, 23, 0, tzinfo=OSLO)
    free = free_slots(night, duration=timedelta(hours=2), busy=[], now=now)
    assert [s.astimezone(OSLO).strftime("%H:%M") for s in free] == ["00:00", "01:00", "03:00", "04:00"]
    # 01:00 + 2 h of real time is 04:00 on the wall clock: within the 06:00 close.
    assert (free[1] + timedelta(hours=2)).astimezone(OSLO).time() == time(4)
    assert all(s.astimezone(OSLO).date() == sunday for s in free)


def test_fall_back_day_keeps_its_local_opening_hours() -> None:
    sunday = rules(hours={6: (time(8), time(10))}, lead=timedelta(0), days=1)
    now = datetime(2026, 10, 25, 0, 0, tzinfo=OSLO)
    free = free_slots(sunday, duration=timedelta(hours=1), busy=[], now=now)
    assert [s.astimezone(OSLO).isoformat() for s in free] == [
        "2026-10-25T08:00:00+01:00",
        "2026-10-25T08:30:00+01:00",
        "2026-10-25T09:00:00+01:00",
    ]


# --- properties -------------------------------------------------------------------------

clock_times = st.integers(min_value=0, max_value=47).map(lambda n: time(n // 2, 30 * (n % 2)))


@st.composite
def hours(draw: st.DrawFn) -> dict[int, tuple[time, time]]:
    out = {}
    for day in draw(st.sets(st.integers(0, 6), min_size=1)):
        opens, closes = sorted(draw(st.lists(clock_times, min_size=2, max_size=2, unique=True)))
        out[day] = (opens, closes)
    return out


# Around both of Oslo's 2026 clock changes, and an ordinary week.
nows = st.sampled_from(
    [
        datetime(2026, 3, 22, tzinfo=UTC),
        datetime(2026, 10, 18, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    ]
).flatmap(lambda base: st.integers(0, 14 * 24 * 4).map(lambda q: base + timedelta(minutes=15 * q)))
durations = st.integers(1, 16).map(lambda n: timedelta(minutes=30 * n))


@st.composite
def busy_lists(draw: st.DrawFn, now: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    for _ in range(draw(st.integers(0, 25))):
        start = now + timedelta(minutes=15 * draw(st.integers(-20, 15 * 24 * 4)))
        out.append((start, start + timedelta(minutes=15 * draw(st.integers(1, 24)))))
    return out


@given(
    data=st.data(),
    week=hours(),
    now=nows,
    duration=durations,
    capacity=st.integers(1, 3),
    step=st.sampled_from([15, 30, 60]),
    closed=st.sets(st.integers(0, 14), max_size=4),
)
def test_free_slots_keep_every_rule(
    data: st.DataObject,
    week: dict[int, tuple[time, time]],
    now: datetime,
    duration: timedelta,
    capacity: int,
    step: int,
    closed: set[int],
) -> None:
    today = now.astimezone(OSLO).date()
    closed_dates = frozenset(today + timedelta(days=n) for n in closed)
    busy = data.draw(busy_lists(now))
    slot_rules = rules(hours=week, closed_dates=closed_dates, capacity=capacity, step=timedelta(minutes=step))
    free = free_slots(slot_rules, duration=duration, busy=busy, now=now)
    assert free == sorted(set(free))
    for start in free:
        day = start.astimezone(OSLO)
        opens, closes = week[day.weekday()]
        end = (start + duration).astimezone(OSLO)
        assert day.date() not in closed_dates  # never on a closed date
        assert today <= day.date() < today + timedelta(days=14)
        assert start >= now + timedelta(hours=2)  # never in the past, never too soon
        assert opens <= day.time() and end.date() == day.date() and end.time() <= closes  # within hours
        minutes = (day.hour * 60 + day.minute) - (opens.hour * 60 + opens.minute)
        assert minutes % step == 0  # on the grid
        assert peak(busy, start, start + duration) + 1 <= capacity  # never over capacity


@given(now=nows, duration=durations, week=hours())
def test_with_nothing_busy_every_grid_time_in_the_hours_is_offered(
    now: datetime, duration: timedelta, week: dict[int, tuple[time, time]]
) -> None:
    free = set(free_slots(rules(hours=week), duration=duration, busy=[], now=now))
    today = now.astimezone(OSLO).date()
    for offset in range(14):
        day = today + timedelta(days=offset)
        if day.weekday() not in week:
            continue
        opens, closes = week[day.weekday()]
        wall = datetime.combine(day, opens)
        while wall.time() < closes and wall.date() == day:
            start = wall.replace(tzinfo=OSLO).astimezone(UTC)
            back = start.astimezone(OSLO).replace(tzinfo=None)
            fits = (start + duration).astimezone(OSLO)
            wanted = (
                back == wall
                and start >= now + timedelta(hours=2)
                and fits.date() == day
                and fits.time() <= closes
                and fits.time() != time(0)
            )
            if wanted:
                assert start in free, wall
            wall += timedelta(minutes=30)


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        rules(capacity=0)
    with pytest.raises(ValueError):
        free_slots(rules(), duration=timedelta(0), busy=[], now=MONDAY_9)
