"""Twilio's inbound SMS webhook called as Twilio calls it: one definition for the integration tests.

The engine is told the auth token, and each post is signed with Twilio's own
``RequestValidator`` over the engine's public URL, as Twilio signs it.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from engine.settings import TwilioSettings
from engine.web.webhooks import webhook_router
from tests.integration.world import World

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "http://127.0.0.1:8000"  # the public URL Twilio signs over (the settings' default)
INBOUND = "/webhooks/twilio/inbound"
KARI = "+4791234567"  # the customer of World.book
BUSINESS_NUMBER = "+4759441122"


def trusting_twilio(world: World) -> World:
    """The world, with the engine knowing Twilio's auth token."""
    world.rt.settings = world.rt.settings.model_copy(update={"twilio": TwilioSettings(auth_token=TOKEN)})
    return world


def webhook_client(world: World) -> TestClient:
    app = FastAPI()
    app.include_router(webhook_router(world.rt))
    return TestClient(app)


def inbound_sms(
    client: TestClient, body: str, *, sender: str = KARI, sid: str | None = None
) -> httpx.Response:
    """An SMS to the business number, posted and signed as Twilio does."""
    form = {"From": sender, "To": BUSINESS_NUMBER, "Body": body}
    if sid is not None:
        form["MessageSid"] = sid
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + INBOUND, form)
    answer: httpx.Response = client.post(INBOUND, data=form, headers={"X-Twilio-Signature": signature})
    return answer
