"""SMS through Twilio's Messages API, with the official ``twilio`` client.

``send`` creates one Message (``To``, ``From`` or ``MessagingServiceSid``,
``Body``, ``StatusCallback``) and returns its SID. Twilio's errors map onto
the two channel errors (see ``engine.channels.base``):

- permanent: 21211 (invalid number), 21610 (unsubscribed), 21614 (not a
  mobile), and any other 4xx except 408 and 429;
- transient: 429 (with ``Retry-After`` when given), 408, 5xx, timeouts and
  connection errors.

``provider_code`` is Twilio's error code (``21610``), else the HTTP status.
A timeout after Twilio accepted the request is indistinguishable from one
before it: the retry may send the SMS twice (the Messages API has no
idempotency key).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from engine.channels.base import (
    BaseChannel,
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from engine.channels.ratelimit import parse_retry_after
from engine.exceptions import ChannelError

TWILIO_API_BASE = "https://api.twilio.com"
# Twilio codes that never succeed on retry, whatever the HTTP status says.
PERMANENT_CODES = frozenset({21211, 21610, 21614})
TRANSIENT_STATUSES = frozenset({408, 429})
# Connections kept per host: one per concurrent send (FORVENT_DISPATCH_CONCURRENCY's default).
POOL_SIZE = 256


class ApiBaseHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """Twilio's requests-based client, pointed at ``api_base`` and thread-aware.

    The official client builds absolute ``https://api.twilio.com/...`` URLs
    and has no base-URL setting; this client swaps their scheme and host (and
    prefixes any path of ``api_base``). It also keeps each thread's last
    response, so a caller can read headers (``Retry-After``) that
    ``TwilioRestException`` drops; the parent's ``_test_only_last_response``
    is shared by all threads.
    """

    def __init__(
        self, *, api_base: str | None = None, timeout: float = 10.0, pool_size: int = POOL_SIZE
    ) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(api_base.rstrip("/")) if api_base else None
        self._local = threading.local()
        # The parent sizes its pool for https only; a local base may be http.
        assert self.session is not None
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(pool_maxsize=pool_size))

    def rewrite(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        base = self._base
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self._local.response = None
        response: Response = super().request(
            method, self.rewrite(url), params, data, headers, auth, timeout, allow_redirects
        )
        self._local.response = response
        return response

    def last_header(self, name: str) -> str | None:
        """Header ``name`` of this thread's last response (requests' headers ignore case)."""
        response = getattr(self._local, "response", None)
        value = (getattr(response, "headers", None) or {}).get(name)
        return None if value is None else str(value)


class TwilioSmsChannel(BaseChannel):
    """Sends SMS with Twilio. Give ``from_number`` or ``messaging_service_sid``.

    With a Messaging Service, Twilio picks the sender from the service's pool
    and ``message.sender`` is ignored; otherwise ``message.sender`` (set by
    the dispatcher) wins over ``from_number``. ``api_base`` replaces
    ``https://api.twilio.com`` (a local Twilio-compatible server). Safe to
    call from several threads: the Messages resource is resolved once, the
    last response is kept per thread, and the requests session pools
    connections (urllib3's pool is thread-safe; Twilio sets no cookies).
    """

    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str | None = None,
        timeout: float = 10.0,
        pool_size: int = POOL_SIZE,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSmsChannel needs from_number or messaging_service_sid")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self._http = ApiBaseHttpClient(api_base=api_base, timeout=timeout, pool_size=pool_size)
        client = Client(account_sid, auth_token, http_client=self._http)
        # Resolved once here: the client builds these sub-objects lazily, unguarded.
        self._messages = client.api.v2010.account.messages

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            created = self._messages.create(**self.parameters(message))
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._mapped(exc) from exc
        except requests.Timeout as exc:
            raise TransientChannelError(
                f"Twilio timed out: {exc}", channel=self.name, provider_code="timeout"
            ) from exc
        except requests.RequestException as exc:
            raise TransientChannelError(
                f"Twilio unreachable: {exc}", channel=self.name, provider_code="connection"
            ) from exc
        return SendResult(provider_id=created.sid)

    def parameters(self, message: OutgoingMessage) -> dict[str, Any]:
        """Keyword arguments of ``messages.create`` for ``message``."""
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = message.sender or self.from_number
        if message.status_callback:
            params["status_callback"] = message.status_callback
        return params

    def _mapped(self, exc: TwilioRestException | TwilioServiceException) -> ChannelError:
        status = int(exc.status)
        code = exc.code if isinstance(exc.code, int) else status  # no Twilio body: the status
        text = f"Twilio answered {status} (code {code}): {_error_text(exc)}"
        if code in PERMANENT_CODES:
            return PermanentChannelError(text, channel=self.name, provider_code=str(code))
        if status in TRANSIENT_STATUSES or status >= 500:
            # Twilio sends Retry-After with 429; honour it on a 503 too when present.
            retry_after = parse_retry_after(self._http.last_header("Retry-After"))
            return TransientChannelError(
                text, channel=self.name, provider_code=str(code), retry_after=retry_after
            )
        if 400 <= status < 500:
            return PermanentChannelError(text, channel=self.name, provider_code=str(code))
        return TransientChannelError(text, channel=self.name, provider_code=str(code))

    def close(self) -> None:
        if self._http.session is not None:
            self._http.session.close()


def _error_text(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioRestException):
        return str(exc.msg)
    return str(exc.detail or exc.title)
