"""The customer's page ``/b/{token}``: their booking in their language, and what they can do.

The token (``engine.core.links``) names one booking and an expiry; a forged,
altered or expired one is a 403 page. Everything the page shows and every
action it offers concern that booking only. Forms carry a CSRF token bound to
the link (signed double-submit, ``engine.web.security``) and are answered
with a redirect back to the page, which then says what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.links import BadLinkError
from engine.core.values import BookingStatus
from engine.runtime import Runtime
from engine.services.customer_actions import CustomerActions
from engine.store import actors
from engine.store.tables import BookingRow, CustomerRow, FindingRow
from engine.web import i18n, scores
from engine.web.board import summary
from engine.web.calendar import current_invite, filename
from engine.web.errors import ApiError
from engine.web.pages import Pages
from engine.web.security import CSRF_COOKIE
from engine.web.slots import DONE as SLOT_DONE
from engine.web.slots import SlotOffer, slot_routes
from engine.web.slots import words as slot_words

B = BookingStatus
WAITING = frozenset({B.BOOKED, B.CONFIRMED})
DONE = frozenset({"confirm", "cancel", "change", "finding", "choice", "unsubscribe"}) | SLOT_DONE
Field = Annotated[str, Form(max_length=500)]


@dataclass(frozen=True)
class Link:
    token: str
    booking_id: int


class CustomerPage:
    def __init__(self, runtime: Runtime, pages: Pages) -> None:
        self.rt = runtime
        self.pages = pages
        self.actions = CustomerActions(runtime)
        self.offer = SlotOffer(runtime)

    def link(self, token: str) -> Link:
        try:
            booking_id = self.rt.signer.verify(token, now=self.rt.now())
        except BadLinkError:
            raise ApiError(403, "forbidden", "this link is forged, altered or expired", "token") from None
        return Link(token, booking_id)

    def check_csrf(self, request: Request, link: Link, given: str) -> None:
        if not self.pages.signer.check_csrf(request.cookies.get(CSRF_COOKIE), link.token, given):
            raise ApiError(403, "csrf", "the form's CSRF token is missing or wrong", "csrf")

    def view(self, session: Session, link: Link) -> dict[str, Any]:
        row = self.actions.booking(session, link.booking_id)
        customer = session.get(CustomerRow, row.customer_id)
        playbook = self.rt.playbooks.get(row.playbook)
        locale = row.locale if row.locale in i18n.LOCALES else "en"
        tz = timing.zone(row.timezone)
        start, end = row.start_at.astimezone(tz), row.end_at.astimezone(tz)
        promised_start = row.promised_start.astimezone(tz)
        status = B(row.status)
        delay = int((row.start_at - row.promised_start).total_seconds() // 60)
        return {
            "row": row,
            "locale": locale,
            "words": {**i18n.words(locale), **slot_words(locale)},
            "name": _first_name(customer),
            "title": playbook.title_in(locale),
            "summary": summary(row),
            "day": i18n.day(start, locale),
            "promised_day": i18n.day(promised_start, locale),
            "promised": i18n.window(promised_start, row.promised_end.astimezone(tz), locale),
            "expected": i18n.window(start, end, locale),
            "delay": delay if delay > 0 and status in WAITING else 0,
            "where": row.location or self.rt.business.address,
            "status": str(status),
            "findings": self._findings(session, row, locale),
            "options": self._options(row, locale),
            "can_confirm": status == B.BOOKED and not row.confirmed,
            "can_change": status in WAITING,
            "slots": self.offer.for_booking(session, row, locale),
            "calendar": status not in (B.CANCELLED, B.NO_SHOW),
            "open": status not in (B.COMPLETED, B.CANCELLED, B.NO_SHOW),
            "final_price": i18n.money(row.final_price, self.rt.business.currency, locale) or None,
            "pickup": _moment(row.pickup_at.astimezone(tz), locale) if row.pickup_at else None,
            "score": scores.view(self.rt, session, row, locale),
        }

    def _findings(self, session: Session, row: BookingRow, locale: str) -> list[dict[str, Any]]:
        currency = self.rt.business.currency
        found = session.scalars(
            select(FindingRow).where(FindingRow.booking_id == row.id).order_by(FindingRow.id)
        )
        return [
            {
                "id": f.id,
                "text": f.text,
                "price": i18n.money(f.price, currency, locale) if f.price else None,
                "must_fix": f.must_fix,
                "decision": f.decision,
            }
            for f in found
        ]

    def _options(self, row: BookingRow, locale: str) -> list[dict[str, Any]]:
        playbook = self.rt.playbooks.get(row.playbook)
        chosen = row.choices or {}
        return [
            {
                "id": o.id,
                "label": i18n.option_label(playbook, o, locale),
                "choices": [(c, i18n.choice_label(c, locale)) for c in o.choices],
                "current": chosen.get(o.id),
            }
            for o in playbook.options
        ]

    def render(
        self, request: Request, link: Link, template: str, *, status: int = 200, **more: Any
    ) -> Response:
        with self.rt.database.session() as session:
            context = self.view(session, link)
        token, fresh = self.pages.csrf(request, link.token)
        context.update(token=link.token, csrf=token, **more)
        response = self.pages.render(request, template, context, status)
        self.pages.set_csrf_cookie(response, fresh)
        return response


def _moment(value: datetime, locale: str) -> str:
    return f"{i18n.day(value, locale)} {i18n.clock(value, locale)}"


def _first_name(customer: CustomerRow | None) -> str:
    if customer is None:
        return ""
    parts = (customer.name or "").split()
    return customer.first_name or (parts[0] if parts else "")


def _back(link: Link, done: str) -> RedirectResponse:
    return RedirectResponse(f"/b/{link.token}?done={done}", status_code=303)


async def _as_customer() -> None:
    """What the page does is the customer's doing (the request's own task ends with it)."""
    actors.set_current(actors.CUSTOMER_PAGE)


def customer_router(runtime: Runtime, pages: Pages) -> APIRouter:
    page = CustomerPage(runtime, pages)
    router = APIRouter(prefix="/b/{token}", include_in_schema=False, dependencies=[Depends(_as_customer)])
    _read_routes(router, page)
    _action_routes(router, page)
    scores.score_routes(router, page)
    slot_routes(router, page)
    return router


def _read_routes(router: APIRouter, page: CustomerPage) -> None:
    @router.get("")
    def show(
        request: Request, token: str, done: Annotated[str | None, Query(max_length=20)] = None
    ) -> Response:
        link = page.link(token)
        return page.render(request, link, "customer.html", done=done if done in DONE else None)

    @router.get("/invite.ics")
    def invite(token: str) -> Response:
        link = page.link(token)
        with page.rt.database.session() as session:
            row = page.actions.booking(session, link.booking_id)
            body = current_invite(page.rt, session, row, "PUBLISH")
            name = filename(row)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)

    @router.get("/unsubscribe")
    def unsubscribe_page(request: Request, token: str) -> Response:
        link = page.link(token)
        return page.render(request, link, "customer_unsubscribe.html")


def _action_routes(router: APIRouter, page: CustomerPage) -> None:
    acts = page.actions

    @router.post("/confirm")
    def confirm(request: Request, token: str, csrf: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.confirm(link.booking_id)
        return _back(link, "confirm")

    @router.post("/cancel")
    def cancel(request: Request, token: str, csrf: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.cancel(link.booking_id)
        return _back(link, "cancel")

    @router.post("/change")
    def change(request: Request, token: str, csrf: Field = "", text: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.ask_other_time(link.booking_id, text)
        return _back(link, "change")

    @router.post("/findings/{finding_id}")
    def decide(
        request: Request, token: str, finding_id: int, csrf: Field = "", decision: Field = ""
    ) -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.decide_finding(link.booking_id, finding_id, decision)
        return _back(link, "finding")

    @router.post("/choices")
    def choose(
        request: Request, token: str, csrf: Field = "", option: Field = "", choice: Field = ""
    ) -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.choose(link.booking_id, option, choice)
        return _back(link, "choice")

    @router.post("/unsubscribe")
    def unsubscribe(request: Request, token: str, csrf: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        acts.unsubscribe(link.booking_id)
        return _back(link, "unsubscribe")
