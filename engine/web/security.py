"""Staff sessions, CSRF tokens and the login throttle.

* **Session**: a cookie ``<payload>.<HMAC-SHA256>`` (base64url), keyed from
  ``FORVENT_SECRET``; the payload names the session's row in
  ``staff_sessions``, who logged in, when the session ends (on the engine
  clock) and a random CSRF value bound to the session. A valid signature is
  not enough: the row must still be open, so logging out, revoking the token,
  changing the staff password, or disabling a staff user or giving them a new
  password ends the session at once (``engine.web.sessions``).
  httponly, SameSite=Lax, Secure when ``FORVENT_PUBLIC_URL`` is https.
* **CSRF**: staff forms carry the session's value. Pages without a session
  (the login form, the customer page) use a signed double-submit: a random
  ``forvent_csrf`` cookie, and forms carry HMAC(cookie, scope), the scope
  being the customer's link token or ``login``; a form from another site
  knows neither.
* **Throttle**: after ``FREE_ATTEMPTS`` failed logins from one address, each
  further failure locks the address out, twice as long each time (capped at ``MAX_LOCK``), judged on the
  engine clock, so tests move the clock instead of sleeping. While locked,
  logins answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SESSION_COOKIE = "forvent_staff"
CSRF_COOKIE = "forvent_csrf"
SESSION_TTL = timedelta(hours=12)
FREE_ATTEMPTS = 3
FIRST_LOCK = timedelta(seconds=2)
MAX_LOCK = timedelta(minutes=15)
MAX_TRACKED_ADDRESSES = 10_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    id: str  # the row in staff_sessions
    who: str  # a staff user's name, "staff" (the shared password) or "token:<name>"; the actor
    expires: datetime
    csrf: str


class Signer:
    """HMACs for sessions and CSRF tokens, with keys derived from the deployment's secret."""

    def __init__(self, secret: str) -> None:
        root = secret.encode()
        self._session_key = hmac.new(root, b"forvent-staff-session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(root, b"forvent-csrf", hashlib.sha256).digest()

    def _mac(self, key: bytes, text: str) -> str:
        return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())

    def session_cookie(self, who: str, now: datetime) -> tuple[str, Session]:
        session = Session(
            id=secrets.token_urlsafe(24), who=who, expires=now + SESSION_TTL, csrf=secrets.token_urlsafe(24)
        )
        data = {"s": session.id, "u": who, "e": int(session.expires.timestamp()), "c": session.csrf}
        payload = _b64(json.dumps(data).encode())
        return f"{payload}.{self._mac(self._session_key, payload)}", session

    def read_session(self, cookie: str | None, now: datetime) -> Session | None:
        """The session in a cookie that is ours, untampered and unexpired; else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(self._mac(self._session_key, payload), mac):
            return None
        try:
            data: dict[str, Any] = json.loads(_unb64(payload))
            expires = datetime.fromtimestamp(int(data["e"]), now.tzinfo)
            session = Session(id=str(data["s"]), who=str(data["u"]), expires=expires, csrf=str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > now else None

    def password_mark(self, password: str | None) -> str | None:
        """A keyed fingerprint of the staff password: sessions remember it without storing it."""
        if not password:
            return None
        return self._mac(self._session_key, "staff-password:" + password)

    def csrf_token(self, cookie: str, scope: str) -> str:
        return self._mac(self._csrf_key, f"{cookie}|{scope}")

    def check_csrf(self, cookie: str | None, scope: str, given: str | None) -> bool:
        if not cookie or not given:
            return False
        return hmac.compare_digest(self.csrf_token(cookie, scope), given)


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


def same_secret(given: str, expected: str | None) -> bool:
    """Constant-time password check (digests first, so lengths leak nothing)."""
    if not expected:
        return False
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
        hashlib.sha256(expected.encode()).digest(),
    )


@dataclass
class _Attempts:
    failures: int = 0
    locked_until: datetime | None = None


class LoginThrottle:
    """Failed logins per client address, in memory (one process; a restart forgives)."""

    def __init__(self) -> None:
        self._by_address: OrderedDict[str, _Attempts] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str, now: datetime) -> timedelta | None:
        """How long this address must still wait, or None when it may try."""
        with self._lock:
            state = self._by_address.get(address)
            if state is None or state.locked_until is None or state.locked_until <= now:
                return None
            return state.locked_until - now

    def failed(self, address: str, now: datetime) -> None:
        with self._lock:
            state = self._by_address.pop(address, None) or _Attempts()
            state.failures += 1
            extra = state.failures - FREE_ATTEMPTS
            if extra > 0:
                lock = min(FIRST_LOCK * (2 ** min(extra - 1, 20)), MAX_LOCK)
                state.locked_until = now + lock
            self._by_address[address] = state
            while len(self._by_address) > MAX_TRACKED_ADDRESSES:
                self._by_address.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._by_address.pop(address, None)
