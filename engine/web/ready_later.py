"""The staff board's "Ready later": a started ``promise: ready`` job's ready time moves.

As with "Running late", nothing is sent blind: ``+30/+60/+120`` opens a page
with the exact text the customer will get (``preview_ready_delay``, rendered
from a copy of the booking with the new ready time), and only its Send
button calls ``ReadyDelays.delay_ready``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession

from engine.core import timing
from engine.exceptions import UserInputError
from engine.runtime import Runtime
from engine.services.ready_delay import EVENT, ReadyDelays
from engine.store.tables import BookingRow
from engine.web import board
from engine.web.notices import DelayPreview, clock_on_day, preview_moved
from engine.web.security import Session

if TYPE_CHECKING:
    from engine.web.staff import StaffBoard

DONE = "ready-later"
Text = Annotated[str, Form(max_length=2000)]


def new_end(row: BookingRow, *, minutes: int | None, until: str | None) -> datetime:
    """The expected ready time ``delay_ready`` would give; its refusals are the service's."""
    if (minutes is None) == (until is None):
        raise UserInputError("delay-ready: give exactly one of minutes and until", field="minutes")
    if minutes is not None:
        return row.end_at + timedelta(minutes=minutes)
    assert until is not None
    return timing.parse_instant(until, timing.zone(row.timezone), field="until")


def preview_ready_delay(
    runtime: Runtime,
    session: DbSession,
    row: BookingRow,
    *,
    minutes: int | None = None,
    until: str | None = None,
    reason: str | None = None,
) -> DelayPreview:
    """What the customer would read if the ready time moved so (the row is not touched)."""
    ready_delays = ReadyDelays(runtime)
    ready_delays.check(row)
    end = new_end(row, minutes=minutes, until=until)
    ready_delays.check_later(row, end)
    now = runtime.now()
    booking = replace(ready_delays.bookings.value(session, row), end=end)
    shift = int((end - row.end_at).total_seconds() // 60)
    base = DelayPreview(start=booking.start, end=end, minutes=shift, step=None, channel=None)
    told = row.told_end or row.promised_end
    return preview_moved(runtime, booking, EVENT, new=end, told=told, reason=reason, now=now, base=base)


def ready_later_routes(router: APIRouter, staff: StaffBoard) -> None:
    ready_delays = ReadyDelays(staff.rt, staff.service)

    @router.get("/b/{ref}/delay-ready")
    def ready_later_preview_page(
        request: Request,
        ref: str,
        session: Session = Depends(staff.session),
        minutes: Annotated[int | None, Query(ge=1, le=7 * 24 * 60)] = None,
        until: Annotated[str | None, Query(max_length=5)] = None,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Response:
        with staff.rt.database.session() as db:
            row = staff.service.get(db, ref)
            preview = preview_ready_delay(
                staff.rt,
                db,
                row,
                minutes=minutes,
                until=clock_on_day(until, row.end_at, row.timezone, example="16:30"),
                reason=reason or None,
            )
            card = board.cards(staff.rt, db, [row])[0]
        tz = timing.zone(row.timezone)
        context = staff.context(
            request,
            session,
            card=card,
            preview=preview,
            minutes=minutes,
            until=until or "",
            reason=reason or "",
            new_end=preview.end.astimezone(tz),
            day=staff.day_of(row),
        )
        return staff.pages.render(request, "staff_ready_later.html", context)

    @router.post("/b/{ref}/delay-ready")
    def ready_later(
        ref: str,
        session: Session = Depends(staff.session),
        csrf: Text = "",
        minutes: Annotated[int | None, Form(ge=1, le=7 * 24 * 60)] = None,
        until: Annotated[str | None, Form(max_length=5)] = None,
        reason: Text = "",
    ) -> Response:
        staff.check_csrf(session, csrf)
        with staff.rt.database.session() as db:
            # "HH:MM" means that time on the day of the ready time as it is now, under the lock.
            row = staff.service.lock(db, ref)
            ready_delays.delay_ready(
                ref,
                minutes=minutes,
                until=clock_on_day(until, row.end_at, row.timezone, example="16:30"),
                reason=reason or None,
                session=db,
            )
            day, anchor = staff.day_of(row), row.id
        query = urlencode({"day": day, "done": DONE, "ref": ref})
        return RedirectResponse(f"/staff?{query}#b-{anchor}", status_code=303)
