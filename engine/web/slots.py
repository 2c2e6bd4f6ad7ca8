"""Free times on the customer's pages: move the booking in one tap, or book the next visit.

``/b/{token}`` shows the booking's free slots (section ``#time``) when it can
still move; ``POST /b/{token}/move`` takes one. ``/b/{token}/next`` (the
next-service message's ``links.book_next``) lists the free times of the same
playbook and ``POST /b/{token}/next`` books one for the same customer, then
shows the new booking's own page. A time taken meanwhile is a 409 page that
says so and offers the times still free. Forms carry the page's CSRF token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from engine.core import timing
from engine.runtime import Runtime
from engine.services.self_service import SelfService, SlotTakenError
from engine.store.tables import BookingRow
from engine.web import i18n

if TYPE_CHECKING:
    from engine.web.customer import CustomerPage

Field = Annotated[str, Form(max_length=100)]

WORDS: dict[str, dict[str, str]] = {
    "nb": {
        "new_time": "Velg en ny tid",
        "new_time_hint": "Ledige tider de neste to ukene. Trykk på en tid for å flytte avtalen dit.",
        "no_times": "Ingen ledige tider de neste to ukene. Ring oss, så finner vi en tid.",
        "done_moved": "Avtalen er flyttet. Du får en bekreftelse.",
        "done_booked": "Takk! Timen er bestilt. Du får en bekreftelse.",
        "slot_gone": "Den tiden ble nettopp tatt. Velg en av de ledige tidene under.",
        "next_title": "Bestill neste time",
        "next_hint": "Velg en ledig tid. Trykk på en tid for å bestille den.",
        "next_booked": "Du har allerede bestilt neste time:",
        "see_booking": "Se avtalen",
    },
    "da": {
        "new_time": "Vælg en ny tid",
        "new_time_hint": "Ledige tider de næste to uger. Tryk på en tid for at flytte aftalen dertil.",
        "no_times": "Ingen ledige tider de næste to uger. Ring til os, så finder vi en tid.",
        "done_moved": "Aftalen er flyttet. Du får en bekræftelse.",
        "done_booked": "Tak! Tiden er booket. Du får en bekræftelse.",
        "slot_gone": "Den tid blev lige taget. Vælg en af de ledige tider nedenfor.",
        "next_title": "Book næste tid",
        "next_hint": "Vælg en ledig tid. Tryk på en tid for at booke den.",
        "next_booked": "Du har allerede booket næste tid:",
        "see_booking": "Se aftalen",
    },
    "en": {
        "new_time": "Choose a new time",
        "new_time_hint": "Free times in the next two weeks. Tap a time to move your appointment there.",
        "no_times": "No free times in the next two weeks. Call us and we will find one.",
        "done_moved": "Your appointment has moved. A confirmation is on its way.",
        "done_booked": "Thank you! Your appointment is booked. A confirmation is on its way.",
        "slot_gone": "That time was just taken. Choose one of the free times below.",
        "next_title": "Book your next appointment",
        "next_hint": "Choose a free time. Tap a time to book it.",
        "next_booked": "Your next appointment is already booked:",
        "see_booking": "See the appointment",
    },
}
DONE = frozenset({"moved", "booked"})


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale, WORDS["en"])


def by_day(free: Sequence[datetime], tz_name: str, locale: str) -> list[dict[str, Any]]:
    """Free starts grouped by local day: ``[{"day": "Tirsdag 24. november", "times": [(iso, "08:00")]}]``."""
    tz = timing.zone(tz_name)
    days: list[dict[str, Any]] = []
    for start in free:
        local = start.astimezone(tz)
        label = i18n.day(local.date(), locale)
        if not days or days[-1]["day"] != label:
            days.append({"day": label, "times": []})
        days[-1]["times"].append((local.isoformat(timespec="minutes"), i18n.clock(local, locale)))
    return days


class SlotOffer:
    """What the customer's page offers: the booking's free times, grouped by day."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.service = SelfService(runtime)

    def for_booking(self, session: Session, row: BookingRow, locale: str) -> list[dict[str, Any]]:
        return by_day(self.service.free_for(session, row), self.rt.business.timezone, locale)

    def for_next(self, session: Session, row: BookingRow, locale: str) -> list[dict[str, Any]]:
        return by_day(self.service.free_next(session, row.playbook), self.rt.business.timezone, locale)


def slot_routes(router: APIRouter, page: CustomerPage) -> None:
    service = SelfService(page.rt)
    offer = SlotOffer(page.rt)

    @router.post("/move")
    def move(request: Request, token: str, csrf: Field = "", start: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        try:
            service.move(link.booking_id, start)
        except SlotTakenError:
            return page.render(request, link, "customer.html", status=409, gone=True)
        return RedirectResponse(f"/b/{link.token}?done=moved", status_code=303)

    @router.get("/next")
    def next_page(request: Request, token: str) -> Response:
        return _next_page(request, page, offer, token)

    @router.post("/next")
    def book_next(request: Request, token: str, csrf: Field = "", start: Field = "") -> Response:
        link = page.link(token)
        page.check_csrf(request, link, csrf)
        try:
            booked = service.book_next(link.booking_id, start)
        except SlotTakenError:
            return _next_page(request, page, offer, token, status=409, gone=True)
        new = page.rt.signer.token(booked.id, now=page.rt.now())
        return RedirectResponse(f"/b/{new}?done=booked", status_code=303)


def _next_page(
    request: Request,
    page: CustomerPage,
    offer: SlotOffer,
    token: str,
    *,
    status: int = 200,
    gone: bool = False,
) -> Response:
    link = page.link(token)
    rt = page.rt
    with rt.database.session() as session:
        row = page.actions.booking(session, link.booking_id)
        locale = row.locale if row.locale in i18n.LOCALES else "en"
        booked = offer.service.next_booked(session, row)
        context: dict[str, Any] = {
            "locale": locale,
            "words": {**i18n.words(locale), **words(locale)},
            "title": rt.playbooks.get(row.playbook).title_in(locale),
            "booked": None,
            "days": [] if booked else offer.for_next(session, row, locale),
            "gone": gone,
        }
        if booked is not None:
            tz = timing.zone(booked.timezone)
            context["booked"] = {
                "day": i18n.day(booked.start_at.astimezone(tz).date(), locale),
                "window": i18n.window(booked.start_at.astimezone(tz), booked.end_at.astimezone(tz), locale),
                "link": f"/b/{rt.signer.token(booked.id, now=rt.now())}",
            }
    csrf, fresh = page.pages.csrf(request, link.token)
    context.update(token=link.token, csrf=csrf)
    response = page.pages.render(request, "customer_next.html", context, status)
    page.pages.set_csrf_cookie(response, fresh)
    return response
