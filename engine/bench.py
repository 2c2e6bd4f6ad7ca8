"""``forvent bench``: the dispatch path measured end to end, figures printed, never asserted.

A throwaway SQLite file, the seed playbooks, memory channels that take a
configurable provider latency. It measures booking throughput, the drain of a
burst of messages due at one instant, and moving a booking's pending rows.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from engine.channels.memory import MemoryChannel
from engine.core.clock import FixedClock
from engine.dispatch.dispatcher import Dispatcher
from engine.runtime import Runtime
from engine.services.bookings import BookingInput, BookingService
from engine.settings import Settings
from engine.store.tables import MessageRow

START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    note: str = ""

    def line(self) -> str:
        return f"{self.name:<44} {self.value:>10.1f} {self.unit:<10} {self.note}"


def _latency(seconds: float) -> Callable[[Any], None]:
    def wait(_: Any) -> None:
        if seconds:
            time.sleep(seconds)  # the provider's round trip

    return wait


def _world(root: Path, concurrency: int) -> tuple[Runtime, FixedClock, BookingService]:
    settings = Settings(
        database_url=f"sqlite:///{root / 'bench.db'}",
        playbooks_dir=Path("playbooks"),
        templates_dir=Path("templates"),
        business_file=Path("business.yaml"),
        secret="bench",
        dispatch_concurrency=concurrency,
    )
    clock = FixedClock(START)
    rt = Runtime(settings, clock=clock)
    rt.database.upgrade()
    return rt, clock, BookingService(rt)


def _book(service: BookingService, count: int) -> float:
    began = time.perf_counter()
    for i in range(count):
        service.book(
            BookingInput(
                ref=f"B{i}",
                playbook="plumber_visit",
                name="Kari Nordmann",
                phone="+4791234567",
                email="kari@example.com",
                start=START + timedelta(days=3, minutes=i % 600),
                locale="nb",
                facts={"task": "Tett avløp"},
            )
        )
    return time.perf_counter() - began


def run(bookings: int = 2000, latency_ms: float = 100.0, concurrency: int = 64) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="forvent-bench-") as tmp:
        rt, _clock, service = _world(Path(tmp), concurrency)
        elapsed = _book(service, bookings)
        figures.append(Figure("book (plan + enqueue), bookings/s", bookings / elapsed, "per s"))
        with rt.database.session() as session:
            session.execute(update(MessageRow).where(MessageRow.status == "planned").values(ready_at=START))
        sms = MemoryChannel("sms", fault=_latency(latency_ms / 1000))
        email = MemoryChannel("email", fault=_latency(latency_ms / 1000))
        dispatcher = Dispatcher(rt, {"sms": sms, "email": email}, batch=500)
        began = time.perf_counter()
        stats = dispatcher.run_until_idle()
        drained = time.perf_counter() - began
        dispatcher.close()
        total = stats.sent + stats.skipped + stats.failed
        figures.append(
            Figure(
                f"burst drain, {total} due at one instant",
                total / drained,
                "msgs/s",
                f"{latency_ms:.0f} ms provider, {concurrency} in flight; "
                f"sent {stats.sent}, lost {total - stats.claimed if total > stats.claimed else 0}",
            )
        )
        figures.append(Figure("burst drain, wall time", drained, "s"))
        moves = []
        for i in range(50):
            began = time.perf_counter()
            service.reschedule(f"B{i}", start=START + timedelta(days=5))
            moves.append(time.perf_counter() - began)
        figures.append(Figure("reschedule one booking (median)", statistics.median(moves) * 1000, "ms"))
        rt.close()
    return figures


def main(bookings: int = 2000, latency_ms: float = 100.0, concurrency: int = 64) -> None:
    print(f"forvent bench: {bookings} plumber_visit bookings, provider latency {latency_ms} ms")
    for figure in run(bookings, latency_ms, concurrency):
        print(figure.line())
