"""The channel interface: one verb, ``send``.

A channel is shaped like an httpx transport: construct it with its settings,
call ``send(message)`` for each outgoing message, ``close()`` at the end (or
use it as a context manager). ``send`` either returns a ``SendResult`` (the
provider accepted the message) or raises one of two errors:

- ``TransientChannelError``: worth retrying later (timeouts, connection errors,
  408, 429 with its ``retry_after``, 5xx, SMTP 4xx);
- ``PermanentChannelError``: never retried; the dispatcher falls back to the
  step's next channel (invalid number, unsubscribed, not a mobile, SMTP 5xx).

Both carry ``channel`` and the provider's ``provider_code``; the dispatcher
decides on the class, never on message text. ``send`` may be called from
several threads at once; implementations guard their own shared state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from engine.exceptions import PermanentChannelError, TransientChannelError

__all__ = [
    "BaseChannel",
    "OutgoingMessage",
    "PermanentChannelError",
    "SendResult",
    "TransientChannelError",
]


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    """A rendered message, ready for a provider."""

    id: str  # the Forvent message id: idempotency key and callback parameter
    channel: str  # sms | email
    booking_ref: str
    step: str
    to: str
    to_name: str | None = None
    sender: str | None = None  # SMS sender (number or alphanumeric)
    body: str = ""  # the SMS text, or the email's plain text
    encoding: str | None = None  # SMS: GSM-7 | UCS-2
    segments: int | None = None
    subject: str | None = None
    html: str | None = None
    from_addr: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    ics: bytes | None = None
    ics_method: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    status_callback: str | None = None
    date: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class SendResult:
    provider_id: str | None = None
    status: str = "sent"


class BaseChannel:
    """Base of every channel; subclasses implement ``send``."""

    name = "base"

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def capacity(self, within: float) -> int | None:
        """How many more messages this channel can start sending within ``within`` seconds.

        None: no pace of its own (the default). A rate-limited channel answers
        from its backlog, so the dispatcher claims no more than it can send
        while the claims last.
        """
        return None

    def close(self) -> None:
        """Release connections; the default holds none."""

    def __enter__(self) -> BaseChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
