"""Durations, anchors, wall-clock arithmetic across DST, quiet hours, open days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core import timing
from engine.core.timing import Duration, QuietHours, parse_at, parse_duration
from engine.exceptions import UserInputError

OSLO = ZoneInfo("Europe/Oslo")
QUIET = QuietHours(time(21, 0), time(8, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Duration(seconds=1800)),
        ("2h", Duration(seconds=7200)),
        ("1d2h", Duration(days=1, seconds=7200)),
        ("11mo", Duration(months=11)),
        ("1w", Duration(days=7)),
        ("1mo2d3h4m", Duration(months=1, days=2, seconds=3 * 3600 + 240)),
    ],
)
def test_durations_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "2x", "h2", "2h1d", "1.5h", "-2h", "2 h", "10s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_seconds_only_for_settings() -> None:
    assert timing.parse_timedelta("30s") == timedelta(seconds=30)
    with pytest.raises(ValueError):
        timing.parse_timedelta("1mo")


def test_at_expressions() -> None:
    expr = parse_at("start - 1d")
    assert (expr.anchor, expr.sign, expr.offset) == ("start", -1, Duration(days=1))
    assert parse_at("completed + 11mo").offset == Duration(months=11)
    assert parse_at("start").offset.is_zero()
    with pytest.raises(ValueError, match="unknown anchor 'begin'"):
        parse_at("begin - 1d")


def test_day_before_keeps_the_wall_clock_across_spring_dst() -> None:
    start = datetime(2026, 3, 29, 10, 0, tzinfo=OSLO)  # first day of summer time
    before = timing.shift(start, -1, Duration(days=1), OSLO)
    assert before == datetime(2026, 3, 28, 10, 0, tzinfo=OSLO)
    assert start.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)


def test_day_before_keeps_the_wall_clock_across_autumn_dst() -> None:
    start = datetime(2026, 10, 25, 10, 0, tzinfo=OSLO)
    before = timing.shift(start, -1, Duration(days=1), OSLO)
    assert before.astimezone(OSLO).hour == 10
    assert start.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=25)


def test_hours_are_elapsed_time_across_dst() -> None:
    start = datetime(2026, 3, 29, 4, 0, tzinfo=OSLO)
    assert timing.shift(start, -1, Duration(seconds=3 * 3600), OSLO).astimezone(OSLO) == datetime(
        2026, 3, 29, 0, 0, tzinfo=OSLO
    )


def test_month_end_clamps() -> None:
    jan31 = datetime(2027, 1, 31, 10, 0, tzinfo=OSLO)
    assert timing.shift(jan31, 1, Duration(months=1), OSLO) == datetime(2027, 2, 28, 10, 0, tzinfo=OSLO)
    leap = datetime(2028, 1, 31, 10, 0, tzinfo=OSLO)
    assert timing.shift(leap, 1, Duration(months=1), OSLO).day == 29


def test_spring_gap_moves_forward_by_the_gap() -> None:
    result = timing.at_local_time(datetime(2026, 3, 29, 12, tzinfo=OSLO), time(2, 30), OSLO)
    assert result.astimezone(OSLO).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_ambiguous_autumn_time_means_the_first_occurrence() -> None:
    result = timing.wall(datetime(2026, 10, 25, 2, 30), OSLO)
    assert result.astimezone(OSLO).utcoffset() == timedelta(hours=2)


def test_input_in_the_spring_gap_is_refused_naming_the_field() -> None:
    with pytest.raises(UserInputError, match="start: 2026-03-29T02:30 does not exist"):
        timing.parse_instant("2026-03-29T02:30", OSLO, field="start")


def test_input_with_offset_is_that_instant() -> None:
    result = timing.parse_instant("2026-11-24T09:00:00Z", OSLO, field="start")
    assert result == datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)


def test_unknown_zone_names_the_field() -> None:
    with pytest.raises(UserInputError, match="unknown time zone 'Europe/Osl'"):
        timing.zone("Europe/Osl")


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [
        (time(21, 0), False),
        (time(21, 1), True),
        (time(3, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_boundaries_are_allowed(clock: time, quiet: bool) -> None:
    assert QUIET.is_quiet(clock) is quiet


def test_quiet_message_moves_to_the_window_end() -> None:
    due = datetime(2026, 11, 23, 22, 0, tzinfo=OSLO)
    decision = timing.apply_quiet_hours(due, quiet=QUIET, tz=OSLO, about=None, now=due - timedelta(days=1))
    assert decision.due == datetime(2026, 11, 24, 8, 0, tzinfo=OSLO)


def test_quiet_message_about_an_earlier_moment_moves_to_the_window_start() -> None:
    # A 2 h reminder for a 07:00 start is due 05:00; 08:00 would be after the start.
    due = datetime(2026, 11, 24, 5, 0, tzinfo=OSLO)
    start = datetime(2026, 11, 24, 7, 0, tzinfo=OSLO)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
    decision = timing.apply_quiet_hours(due, quiet=QUIET, tz=OSLO, about=start, now=now)
    assert decision.due == datetime(2026, 11, 23, 21, 0, tzinfo=OSLO)


def test_quiet_message_whose_window_start_passed_has_no_time() -> None:
    due = datetime(2026, 11, 24, 5, 0, tzinfo=OSLO)
    start = datetime(2026, 11, 24, 7, 0, tzinfo=OSLO)
    now = datetime(2026, 11, 23, 22, 0, tzinfo=OSLO)
    assert timing.apply_quiet_hours(due, quiet=QUIET, tz=OSLO, about=start, now=now).due is None


def test_next_open_day_skips_weekend_and_closed_dates() -> None:
    saturday = datetime(2026, 12, 19, 10, 0, tzinfo=OSLO)
    weekdays = range(5)
    assert timing.next_open_day(saturday, OSLO, weekdays, set()) == datetime(2026, 12, 21, 10, 0, tzinfo=OSLO)
    christmas_eve = datetime(2026, 12, 24, 10, 0, tzinfo=OSLO)
    closed = {date(2026, 12, 24), date(2026, 12, 25)}
    assert timing.next_open_day(christmas_eve, OSLO, weekdays, closed) == datetime(
        2026, 12, 28, 10, 0, tzinfo=OSLO
    )


# --- properties ------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(["Europe/Oslo", "Europe/Copenhagen", "America/New_York", "Australia/Sydney"])
clocks = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(instants, zones, st.integers(1, 40))
def test_calendar_days_keep_the_local_time_unless_it_falls_in_a_gap(
    instant: datetime, name: str, days: int
) -> None:
    tz = ZoneInfo(name)
    start = instant.astimezone(tz).replace(second=0, microsecond=0, fold=0)
    start = timing.wall(start.replace(tzinfo=None), tz)
    earlier = timing.shift(start, -1, Duration(days=days), tz)
    local_then = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=days)
    if not timing.is_gap(local_then, tz):
        assert earlier.astimezone(tz).replace(tzinfo=None) == local_then
    else:
        assert earlier.astimezone(tz).replace(tzinfo=None) > local_then


@given(instants, zones, clocks, clocks)
def test_quiet_hours_never_leave_a_message_inside_them(
    instant: datetime, name: str, a: time, b: time
) -> None:
    tz = ZoneInfo(name)
    quiet = QuietHours(a, b)
    decision = timing.apply_quiet_hours(
        instant, quiet=quiet, tz=tz, about=None, now=instant - timedelta(days=2)
    )
    assert decision.due is not None
    assert decision.due >= instant
    # Gap days can land a wall time an hour on; the rule still never keeps it quiet.
    assert not quiet.is_quiet(decision.due.astimezone(tz).time()) or timing.is_gap(
        datetime.combine(decision.due.astimezone(tz).date(), b), tz
    )
    assert decision.due - instant <= timedelta(hours=25)


@given(instants, zones, clocks)
def test_at_local_time_lands_on_that_wall_clock_or_after_a_gap(
    instant: datetime, name: str, clock: time
) -> None:
    tz = ZoneInfo(name)
    result = timing.at_local_time(instant, clock, tz).astimezone(tz)
    assert result.date() == instant.astimezone(tz).date() or timing.is_gap(
        datetime.combine(instant.astimezone(tz).date(), clock), tz
    )
    wanted = datetime.combine(instant.astimezone(tz).date(), clock)
    if not timing.is_gap(wanted, tz):
        assert result.replace(tzinfo=None) == wanted
