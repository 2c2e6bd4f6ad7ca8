"""The retry policy: README's backoff (45 s, 90 s, 3 min, 6 min, 12 min, jitter between half and
all of it), Retry-After as a floor, permanent errors fall back, attempts are bounded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from engine.core.retry import GiveUp, Retry, RetryPolicy
from engine.exceptions import PermanentChannelError, TransientChannelError

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
SCHEDULE = [
    timedelta(seconds=45),
    timedelta(seconds=90),
    timedelta(minutes=3),
    timedelta(minutes=6),
    timedelta(minutes=12),
]
TIMEOUT = TransientChannelError("timed out", channel="sms", provider_code="timeout")
UNSUBSCRIBED = PermanentChannelError("unsubscribed", channel="sms", provider_code="21610")


class PinnedJitter(random.Random):
    """Jitter always at one end of its range."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "shortest" else b


def test_the_longest_waits_double_from_45_seconds() -> None:
    policy = RetryPolicy()
    waits = [policy.backoff(attempts, None, PinnedJitter("longest")) for attempts in range(1, 6)]
    assert waits == SCHEDULE


def test_the_shortest_waits_are_half_of_each_step() -> None:
    policy = RetryPolicy()
    waits = [policy.backoff(attempts, None, PinnedJitter("shortest")) for attempts in range(1, 6)]
    assert waits == [step / 2 for step in SCHEDULE]


def test_six_attempts_span_at_least_eleven_and_a_half_minutes() -> None:
    policy = RetryPolicy()
    shortest = sum((policy.backoff(n, None, PinnedJitter("shortest")) for n in range(1, 6)), timedelta())
    assert shortest == timedelta(minutes=11, seconds=37.5)


@pytest.mark.parametrize(("attempts", "step"), list(enumerate(SCHEDULE, start=1)))
def test_seeded_jitter_stays_between_half_and_all_of_the_step(attempts: int, step: timedelta) -> None:
    policy, rng = RetryPolicy(), random.Random(20261123)
    waits = [policy.backoff(attempts, None, rng) for _ in range(200)]
    assert all(step / 2 <= wait <= step for wait in waits)
    assert len(set(waits)) > 100  # spread out, so retries after an outage do not arrive together


def test_a_seeded_random_gives_the_same_retry_time_every_run() -> None:
    policy = RetryPolicy()
    first = policy.decide(TIMEOUT, 2, NOW, random.Random(7))
    again = policy.decide(TIMEOUT, 2, NOW, random.Random(7))
    assert isinstance(first, Retry)
    assert first == again
    assert NOW + timedelta(seconds=45) <= first.at <= NOW + timedelta(seconds=90)


def test_the_step_stops_growing_at_an_hour() -> None:
    policy = RetryPolicy(max_attempts=10)
    assert policy.backoff(7, None, PinnedJitter("longest")) == timedelta(minutes=48)
    assert policy.backoff(8, None, PinnedJitter("longest")) == timedelta(hours=1)
    assert policy.backoff(9, None, PinnedJitter("longest")) == timedelta(hours=1)


def test_retry_after_longer_than_the_backoff_is_waited_for() -> None:
    busy = TransientChannelError("429", channel="sms", provider_code="429", retry_after=timedelta(minutes=10))
    decision = RetryPolicy().decide(busy, 1, NOW, random.Random(1))
    assert decision == Retry(at=datetime(2026, 11, 23, 11, 10, tzinfo=UTC))


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    busy = TransientChannelError("429", channel="sms", provider_code="429", retry_after=timedelta(seconds=1))
    decision = RetryPolicy().decide(busy, 3, NOW, PinnedJitter("shortest"))
    assert decision == Retry(at=datetime(2026, 11, 23, 11, 1, 30, tzinfo=UTC))


@pytest.mark.parametrize("attempts", [1, 3, 6])
def test_a_permanent_error_gives_up_at_once_and_falls_back(attempts: int) -> None:
    decision = RetryPolicy().decide(UNSUBSCRIBED, attempts, NOW, random.Random(1))
    assert decision == GiveUp(reason="sms:21610", fall_back=True)


def test_temporary_errors_are_retried_until_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=6)
    decisions = [policy.decide(TIMEOUT, attempts, NOW, random.Random(attempts)) for attempts in range(1, 7)]
    assert all(isinstance(decision, Retry) for decision in decisions[:5])
    assert decisions[5] == GiveUp(reason="sms:timeout", fall_back=False)


def test_fewer_attempts_give_up_sooner() -> None:
    policy = RetryPolicy(max_attempts=2)
    assert isinstance(policy.decide(TIMEOUT, 1, NOW, random.Random(1)), Retry)
    assert policy.decide(TIMEOUT, 2, NOW, random.Random(1)) == GiveUp(reason="sms:timeout", fall_back=False)


def test_an_error_without_a_provider_code_is_named_by_its_channel() -> None:
    refused = TransientChannelError("refused", channel="email")
    assert RetryPolicy(max_attempts=1).decide(refused, 1, NOW) == GiveUp(
        reason="email:error", fall_back=False
    )
