"""The board's "On my way" button: one tap sends the playbook's staff.on_my_way step.

The tap alone says "arriving at the expected start"; the booking's page also
offers a time ("HH:MM", on the day of the expected start) when the journey
will take longer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from engine.core import timing
from engine.exceptions import UserInputError
from engine.services.on_my_way import on_my_way
from engine.store.tables import BookingRow
from engine.web.security import Session

if TYPE_CHECKING:
    from engine.web.staff import StaffBoard


def eta_on_start_day(row: BookingRow, eta: str | None) -> str | None:
    """A chosen "HH:MM" on the day of the booking's current expected start, as local ISO."""
    if not eta:
        return None
    try:
        clock = datetime.strptime(eta, "%H:%M").time()
    except ValueError:
        raise UserInputError("eta: expected a time such as 09:45", field="eta") from None
    local = row.start_at.astimezone(timing.zone(row.timezone))
    return datetime.combine(local.date(), clock).isoformat(timespec="minutes")


def on_my_way_routes(
    router: APIRouter, staff: StaffBoard, finish: Callable[[str, str, str], Response]
) -> None:
    @router.post("/b/{ref}/on-my-way", name="staff_on_my_way")
    def go(
        ref: str,
        session: Session = Depends(staff.session),
        csrf: Annotated[str, Form(max_length=2000)] = "",
        eta: Annotated[str | None, Form(max_length=5)] = None,
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        staff.check_csrf(session, csrf)
        with staff.rt.database.session() as db:
            row = staff.service.lock(db, ref)
            on_my_way(staff.service, ref, eta=eta_on_start_day(row, eta), session=db)
        return finish(ref, "on-my-way", next)
