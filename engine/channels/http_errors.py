"""The HTTP channels' one mapping of a POST's failure onto the channel errors.

SendGrid and the outbound webhook both POST with a shared ``httpx.Client``:
a timeout, a connection error, 408, 429 (with its ``Retry-After``) and 5xx
are ``TransientChannelError``; a 4xx is ``PermanentChannelError``. Each names
what a status outside both (1xx, 3xx) is, since the webhook follows no
redirect and so would only meet it again.
"""

from __future__ import annotations

from typing import Any

import httpx

from engine.channels.ratelimit import parse_retry_after
from engine.exceptions import ChannelError, PermanentChannelError, TransientChannelError

TRANSIENT_STATUSES = frozenset({408, 429})  # and every 5xx


def post(client: httpx.Client, url: str, *, channel: str, who: str, **kwargs: Any) -> httpx.Response:
    """POST, a timeout or an unreachable host raised as ``TransientChannelError``."""
    try:
        return client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientChannelError(
            f"{who} timed out: {exc!r}", channel=channel, provider_code="timeout"
        ) from exc
    except httpx.TransportError as exc:
        raise TransientChannelError(
            f"{who} unreachable: {exc!r}", channel=channel, provider_code="connection"
        ) from exc


def status_error(
    response: httpx.Response,
    text: str,
    *,
    channel: str,
    otherwise: type[ChannelError] = TransientChannelError,
) -> ChannelError:
    """The error for a response that is not 2xx; ``otherwise`` for neither 4xx nor 5xx."""
    status = response.status_code
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientChannelError(
            text,
            channel=channel,
            provider_code=str(status),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if 400 <= status < 500:
        return PermanentChannelError(text, channel=channel, provider_code=str(status))
    return otherwise(text, channel=channel, provider_code=str(status))
