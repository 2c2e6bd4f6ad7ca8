"""Expectation metrics: how well the business keeps its promises (``forvent report``), read
through the ORM.

The queries are here; what they count is in ``engine.store.report_figures``,
which ``forvent report`` also feeds from a SQLite file through ``sqlite3``
(``engine.store.sqlite_report``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.report_figures import DEFAULT_PERIOD, ReportBooking, figures, week_bounds, weekly_figures
from engine.store.tables import BookingRow, FindingRow, HistoryRow, MessageRow

__all__ = ["DEFAULT_PERIOD", "report", "week_bounds", "weekly"]

BATCH = 500  # bookings per IN (...) query: well under every database's parameter limit


def _bookings(session: Session, business_id: str, since: datetime, until: datetime) -> list[ReportBooking]:
    """The period's bookings (by promised start) with their messages, history and approved
    findings' prices, read in a few batched queries rather than some per booking."""
    rows = session.scalars(
        select(BookingRow).where(
            BookingRow.business_id == business_id,
            BookingRow.promised_start >= since,
            BookingRow.promised_start < until,
        )
    )
    loaded = {row.id: ReportBooking(row) for row in rows}
    ids = list(loaded)
    for chunk in (ids[i : i + BATCH] for i in range(0, len(ids), BATCH)):
        for message in session.scalars(select(MessageRow).where(MessageRow.booking_id.in_(chunk))):
            loaded[message.booking_id or 0].messages.append(message)
        for line in session.scalars(select(HistoryRow).where(HistoryRow.booking_id.in_(chunk))):
            loaded[line.booking_id or 0].history[line.id] = line
        approved = select(FindingRow.booking_id, FindingRow.price).where(
            FindingRow.booking_id.in_(chunk), FindingRow.decision == "approved"
        )
        for booking_id, price in session.execute(approved):
            loaded[booking_id].approved_prices.append(price)
    return list(loaded.values())


def report(
    session: Session,
    *,
    business_id: str,
    promises: Mapping[str, str],
    since: datetime,
    until: datetime,
    step_ids: Mapping[str, Sequence[str]] | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """``engine.store.report_figures.figures`` of the bookings promised to start in [since, until)."""
    return figures(
        _bookings(session, business_id, since, until),
        promises=promises,
        since=since,
        until=until,
        step_ids=step_ids,
        locale=locale,
    )


def weekly(
    session: Session,
    *,
    business_id: str,
    promises: Mapping[str, str],
    tz_name: str,
    now: datetime,
    weeks: int = 8,
) -> list[dict[str, Any]]:
    """The overall metrics of each of the last ``weeks`` local weeks (Monday to Monday), oldest first."""
    bounds = week_bounds(tz_name, now, weeks)
    everything = _bookings(session, business_id, bounds[0][1], bounds[-1][2])
    return weekly_figures(everything, promises=promises, bounds=bounds)
