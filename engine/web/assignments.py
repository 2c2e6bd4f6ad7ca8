"""Who does the job, from the API (``POST /api/v1/bookings/{ref}/assign``) and the board's control.

Both are the one transaction of ``engine.services.assignments.assign`` on the
locked booking; the history line carries the token's or the staff member's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from engine.services.assignments import assign
from engine.web import models as m
from engine.web.security import Session

if TYPE_CHECKING:
    from engine.web.api import Api
    from engine.web.staff import StaffBoard


def api_assign_route(router: APIRouter, api: Api) -> None:
    @router.post(
        "/bookings/{ref}/assign",
        response_model=m.BookingOut,
        summary='Who does the job: {assignee} (null or "" for nobody)',
        tags=["bookings"],
    )
    def assign_booking(ref: str, body: m.AssignIn) -> dict[str, Any]:
        return api.act(ref, lambda s: assign(api.service, ref, body.assignee, session=s))


def staff_assign_route(
    router: APIRouter, staff: StaffBoard, finish: Callable[[str, str, str], Response]
) -> None:
    @router.post("/b/{ref}/assign", name="staff_assign")
    def assign_on_board(
        ref: str,
        session: Session = Depends(staff.session),
        csrf: Annotated[str, Form(max_length=2000)] = "",
        assignee: Annotated[str, Form(max_length=2000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        staff.check_csrf(session, csrf)
        assign(staff.service, ref, assignee)
        return finish(ref, "assign", next)
