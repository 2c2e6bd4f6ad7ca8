"""The token bucket and Retry-After parsing, on a fake clock: nothing really sleeps."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.channels.base import OutgoingMessage
from engine.channels.factory import build_channels
from engine.channels.memory import MemoryChannel
from engine.channels.ratelimit import RateLimitedChannel, RateLimiter, parse_retry_after
from engine.exceptions import ConfigurationError
from engine.settings import Settings


class FakeTime:
    """A monotonic clock that only moves when someone sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    def record_only(self, seconds: float) -> None:
        """A sleep that does not move the clock: every caller arrives at the same instant."""
        with self._lock:
            self.slept.append(seconds)


SMS = OutgoingMessage(
    id="1",
    channel="sms",
    booking_ref="B-1",
    step="reminder",
    to="+4791234567",
    sender="+4759440000",
)


def test_the_first_send_does_not_wait() -> None:
    time = FakeTime()
    assert RateLimiter(2.0, time.clock, time.sleep).acquire() == 0.0
    assert time.slept == []


def test_sends_are_spaced_by_the_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(4.0, time.clock, time.sleep)
    for _ in range(5):
        limiter.acquire()
    assert time.slept == [0.25, 0.25, 0.25, 0.25]
    assert time.now == pytest.approx(1001.0)


def test_idle_time_refills_up_to_the_burst() -> None:
    time = FakeTime()
    limiter = RateLimiter(1.0, time.clock, time.sleep, burst=3)
    for _ in range(3):
        limiter.acquire()
    assert time.slept == []
    time.now += 100  # a long pause earns three tokens, not a hundred
    for _ in range(4):
        limiter.acquire()
    assert time.slept == [1.0]


def test_a_partly_refilled_bucket_waits_only_the_rest() -> None:
    time = FakeTime()
    limiter = RateLimiter(2.0, time.clock, time.sleep)
    limiter.acquire()
    time.now += 0.2  # 0.4 of a token back
    assert limiter.acquire() == pytest.approx(0.3)


def test_concurrent_callers_queue_in_turn() -> None:
    time = FakeTime()
    limiter = RateLimiter(10.0, time.clock, time.record_only)
    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = sorted(pool.map(lambda _: limiter.acquire(), range(20)))
    assert waits == pytest.approx([n / 10 for n in range(20)])


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.5)])
def test_bad_rates_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst=burst)


def test_each_sender_has_its_own_bucket() -> None:
    time = FakeTime()
    inner = MemoryChannel("sms")
    channel = RateLimitedChannel(inner, 1.0, clock=time.clock, sleep=time.record_only)
    other = dataclasses.replace(SMS, sender="Verkstedet")
    for message in (SMS, other, SMS, other):
        channel.send(message)
    assert time.slept == [1.0, 1.0]  # the second send of each sender
    assert len(inner.sent) == 4
    assert channel.name == "sms"


def test_the_backlog_is_the_wait_promised_to_callers_already_queued() -> None:
    time = FakeTime()
    limiter = RateLimiter(2.0, time.clock, time.record_only)
    assert limiter.backlog() == 0.0
    for _ in range(5):  # the first takes the one token; four wait 0.5 s, 1 s, 1.5 s and 2 s
        limiter.acquire()
    assert limiter.backlog() == pytest.approx(2.0)
    time.now += 1.5
    assert limiter.backlog() == pytest.approx(0.5)


def test_a_rate_limited_channel_takes_what_its_busiest_sender_can_send_in_time() -> None:
    time = FakeTime()
    channel = RateLimitedChannel(MemoryChannel("sms"), 2.0, clock=time.clock, sleep=time.record_only)
    assert channel.capacity(150.0) == 300  # no sender has waited yet
    for _ in range(21):
        channel.send(SMS)  # 20 behind the first: 10 s for this sender
    channel.send(dataclasses.replace(SMS, sender="Verkstedet"))
    assert channel.capacity(150.0) == 280
    assert channel.capacity(5.0) == 0
    assert MemoryChannel("email").capacity(150.0) is None  # no pace of its own


def test_factory_wraps_the_sms_channel_when_a_rate_is_set() -> None:
    settings = Settings(sms_channel="memory", email_channel="memory", sms_rate=2.5)
    channels = build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    assert isinstance(channels["sms"], RateLimitedChannel)
    assert channels["sms"].rate == 2.5
    assert isinstance(channels["email"], MemoryChannel)


def test_factory_leaves_sms_alone_without_a_rate() -> None:
    settings = Settings(sms_channel="memory", email_channel="memory")
    channels = build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    assert isinstance(channels["sms"], MemoryChannel)


def test_factory_refuses_a_rate_that_is_not_positive() -> None:
    settings = Settings(sms_channel="memory", email_channel="memory", sms_rate=0.0)
    with pytest.raises(ConfigurationError, match="FORVENT_SMS_RATE"):
        build_channels(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", timedelta(seconds=30)),
        (" 0 ", timedelta(0)),
        ("Wed, 01 Jul 2026 09:02:00 GMT", timedelta(minutes=2)),
        ("Wed, 01 Jul 2026 08:00:00 GMT", timedelta(0)),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected
