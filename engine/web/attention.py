"""Attention items on the staff board and in the API: open until a person marks them handled.

``GET /api/v1/attention`` lists the open items (``?handled=true``: the handled
ones, newest first); ``POST /api/v1/attention/{id}/handled`` marks one handled
by the token, and the board's button by the person logged in. Marking an item
again as the same person answers as before; one someone else handled is a 409
naming them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session as DbSession

from engine.core import timing
from engine.runtime import Runtime
from engine.services.feedback import Feedback
from engine.store import actors, attention
from engine.web import models as m
from engine.web.api import ERRORS, Api, known_query
from engine.web.security import Session

if TYPE_CHECKING:
    from engine.web.staff import StaffBoard


class AttentionOut(BaseModel):
    id: int
    kind: str
    detail: str
    ref: str | None
    name: str | None
    phone: str | None
    email: str | None
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None


def open_items(runtime: Runtime, session: DbSession) -> list[dict[str, Any]]:
    """The board's "Needs attention": open items, oldest first, times in the business's zone."""
    tz = timing.zone(runtime.business.timezone)
    return [
        {**item.as_json(), "at": item.created_at.astimezone(tz)}
        for item in attention.items(session, runtime.business.id)
    ]


def _out(item: attention.Item, runtime: Runtime) -> dict[str, Any]:
    tz = timing.zone(runtime.business.timezone)
    data = item.as_json()
    data["created_at"] = timing.local_iso(item.created_at, tz)
    data["handled_at"] = timing.local_iso(item.handled_at, tz) if item.handled_at else None
    return data


def attention_api_router(runtime: Runtime) -> APIRouter:
    api = Api(runtime)
    feedback = Feedback(runtime, api.service)
    router = APIRouter(
        prefix="/api/v1", dependencies=[Depends(known_query)], responses=ERRORS, tags=["attention"]
    )

    @router.get("/attention", response_model=list[AttentionOut], summary="Open attention items")
    def listing(
        token: str = Depends(api.authorize),
        handled: Annotated[bool, Query(description="The handled items instead, newest first")] = False,
    ) -> list[dict[str, Any]]:
        with runtime.database.session() as session:
            found = attention.items(session, runtime.business.id, handled=handled)
        return [_out(item, runtime) for item in found]

    @router.post(
        "/attention/{item_id}/handled",
        response_model=AttentionOut,
        responses={409: {"model": m.ErrorOut, "description": "Someone else handled it"}},
        summary="Mark an attention item handled (by the token's name)",
    )
    def handled(item_id: int, token: str = Depends(api.authorize)) -> dict[str, Any]:
        return _out(feedback.handle(item_id, by=actors.token(token)), runtime)

    return router


def attention_staff_routes(router: APIRouter, staff: StaffBoard) -> None:
    feedback = Feedback(staff.rt, staff.service)

    @router.post("/attention/{item_id}/handled", name="staff_attention_handled")
    def handled(
        item_id: int,
        session: Session = Depends(staff.session),
        csrf: Annotated[str, Form(max_length=2000)] = "",
        next: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        staff.check_csrf(session, csrf)
        item = feedback.handle(item_id, by=session.who)
        # Only our own pages: a form's "next" must never send staff elsewhere.
        target = next if next.startswith("/staff") and not next.startswith("//") else "/staff"
        path, _, fragment = target.partition("#")
        joiner = "&" if "?" in path else "?"
        query = urlencode({"done": "attention", **({"ref": item.ref} if item.ref else {})})
        return RedirectResponse(f"{path}{joiner}{query}" + (f"#{fragment}" if fragment else ""), 303)
