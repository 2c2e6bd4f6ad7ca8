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
from engine.channels.ratelimit import parse_retry_after
from engine.exceptions import ChannelError, PermanentChannelError, TransientChannelError

TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 32
USER_AGENT = "Forvent-Webhook/1"
TRANSIENT_STATUSES = frozenset({408, 429})  # and every 5xx


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
        try:
            response = self._client.post(message.to, content=message.body.encode("utf-8"), headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientChannelError(
                f"webhook timed out: {exc!r}", channel=self.name, provider_code="timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientChannelError(
                f"webhook unreachable: {exc!r}", channel=self.name, provider_code="connection"
            ) from exc
        if response.is_success:
            return SendResult(provider_id=str(response.status_code))
        raise self._mapped(response)

    def _mapped(self, response: httpx.Response) -> ChannelError:
        status = response.status_code
        text = f"webhook answered {status}: {response.text[:200]}"
        if status in TRANSIENT_STATUSES or status >= 500:
            return TransientChannelError(
                text,
                channel=self.name,
                provider_code=str(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return PermanentChannelError(text, channel=self.name, provider_code=str(status))

    def close(self) -> None:
        self._client.close()
