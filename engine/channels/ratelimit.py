"""Pacing sends: a token bucket per sender, and the provider's ``Retry-After``.

``FORVENT_SMS_RATE`` caps messages per second per sender, as carriers and
Twilio queue them (a long code takes about one per second). The limit holds
per process: two dispatcher processes each send at the full rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """A thread-safe token bucket: ``rate_per_second`` on average, bursts up to ``burst``.

    ``acquire`` takes a token, waiting for one when the bucket is empty. A
    caller reserves its token under the lock (the balance may go negative)
    and sleeps outside it, so waiters are served in arrival order and none
    holds the lock while it sleeps.
    """

    def __init__(
        self,
        rate_per_second: float,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        *,
        burst: float = 1.0,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate_per_second
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = burst
        self._updated = clock()

    def acquire(self) -> float:
        """Take a token, blocking until it is due; returns the seconds waited."""
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def backlog(self) -> float:
        """Seconds a token taken now would wait: the tokens already promised to waiting callers."""
        with self._lock:
            elapsed = max(0.0, self._clock() - self._updated)
            tokens = min(self.burst, self._tokens + elapsed * self.rate)
            return max(0.0, -tokens / self.rate)

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= 1
            return -self._tokens / self.rate if self._tokens < 0 else 0.0


class RateLimitedChannel(BaseChannel):
    """Wraps a channel so that each sender sends at most ``rate_per_second``.

    The sender is ``message.sender`` (the number or alphanumeric id the
    customer sees); each gets its own :class:`RateLimiter`, created on first use.
    """

    def __init__(
        self,
        inner: BaseChannel,
        rate_per_second: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        RateLimiter(rate_per_second, clock, sleep)  # fail now on a bad rate, not at the first send
        self.inner = inner
        self.name = inner.name
        self.rate = rate_per_second
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, sender: str) -> RateLimiter:
        with self._lock:
            if sender not in self._limiters:
                self._limiters[sender] = RateLimiter(self.rate, self._clock, self._sleep)
            return self._limiters[sender]

    def send(self, message: OutgoingMessage) -> SendResult:
        self.limiter(message.sender or "").acquire()
        return self.inner.send(message)

    def capacity(self, within: float) -> int | None:
        """Messages one sender can still start within ``within`` seconds, behind those already waiting."""
        with self._lock:
            limiters = list(self._limiters.values())
        backlog = max((limiter.backlog() for limiter in limiters), default=0.0)
        own = max(0, int((within - backlog) * self.rate))
        inner = self.inner.capacity(within)
        return own if inner is None else min(own, inner)

    def close(self) -> None:
        self.inner.close()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """An HTTP ``Retry-After`` (seconds or an HTTP date) as a delay.

    None when the header is absent or unreadable: the retry policy's own
    backoff applies then.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or datetime.now(UTC)))
