"""Signed customer links: ``/b/<token>`` where the token names a booking and an expiry.

The token is ``<booking id>_<expiry, base 36>_<HMAC-SHA256, base64url>``: only
``[A-Za-z0-9_-]``, and it reveals nothing but the booking's row id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_SIG_BYTES = 18  # 144 bits, 24 characters of base64url


class BadLinkError(ValueError):
    """A forged, altered or expired link."""


@dataclass(frozen=True)
class LinkSigner:
    secret: str
    ttl: timedelta = timedelta(days=60)

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_SIG_BYTES]).decode().rstrip("=")

    def token(self, booking_id: int, *, now: datetime) -> str:
        expiry = int((now + self.ttl).timestamp())
        payload = f"{booking_id}_{_base36(expiry)}"
        return f"{payload}_{self._sign(payload)}"

    def verify(self, token: str, *, now: datetime) -> int:
        """The booking id of a valid token; ``BadLinkError`` otherwise."""
        parts = token.split("_", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            raise BadLinkError("malformed link")
        payload = f"{parts[0]}_{parts[1]}"
        if not hmac.compare_digest(self._sign(payload), parts[2]):
            raise BadLinkError("forged link")
        try:
            expiry = datetime.fromtimestamp(int(parts[1], 36), UTC)
        except ValueError as exc:
            raise BadLinkError("malformed link") from exc
        if expiry < now:
            raise BadLinkError("expired link")
        return int(parts[0])


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out
