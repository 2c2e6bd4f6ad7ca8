"""What ``/staff/report`` shows: weekly charts, messages per step and promise calibration.

The charts cover the last eight local weeks, and the per-step table and the
calibration cover the same eight weeks, so every figure on the page speaks
of one period. Staff pages are in English; the calibration sentence and the
week labels follow the business's locale, as the messages it sends do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from engine.messages.report_text import week_label
from engine.runtime import Runtime
from engine.store.report import report, week_bounds, weekly

WEEKS = 8
CHARTS = (
    ("Promises kept", "kept_rate", "rate"),
    ("Delays announced before the promised time", "late_announced_in_time_rate", "rate"),
    ("Late without a word", "unannounced_late", "count"),
    ("Confirmed", "confirmed_rate", "rate"),
    ("Net promoter score", "nps", "nps"),
    ("Bookings", "bookings", "count"),
)


@dataclass(frozen=True)
class Geometry:
    """The bar charts' drawing units (the SVG viewBox scales them to the column's width)."""

    slot: int = 40  # one week
    bar: int = 24
    top: int = 18  # room for the value label over a full bar
    height: int = 100  # a full bar
    label_gap: int = 16  # baseline to the week label's baseline
    bottom: int = 8  # room for the week label's descenders

    @property
    def base(self) -> int:
        return self.top + self.height

    @property
    def label_y(self) -> int:
        return self.base + self.label_gap

    def view_box(self, weeks: int) -> str:
        return f"0 0 {weeks * self.slot} {self.label_y + self.bottom}"


def report_context(rt: Runtime, db: Session) -> dict[str, Any]:
    """The page's context: ``weeks`` (with ``label``), ``charts``, ``steps``, ``calibration``,
    ``assignees`` (the metrics of each one's bookings) and ``assignee_calibration``."""
    business = rt.business
    playbooks = {pid: rt.playbooks.get(pid) for pid in rt.playbooks.ids()}
    promises = {pid: pb.promise for pid, pb in playbooks.items()}
    now = rt.now()
    zone = business.timezone
    weeks = weekly(db, business_id=business.id, promises=promises, tz_name=zone, now=now, weeks=WEEKS)
    for week in weeks:
        week["label"] = week_label(date.fromisoformat(week["monday"]), business.default_locale)
    bounds = week_bounds(zone, now, WEEKS)
    period = report(
        db,
        business_id=business.id,
        promises=promises,
        since=bounds[0][1],
        until=bounds[-1][2],
        step_ids={pid: [step.id for step in pb.steps] for pid, pb in playbooks.items()},
        locale=business.default_locale,
    )
    titles = {pid: pb.title_in(business.default_locale) for pid, pb in playbooks.items()}
    return {
        "weeks": weeks,
        "charts": CHARTS,
        "geometry": Geometry(),
        "steps": period["steps"],
        "calibration": period["calibration"],
        "assignees": period["assignees"],
        "assignee_calibration": period["assignee_calibration"],
        "titles": titles,
    }
