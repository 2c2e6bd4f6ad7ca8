"""The board's "New booking" and "Move" forms: the same ``BookingService`` as the CLI and the API.

``/staff/new?playbook=ID`` asks for what a booking of that playbook needs (its
required facts marked); ``/staff/b/{ref}/move`` for a new start and end. A
refused form comes back with what was typed and the error beside its field
(422 for bad input, 409 for a state or a ref that refuses it), nothing
stored. The board creates, never updates: a ref that exists is an error on
the ref, not a silent change of another booking.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.core import timing
from engine.core.playbooks import Playbook
from engine.exceptions import ConflictError, ForventError, NotFoundError, UserInputError
from engine.services.booking_input import BookingInput
from engine.web import board
from engine.web.errors import status_of
from engine.web.security import Session

if TYPE_CHECKING:
    from engine.web.staff import StaffBoard

FIELDS = ("ref", "name", "phone", "email", "locale", "start", "duration", "location")
MAX_FIELD = 2000
MAX_DURATION_MINUTES = 14 * 24 * 60


def booking_form_routes(router: APIRouter, staff: StaffBoard) -> None:
    @router.get("/new")
    def new_page(request: Request, session: Session = Depends(staff.session), playbook: str = "") -> Response:
        chosen = _playbook(staff, playbook)
        return _new_form(request, staff, session, chosen, {"locale": chosen.default_locale}, {})

    @router.post("/new")
    async def create(request: Request, session: Session = Depends(staff.session)) -> Response:
        form = await _form(request)
        staff.check_csrf(session, form.get("csrf", ""))
        chosen = _playbook(staff, form.get("playbook", ""))
        try:
            ref = await run_in_threadpool(_create, staff, chosen, form)
        except ForventError as exc:
            return _new_form(request, staff, session, chosen, form, _error(exc), status_of(exc))
        return RedirectResponse(f"/staff/b/{ref}?done=created&ref={ref}", status_code=303)

    @router.get("/b/{ref}/move")
    def move_page(request: Request, ref: str, session: Session = Depends(staff.session)) -> Response:
        row = staff.row(ref)
        tz = timing.zone(row.timezone)
        typed = {
            "start": row.promised_start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "end": row.promised_end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        }
        return _move_form(request, staff, session, ref, typed, {})

    @router.post("/b/{ref}/move")
    async def move(request: Request, ref: str, session: Session = Depends(staff.session)) -> Response:
        form = await _form(request)
        staff.check_csrf(session, form.get("csrf", ""))
        start, end = form.get("start", ""), form.get("end", "")
        try:
            if not start:
                raise UserInputError("start: required", field="start")
            await run_in_threadpool(staff.service.reschedule, ref, start=start, end=end or None)
        except ForventError as exc:
            if isinstance(exc, NotFoundError):
                raise
            return _move_form(request, staff, session, ref, form, _error(exc), status_of(exc))
        return RedirectResponse(f"/staff/b/{ref}?done=moved&ref={ref}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """The posted fields as text; a field longer than any form allows is cut, then refused by its check."""
    data = await request.form()
    return {k: v[: MAX_FIELD + 1] for k, v in data.items() if isinstance(v, str)}


def _playbook(staff: StaffBoard, playbook_id: str) -> Playbook:
    known = staff.rt.playbooks.ids()
    return staff.rt.playbooks.get(playbook_id if playbook_id in known else known[0])


def _create(staff: StaffBoard, playbook: Playbook, form: Mapping[str, str]) -> str:
    data = _booking_input(staff, playbook, form)
    with staff.rt.database.session() as db:
        taken = ConflictError(f"ref: {data.ref} is another booking already", field="ref")
        if staff.service.find(db, data.ref) is not None:
            raise taken
        # Made by another request since the look-up: ``book`` would update it, so undo and refuse.
        if not staff.service.book(data, session=db).created:
            raise taken
    return data.ref


def _booking_input(staff: StaffBoard, playbook: Playbook, form: Mapping[str, str]) -> BookingInput:
    ref = form.get("ref", "").strip() or f"B-{secrets.token_hex(3).upper()}"
    start = form.get("start", "").strip()
    if not start:
        raise UserInputError("start: required", field="start")
    end = None
    if minutes := form.get("duration", "").strip():
        if not minutes.isdigit() or not 1 <= int(minutes) <= MAX_DURATION_MINUTES:
            raise UserInputError("duration: whole minutes, at least 1", field="duration")
        tz = timing.zone(playbook.timezone or staff.rt.business.timezone)
        end = timing.parse_instant(start, tz, field="start") + timedelta(minutes=int(minutes))
    facts: dict[str, Any] = {}
    for name, spec in playbook.facts.items():
        value = form.get(f"facts.{name}", "").strip()
        if spec.type == "bool":
            facts[name] = bool(value) or None
        elif value:
            facts[name] = value
    return BookingInput(
        ref=ref,
        playbook=playbook.playbook,
        name=form.get("name", ""),
        phone=form.get("phone") or None,
        email=form.get("email") or None,
        start=start,
        end=end,
        locale=form.get("locale") or None,
        location=form.get("location") or None,
        facts={k: v for k, v in facts.items() if v is not None},
    )


def _error(exc: ForventError) -> dict[str, str]:
    """The message by the field it names (shown beside it); ``form`` when it names none."""
    message = exc.message
    field = exc.field or "form"
    prefix = f"{field}: "
    return {field: message.removeprefix(prefix)}


def _new_form(
    request: Request,
    staff: StaffBoard,
    session: Session,
    playbook: Playbook,
    typed: Mapping[str, str],
    errors: Mapping[str, str],
    status: int = 200,
) -> Response:
    playbooks = [staff.rt.playbooks.get(p) for p in staff.rt.playbooks.ids()]
    locale = staff.rt.business.default_locale
    context = staff.context(
        request,
        session,
        playbook=playbook,
        playbooks=[(p.playbook, p.title_in(locale)) for p in playbooks],
        title=playbook.title_in(locale),
        typed=typed,
        errors=errors,
        duration=playbook.default_duration,
        day=typed.get("start", "")[:10] or None,
    )
    return staff.pages.render(request, "staff_new_booking.html", context, status)


def _move_form(
    request: Request,
    staff: StaffBoard,
    session: Session,
    ref: str,
    typed: Mapping[str, str],
    errors: Mapping[str, str],
    status: int = 200,
) -> Response:
    row = staff.row(ref)
    with staff.rt.database.session() as db:
        card = board.cards(staff.rt, db, [row])[0]
    context = staff.context(request, session, card=card, typed=typed, errors=errors, day=staff.day_of(row))
    return staff.pages.render(request, "staff_move.html", context, status)
