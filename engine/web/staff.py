"""The staff board ``/staff``: log in, see the day, one tap per operational event.

"Running late" never sends blind: ``+15/+30/+60`` and a chosen time first
show the exact text the customer will get (``notices.preview_delay``), and
only the Send button on that page changes the booking. Every other action is
one form POST, answered with a redirect to the page it came from.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.core import timing
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.services.price_check import PriceOverEstimateError
from engine.services.staff_users import StaffUsers
from engine.store import actors
from engine.store.serialise import history_json
from engine.store.tables import BookingRow
from engine.store.tokens import active_token
from engine.web import board, i18n
from engine.web.api import booking_out
from engine.web.assignments import staff_assign_route
from engine.web.attention import attention_staff_routes, open_items
from engine.web.errors import ApiError
from engine.web.notices import clock_on_day, preview_delay
from engine.web.pages import Pages
from engine.web.price_confirm import price_page
from engine.web.ready_later import ready_later_routes
from engine.web.report_page import report_context
from engine.web.security import SESSION_COOKIE, LoginThrottle, Session, Signer, same_secret
from engine.web.sessions import end_session, is_open, open_session
from engine.web.staff_bookings import booking_form_routes
from engine.web.staff_on_my_way import on_my_way_routes

LOGIN_SCOPE = "login"
LATE_STEPS = (15, 30, 60)
DONE = {
    "delay": "Delay notice on its way",
    "ready-later": "New ready time saved: the customer is told",
    "start": "Marked as started",
    "ready": "Marked as ready: the customer is told",
    "complete": "Marked as done",
    "no-show": "Marked as no-show",
    "cancel": "Cancelled: the customer is told",
    "finding": "Finding sent for approval",
    "confirm": "Marked as confirmed",
    "attention": "Marked as handled",
    "on-my-way": "On my way: the customer is told when you arrive",
    "assign": "Assignee saved",
    "created": "Booked: the confirmation is on its way to the customer",
    "moved": "Moved: the customer is told the new time",
}
Text = Annotated[str, Form(max_length=2000)]


class LoginRequired(Exception):
    """No valid staff session: the handler redirects to the login page."""


class StaffBoard:
    def __init__(self, runtime: Runtime, pages: Pages, signer: Signer) -> None:
        self.rt = runtime
        self.pages = pages
        self.signer = signer
        self.service = BookingService(runtime)
        self.throttle = LoginThrottle()
        self.password_mark = signer.password_mark(runtime.settings.staff_password)
        self.users = StaffUsers(runtime)

    async def session(self, request: Request) -> Session:
        """The request's live staff session; what the request then does is written as its person."""
        found = await run_in_threadpool(self._live_session, request)
        actors.set_current(found.who)  # the request's own task: it ends with the request
        return found

    def _live_session(self, request: Request) -> Session:
        now = self.rt.now()
        found = self.signer.read_session(request.cookies.get(SESSION_COOKIE), now)
        if found is None:
            raise LoginRequired()
        with self.rt.database.session() as db:
            live = is_open(
                db, found, business_id=self.rt.business.id, now=now, password_mark=self.password_mark
            )
        if not live:
            raise LoginRequired()
        return found

    @staticmethod
    def check_csrf(session: Session, given: str) -> None:
        if not given or not hmac.compare_digest(session.csrf, given):
            raise ApiError(403, "csrf", "the form's CSRF token is missing or wrong", "csrf")

    def log_in(self, password: str, now: datetime, name: str = "") -> str | None:
        """A new session cookie for a staff user's name and password, else (no name) for the
        shared staff password or an active API token; None when nothing matched."""
        business_id = self.rt.business.id
        with self.rt.database.session() as db:
            if name.strip():
                user = self.users.authenticate(db, name, password)
                if user is None:
                    return None
                cookie, session = self.signer.session_cookie(user.name, now)
                open_session(db, session, business_id=business_id, now=now, staff_user_id=user.id)
                return cookie
            if same_secret(password, self.rt.settings.staff_password):
                cookie, session = self.signer.session_cookie("staff", now)
                open_session(db, session, business_id=business_id, now=now, password_mark=self.password_mark)
                return cookie
            token = active_token(db, business_id=business_id, token=password, lock=True)
            if token is None:
                return None
            cookie, session = self.signer.session_cookie(f"token:{token.name}", now)
            open_session(db, session, business_id=business_id, now=now, token_id=token.id)
            return cookie

    def row(self, ref: str) -> BookingRow:
        with self.rt.database.session() as session:
            return self.service.get(session, ref)

    def day_of(self, row: BookingRow) -> str:
        return row.start_at.astimezone(timing.zone(self.rt.business.timezone)).date().isoformat()

    def context(self, request: Request, session: Session, **more: Any) -> dict[str, Any]:
        return {"csrf": session.csrf, "who": session.who, "now": self.rt.now(), **more}


def _back(target: str, **params: str) -> RedirectResponse:
    # Only our own pages: a form's "next" must never send staff elsewhere.
    if not target.startswith("/staff") or target.startswith("//"):
        target = "/staff"
    path, _, fragment = target.partition("#")
    joiner = "&" if "?" in path else "?"
    url = f"{path}{joiner}{urlencode(params)}" + (f"#{fragment}" if fragment else "")
    return RedirectResponse(url, status_code=303)


def staff_router(runtime: Runtime, pages: Pages, signer: Signer) -> tuple[APIRouter, StaffBoard]:
    staff = StaffBoard(runtime, pages, signer)
    router = APIRouter(prefix="/staff", include_in_schema=False)
    _login_routes(router, staff)
    _board_routes(router, staff)
    _action_routes(router, staff)
    attention_staff_routes(router, staff)
    ready_later_routes(router, staff)
    booking_form_routes(router, staff)
    return router, staff


def _login_routes(router: APIRouter, staff: StaffBoard) -> None:
    @router.get("/login")
    def login_page(request: Request, failed: int = 0) -> Response:
        token, fresh = staff.pages.csrf(request, LOGIN_SCOPE)
        response = staff.pages.render(request, "staff_login.html", {"csrf": token, "failed": bool(failed)})
        staff.pages.set_csrf_cookie(response, fresh)
        return response

    @router.post("/login")
    def login(request: Request, password: Text = "", csrf: Text = "", name: Text = "") -> Response:
        now = staff.rt.now()
        address = request.client.host if request.client else "unknown"
        wait = staff.throttle.retry_after(address, now)
        if wait is not None:
            error = ApiError(
                429,
                "too_many_attempts",
                f"too many failed logins: try again in {int(wait.total_seconds()) + 1} s",
            )
            error.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
            raise error
        if not staff.signer.check_csrf(request.cookies.get("forvent_csrf"), LOGIN_SCOPE, csrf):
            raise ApiError(403, "csrf", "the login form has expired: reload the page", "csrf")
        cookie = staff.log_in(password, now, name) if password else None
        if cookie is None:
            staff.throttle.failed(address, now)
            return RedirectResponse("/staff/login?failed=1", status_code=303)
        staff.throttle.succeeded(address)
        response = RedirectResponse("/staff", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=staff.pages.secure, path="/"
        )
        return response

    @router.post("/logout")
    def logout(session: Session = Depends(staff.session), csrf: Text = "") -> Response:
        staff.check_csrf(session, csrf)
        with staff.rt.database.session() as db:
            end_session(db, session.id, staff.rt.now())
        response = RedirectResponse("/staff/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _board_routes(router: APIRouter, staff: StaffBoard) -> None:
    @router.get("")
    def board_page(
        request: Request,
        session: Session = Depends(staff.session),
        day: Annotated[str | None, Query(max_length=10)] = None,
        done: Annotated[str | None, Query(max_length=20)] = None,
        ref: Annotated[str | None, Query(max_length=100)] = None,
        assignee: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Response:
        shown = board.local_day(staff.rt, day)
        with staff.rt.database.session() as db:
            everyone = board.day_cards(staff.rt, db, shown)
            alerts = board.alerts(staff.rt, db)
            attention = open_items(staff.rt, db)
        today = board.local_day(staff.rt, None)
        cards = [c for c in everyone if c.assignee == assignee] if assignee else everyone
        context = staff.context(
            request,
            session,
            day=shown,
            today=today,
            cards=cards,
            assignee=assignee or "",
            assignees=sorted({c.assignee for c in everyone if c.assignee}, key=str.casefold),
            alerts=alerts,
            attention=attention,
            late_steps=LATE_STEPS,
            flash=_flash(done, ref, staff),
            prev_day=shown - timedelta(days=1),
            next_day=shown + timedelta(days=1),
        )
        return staff.pages.render(request, "staff_board.html", context)

    @router.get("/report")
    def report_page(request: Request, session: Session = Depends(staff.session)) -> Response:
        rt = staff.rt
        with rt.database.session() as db:
            shown = report_context(rt, db)
        context = staff.context(request, session, day=board.local_day(rt, None), **shown)
        return staff.pages.render(request, "staff_report.html", context)

    @router.get("/b/{ref}")
    def booking_page(
        request: Request,
        ref: str,
        session: Session = Depends(staff.session),
        done: Annotated[str | None, Query(max_length=20)] = None,
    ) -> Response:
        with staff.rt.database.session() as db:
            row = staff.service.get(db, ref)
            data = booking_out(db, row)
            history = history_json(db, row)
            card = board.cards(staff.rt, db, [row])[0]
        # The same signed link the customer's messages carry, for staff to send by hand.
        token = staff.rt.signer.token(row.id, now=staff.rt.now())
        context = staff.context(
            request,
            session,
            card=card,
            booking=data,
            history=history,
            customer_link=f"{staff.rt.settings.public_url}/b/{token}",
            link_days=staff.rt.settings.link_ttl.days,
            late_steps=LATE_STEPS,
            flash=_flash(done, ref, staff),
            day=staff.day_of(row),
        )
        return staff.pages.render(request, "staff_booking.html", context)

    @router.get("/b/{ref}/delay")
    def delay_preview_page(
        request: Request,
        ref: str,
        session: Session = Depends(staff.session),
        minutes: Annotated[int | None, Query(ge=1, le=24 * 60)] = None,
        until: Annotated[str | None, Query(max_length=5)] = None,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Response:
        with staff.rt.database.session() as db:
            row = staff.service.get(db, ref)
            until_iso = clock_on_day(until, row.start_at, row.timezone, example="14:30")
            preview = preview_delay(
                staff.rt, db, row, minutes=minutes, until=until_iso, reason=reason or None
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
            new_start=preview.start.astimezone(tz),
            new_end=preview.end.astimezone(tz),
            day=staff.day_of(row),
        )
        return staff.pages.render(request, "staff_delay.html", context)


def _flash(done: str | None, ref: str | None, staff: StaffBoard) -> str | None:
    if done not in DONE:
        return None
    text = i18n.staff_words(staff.rt.business.default_locale)(f"done_{done}", DONE[done])
    return f"{ref}: {text}" if ref else text


def _action_routes(router: APIRouter, staff: StaffBoard) -> None:
    svc = staff.service

    def finish(ref: str, action: str, next_url: str) -> Response:
        anchor = next_url or f"/staff?day={staff.day_of(staff.row(ref))}"
        return _back(anchor, done=action, ref=ref)

    @router.post("/b/{ref}/delay")
    def delay(
        ref: str,
        session: Session = Depends(staff.session),
        csrf: Text = "",
        minutes: Annotated[int | None, Form(ge=1, le=24 * 60)] = None,
        until: Annotated[str | None, Form(max_length=5)] = None,
        reason: Text = "",
        next: Text = "",
    ) -> Response:
        staff.check_csrf(session, csrf)
        with staff.rt.database.session() as db:
            # "HH:MM" means that time on the day of the start as it is now, under the lock.
            row = svc.lock(db, ref)
            until_iso = clock_on_day(until, row.start_at, row.timezone, example="14:30")
            svc.delay(ref, minutes=minutes, until=until_iso, reason=reason or None, session=db)
        return finish(ref, "delay", next)

    def action(name: str, run: Callable[..., object]) -> None:
        @router.post(f"/b/{{ref}}/{name}", name=f"staff_{name}")
        def route(
            request: Request,
            ref: str,
            session: Session = Depends(staff.session),
            csrf: Text = "",
            price: Text = "",
            pickup: Text = "",
            text: Text = "",
            reason: Text = "",
            must_fix: Text = "",
            confirm_price: Text = "",
            next: Text = "",
        ) -> Response:
            staff.check_csrf(session, csrf)
            fields = {"price": price, "pickup": pickup, "text": text, "reason": reason, "must_fix": must_fix}
            try:
                run(ref, confirm_price=bool(confirm_price), **{k: v for k, v in fields.items() if v})
            except PriceOverEstimateError as held:  # the figures and a confirm button, not a failure
                context = staff.context(request, session, day=staff.day_of(staff.row(ref)))
                return price_page(staff, request, context, ref, name, held, pickup=pickup, next_url=next)
            return finish(ref, name, next)

    action("start", lambda ref, **_: svc.start(ref))
    action("confirm", lambda ref, **_: svc.confirm(ref, source="staff"))
    action("no-show", lambda ref, **_: svc.no_show(ref))
    action(
        "ready",
        lambda ref, price=None, pickup=None, confirm_price=False, **_: svc.ready(
            ref, price=price, pickup=pickup, confirm_price=confirm_price
        ),
    )
    action(
        "complete",
        lambda ref, price=None, confirm_price=False, **_: svc.complete(
            ref, price=price, confirm_price=confirm_price
        ),
    )
    on_my_way_routes(router, staff, finish)
    staff_assign_route(router, staff, finish)
    action("cancel", lambda ref, reason=None, **_: svc.cancel(ref, reason=reason))
    action(
        "finding",
        lambda ref, text="", price=None, must_fix="", **_: svc.finding(
            ref, text=text, price=price, must_fix=bool(must_fix)
        ),
    )
