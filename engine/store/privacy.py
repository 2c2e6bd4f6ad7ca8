"""Erasure and retention: forget people, keep the counts.

``erase_customer`` anonymises a person's bookings in place: refs, times,
statuses and message rows stay for the report; names, contact data, location,
text facts, message addresses and bodies, reply texts and history details that
name them are removed; pending messages are cancelled (``erased``), and so
are waiting webhook deliveries, whose bodies may quote the person; an
opt-out survives as a one-way hash. Once that has committed,
``clear_traces`` removes what the database rows no longer show but files
still hold: the file channels' copies of the person's messages, and on SQLite
the old page images in the write-ahead log (SQLite connections run with
``secure_delete``, so freed space in the database file itself is zeroed).
``purge_bodies`` drops message bodies older than the retention period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.playbooks import PlaybookSet
from engine.store import history, outbox, webhook_outbox
from engine.store.db import Database, is_sqlite
from engine.store.tables import BookingRow, CustomerRow, FindingRow, HistoryRow, MessageRow

ERASED = "(erased)"
log = logging.getLogger("forvent.privacy")


@dataclass(frozen=True)
class ErasureResult:
    customers: int
    bookings: int
    messages_cancelled: int
    webhooks_cancelled: int = 0
    message_ids: tuple[int, ...] = ()  # every message of the erased bookings, for clear_traces


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
    webhooks_cancelled = 0
    message_ids: list[int] = []
    for customer in customers:
        for booking in session.scalars(select(BookingRow).where(BookingRow.customer_id == customer.id)):
            bookings += 1
            message_ids += session.scalars(select(MessageRow.id).where(MessageRow.booking_id == booking.id))
            cancelled += len(outbox.cancel_pending(session, booking_id=booking.id, reason="erased", now=now))
            webhooks_cancelled += webhook_outbox.erase(
                session, booking_id=booking.id, reason="erased", now=now
            )
            _erase_booking(session, booking, playbooks, now)
        customer.name, customer.first_name = ERASED, None
        customer.phone = customer.email = None
        customer.erased_at = now
    if customers:
        history.record(
            session,
            business_id=business_id,
            booking_id=None,
            at=now,
            kind="staff",
            detail=f"erased {len(customers)} customer record(s), {bookings} booking(s)",
        )
    return ErasureResult(
        customers=len(customers),
        bookings=bookings,
        messages_cancelled=cancelled,
        webhooks_cancelled=webhooks_cancelled,
        message_ids=tuple(message_ids),
    )


def clear_traces(database: Database, outbox_dir: Path, message_ids: Iterable[int]) -> None:
    """After an erasure has committed: delete the outbox files and checkpoint SQLite's WAL.

    The outbox files are removed whatever the channels are now, since a
    deployment may have used the file channels before. Files are unlinked,
    not overwritten: on journaling and flash storage an overwrite in place is
    no promise that the old blocks are gone.
    """
    for message_id in message_ids:
        for suffix in (".sms.json", ".eml"):
            (outbox_dir / f"{message_id}{suffix}").unlink(missing_ok=True)
    if is_sqlite(database.engine):
        _checkpoint(database)


def _checkpoint(database: Database) -> None:
    # The erased values live on in the WAL's older page images until a
    # checkpoint copies the new pages back and TRUNCATE empties the file. A
    # raw connection: the pool's transactions begin IMMEDIATE, and a
    # checkpoint cannot run inside one.
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _, _ = cursor.fetchone() or (1, 0, 0)
        cursor.close()
    finally:
        connection.close()
    if busy:
        log.warning(
            "the write-ahead log may still hold erased data (a reader kept the checkpoint from"
            " finishing): run erase-customer again while the database is idle"
        )


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
    history.add(session, booking, "staff", "customer data erased", at=now)


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
