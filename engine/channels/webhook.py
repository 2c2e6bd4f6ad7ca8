"""Outbound webhooks: a signed JSON body POSTed to the business's own system, with httpx.

A delivery is an ``OutgoingMessage`` with ``channel="webhook"``: ``to`` is the
receiver's URL, ``body`` the JSON text exactly as signed, ``headers`` the
signature and delivery id. The answer maps onto the two error families every
channel raises: 2xx is delivered; a timeout, a connection error, 408, 429
(with its ``Retry-After``) and 5xx are ``TransientChannelError``; any other
status is ``PermanentChannelError`` (reason ``webhook:<status>``).
"""

from __future__ import annotations

import httpx

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.channels.http_errors import post, status_error
from engine.exceptions import PermanentChannelError

TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 32
USER_AGENT = "Forvent-Webhook/1"


class WebhookChannel(BaseChannel):
    """POSTs deliveries; one ``httpx.Client`` shared by the dispatcher's send threads."""

    name = "webhook"

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS) -> None:
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,  # a receiver that moved says so; the signed body is not re-sent elsewhere
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        headers = {"Content-Type": "application/json", **message.headers}
        response = post(
            self._client,
            message.to,
            channel=self.name,
            who="webhook",
            content=message.body.encode("utf-8"),
            headers=headers,
        )
        if response.is_success:
            return SendResult(provider_id=str(response.status_code))
        text = f"webhook answered {response.status_code}: {response.text[:200]}"
        # A redirect is not followed, so sending again would meet it again.
        raise status_error(response, text, channel=self.name, otherwise=PermanentChannelError)

    def close(self) -> None:
        self._client.close()
