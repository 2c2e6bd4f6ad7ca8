"""Attention items: something a person must look at (a detractor's words) until someone marks it handled.

An item is open while ``handled_at`` is null. Marking it handled is a
compare-and-set (``UPDATE ... WHERE handled_at IS NULL``): of two people who
tap at once, one wins and the other learns who did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.store.tables import AttentionRow, BookingRow, CustomerRow

DETRACTOR = "detractor"


@dataclass(frozen=True, kw_only=True)
class Item:
    """An item as staff see it: the booking's ref and the customer's name beside the words."""

    id: int
    kind: str
    detail: str
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None
    booking_id: int | None
    ref: str | None
    name: str | None
    phone: str | None
    email: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "detail": self.detail,
            "ref": self.ref,
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "created_at": self.created_at.isoformat(),
            "handled_at": self.handled_at.isoformat() if self.handled_at else None,
            "handled_by": self.handled_by,
        }


def add(session: Session, booking: BookingRow, *, kind: str, detail: str, now: datetime) -> AttentionRow:
    row = AttentionRow(
        business_id=booking.business_id, booking_id=booking.id, kind=kind, detail=detail, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def open_for(session: Session, booking_id: int, kind: str) -> AttentionRow | None:
    """The booking's open item of ``kind``, if any (the newest)."""
    return session.scalar(
        select(AttentionRow)
        .where(
            AttentionRow.booking_id == booking_id,
            AttentionRow.kind == kind,
            AttentionRow.handled_at.is_(None),
        )
        .order_by(AttentionRow.id.desc())
        .limit(1)
    )


def items(session: Session, business_id: str, *, handled: bool = False, limit: int = 200) -> list[Item]:
    """Open items, oldest first (or handled ones, newest first)."""
    query = (
        select(AttentionRow, BookingRow.ref, CustomerRow.name, CustomerRow.phone, CustomerRow.email)
        .outerjoin(BookingRow, BookingRow.id == AttentionRow.booking_id)
        .outerjoin(CustomerRow, CustomerRow.id == BookingRow.customer_id)
        .where(AttentionRow.business_id == business_id)
    )
    if handled:
        query = query.where(AttentionRow.handled_at.is_not(None)).order_by(AttentionRow.handled_at.desc())
    else:
        query = query.where(AttentionRow.handled_at.is_(None)).order_by(AttentionRow.id)
    return [
        _item(row, ref, name, phone, email)
        for row, ref, name, phone, email in session.execute(query.limit(limit))
    ]


def get(session: Session, business_id: str, item_id: int) -> Item | None:
    query = (
        select(AttentionRow, BookingRow.ref, CustomerRow.name, CustomerRow.phone, CustomerRow.email)
        .outerjoin(BookingRow, BookingRow.id == AttentionRow.booking_id)
        .outerjoin(CustomerRow, CustomerRow.id == BookingRow.customer_id)
        .where(AttentionRow.business_id == business_id, AttentionRow.id == item_id)
        .execution_options(populate_existing=True)
    )
    found = session.execute(query).first()
    return _item(*found) if found is not None else None


def mark_handled(session: Session, item_id: int, *, by: str, now: datetime) -> bool:
    """Set handled by ``by`` if still open; False when someone else got there first."""
    result = session.execute(
        update(AttentionRow)
        .where(AttentionRow.id == item_id, AttentionRow.handled_at.is_(None))
        .values(handled_at=now, handled_by=by)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _item(row: AttentionRow, ref: str | None, name: str | None, phone: str | None, email: str | None) -> Item:
    return Item(
        id=row.id,
        kind=row.kind,
        detail=row.detail or "",
        created_at=row.created_at,
        handled_at=row.handled_at,
        handled_by=row.handled_by,
        booking_id=row.booking_id,
        ref=ref,
        name=name,
        phone=phone,
        email=email,
    )
