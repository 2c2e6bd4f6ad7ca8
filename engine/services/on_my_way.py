"""Staff are on their way: the ``staff.on_my_way`` event, with the time they expect to arrive.

"On my way" is only true when someone has set off, so it is an event staff
report (``forvent on-my-way``, the API, the board's button), never a clock.
The ETA is kept in the booking's anchors (``eta``), so templates read it as
``booking.eta`` in the booking's zone, and rides on the event as
``event.data.eta``. Each report is its own event: a new ETA sends again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.values import UNDER_WAY_OR_ENDED
from engine.exceptions import UserInputError
from engine.services import booking_input
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow

EVENT = "staff.on_my_way"
#: Further ahead than this is no journey but a typo (a wrong day or a wrong offset).
MAX_ETA_AHEAD = timedelta(hours=12)


def has_on_my_way_step(service: BookingService, playbook_id: str) -> bool:
    return bool(service.rt.playbooks.get(playbook_id).steps_for(EVENT))


def on_my_way(
    service: BookingService,
    ref: str,
    *,
    eta: str | datetime | None = None,
    at: str | datetime | None = None,
    session: Session | None = None,
) -> BookingRow:
    """Record that staff set off for ``ref``, arriving at ``eta`` (default: the expected start)."""
    now = service.rt.now()
    with service.transaction(session) as tx:
        row = service.lock(tx, ref)
        service.refuse(row, "send on-my-way for", UNDER_WAY_OR_ENDED)
        tz = timing.zone(row.timezone)
        arrival = _eta(eta, row, tz, now)
        when = booking_input.event_time(at, tz, now)
        row.anchors = {**(row.anchors or {}), "eta": arrival.isoformat()}
        row.updated_at = now
        service.apply_event(tx, row, EVENT, {"eta": timing.local_iso(arrival, tz)}, at=when, now=now)
        return row


def _eta(given: str | datetime | None, row: BookingRow, tz: ZoneInfo, now: datetime) -> datetime:
    arrival = row.start_at if given is None else booking_input.instant(given, tz, "eta")
    shown = timing.local_iso(arrival, tz)
    if arrival <= now:
        said = f"the expected start {shown}" if given is None else shown
        raise UserInputError(
            f"eta: {said} is not after now ({timing.local_iso(now, tz)}): give the arrival time with --eta",
            field="eta",
        )
    if arrival - now > MAX_ETA_AHEAD:
        raise UserInputError(
            f"eta: {shown} is more than {int(MAX_ETA_AHEAD.total_seconds() // 3600)} h from now "
            f"({timing.local_iso(now, tz)})",
            field="eta",
        )
    return arrival.astimezone(tz)
