"""One error shape for every failure: ``{"error": {"code", "message", "field"}}``.

Bad input never becomes a 500: malformed JSON is 400, a field that fails
validation 422, an unknown ref or playbook 404, a state the booking refuses
409 (SPEC "HTTP API"). The staff board and the customer page get the same
status codes with an HTML page instead of JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.exceptions import (
    ChannelError,
    ConfigurationError,
    ConflictError,
    ForventError,
    NotFoundError,
    UserInputError,
)

log = logging.getLogger("forvent.web")
HTML_PREFIXES = ("/staff", "/b/")
HtmlRenderer = Callable[[Request, int, str, str], Response]


class ApiError(Exception):
    """An HTTP error raised by a route: status, machine code, human message, field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers: dict[str, str] = {}


CODES = {400: "malformed", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def status_of(exc: ForventError) -> int:
    if isinstance(exc, UserInputError):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, ConfigurationError):
        return 503
    if isinstance(exc, ChannelError):
        return 502
    return 400


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _field(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # pydantic names the member of a union it tried ("str", "int"...); users know the field only
    parts = [p for p in parts if not p.startswith(("constrained-", "function-")) and p not in _TYPES]
    return ".".join(parts) or None


_TYPES = frozenset(
    {"str", "int", "float", "bool", "none", "list", "dict", "json-or-python[json=float,python=float]"}
)


def validation_error(errors: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """The first pydantic error as (status, body): 400 for malformed JSON, else 422."""
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return 400, error_body("malformed", "the body is not valid JSON")
    field = _field(first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    return 422, error_body("invalid", f"{field}: {message}" if field else message, field)


def install(app: FastAPI, html: HtmlRenderer) -> None:
    """Register the handlers; ``html`` draws the error page for the staff board and customer page."""

    def respond(
        request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Response:
        if request.url.path.startswith(HTML_PREFIXES):
            response = html(request, status, body["error"]["code"], body["error"]["message"])
            response.headers.update(headers or {})
            return response
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ForventError)
    async def forvent_error(request: Request, exc: ForventError) -> Response:
        status = status_of(exc)
        if status >= 500:
            log.error("configuration error on %s: %s", request.url.path, exc)
        body = error_body(exc.code, exc.message, exc.field)
        if isinstance(exc, ConflictError):
            body["error"].update(exc.details())
            if exc.current is not None:
                body["error"]["booking"] = exc.current
        return respond(request, status, body)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return respond(request, exc.status, error_body(exc.code, exc.message, exc.field), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        status, body = validation_error(exc.errors())
        return respond(request, status, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return respond(request, exc.status_code, error_body(code, message), dict(exc.headers or {}))

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        # A time or amount so far out that date arithmetic overflows: still the caller's input.
        return respond(request, 422, error_body("invalid", "a time or number is out of range"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(request, 500, error_body("internal", "internal error; the details are in the log"))
