"""Twilio callbacks: delivery status and inbound SMS, signatures verified.

Both routes check ``X-Twilio-Signature`` with Twilio's own ``RequestValidator``
over ``FORVENT_PUBLIC_URL`` + path + query and the POSTed form; a missing or
wrong signature gets 403 and changes nothing. Inbound answers with empty TwiML:
acknowledgements go through the outbox like every other message.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from engine.runtime import Runtime
from engine.services.inbound import Inbound

TWIML = "application/xml"


def public_url(runtime: Runtime, request: Request) -> str:
    """The URL Twilio signed: the public base with this request's path and query."""
    base = runtime.settings.public_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{urlsplit(str(request.url)).path}{query}"


def webhook_router(runtime: Runtime, *, counter: Callable[[str, str], None] | None = None) -> APIRouter:
    router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
    inbound = Inbound(runtime)

    def count(route: str, outcome: str) -> None:
        if counter is not None:
            counter(route, outcome)

    async def verified_form(request: Request, route: str) -> dict[str, str]:
        token = runtime.settings.twilio.auth_token
        form = {k: str(v) for k, v in (await request.form()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if (
            not token
            or not signature
            or not RequestValidator(token).validate(public_url(runtime, request), form, signature)
        ):
            count(route, "forbidden")
            raise HTTPException(status_code=403, detail="invalid Twilio signature")
        # After the signature, which covers the bytes as sent: PostgreSQL refuses NUL in
        # text, and in an SMS or an id it carries nothing worth a 500 and Twilio's retries.
        return {k: v.replace("\x00", "") for k, v in form.items()}

    @router.post("/status", summary="Twilio message status callback")
    async def status(request: Request) -> Response:
        form = await verified_form(request, "status")
        message_id = request.query_params.get("m", "")
        outcome = await run_in_threadpool(
            inbound.status_callback,
            message_id,
            form.get("MessageStatus", ""),
            form.get("ErrorCode"),
        )
        count("status", outcome)
        return Response(status_code=204)

    @router.post("/inbound", summary="Twilio inbound SMS")
    async def receive(request: Request) -> Response:
        form = await verified_form(request, "inbound")
        outcome = await run_in_threadpool(
            inbound.reply, form.get("From", ""), form.get("Body", ""), form.get("MessageSid") or None
        )
        count("inbound", outcome.action)
        return Response(content=str(MessagingResponse()), media_type=TWIML)

    return router
