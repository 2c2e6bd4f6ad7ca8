"""Written confirmations of what a customer has just answered: the ``reply_<class>`` messages.

An SMS reply (``engine.services.inbound``) and an answer on the customer's
page (``engine.services.customer_actions``) are acknowledged alike: an outbox
row whose step and template are ``reply_<class>`` (``templates/_shared/
<locale>/reply_<class>.sms.j2``, ``.email.j2`` for answers from the page), due
now and urgent, so quiet hours do not hold back an answer the customer has
just asked for, and staff hear of one that cannot be delivered.

The history line written with the row is its event: the template reads what
was answered from ``event.data`` (``source``: ``sms`` or ``page``; a finding's
``finding`` and ``price``, an option's ``option`` and ``choice``, a change
request's ``text``). The line's id is in the row's key, so each answer is
acknowledged once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.core.values import MessageStatus
from engine.store import history
from engine.store.tables import BookingRow, CustomerRow, MessageRow
from engine.store.values import customer_value

PREFIX = "reply_"
# SMS first, as replies come by SMS; email for a customer with no number or who sent STOP.
WRITTEN_CHANNELS = ("sms", "email")


def acknowledge(
    session: Session,
    booking: BookingRow,
    reply_class: str,
    *,
    now: datetime,
    channel: str = "sms",
    data: Mapping[str, Any] | None = None,
) -> MessageRow:
    """Plan ``reply_<reply_class>`` to the customer of ``booking``, ready at once."""
    line = history.add(
        session,
        booking,
        "staff",
        f"acknowledging {reply_class}",
        at=now,
        data={"class": reply_class, **(data or {})},
    )
    session.flush()
    step = f"{PREFIX}{reply_class}"
    row = MessageRow(
        business_id=booking.business_id,
        booking_id=booking.id,
        key=f"{step}:{channel}:{line.id}",
        step=step,
        template=step,
        channel=channel,
        status=str(MessageStatus.PLANNED),
        due_at=now,
        ready_at=now,
        urgent=True,
        attempts=0,
        schedule_version=booking.schedule_version,
        event_id=line.id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    return row


def written_channel(session: Session, booking: BookingRow, *, secret: str | None) -> str | None:
    """The channel a written confirmation reaches this customer by, or None when none does."""
    row = session.get(CustomerRow, booking.customer_id)
    if row is None:
        return None
    customer = customer_value(session, row, secret=secret)
    return next((channel for channel in WRITTEN_CHANNELS if customer.can_receive(channel)), None)
