"""A customer's answer to extra work: one place records it, however it arrived (page or SMS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.core.business import BusinessProfile
from engine.services.alerts import alert_text, raise_alert
from engine.store import outbox
from engine.store.tables import BookingRow, CustomerRow, FindingRow


def decide(
    session: Session,
    *,
    business: BusinessProfile,
    booking: BookingRow,
    finding: FindingRow,
    decision: str,
    now: datetime,
    source: str,
) -> None:
    """Set ``approved``/``declined``, record a ``choice``; a decline alerts staff to call."""
    finding.decision, finding.decided_at = decision, now
    outbox.record(
        session,
        business_id=booking.business_id,
        booking_id=booking.id,
        at=now,
        kind="choice",
        detail=f"finding {decision}: {finding.text}",
        data={"finding_id": finding.id, "decision": decision, "source": source},
    )
    if decision == "declined":
        customer = session.get(CustomerRow, booking.customer_id)
        name = customer.name if customer else "?"
        text = alert_text(business, "decline", name=name, ref=booking.ref)
        raise_alert(session, business=business, booking_id=booking.id, ref=booking.ref, text=text, now=now)
