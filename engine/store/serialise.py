"""JSON shapes of bookings, messages and history, shared by the CLI and the API.

A row's shape (``message_json``, ``history_item``) needs only the row's
attributes, and this module imports SQLAlchemy where it queries: the CLI's read
commands shape rows read without it (``engine.store.sqlite_reads``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core import timing

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from engine.store.tables import BookingRow, HistoryRow, MessageRow


def message_json(row: MessageRow, ref: str, tz_name: str) -> dict[str, Any]:
    tz = timing.zone(tz_name)
    return {
        "id": str(row.id),
        "booking": ref,
        "step": row.step,
        "channel": row.channel,
        "status": row.status,
        "reason": row.reason,
        "due_at": timing.local_iso(row.due_at, tz),
        "due_at_utc": timing.utc_z(row.due_at),
        "sent_at": timing.local_iso(row.sent_at, tz),
        "next_attempt_at": timing.local_iso(row.next_attempt_at, tz),
        "attempts": row.attempts,
        "to": row.to_addr,
        "subject": row.subject,
        "body": row.body,
        "replaces": str(row.replaces_id) if row.replaces_id else None,
    }


def message_order(row: MessageRow) -> tuple[bool, datetime, int]:
    """Messages are listed by when they are due; event messages (no due time) last, as created."""
    return (row.due_at is None, row.due_at or row.created_at, row.id)


def messages_json(session: Session, business_id: str, ref: str | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from engine.store.tables import BookingRow, MessageRow

    query = (
        select(MessageRow, BookingRow.ref, BookingRow.timezone)
        .join(BookingRow, BookingRow.id == MessageRow.booking_id)
        .where(MessageRow.business_id == business_id)
    )
    if ref is not None:
        query = query.where(BookingRow.ref == ref)
    rows = list(session.execute(query).all())
    rows.sort(key=lambda r: message_order(r[0]))
    return [message_json(m, booking_ref, tz) for m, booking_ref, tz in rows]


def history_json(session: Session, booking: BookingRow) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from engine.store.tables import HistoryRow

    tz = timing.zone(booking.timezone)
    rows = session.scalars(
        select(HistoryRow).where(HistoryRow.booking_id == booking.id).order_by(HistoryRow.at, HistoryRow.id)
    )
    return [history_item(h, tz) for h in rows]


def history_item(h: HistoryRow, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "at": timing.local_iso(h.at, tz),
        "kind": h.kind,
        "detail": h.detail,
        "message": str(h.message_id) if h.message_id else None,
        # Lines written before actors were recorded, and the outbox's own transitions: the engine.
        "actor": h.actor or "system",
    }


def booking_times(row: BookingRow) -> dict[str, Any]:
    """A booking's ref, status and times in its own zone: what a webhook body carries of it."""
    tz = timing.zone(row.timezone)
    return {
        "ref": row.ref,
        "playbook": row.playbook,
        "status": row.status,
        "confirmed": row.confirmed,
        "start": timing.local_iso(row.start_at, tz),
        "end": timing.local_iso(row.end_at, tz),
        "promised_start": timing.local_iso(row.promised_start, tz),
        "promised_end": timing.local_iso(row.promised_end, tz),
        "timezone": row.timezone,
        "delay_minutes": int((row.start_at - row.promised_start).total_seconds() // 60),
    }


def booking_json(session: Session, row: BookingRow, *, with_messages: bool = False) -> dict[str, Any]:
    from sqlalchemy import select

    from engine.store.tables import CustomerRow, MessageRow

    customer = session.get(CustomerRow, row.customer_id)
    out: dict[str, Any] = {
        "ref": row.ref,
        "id": str(row.id),
        **booking_times(row),
        "location": row.location,
        "delay_reason": row.delay_reason,
        "final_price": row.final_price,
        "score": row.score,
        "customer": {
            "name": customer.name if customer else None,
            "phone": customer.phone if customer else None,
            "email": customer.email if customer else None,
            "locale": row.locale,
            "marketing_ok": customer.marketing_ok if customer else False,
        },
        "facts": dict(row.facts or {}),
        "choices": dict(row.choices or {}),
        "assignee": row.assignee,
    }
    if with_messages:
        out["messages"] = [
            message_json(m, row.ref, row.timezone)
            for m in session.scalars(
                select(MessageRow)
                .where(MessageRow.booking_id == row.id)
                .order_by(MessageRow.due_at, MessageRow.id)
            )
        ]
    return out
