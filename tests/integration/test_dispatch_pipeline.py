"""A drain does not wait for a batch's slowest send before it claims the next batch.

``dispatch --once`` (``Dispatcher.run_until_idle``) keeps sends in flight
across batches: while one send is still with the provider, the following
batches are claimed, rendered and sent. Here the provider holds the first
message it is handed until every other due message has reached it; with
batches of two, that can only happen if the later batches were claimed while
the first message was in flight.
"""

from __future__ import annotations

import threading
from pathlib import Path

from engine.channels.base import OutgoingMessage
from engine.channels.memory import MemoryChannel
from engine.dispatch.dispatcher import Dispatcher
from tests.integration.world import World

SAFETY_NET_SECONDS = 30.0  # real time; only a dispatcher that waits for the held send runs into it


class HoldsTheFirst:
    """A provider that keeps the first message until ``expected`` messages have reached it."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.all_arrived = threading.Event()
        self.first_held_until_the_rest_came: bool | None = None
        self._lock = threading.Lock()

    def __call__(self, message: OutgoingMessage) -> None:
        with self._lock:
            self.arrived += 1
            arrived = self.arrived
        if arrived == self.expected:
            self.all_arrived.set()
        if arrived == 1:
            self.first_held_until_the_rest_came = self.all_arrived.wait(SAFETY_NET_SECONDS)


def test_later_batches_are_claimed_and_sent_while_an_earlier_send_is_in_flight(tmp_path: Path) -> None:
    world = World(tmp_path)
    try:
        for n in range(3):
            world.book(f"C-{n}", phone=f"+479123456{n}", email=f"kunde{n}@example.com")
        now = world.clock.now()
        due = [r for n in range(3) for r in world.rows(f"C-{n}") if r.due_at is not None and r.due_at <= now]
        assert len(due) >= 4, "too few due messages: the test proves nothing"
        provider = HoldsTheFirst(len(due))
        channels = {name: MemoryChannel(name, fault=provider) for name in ("sms", "email")}
        dispatcher = Dispatcher(world.rt, channels, batch=2)
        try:
            stats = dispatcher.run_until_idle()
        finally:
            dispatcher.close()

        assert provider.first_held_until_the_rest_came is True
        assert stats.sent == len(due)
        status = {r.id: r.status for n in range(3) for r in world.rows(f"C-{n}")}
        assert {status[r.id] for r in due} == {"sent"}
    finally:
        world.close()
