"""Server-rendered pages: the Jinja environment, the CSRF cookie, the error page.

Pages work without JavaScript: every action is a form that POSTs and is
answered with a redirect (303) back to a page that says what happened.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers
from babel.dates import format_date
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from engine.messages import formatting
from engine.runtime import Runtime
from engine.web import i18n
from engine.web.security import CSRF_COOKIE, Signer, new_csrf_cookie

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
WHEN_DAY = {"nb": "d. MMM", "da": "d. MMM", "en": "d MMM"}
STATUS_COLOURS = ("booked", "confirmed", "started", "ready", "completed", "cancelled", "no_show")


def _when(iso: str | None, locale: str) -> str:
    """``2026-11-24T10:00:00+01:00`` as ``24 Nov 10:00`` / ``24. nov. 10:00`` (the offset as printed)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    day = format_date(moment, WHEN_DAY.get(locale, "d MMM"), locale=formatting.locale_of(locale))
    return f"{day} {formatting.clock(moment, locale)}"


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
        # Staff pages speak the business's language; the customer's page its own (``w``).
        staff_words = i18n.staff_words(runtime.business.default_locale)
        env.globals["t"] = staff_words
        env.globals["staff_locale"] = staff_words.locale
        env.filters["day"] = i18n.day
        env.filters["clock"] = i18n.clock
        env.filters["when"] = lambda iso: _when(iso, staff_words.locale)
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
        """The HTML error page in the business's language: the customer's words on ``/b/``, staff's
        elsewhere (the hint, the engine's own one line, stays as the API gives it)."""
        customer = request.url.path.startswith("/b/")
        words = i18n.words(self.rt.business.default_locale)
        if customer:
            title = words["bad_link"] if status == 403 else words["error"]
            hint = words["bad_link_hint"] if status == 403 else message
        else:
            staff = i18n.staff_words(self.rt.business.default_locale)
            title, hint = staff(f"error_{status}", staff.error_other), message
        context = {"title": title, "hint": hint, "status": status, "customer": customer, "words": words}
        return self.render(request, "error.html", context, status)
