"""The report's rows read from a SQLite file with the standard library's ``sqlite3``.

The same rows ``engine.store.report`` reads through the ORM, with the same
filters, for ``engine.store.report_figures`` to count: whole rows, typed by
the column types the migrations declare (``engine.store.sqlite_reads``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.store.report_figures import ReportBooking
from engine.store.sqlite_reads import SqliteReader

# engine.store.report's filter; its ids choose the other tables' rows.
_IN_PERIOD = "business_id = :b AND promised_start >= :since AND promised_start < :until"
_PERIOD = f"SELECT id FROM bookings WHERE {_IN_PERIOD}"


def _stored(instant: datetime) -> str:
    """An instant as SQLAlchemy stores a ``DATETIME`` in SQLite (naive UTC, microseconds), so
    text comparison orders it as the ORM's bound parameter does."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def report_bookings(
    reader: SqliteReader, business_id: str, since: datetime, until: datetime
) -> list[ReportBooking]:
    """The bookings promised to start in [since, until) with their messages, history and
    approved findings' prices."""
    period = {"b": business_id, "since": _stored(since), "until": _stored(until)}
    found = reader.rows(f"SELECT * FROM bookings WHERE {_IN_PERIOD}", **period)
    loaded = {row.id: ReportBooking(row) for row in found}
    for message in reader.rows(f"SELECT * FROM messages WHERE booking_id IN ({_PERIOD})", **period):
        loaded[message.booking_id].messages.append(message)
    for line in reader.rows(f"SELECT * FROM history WHERE booking_id IN ({_PERIOD})", **period):
        loaded[line.booking_id].history[line.id] = line
    approved = (
        f"SELECT booking_id, price FROM findings WHERE decision = 'approved' AND booking_id IN ({_PERIOD})"
    )
    for finding in reader.rows(approved, **period):
        loaded[finding.booking_id].approved_prices.append(finding.price)
    return list(loaded.values())
