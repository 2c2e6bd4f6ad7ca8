"""Erasure and retention: forget people, keep the counts.

``erase_customer`` anonymises a person's bookings in place: refs, times,
statuses and message rows stay for the report; names, contact data, location,
text facts, message addresses and bodies, reply texts and history details that
name them are removed; pending messages are cancelled (``erased``); an
opt-out survives as a one-way hash. ``purge_bodies`` drops message bodies
older than the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import outbox
from engine.playbooks import PlaybookSet
from engine.tables import BookingRow, CustomerRow, FindingRow, HistoryRow, MessageRow

ERASED = "(erased)"


@dataclass(frozen=True)
class ErasureResult:
    customers: int
    bookings: int
    messages_cancelled: int


def erase_customer(
    session: Session,
    *,
    business_id: str,
    playbooks: PlaybookSet,
    now: datetime,
    phone: str | None = None,
    email: str | None = None,
) -> ErasureResult:
    query = select(CustomerRow).where(CustomerRow.business_id == business_id)
    query = query.where(CustomerRow.phone == phone) if phone else query.where(CustomerRow.email == email)
    customers = list(session.scalars(query))
    bookings = 0
    cancelled = 0
    for customer in customers:
        for booking in session.scalars(select(BookingRow).where(BookingRow.customer_id == customer.id)):
            bookings += 1
            cancelled += len(outbox.cancel_pending(session, booking_id=booking.id, reason="erased", now=now))
            _erase_booking(session, booking, playbooks, now)
        customer.name, customer.first_name = ERASED, None
        customer.phone = customer.email = None
        customer.erased_at = now
    if customers:
        outbox.record(
            session,
            business_id=business_id,
            booking_id=None,
            at=now,
            kind="staff",
            detail=f"erased {len(customers)} customer record(s), {bookings} booking(s)",
        )
    return ErasureResult(customers=len(customers), bookings=bookings, messages_cancelled=cancelled)


def _erase_booking(session: Session, booking: BookingRow, playbooks: PlaybookSet, now: datetime) -> None:
    text_facts: set[str] = set()
    try:
        spec = playbooks.get(booking.playbook)
        text_facts = {name for name, fact in spec.facts.items() if fact.type == "text"}
    except Exception:  # a removed playbook: erase every fact rather than guess
        text_facts = set(booking.facts or {})
    booking.facts = {k: v for k, v in (booking.facts or {}).items() if k not in text_facts}
    booking.location = None
    booking.delay_reason = None
    session.execute(
        update(MessageRow)
        .where(MessageRow.booking_id == booking.id)
        .values(to_addr=None, body=None, subject=None)
    )
    session.execute(update(FindingRow).where(FindingRow.booking_id == booking.id).values(text=ERASED))
    for row in session.scalars(select(HistoryRow).where(HistoryRow.booking_id == booking.id)):
        if row.kind in ("reply", "choice", "staff") or row.kind.startswith("event:"):
            row.detail = None if row.kind.startswith("event:") else ERASED
            row.data = {
                k: v for k, v in (row.data or {}).items() if k in ("minutes", "score", "class", "finding_id")
            }
    outbox.record(
        session,
        business_id=booking.business_id,
        booking_id=booking.id,
        at=now,
        kind="staff",
        detail="customer data erased",
    )


def purge_bodies(session: Session, *, business_id: str, now: datetime, days: int) -> int:
    """Remove message bodies older than ``days``; statuses and times stay for the report."""
    cutoff = now - timedelta(days=days)
    result = session.execute(
        update(MessageRow)
        .where(
            MessageRow.business_id == business_id,
            MessageRow.created_at < cutoff,
            MessageRow.body.is_not(None),
        )
        .values(body=None, subject=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
