"""The web application: JSON API, Twilio webhooks, staff board, customer page, health and metrics.

``create_app(runtime, dispatch=True)`` also runs the dispatch loop (an
APScheduler pass every second over the outbox) for the app's lifetime,
started and stopped by the FastAPI lifespan; ``dispatch=False`` serves only.
The engine clock is the runtime's, so ``FORVENT_NOW`` governs every time the
app judges: link expiry, sessions, login lock-outs, "today" on the board.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.core import timing
from engine.exceptions import ConfigurationError
from engine.runtime import Runtime
from engine.web import errors, models
from engine.web.api import api_router
from engine.web.attention import attention_api_router
from engine.web.customer import customer_router
from engine.web.metrics import CONTENT_TYPE, WebhookCounter, exposition
from engine.web.pages import STATIC, Pages
from engine.web.security import Signer
from engine.web.staff import LoginRequired, staff_router
from engine.web.webhooks import webhook_router

VERSION = "0.1.0"
PAGE_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),  # the customer's link must not leak to the sites it links to
    (b"x-frame-options", b"DENY"),  # one-tap actions must not be clickable inside another site's frame
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    ),
]


class SecurityHeaders:
    """``nosniff`` everywhere; no caching, no referrer, no framing and a strict CSP on the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = str(scope.get("path", "")).startswith(errors.HTML_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if page:
                    headers.extend(PAGE_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _lifespan(runtime: Runtime, dispatch: bool) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not dispatch:
            yield
            return
        from engine.channels.factory import build_channels
        from engine.dispatch.dispatcher import Dispatcher
        from engine.dispatch.scheduler import make_scheduler

        channels = build_channels(runtime)
        dispatcher = Dispatcher(runtime, channels)
        scheduler = make_scheduler(dispatcher)
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown(wait=True)
            dispatcher.close()
            for channel in channels.values():
                channel.close()

    return lifespan


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema plus the models of the routes that read their body by hand (bulk import)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            extra = models.ImportIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in extra.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault("ImportIn", extra)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def create_app(runtime: Runtime, *, dispatch: bool) -> FastAPI:
    """The whole web application on ``runtime``; ``dispatch`` runs the send loop alongside."""
    secret = runtime.settings.secret
    if not secret:
        raise ConfigurationError(
            "FORVENT_SECRET is not set: it signs the customers' links and staff sessions"
        )
    app = FastAPI(
        title="Forvent",
        version=VERSION,
        description="Proactive expectation messaging: bookings, job events, playbooks, metrics.",
        lifespan=_lifespan(runtime, dispatch),
    )
    signer = Signer(secret)
    pages = Pages(runtime, signer)
    errors.install(app, pages.error_page)

    @app.exception_handler(LoginRequired)
    async def login_required(_: Any, __: LoginRequired) -> Response:
        return RedirectResponse("/staff/login", status_code=303)

    webhooks = WebhookCounter()
    app.include_router(api_router(runtime))
    app.include_router(attention_api_router(runtime))
    app.include_router(
        webhook_router(runtime, counter=webhooks),
        responses={403: {"model": models.ErrorOut, "description": "Missing or wrong X-Twilio-Signature"}},
    )
    _document_status_callback(app)
    board, _ = staff_router(runtime, pages, signer)
    app.include_router(board)
    app.include_router(customer_router(runtime, pages))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _service_routes(app, runtime, webhooks)
    app.add_middleware(SecurityHeaders)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.state.runtime = runtime
    return app


def _document_status_callback(app: FastAPI) -> None:
    """The status callback answers 204; say so in the schema (the route lives in ``engine.web.webhooks``)."""
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path == "/webhooks/twilio/status":
            route.responses.setdefault(204, {"description": "Status recorded (or ignored as out of date)"})


def _service_routes(app: FastAPI, runtime: Runtime, webhooks: WebhookCounter) -> None:
    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/staff", status_code=303)

    @app.get(
        "/healthz",
        response_model=models.HealthOut,
        responses={503: {"model": models.ErrorOut, "description": "The database cannot be reached"}},
        summary="Liveness: the app answers and reaches its database",
        tags=["operations"],
    )
    def healthz() -> Response:
        try:
            with runtime.database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            body = errors.error_body("unavailable", "the database cannot be reached")
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", "now": timing.utc_z(runtime.now())})

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus"}
        },
        summary="Prometheus metrics",
        tags=["operations"],
    )
    def metrics() -> Response:
        with runtime.database.session() as session:
            body = exposition(session, runtime.business.id, runtime.now(), webhooks)
        return Response(body, media_type=CONTENT_TYPE)
