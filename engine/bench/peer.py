"""The naive peer: APScheduler 3.x with one ``date`` job per message, in SQLAlchemyJobStore on SQLite.

Everything is left at APScheduler's defaults (``misfire_grace_time`` 1 s,
``coalesce``, ``max_instances`` 1, a pool of 10 threads), as a first design
would leave them. Each job does what a send needs: compose the message with
the floor's ``Composer`` (render, and an invite for an invite step's email)
and hand it to a recording null channel, so what it lost and what it sent
twice is counted at the provider.

A burst is loaded straight into the job store's table as pickled job states,
the rows ``add_job`` would have written: adding 10,000 jobs through
``add_job`` would take longer than the burst it sets up.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp

from engine.bench.floor import Composer
from engine.bench.world import PLAYBOOK, START, RecordingChannel, sqlite_url
from engine.core.values import Booking, Customer

DELIVER = "engine.bench.peer:deliver"
# One booking's messages, as the seed playbook plans them; a burst takes the first three.
STEPS = (
    ("confirmation", "email"),
    ("confirmation", "sms"),
    ("reminder_day_before", "sms"),
)


@dataclass(frozen=True)
class PeerJob:
    message_id: int
    booking: int
    step: str
    channel: str

    @property
    def args(self) -> list[Any]:
        return [self.message_id, self.booking, self.step, self.channel]


def jobs_for(messages: int, per_booking: int) -> list[PeerJob]:
    return [
        PeerJob(
            message_id=i,
            booking=i // per_booking,
            step=STEPS[i % per_booking][0],
            channel=STEPS[i % per_booking][1],
        )
        for i in range(messages)
    ]


def peer_booking(index: int) -> Booking:
    start = START + timedelta(days=3, minutes=index % 600)
    return Booking(
        id=str(index + 1),
        ref=f"P{index}",
        playbook=PLAYBOOK,
        customer=Customer(name="Kari Nordmann", phone="+4791234567", email="kari@example.com", locale="nb"),
        start=start,
        end=start + timedelta(hours=1),
        promised_start=start,
        promised_end=start + timedelta(hours=1),
        timezone="Europe/Oslo",
        locale="nb",
        created_at=START,
        facts={"task": "Tett avløp"},
    )


@dataclass
class _Deliveries:
    composer: Composer
    channels: dict[str, RecordingChannel]
    bookings: dict[int, Booking] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def booking(self, index: int) -> Booking:
        with self.lock:
            if index not in self.bookings:
                self.bookings[index] = peer_booking(index)
            return self.bookings[index]


_ACTIVE: _Deliveries | None = None


def deliver(message_id: int, booking: int, step: str, channel: str) -> None:
    """The peer's job: compose one message and hand it to the provider."""
    world = _ACTIVE
    assert world is not None, "a peer job ran outside a Peer"
    message = world.composer.compose(
        message_id, world.booking(booking), step, channel, f"peer-{booking}@bench", 0, datetime.now(UTC)
    )
    world.channels[channel].send(message)


@dataclass
class Outcome:
    executed: int = 0
    missed: int = 0
    errors: int = 0
    last: float = 0.0  # perf_counter of the last outcome

    @property
    def settled(self) -> int:
        return self.executed + self.missed + self.errors


class Peer:
    """One scheduler on one job-store file; use it as a context manager."""

    def __init__(self, path: Path, composer: Composer, channels: dict[str, RecordingChannel]) -> None:
        self.store = SQLAlchemyJobStore(url=sqlite_url(path))
        self.scheduler = BackgroundScheduler(jobstores={"default": self.store}, timezone=UTC)
        self.deliveries = _Deliveries(composer, channels)
        self.outcome = Outcome()
        self._settled = threading.Condition()
        self._log_level = logging.NOTSET

    def __enter__(self) -> Peer:
        global _ACTIVE
        _ACTIVE = self.deliveries
        # One warning per misfired job would bury the report; they are counted instead.
        log = logging.getLogger("apscheduler")
        self._log_level = log.level
        log.setLevel(logging.CRITICAL)
        self.scheduler.add_listener(self._on_outcome, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.scheduler.start(paused=True)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _ACTIVE
        self.scheduler.shutdown(wait=True)
        self.store.engine.dispose()
        logging.getLogger("apscheduler").setLevel(self._log_level)
        _ACTIVE = None

    def _on_outcome(self, event: JobExecutionEvent) -> None:
        with self._settled:
            if event.code == EVENT_JOB_EXECUTED:
                self.outcome.executed += 1
            elif event.code == EVENT_JOB_MISSED:
                self.outcome.missed += 1
            else:
                self.outcome.errors += 1
            self.outcome.last = time.perf_counter()
            self._settled.notify_all()

    def add(self, jobs: Sequence[PeerJob], run_date: datetime) -> None:
        """``add_job`` for each message, as the naive design books: an INSERT and a COMMIT each."""
        self.scheduler.resume()
        for job in jobs:
            self.scheduler.add_job(
                DELIVER,
                "date",
                run_date=run_date + timedelta(seconds=job.message_id),
                args=job.args,
                id=str(job.message_id),
            )

    def load(self, jobs: Sequence[PeerJob], lead: timedelta) -> datetime:
        """Write the jobs' rows as ``add_job`` would, all due ``lead`` after the jobs are built,
        without waking anyone; returns that instant."""
        placeholder = datetime.now(UTC) + timedelta(days=365)
        probe = self.scheduler.add_job(DELIVER, "date", run_date=placeholder, args=[0, 0, "", ""], id="probe")
        defaults = {k: getattr(probe, k) for k in ("misfire_grace_time", "coalesce", "max_instances")}
        probe.remove()
        states = [
            Job(
                self.scheduler,
                id=str(job.message_id),
                func=DELIVER,
                trigger=DateTrigger(placeholder),
                executor="default",
                args=job.args,
                kwargs={},
                name="deliver",
                next_run_time=placeholder,
                **defaults,
            ).__getstate__()
            for job in jobs
        ]
        # The instant is fixed only now, so that building the jobs does not eat into the lead.
        run_date = datetime.now(UTC) + lead
        trigger = DateTrigger(run_date)
        rows = [
            {
                "id": state["id"],
                "next_run_time": datetime_to_utc_timestamp(run_date),
                "job_state": pickle.dumps(
                    state | {"trigger": trigger, "next_run_time": run_date}, self.store.pickle_protocol
                ),
            }
            for state in states
        ]
        with self.store.engine.begin() as conn:
            conn.execute(self.store.jobs_t.insert(), rows)
        return run_date

    def run(self, expected: int, timeout_s: float) -> Outcome:
        """Let the scheduler go until ``expected`` jobs ran, misfired or failed (or the time is up)."""
        self.scheduler.resume()
        deadline = time.perf_counter() + timeout_s
        with self._settled:
            while self.outcome.settled < expected and time.perf_counter() < deadline:
                self._settled.wait(timeout=0.5)
        return self.outcome

    def move(self, job_ids: Sequence[str], run_date: datetime) -> None:
        """A delay: every job of the booking gets its new run time."""
        for job_id in job_ids:
            self.scheduler.reschedule_job(job_id, trigger="date", run_date=run_date)

    def delivered(self) -> list[RecordingChannel]:
        return list(self.deliveries.channels.values())
