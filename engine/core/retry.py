"""Retry and fallback decisions for a failed send (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.exceptions import ChannelError, PermanentChannelError

# With the default 6 attempts and "equal jitter" below, the 6th attempt comes at
# least 0.5 * 45 s * (1+2+4+8+16) = 11.6 min after the first: a provider outage
# of 10 minutes never exhausts the attempts (with 30 s, one message in eight
# failed; tests/integration/test_outage.py).
BASE_DELAY = timedelta(seconds=45)
MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class Retry:
    at: datetime


@dataclass(frozen=True)
class GiveUp:
    reason: str
    fall_back: bool  # a permanent failure tries the step's next channel


Decision = Retry | GiveUp


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded attempts; ``Retry-After`` is a floor."""

    max_attempts: int = 6
    base: timedelta = BASE_DELAY
    cap: timedelta = MAX_DELAY

    def decide(
        self, error: ChannelError, attempts: int, now: datetime, rng: random.Random | None = None
    ) -> Decision:
        if isinstance(error, PermanentChannelError):
            return GiveUp(reason=error.reason, fall_back=True)
        if attempts >= self.max_attempts:
            return GiveUp(reason=error.reason, fall_back=False)
        return Retry(at=now + self.backoff(attempts, error.retry_after, rng))

    def backoff(
        self, attempts: int, retry_after: timedelta | None, rng: random.Random | None = None
    ) -> timedelta:
        ceiling = min(self.cap, self.base * (2 ** max(attempts - 1, 0)))
        # "Equal jitter": at least half the step, so retries spread without collapsing to zero.
        jitter = (rng or random).uniform(0.5, 1.0)
        delay = timedelta(seconds=ceiling.total_seconds() * float(jitter))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay
