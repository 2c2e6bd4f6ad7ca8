"""Outbound webhooks: which events a business hears of, and how a body is signed (pure).

``webhooks:`` in ``business.yaml`` lists receivers (``url``, ``secret``,
``events``); each matching event is POSTed as JSON through the outbox
(``engine.store.webhook_outbox``) with
``X-Forvent-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``.
The secret is taken literally from the file (no ``${VAR}`` expansion): keep
``business.yaml`` as private as the environment that holds the other secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.core.playbooks import EVENTS

#: What became of a message to the customer (not of a webhook delivery: those raise no events).
MESSAGE_EVENTS = frozenset({"message.sent", "message.delivered", "message.failed"})
#: Every name ``events:`` may list: the playbook events and the message events.
WEBHOOK_EVENTS = EVENTS | MESSAGE_EVENTS
SIGNATURE_HEADER = "X-Forvent-Signature"
DELIVERY_HEADER = "X-Forvent-Delivery"  # the body's "id": a receiver drops a repeat by it
EVENT_HEADER = "X-Forvent-Event"


class WebhookSpec(BaseModel):
    """One receiver: its http(s) ``url``, the ``secret`` it verifies with, the ``events`` it wants
    (none listed: all of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    secret: str
    events: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or len(value) > 2000:
            raise ValueError(f"url must be an http(s) address, got {value!r}")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("secret must not be empty: the receiver checks the signature with it")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in WEBHOOK_EVENTS]
        if unknown:
            known = ", ".join(sorted(WEBHOOK_EVENTS))
            raise ValueError(f"unknown event {unknown[0]!r} (known: {known})")
        return value

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


def body_bytes(payload: Mapping[str, Any]) -> str:
    """The JSON text POSTed; stored as it is, so the bytes signed are the bytes sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``body`` with ``secret`` (UTF-8)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header)
