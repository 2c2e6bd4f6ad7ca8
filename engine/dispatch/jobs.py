"""Periodic jobs that run once per deployment, whatever the number of processes.

The scheduler takes each job's turn in ``job_locks`` first (``engine.store.locks``:
a lease for ``watch``, a daily turn for ``retention``); a process that loses
the race skips that tick.

- ``watch``: a booking whose promised moment (the start for ``arrival``, the
  ready time for ``ready``) is about to pass with the promised event not
  happened and nothing said to the customer alerts staff once, while a delay
  (or delay-ready) notice can still go out before it; if the moment comes in
  silence, it escalates once more.
- ``retention``: purges message bodies older than ``FORVENT_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.timing import zone
from engine.runtime import Runtime
from engine.services.alerts import raise_alert
from engine.store import history
from engine.store.privacy import purge_bodies
from engine.store.tables import BookingRow, HistoryRow
from engine.store.values import customer_name

WATCH_LEAD = timedelta(minutes=15)
#: What staff read, in the business's language: the first alert ahead of the promised
#: moment, and the one escalation once it has come with the customer still untold.
WATCH_TEXT = {
    "arrival": {
        "nb": "Forvent: {name} ({ref}) venter oss kl. {at}. Blir det senere? Send beskjed nå.",
        "da": "Forvent: {name} ({ref}) venter os kl. {at}. Bliver det senere? Giv besked nu.",
        "en": "Forvent: {name} ({ref}) expects us at {at}. Running late? Tell them now.",
    },
    "ready": {
        "nb": "Forvent: {name} ({ref}) er lovet ferdig kl. {at}, og ingen beskjed er sendt. "
        "Blir det senere? Send beskjed nå.",
        "da": "Forvent: {name} ({ref}) er lovet færdig kl. {at}, og der er ikke sendt besked. "
        "Bliver det senere? Giv besked nu.",
        "en": "Forvent: {name} ({ref}) was promised ready by {at} and has not been told otherwise. "
        "Running late? Tell them now.",
    },
}
ESCALATION_TEXT = {
    "arrival": {
        "nb": "Forvent: {name} ({ref}) ventet oss kl. {at}, og har ikke fått beskjed. Ring kunden nå.",
        "da": "Forvent: {name} ({ref}) ventede os kl. {at} og har ikke fået besked. Ring til kunden nu.",
        "en": "Forvent: {name} ({ref}) expected us at {at} and has not been told. Call the customer now.",
    },
    "ready": {
        "nb": "Forvent: {name} ({ref}) skulle vært ferdig kl. {at}, og kunden har ikke fått beskjed. "
        "Ring kunden nå.",
        "da": "Forvent: {name} ({ref}) skulle have været færdig kl. {at}, og kunden har ikke fået besked. "
        "Ring til kunden nu.",
        "en": "Forvent: {name} ({ref}) was promised ready by {at} and the customer has not been told. "
        "Call the customer now.",
    },
}
#: The history's words for the silence watched: the start, or the ready time.
WATCH_LINE = {
    "arrival": "start {at} {when}, not started",
    "ready": "ready time {at} {when}, no ready notice or delay sent",
}
ESCALATED = "watch: escalated:"


def watch(runtime: Runtime) -> int:
    """Alert staff about bookings about to break their promise in silence; returns how many alerts.

    A booking is watched while its promised moment (the start for ``arrival``,
    the expected ready time for ``ready``, which a delay or delay-ready moves)
    is less than ``WATCH_LEAD`` away and the promised event has not happened.
    The first alert goes once in that lead; if the moment comes with nothing
    said, one escalation follows, and nothing after it.
    """
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
            said = list(
                session.scalars(
                    select(HistoryRow.detail).where(
                        HistoryRow.booking_id == booking.id,
                        HistoryRow.kind == "staff",
                        HistoryRow.detail.like("watch:%"),
                    )
                )
            )
            escalate = due <= now
            if any((d or "").startswith(ESCALATED) for d in said) or (said and not escalate):
                continue
            _alert(runtime, session, booking, promise, due, escalate=escalate, now=now)
            alerted += 1
    return alerted


def _alert(
    runtime: Runtime,
    session: Session,
    booking: BookingRow,
    promise: str,
    due: datetime,
    *,
    escalate: bool,
    now: datetime,
) -> None:
    business = runtime.business
    at = due.astimezone(zone(booking.timezone)).strftime("%H:%M")
    texts = (ESCALATION_TEXT if escalate else WATCH_TEXT)[promise]
    text = texts.get(business.default_locale, texts["en"]).format(
        name=customer_name(session, booking), ref=booking.ref, at=at
    )
    line = WATCH_LINE[promise].format(at=at, when="passed" if escalate else "approaching")
    history.add(session, booking, "staff", f"{ESCALATED if escalate else 'watch:'} {line}", at=now)
    raise_alert(session, business=business, booking_id=booking.id, ref=booking.ref, text=text, now=now)


def retention(runtime: Runtime) -> int:
    days = runtime.settings.retention_days
    if not days:
        return 0
    with runtime.database.session() as session:
        return purge_bodies(session, business_id=runtime.business.id, now=runtime.now(), days=days)
