"""Fallback after a permanent failure: the same message on the step's next unused channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.values import MessageStatus
from engine.dispatch.drafts import step_of
from engine.messages.renderer import Kind
from engine.runtime import Runtime
from engine.services.alerts import STAFF_ALERT
from engine.services.bookings import BookingService
from engine.store import history
from engine.store.tables import BookingRow, MessageRow


def plan_fallback(
    rt: Runtime, service: BookingService, session: Session, row: MessageRow, now: datetime
) -> MessageRow | None:
    """A permanent failure: the same message on the step's next unused channel."""
    booking_row = session.get(BookingRow, row.booking_id) if row.booking_id else None
    if booking_row is None or row.step == STAFF_ALERT:
        return None
    playbook = rt.playbooks.get(booking_row.playbook)
    step = step_of(playbook, row)
    booking = service.value(session, booking_row)
    base_key = row.key.split(">")[0]
    used = set(
        session.scalars(
            select(MessageRow.channel).where(
                MessageRow.booking_id == row.booking_id, MessageRow.key.like(f"{base_key}%")
            )
        )
    )
    # The step's own list first, then the playbook's: an SMS-only reminder to a
    # number that cannot take SMS still reaches the customer by email.
    for channel in dict.fromkeys([*playbook.step_channels(step), *playbook.channels]):
        if channel in used or not booking.customer.can_receive(channel):
            continue
        template = row.template or step.template
        kind: Kind = "sms" if channel == "sms" else "email"
        if (
            rt.renderer.resolve(playbook.playbook, template, kind, booking.locale, playbook.default_locale)
            is None
        ):
            continue  # lint guarantees templates only for the step's own channels
        fallback = MessageRow(
            business_id=row.business_id,
            booking_id=row.booking_id,
            key=f"{base_key}>{channel}",
            step=row.step,
            template=row.template,
            channel=channel,
            status=str(MessageStatus.PLANNED),
            due_at=now,
            ready_at=now,
            event_id=row.event_id,
            urgent=row.urgent,
            about_at=row.about_at,
            moves_with_start=row.moves_with_start,
            attempts=0,
            replaces_id=row.id,
            schedule_version=row.schedule_version,
            created_at=now,
            updated_at=now,
        )
        session.add(fallback)
        session.flush()
        history.record(
            session,
            business_id=row.business_id,
            booking_id=row.booking_id,
            message_id=fallback.id,
            at=now,
            kind="message:planned",
            detail=f"{row.step} ({channel}): replaces message {row.id}",
        )
        return fallback
    return None
