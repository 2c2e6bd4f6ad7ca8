"""The history: one appended row per thing that happened, never updated but by an erasure.

``add`` is what a booking's actions write (the business and booking come
from the row), and ``add_at_once`` the same line written at once with its id
returned (an event's id is its line's); ``record`` is the general form, for a
line that belongs to no booking (an unmatched SMS, an erasure) or that names a
message.

Every line carries its transaction's actor (``engine.store.actors``): who did it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from engine.store import actors
from engine.store.tables import BookingRow, HistoryRow

_INSERT = insert(cast(Table, HistoryRow.__table__))  # built once: see add_at_once


def record(
    session: Session,
    *,
    business_id: str,
    booking_id: int | None,
    at: datetime,
    kind: str,
    detail: str | None = None,
    data: Mapping[str, Any] | None = None,
    message_id: int | None = None,
) -> HistoryRow:
    row = HistoryRow(
        business_id=business_id,
        booking_id=booking_id,
        message_id=message_id,
        at=at,
        kind=kind,
        detail=detail,
        data=dict(data or {}),
        actor=actors.of(session),
    )
    session.add(row)
    return row


def add(
    session: Session,
    booking: BookingRow,
    kind: str,
    detail: str | None = None,
    *,
    at: datetime,
    data: Mapping[str, Any] | None = None,
) -> HistoryRow:
    """A line in ``booking``'s history: ``kind`` is ``staff``, ``reply``, ``choice`` or ``event:<name>``."""
    return record(
        session,
        business_id=booking.business_id,
        booking_id=booking.id,
        at=at,
        kind=kind,
        detail=detail,
        data=data,
    )


def add_at_once(
    session: Session,
    booking: BookingRow,
    kind: str,
    detail: str | None = None,
    *,
    at: datetime,
    data: Mapping[str, Any] | None = None,
) -> int:
    """``add``, written now by one INSERT, for a line whose id is needed (an event's id is its line's).

    What the unit of work holds is written first, so the lines keep their order;
    a flush of the line itself would cost several times the INSERT.
    """
    session.flush()
    values = {
        "business_id": booking.business_id,
        "booking_id": booking.id,
        "message_id": None,
        "at": at,
        "kind": kind,
        "detail": detail,
        "data": dict(data or {}),
        "actor": actors.of(session),
    }
    key = session.connection().execute(_INSERT, values).inserted_primary_key
    assert key is not None
    return int(key[0])
