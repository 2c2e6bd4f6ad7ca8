"""Who does the job: ``forvent assign REF NAME``, the API's ``assign`` and the board's control.

One transaction on the locked booking, like every action; the change is a
``staff`` line in the history, written with the transaction's actor, so the
record says who handed the job to whom. Assigning the name it already has
changes nothing and writes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.services import booking_input
from engine.services.bookings import BookingService
from engine.store import history
from engine.store.tables import BookingRow


def assign(
    service: BookingService, ref: str, assignee: str | None, *, session: Session | None = None
) -> BookingRow:
    """Give the booking to ``assignee`` (blank or None: to nobody)."""
    name = booking_input.assignee(assignee)
    now = service.rt.now()
    with service.transaction(session) as tx:
        row = service.lock(tx, ref)
        if row.assignee == name:
            return row
        before = row.assignee
        row.assignee = name
        row.updated_at = now
        detail = f"assigned to {name}" if name else f"assignment removed (was {before})"
        history.add(tx, row, "staff", detail, at=now, data={"assignee": name, "was": before})
        return row
