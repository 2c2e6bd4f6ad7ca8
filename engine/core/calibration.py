"""Promise calibration: how wide a promised window has to be to be kept (pure).

SPEC "Expectation metrics": a booking's promise is kept when the promised
event (``job.started`` for ``arrival``, ``job.ready`` for ``ready``) came at
or before ``promised_end``. Calibration looks back at a playbook's bookings
whose promised event happened and answers two questions:

- per promised window width (``promised_end - promised_start``), how often
  was it kept?
- which width, counted from ``promised_start`` and rounded up to
  ``STEP_MINUTES``, would have been kept ``TARGET_RATE`` of the time?

Too few bookings say nothing reliable: below ``MIN_BOOKINGS`` the rates are
withheld (``None``) rather than shown as figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

TARGET_RATE = 0.9
MIN_BOOKINGS = 10  # per playbook (and per assignee and playbook)
STEP_MINUTES = 15  # suggested widths are whole quarters of an hour


@dataclass(frozen=True, kw_only=True)
class Kept:
    """One booking's promise and when the promised event actually came."""

    promised_start: datetime
    promised_end: datetime
    actual: datetime

    @property
    def width_minutes(self) -> int:
        return round((self.promised_end - self.promised_start) / timedelta(minutes=1))

    @property
    def offset_minutes(self) -> float:
        """Minutes after the promised start the event came (negative: early)."""
        return (self.actual - self.promised_start) / timedelta(minutes=1)

    @property
    def kept(self) -> bool:
        return self.actual <= self.promised_end


@dataclass(frozen=True, kw_only=True)
class WindowFigures:
    """How often promises of one width were kept."""

    minutes: int
    bookings: int
    kept: int
    kept_rate: float | None  # None below MIN_BOOKINGS for the playbook


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """A playbook's windows and the width that would have kept TARGET_RATE of its promises."""

    measured: int
    windows: tuple[WindowFigures, ...]  # narrowest first
    suggested_minutes: int | None
    suggested_kept_rate: float | None

    @property
    def enough(self) -> bool:
        return self.measured >= MIN_BOOKINGS

    @property
    def usual(self) -> WindowFigures | None:
        """The width most bookings were promised (the narrower one on a tie)."""
        return max(self.windows, key=lambda w: (w.bookings, -w.minutes), default=None)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4)


def suggested_width(offsets: list[float], target: float = TARGET_RATE) -> int:
    """The smallest multiple of STEP_MINUTES (at least one) that covers ``target`` of ``offsets``."""
    ordered = sorted(offsets)
    needed = math.ceil(target * len(ordered) - 1e-9)  # 0.9 x 10 is 9, not 9.000000000000002
    reach = ordered[max(needed, 1) - 1]
    return max(STEP_MINUTES, math.ceil(reach / STEP_MINUTES - 1e-9) * STEP_MINUTES)


def calibrate(promises: list[Kept], *, min_bookings: int = MIN_BOOKINGS) -> Calibration:
    """Kept rates per width and the width that would have been kept TARGET_RATE of the time."""
    by_width: dict[int, list[Kept]] = defaultdict(list)
    for promise in promises:
        by_width[promise.width_minutes].append(promise)
    enough = len(promises) >= min_bookings
    windows = tuple(
        WindowFigures(
            minutes=width,
            bookings=len(group),
            kept=sum(1 for p in group if p.kept),
            kept_rate=_rate(sum(1 for p in group if p.kept), len(group)) if enough else None,
        )
        for width, group in sorted(by_width.items())
    )
    if not enough:
        return Calibration(
            measured=len(promises), windows=windows, suggested_minutes=None, suggested_kept_rate=None
        )
    offsets = [p.offset_minutes for p in promises]
    width = suggested_width(offsets)
    within = sum(1 for offset in offsets if offset <= width)
    return Calibration(
        measured=len(promises),
        windows=windows,
        suggested_minutes=width,
        suggested_kept_rate=_rate(within, len(offsets)),
    )
