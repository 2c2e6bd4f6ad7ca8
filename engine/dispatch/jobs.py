"""Periodic jobs that run once per deployment, whatever the number of processes.

The scheduler takes each job's turn in ``job_locks`` first (``engine.store.locks``:
a lease for ``watch``, a daily turn for ``retention``); a process that loses
the race skips that tick.

- ``watch``: a booking whose promised window is about to pass with the work not
  started and nothing said to the customer alerts staff once, while a delay
  notice can still go out before the promised time has passed.
- ``retention``: purges message bodies older than ``FORVENT_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.core.timing import zone
from engine.runtime import Runtime
from engine.services.alerts import raise_alert
from engine.store import history
from engine.store.privacy import purge_bodies
from engine.store.tables import BookingRow, HistoryRow
from engine.store.values import customer_name

WATCH_LEAD = timedelta(minutes=15)
WATCH_TEXT = {  # staff read these in the business's language
    "nb": "Forvent: {name} ({ref}) venter oss kl. {at}. Blir det senere? Send beskjed nå.",
    "da": "Forvent: {name} ({ref}) venter os kl. {at}. Bliver det senere? Giv besked nu.",
    "en": "Forvent: {name} ({ref}) expects us at {at}. Running late? Tell them now.",
}


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
            at = due.astimezone(zone(booking.timezone)).strftime("%H:%M")
            text = WATCH_TEXT.get(business.default_locale, WATCH_TEXT["en"]).format(
                name=customer_name(session, booking), ref=booking.ref, at=at
            )
            history.add(session, booking, "staff", f"watch: start {at} approaching, not started", at=now)
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
