"""A provider outage of 10 minutes: every message goes exactly once afterwards, with backoff between.

In-process, on SQLite and PostgreSQL alike, with the default settings
(``FORVENT_MAX_ATTEMPTS`` 6). Ten plumber visits are booked 20 s apart, so
their confirmations fall due one after another while the SMS provider answers
every request with a transient error (a 503) for 10 minutes of engine time.
The engine clock (a FixedClock) moves in steps of 15 s and the dispatcher runs
until idle at each step; nothing sleeps. The retry jitter is pinned to its
shortest and its longest backoff (the two bounds of every possible schedule),
and seeded once in between.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from engine.channels.base import OutgoingMessage
from engine.channels.memory import MemoryChannel
from engine.core.clock import FixedClock
from engine.core.retry import BASE_DELAY
from engine.dispatch.dispatcher import Dispatcher
from engine.exceptions import TransientChannelError
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.workers import settings_for

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
OUTAGE = timedelta(minutes=10)
STEP = timedelta(seconds=15)
BOOKINGS, BOOKED_EVERY = 10, timedelta(seconds=20)
MAX_ATTEMPTS = 6  # FORVENT_MAX_ATTEMPTS' default


class PinnedJitter(random.Random):
    """Jitter always at one end of its range: the shortest or the longest backoff."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "shortest" else b


class FlakyProvider:
    """Fails every send with a transient error until ``up_at`` on the engine clock; logs each call."""

    def __init__(self, clock: FixedClock, up_at: datetime) -> None:
        self.clock = clock
        self.up_at = up_at
        self.calls: list[tuple[str, datetime, bool]] = []  # (message id, when, accepted)
        self._lock = threading.Lock()

    def __call__(self, message: OutgoingMessage) -> None:
        now = self.clock.now()
        with self._lock:
            self.calls.append((message.id, now, now >= self.up_at))
        if now < self.up_at:
            raise TransientChannelError("service unavailable", channel=message.channel, provider_code="503")


@pytest.fixture(params=["shortest", "longest", "seeded"])
def jitter(request: pytest.FixtureRequest) -> random.Random:
    return PinnedJitter(request.param) if request.param != "seeded" else random.Random(2026)


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = Runtime(settings_for(database_url), clock=FixedClock(T0))
    rt.database.upgrade()
    yield rt
    rt.close()


def book_visits(rt: Runtime) -> list[int]:
    """Ten visits booked 20 s apart (SMS only); the ids of their confirmations, in due order."""
    assert isinstance(rt.clock, FixedClock)
    service = BookingService(rt)
    for i in range(BOOKINGS):
        rt.clock.set(T0 + i * BOOKED_EVERY)
        service.book(
            BookingInput(
                ref=f"P-{i}",
                playbook="plumber_visit",
                name=f"Kari Nordmann {i}",
                phone=f"+479123450{i}",
                start="2026-11-25T10:00",
                facts={"task": "Tett avløp"},
            )
        )
    with rt.database.session() as s:
        rows = s.scalars(
            select(MessageRow)
            .where(MessageRow.step == "confirmation", MessageRow.status == "planned")
            .order_by(MessageRow.due_at, MessageRow.id)
        ).all()
        return [r.id for r in rows]


def test_after_a_ten_minute_outage_every_message_goes_once_with_backoff(
    runtime: Runtime, jitter: random.Random
) -> None:
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    assert runtime.settings.max_attempts == MAX_ATTEMPTS
    confirmations = book_visits(runtime)
    assert len(confirmations) == BOOKINGS
    provider = FlakyProvider(clock, up_at=T0 + OUTAGE)
    sms = MemoryChannel("sms", fault=provider)
    dispatcher = Dispatcher(runtime, {"sms": sms, "email": MemoryChannel("email")}, rng=jitter)
    try:
        now = T0
        while now <= T0 + timedelta(minutes=40):
            clock.set(now)
            dispatcher.run_until_idle()
            now += STEP
    finally:
        dispatcher.close()

    # Exactly once, every one of them, all after the provider came back.
    sent = Counter(m.id for m in sms.sent)
    assert sent == Counter(str(i) for i in confirmations)
    accepted = [(i, at) for i, at, ok in provider.calls if ok]
    assert len(accepted) == BOOKINGS and all(at >= T0 + OUTAGE for _, at in accepted)
    assert all(at < T0 + OUTAGE for _, at, ok in provider.calls if not ok)

    # Backoff, not a hot loop: at most MAX_ATTEMPTS calls per message, each wait
    # at least half the exponential step, and no call after the one that went.
    calls: dict[str, list[datetime]] = defaultdict(list)
    for i, at, _ in provider.calls:
        calls[i].append(at)
    for times in calls.values():
        assert len(times) <= MAX_ATTEMPTS
        for attempt, (earlier, later) in enumerate(pairwise(times), start=1):
            assert later - earlier >= BASE_DELAY * 2 ** (attempt - 1) / 2
    print(
        f"\noutage ({runtime.database.engine.dialect.name}, {getattr(jitter, 'end', 'seeded')} backoff): "
        f"{BOOKINGS} messages, {len(provider.calls)} provider calls, "
        f"attempts per message {sorted(Counter(i for i, _, _ in provider.calls).values())}"
    )

    # With the same backoff for every message, each fails the same number of times and they
    # go in the order they were due. With random jitter every message keeps its own schedule,
    # so the order after the recovery is not guaranteed (README, "Running on several machines").
    if isinstance(jitter, PinnedJitter):
        assert [int(i) for i, _ in accepted] == confirmations

    # Nothing silent: each failed attempt is a recorded retry, and each message is sent.
    with runtime.database.session() as s:
        retries = dict(
            s.execute(
                select(HistoryRow.message_id, func.count())
                .where(HistoryRow.kind == "message:retrying")
                .group_by(HistoryRow.message_id)
            ).all()
        )
        statuses = {
            r.id: r.status for r in s.scalars(select(MessageRow).where(MessageRow.id.in_(confirmations)))
        }
    assert retries == {int(i): len(t) - 1 for i, t in calls.items()}
    assert set(statuses.values()) == {"sent"}


def test_the_retry_schedule_outlasts_a_ten_minute_outage_at_its_shortest() -> None:
    """The arithmetic behind the test above: the last attempt comes after 10 minutes, whatever the jitter."""
    from engine.core.retry import RetryPolicy

    policy = RetryPolicy(max_attempts=MAX_ATTEMPTS)
    shortest = sum(
        (policy.backoff(attempt, None, PinnedJitter("shortest")) for attempt in range(1, MAX_ATTEMPTS)),
        timedelta(),
    )
    assert shortest > OUTAGE
