"""What every scenario shares: the seed files, a throwaway engine, a recording null channel,
clocks, and the instruments (wall time, CPU time, SQL statements, percentiles).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from engine.bench.sizes import Sizes
from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.core.clock import Clock, FixedClock
from engine.exceptions import ConfigurationError
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.settings import Settings

# A Monday, noon in Oslo: outside the seed playbooks' quiet hours, so nothing is re-timed.
START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
PLAYBOOK = "plumber_visit"
SECRET = "bench-secret-not-for-production"


@dataclass(frozen=True)
class SeedFiles:
    """The seed playbooks, templates and business profile, as absolute paths (children share them)."""

    playbooks: Path
    templates: Path
    business: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> SeedFiles:
        files = cls(
            playbooks=Path(settings.playbooks_dir).resolve(),
            templates=Path(settings.templates_dir).resolve(),
            business=Path(settings.business_file).resolve(),
        )
        if not (files.playbooks / f"{PLAYBOOK}.yaml").is_file() or not files.business.is_file():
            raise ConfigurationError(
                f"bench: needs the seed playbook {PLAYBOOK} in {files.playbooks} and {files.business}: "
                "run it from the repository root or set FORVENT_PLAYBOOKS_DIR, FORVENT_TEMPLATES_DIR "
                "and FORVENT_BUSINESS_FILE"
            )
        return files

    def as_json(self) -> dict[str, str]:
        return {
            "playbooks": str(self.playbooks),
            "templates": str(self.templates),
            "business": str(self.business),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> SeedFiles:
        return cls(Path(data["playbooks"]), Path(data["templates"]), Path(data["business"]))

    def environment(self, url: str) -> dict[str, str]:
        """The variables a ``forvent`` process needs to run on ``url`` with these files."""
        return {
            "FORVENT_DATABASE_URL": url,
            "FORVENT_PLAYBOOKS_DIR": str(self.playbooks),
            "FORVENT_TEMPLATES_DIR": str(self.templates),
            "FORVENT_BUSINESS_FILE": str(self.business),
            "FORVENT_SECRET": SECRET,
        }


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def bench_settings(files: SeedFiles, url: str, *, concurrency: int | None = None) -> Settings:
    extra: dict[str, Any] = {} if concurrency is None else {"dispatch_concurrency": concurrency}
    return Settings(
        database_url=url,
        playbooks_dir=files.playbooks,
        templates_dir=files.templates,
        business_file=files.business,
        secret=SECRET,
        **extra,
    )


@dataclass
class World:
    """A Forvent on one database, as a deployment runs it, with the engine clock under control."""

    rt: Runtime
    service: BookingService

    @property
    def engine(self) -> Engine:
        return self.rt.database.engine

    def close(self) -> None:
        self.rt.close()


def open_world(
    files: SeedFiles, url: str, *, clock: Clock | None = None, concurrency: int | None = None
) -> World:
    rt = Runtime(bench_settings(files, url, concurrency=concurrency), clock=clock or FixedClock(START))
    return World(rt=rt, service=BookingService(rt))


class RunningClock:
    """The engine clock from ``start`` on, moving with the wall clock: for offered-load runs."""

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self.origin = time.perf_counter()

    def now(self) -> datetime:
        return self.at(time.perf_counter())

    def at(self, perf: float) -> datetime:
        return self.start + timedelta(seconds=perf - self.origin)


class RecordingChannel(BaseChannel):
    """A null provider that remembers which message ids reached it, and when (``perf_counter``).

    Duplicates are counted from here: what the provider was handed, not what the outbox says.
    """

    def __init__(self, name: str, latency_s: float = 0.0) -> None:
        self.name = name
        self.latency_s = latency_s
        self.log: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.latency_s:
            time.sleep(self.latency_s)  # the provider's round trip
        with self._lock:
            self.log.append((message.id, time.perf_counter()))
        return SendResult(provider_id=f"null-{message.id}")


def null_channels(latency_s: float = 0.0) -> dict[str, RecordingChannel]:
    return {"sms": RecordingChannel("sms", latency_s), "email": RecordingChannel("email", latency_s)}


@dataclass(frozen=True)
class Delivery:
    """What reached the channels, compared with the set of messages that were due."""

    due: int
    delivered: int  # distinct messages handed to a channel
    duplicates: int  # handed over more than once
    missing: frozenset[int]  # due, never handed over


def delivery(due: set[int], channels: Sequence[RecordingChannel]) -> Delivery:
    handed = [int(message_id) for channel in channels for message_id, _ in channel.log]
    distinct = set(handed)
    return Delivery(
        due=len(due),
        delivered=len(distinct & due),
        duplicates=len(handed) - len(distinct),
        missing=frozenset(due - distinct),
    )


class StatementCounter:
    """SQL statements sent to the database while the block runs (``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


@dataclass
class Spent:
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the whole process, every thread
    statements: int = 0


@contextmanager
def spending(engine: Engine | None = None) -> Iterator[Spent]:
    spent = Spent()
    counter = StatementCounter(engine) if engine is not None else None
    if counter is not None:
        counter.__enter__()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield spent
    finally:
        spent.wall_s = time.perf_counter() - wall
        spent.cpu_s = time.process_time() - cpu
        if counter is not None:
            counter.__exit__()
            spent.statements = counter.count


def percentile(samples: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest sample with at least ``q`` percent of the samples at or below it."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def median(values: Sequence[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    middle = len(present) // 2
    return present[middle] if len(present) % 2 else (present[middle - 1] + present[middle]) / 2


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass
class Context:
    """One bench run: its sizes, where it keeps its files, and what scenarios may share."""

    files: SeedFiles
    sizes: Sizes
    root: Path
    latency_ms: float = 100.0
    concurrency: int | None = None
    pg_url: str | None = None
    progress: Callable[[str], None] = lambda _: None
    cache: dict[Any, Path] = field(default_factory=dict)
    _counter: int = 0

    def path(self, stem: str, suffix: str = ".db") -> Path:
        self._counter += 1
        return self.root / f"{stem}-{self._counter}{suffix}"
