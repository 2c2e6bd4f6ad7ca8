"""A customer's answer to extra work: one place records it, however it arrived (page or SMS)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
        name = customer_name(session, booking)
        # A NEI by SMS answers the question the SMS asked; the page names the work declined.
        if source == "sms":
            text = alert_text(business, "decline", name=name, ref=booking.ref)
        else:
            work = finding.text[:300]
            text = alert_text(business, "finding_declined", name=name, ref=booking.ref, text=work)
        raise_alert(session, business=business, booking_id=booking.id, ref=booking.ref, text=text, now=now)


def finding_data(finding: FindingRow) -> dict[str, Any]:
    """What an acknowledgement's template reads of the finding answered (``event.data``)."""
    return {"finding": finding.text, "price": finding.price}
