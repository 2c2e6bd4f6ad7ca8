"""What the business's own systems hear: a webhook delivery per matching event and receiver.

Called inside the transaction that records the event (``BookingService.apply_event``)
or settles the message (dispatch outcomes, delivery callbacks), so a rolled-back
action sends nothing and a committed one is never forgotten. The body is built
and signed once, here; the dispatch pass only carries it (``engine.dispatch.webhooks``).

Body: ``{"id", "event", "at", "booking": {...}, "data": {...}}`` for a booking or
job event, ``"message": {...}`` instead of ``"data"`` for ``message.*``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.business import BusinessProfile
from engine.core.values import Event
from engine.core.webhook_events import body_bytes
from engine.services.alerts import STAFF_ALERT  # messages to staff: no message.* for them
from engine.store import webhook_outbox
from engine.store.serialise import booking_times
from engine.store.tables import BookingRow, MessageRow


def message_json(message: MessageRow, tz_name: str) -> dict[str, Any]:
    tz = timing.zone(tz_name)
    return {
        "id": str(message.id),
        "step": message.step,
        "channel": message.channel,
        "status": message.status,
        "reason": message.reason,
        "sent_at": timing.local_iso(message.sent_at, tz),
        "delivered_at": timing.local_iso(message.delivered_at, tz),
    }


def booking_event(
    session: Session, business: BusinessProfile, booking: BookingRow, event: Event, *, now: datetime
) -> None:
    """``event`` (just recorded on ``booking``) to every receiver that wants it."""
    if not business.webhooks:
        return
    tz = timing.zone(booking.timezone)
    fields = {
        "at": timing.local_iso(event.at, tz),
        "booking": booking_times(booking),
        "data": {k: v for k, v in event.data.items() if v is not None},
    }
    _enqueue(session, business, booking, event.name, f"h{event.id}", fields, now)


def message_event(
    session: Session,
    business: BusinessProfile,
    message: MessageRow,
    name: str,
    *,
    now: datetime,
    reason: str | None = None,
) -> None:
    """``message.sent``/``delivered``/``failed`` (with ``reason``), which happened to ``message`` at ``now``.

    ``message`` may be the row as it was claimed: status and times are the event's.
    """
    if not business.webhooks or message.booking_id is None or message.step == STAFF_ALERT:
        return
    booking = session.get(BookingRow, message.booking_id)
    if booking is None:
        return
    tz = timing.zone(booking.timezone)
    status = name.removeprefix("message.")
    described = {**message_json(message, booking.timezone), "status": status}
    if status == "sent":
        described["sent_at"] = timing.local_iso(now, tz)
    elif status == "delivered":
        described["delivered_at"] = timing.local_iso(now, tz)
    else:
        described["reason"] = reason or message.reason
    fields = {"at": timing.local_iso(now, tz), "booking": booking_times(booking), "message": described}
    _enqueue(session, business, booking, name, f"m{message.id}", fields, now)


def _enqueue(
    session: Session,
    business: BusinessProfile,
    booking: BookingRow,
    name: str,
    source: str,
    fields: Mapping[str, Any],
    now: datetime,
) -> None:
    deliveries = []
    for index, spec in enumerate(business.webhooks):
        if not spec.wants(name):
            continue
        delivery_id = uuid.uuid4().hex
        body = body_bytes({"id": delivery_id, "event": name, **fields})
        deliveries.append(
            webhook_outbox.NewDelivery(
                key=f"{index}:{name}:{source}", delivery_id=delivery_id, event=name, url=spec.url, body=body
            )
        )
    if deliveries:
        webhook_outbox.add(
            session, business_id=business.id, booking_id=booking.id, deliveries=deliveries, now=now
        )
