"""Promise calibration from known windows and event times, and its sentence in nb, da and en."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.core.calibration import Calibration, Kept, calibrate, suggested_width
from engine.messages.report_text import calibration_sentence, percent, week_label, width

TEN = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 10:00 in Oslo


def promise(window: int, came_after: float) -> Kept:
    """A window of ``window`` minutes from 10:00, the promised event ``came_after`` minutes past 10:00."""
    return Kept(
        promised_start=TEN,
        promised_end=TEN + timedelta(minutes=window),
        actual=TEN + timedelta(minutes=came_after),
    )


def twelve() -> list[Kept]:
    """Ten 30-minute windows (half kept) and two 60-minute ones (one kept)."""
    thirty = [promise(30, m) for m in (5, 10, 20, 30, 30, 35, 40, 50, 55, 80)]
    return [*thirty, promise(60, 45), promise(60, 70)]


def test_kept_rate_per_width_and_the_width_that_keeps_nine_in_ten() -> None:
    result = calibrate(twelve())
    assert result.measured == 12 and result.enough
    assert [(w.minutes, w.bookings, w.kept, w.kept_rate) for w in result.windows] == [
        (30, 10, 5, 0.5),  # an event exactly at promised_end is kept
        (60, 2, 1, 0.5),
    ]
    # The 11th of 12 events (ceil(0.9 x 12)) came 70 minutes after the start: 75 minutes keep 11.
    assert (result.suggested_minutes, result.suggested_kept_rate) == (75, 0.9167)
    assert result.usual is not None and result.usual.minutes == 30


def test_the_suggested_width_rounds_up_to_a_quarter_and_is_at_least_one() -> None:
    assert suggested_width([5.0] * 9 + [200.0]) == 15  # nine in ten within 5 minutes
    assert suggested_width([-20.0] * 10) == 15  # all early: still a window, not zero
    assert suggested_width([float(m) for m in range(1, 11)]) == 15  # the 9th is 9 minutes
    assert suggested_width([60.0] * 9 + [61.0]) == 60  # exactly on a quarter stays
    assert suggested_width([60.5] * 10) == 75


def test_too_few_bookings_give_no_rates() -> None:
    result = calibrate(twelve()[:9])
    assert result.measured == 9 and not result.enough
    assert [(w.minutes, w.bookings, w.kept_rate) for w in result.windows] == [(30, 9, None)]
    assert (result.suggested_minutes, result.suggested_kept_rate) == (None, None)


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        (
            "en",
            "Your 30-minute arrival windows were kept 50% of the time; "
            "75-minute windows would have been kept 91%.",
        ),
        (
            "nb",
            "Ankomstvinduene på 30 minutter ble holdt i 50\u00a0% av tilfellene; "
            "vinduer på 75 minutter ville blitt holdt i 91\u00a0%.",
        ),
        (
            "da",
            "Ankomstvinduerne på 30 minutter blev overholdt i 50\u00a0% af tilfældene; "
            "vinduer på 75 minutter ville være blevet overholdt i 91\u00a0%.",
        ),
    ],
)
def test_the_sentence_names_the_usual_window_and_the_one_that_would_keep_nine_in_ten(
    locale: str, sentence: str
) -> None:
    assert calibration_sentence(calibrate(twelve()), "arrival", locale) == sentence


def test_a_window_already_right_says_so() -> None:
    kept = calibrate([promise(60, m) for m in (10, 20, 30, 40, 50, 50, 55, 55, 58, 70)])
    assert (kept.suggested_minutes, kept.windows[0].kept_rate) == (60, 0.9)
    assert calibration_sentence(kept, "arrival", "en") == (
        "Your 60-minute arrival windows were kept 90% of the time: the narrowest width that keeps 90%."
    )


def test_ready_promises_and_whole_hours() -> None:
    four_hours = calibrate([promise(240, m) for m in (200, 230, 239, 240, 250, 260, 270, 280, 290, 330)])
    assert calibration_sentence(four_hours, "ready", "nb") == (
        "Ferdigtidsvinduene på 4 timer ble holdt i 40\u00a0% av tilfellene; "
        "vinduer på 5 timer ville blitt holdt i 90\u00a0%."
    )
    assert calibration_sentence(four_hours, "ready", "en").startswith("Your 4-hour ready-by windows")


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "Too few bookings to calibrate the arrival windows yet: 9 measured, 10 needed."),
        ("nb", "For få avtaler til å kalibrere ankomstvinduene ennå: 9 målt, 10 trengs."),
        ("da", "For få aftaler til at kalibrere ankomstvinduerne endnu: 9 målt, 10 kræves."),
    ],
)
def test_too_few_bookings_are_said_in_words(locale: str, sentence: str) -> None:
    assert calibration_sentence(calibrate(twelve()[:9]), "arrival", locale) == sentence


def test_no_bookings_at_all() -> None:
    empty = calibrate([])
    assert empty == Calibration(measured=0, windows=(), suggested_minutes=None, suggested_kept_rate=None)
    assert calibration_sentence(empty, "ready", "en") == (
        "Too few bookings to calibrate the ready-by windows yet: 0 measured, 10 needed."
    )


def test_percentages_round_down_and_widths_read_as_people_say_them() -> None:
    assert (percent(0.8999, "en"), percent(0.58, "en"), percent(1.0, "nb")) == ("89%", "58%", "100\u00a0%")
    assert (width(60, "en"), width(90, "nb"), width(120, "da"), width(135, "en")) == (
        "60-minute",
        "90 minutter",
        "2 timer",
        "135-minute",
    )


@pytest.mark.parametrize(
    ("locale", "label"), [("nb", "23.11"), ("da", "23.11"), ("en", "23 Nov"), ("nb-NO", "23.11")]
)
def test_week_labels_are_the_mondays_date(locale: str, label: str) -> None:
    assert week_label(date(2026, 11, 23), locale) == label
    assert week_label(date(2026, 12, 7), "nb") == "7.12"
