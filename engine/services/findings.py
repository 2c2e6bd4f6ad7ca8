"""A customer's answer to extra work: one place records it, however it arrived (page or SMS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.core.business import BusinessProfile
from engine.services.alerts import alert_text, raise_alert
from engine.store import history
from engine.store.tables import BookingRow, FindingRow
from engine.store.values import customer_name


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
    data = {"finding_id": finding.id, "decision": decision, "source": source}
    history.add(session, booking, "choice", f"finding {decision}: {finding.text}", at=now, data=data)
    if decision == "declined":
        text = alert_text(business, "decline", name=customer_name(session, booking), ref=booking.ref)
        raise_alert(session, business=business, booking_id=booking.id, ref=booking.ref, text=text, now=now)
