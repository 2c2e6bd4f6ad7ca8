"""Periodic jobs that run once per deployment, whatever the number of processes.

Each job takes a lease in ``job_locks`` (compare-and-set on the engine clock)
before it runs; a process that loses the race skips that tick. A daily job
(``due``) keeps its row until the next run is due instead, so restarts and
several processes still run it once a day on the engine clock.

- ``watch``: a booking whose promised window is about to pass with the work not
  started and nothing said to the customer alerts staff once, while a delay
  notice can still go out before the promised time has passed.
- ``retention``: purges message bodies older than ``FORVENT_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.runtime import Runtime
from engine.services.alerts import raise_alert
from engine.store import outbox
from engine.store.privacy import purge_bodies
from engine.store.tables import BookingRow, CustomerRow, HistoryRow, LockRow

WATCH_LEAD = timedelta(minutes=15)
WATCH_TEXT = {  # staff read these in the business's language
    "nb": "Forvent: {name} ({ref}) venter oss kl. {at}. Blir det senere? Send beskjed nå.",
    "da": "Forvent: {name} ({ref}) venter os kl. {at}. Bliver det senere? Giv besked nu.",
    "en": "Forvent: {name} ({ref}) expects us at {at}. Running late? Tell them now.",
}


def acquire(runtime: Runtime, name: str, holder: str, lease: timedelta) -> bool:
    """Take the job's lease if it is free or expired; True when this process holds it."""
    now = runtime.now()
    with runtime.database.session() as session:
        if session.get(LockRow, name) is None:
            try:
                with session.begin_nested():
                    session.add(LockRow(name=name, business_id=runtime.business.id, holder=None, until=None))
            except IntegrityError:
                pass  # another process created it first; the update below decides
        result = session.execute(
            update(LockRow)
            .where(
                LockRow.name == name,
                (LockRow.until.is_(None)) | (LockRow.until < now) | (LockRow.holder == holder),
            )
            .values(holder=holder, until=now + lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def due(runtime: Runtime, name: str, holder: str, every: timedelta) -> bool:
    """Take the job's turn if its last run was ``every`` ago or more; True when this process runs it."""
    now = runtime.now()
    with runtime.database.session() as session:
        if session.get(LockRow, name) is None:
            try:
                with session.begin_nested():
                    session.add(LockRow(name=name, business_id=runtime.business.id, holder=None, until=None))
            except IntegrityError:
                pass  # another process created it first; the update below decides
        result = session.execute(
            update(LockRow)
            .where(LockRow.name == name, (LockRow.until.is_(None)) | (LockRow.until <= now))
            .values(holder=holder, until=now + every)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def watch(runtime: Runtime) -> int:
    """Alert staff about bookings about to break their promise in silence; returns how many."""
    now = runtime.now()
    business = runtime.business
    alerted = 0
    with runtime.database.session() as session:
        candidates = session.scalars(
            select(BookingRow).where(
                BookingRow.business_id == business.id,
                BookingRow.status.in_(["booked", "confirmed", "started"]),
                BookingRow.start_at <= now + WATCH_LEAD,
                BookingRow.end_at >= now - timedelta(hours=12),
            )
        )
        for booking in candidates:
            # The moment the window promises: arrival (start) or ready (end).
            promise = runtime.playbooks.get(booking.playbook).promise
            due = booking.end_at if promise == "ready" else booking.start_at
            if due > now + WATCH_LEAD or (promise == "arrival" and booking.status == "started"):
                continue
            seen = session.scalar(
                select(HistoryRow.id).where(
                    HistoryRow.booking_id == booking.id,
                    HistoryRow.kind == "staff",
                    HistoryRow.detail.like("watch:%"),
                )
            )
            if seen is not None:
                continue
            customer = session.get(CustomerRow, booking.customer_id)
            from engine.core.timing import zone

            at = due.astimezone(zone(booking.timezone)).strftime("%H:%M")
            text = WATCH_TEXT.get(business.default_locale, WATCH_TEXT["en"]).format(
                name=customer.name if customer else "?", ref=booking.ref, at=at
            )
            outbox.record(
                session,
                business_id=business.id,
                booking_id=booking.id,
                at=now,
                kind="staff",
                detail=f"watch: start {at} approaching, not started",
            )
            raise_alert(
                session, business=business, booking_id=booking.id, ref=booking.ref, text=text, now=now
            )
            alerted += 1
    return alerted


def retention(runtime: Runtime) -> int:
    days = runtime.settings.retention_days
    if not days:
        return 0
    with runtime.database.session() as session:
        return purge_bodies(session, business_id=runtime.business.id, now=runtime.now(), days=days)
