"""Server-rendered pages: the Jinja environment, the CSRF cookie, the error page.

Pages work without JavaScript: every action is a form that POSTs and is
answered with a redirect (303) back to a page that says what happened.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from engine.runtime import Runtime
from engine.web import i18n
from engine.web.security import CSRF_COOKIE, Signer, new_csrf_cookie

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATUS_COLOURS = ("booked", "confirmed", "started", "ready", "completed", "cancelled", "no_show")
STAFF_ERRORS = {
    401: "Please log in.",
    403: "That form has expired or did not come from this site. Go back, reload and try again.",
    404: "Not found.",
    409: "The booking's state does not allow that.",
    422: "Please check the value you entered.",
    429: "Too many attempts. Wait a little and try again.",
}


def _when(iso: str | None) -> str:
    """``2026-11-24T10:00:00+01:00`` as ``24 Nov 10:00`` (the booking's own offset, as printed)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%d %b %H:%M").lstrip("0")


def _phone(number: str | None) -> str:
    """``+4791234567`` as ``+47 912 34 567``: how people read numbers."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class Pages:
    def __init__(self, runtime: Runtime, signer: Signer) -> None:
        self.rt = runtime
        self.signer = signer
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        env = self.templates.env
        env.globals["business"] = runtime.business
        env.filters["day"] = i18n.day
        env.filters["clock"] = i18n.clock
        env.filters["when"] = _when
        env.filters["phone"] = _phone
        env.filters["money"] = lambda amount: i18n.money(
            amount, runtime.business.currency, runtime.business.default_locale
        )

    def csrf(self, request: Request, scope: str) -> tuple[str, str | None]:
        """(form token, new cookie to set or None) for a page without a staff session."""
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not cookie or len(cookie) > 100:
            cookie = fresh = new_csrf_cookie()
        return self.signer.csrf_token(cookie, scope), fresh

    def set_csrf_cookie(self, response: Response, value: str | None) -> None:
        if value is not None:
            response.set_cookie(
                CSRF_COOKIE, value, httponly=True, samesite="lax", secure=self.secure, path="/"
            )

    @property
    def secure(self) -> bool:
        return self.rt.settings.public_url.startswith("https://")

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        assert isinstance(response, HTMLResponse)
        return response

    def error_page(self, request: Request, status: int, code: str, message: str) -> Response:
        """The HTML error page: the customer's words on ``/b/``, plain English on ``/staff``."""
        customer = request.url.path.startswith("/b/")
        locale = self.rt.business.default_locale if customer else "en"
        words = i18n.words(locale)
        if customer:
            title = words["bad_link"] if status == 403 else words["error"]
            hint = words["bad_link_hint"] if status == 403 else message
        else:
            title, hint = STAFF_ERRORS.get(status, "Something went wrong."), message
        context = {"title": title, "hint": hint, "status": status, "customer": customer, "words": words}
        return self.render(request, "error.html", context, status)
