"""APScheduler drives passes over the outbox; it never holds one job per message."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from engine.dispatch import jobs
from engine.dispatch.dispatcher import Dispatcher
from engine.runtime import Runtime
from engine.store import locks
from engine.store.db import Database, is_sqlite

log = logging.getLogger("forvent.scheduler")
PASS_SECONDS = 1
JOB_LEASE = timedelta(minutes=10)
RETENTION_EVERY = timedelta(days=1)  # on the engine clock, once per deployment
RETENTION_CHECK_MINUTES = 10
# SQLite: how often the write-ahead log is copied back into the database file.
# No commit does it (engine/store/db.py), so no request waits for it.
CHECKPOINT_SECONDS = 1


def make_scheduler(dispatcher: Dispatcher) -> BackgroundScheduler:
    """A pass every second, plus the once-per-deployment jobs (watch, and retention once a day), and
    on SQLite the write-ahead log's checkpoint."""
    scheduler = BackgroundScheduler(timezone="UTC")
    runtime = dispatcher.rt
    holder = dispatcher.worker
    scheduler.add_job(
        _locked,
        "interval",
        minutes=1,
        args=[runtime, "watch", holder, jobs.watch],
        id="watch",
        max_instances=1,
        coalesce=True,
    )
    # Checked often and from start-up, decided on the engine clock in job_locks: a
    # process restarted more often than daily, or several of them, still purge once a day.
    scheduler.add_job(
        _daily,
        "interval",
        minutes=RETENTION_CHECK_MINUTES,
        args=[runtime, "retention", holder, jobs.retention],
        id="retention",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    # One pass at a time per process (max_instances=1); a missed tick is simply the
    # next pass, so coalesce and no misfire grace worries: the outbox keeps the work.
    scheduler.add_job(
        _safe_pass,
        "interval",
        seconds=PASS_SECONDS,
        args=[dispatcher],
        id="dispatch",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    if is_sqlite(runtime.database.engine):
        scheduler.add_job(
            _checkpoint,
            "interval",
            seconds=CHECKPOINT_SECONDS,
            args=[runtime.database],
            id="checkpoint",
            max_instances=1,
            coalesce=True,
        )
    return scheduler


def run_due_jobs(runtime: Runtime, holder: str) -> dict[str, int | None]:
    """``dispatch --once``: every periodic job due on the engine clock, under the scheduler's locks.

    The watch takes its lease as the scheduler's tick does and gives it back, as
    this process is about to exit; a lease another live process holds means that
    process watches. Retention takes its daily turn. Each job's count, or None
    when it was not this process's turn.
    """
    return {
        "watch": _locked(runtime, "watch", holder, jobs.watch, release=True),
        "retention": _daily(runtime, "retention", holder, jobs.retention),
    }


def _locked(
    runtime: Runtime, name: str, holder: str, job: Callable[[Runtime], int], *, release: bool = False
) -> int | None:
    try:
        if not locks.acquire(
            runtime.database, name, holder, JOB_LEASE, business_id=runtime.business.id, now=runtime.now()
        ):
            return None
        try:
            return job(runtime)
        finally:
            if release:
                locks.release(runtime.database, name, holder)
    except Exception:
        log.exception("periodic job %s failed", name)
        return None


def _daily(runtime: Runtime, name: str, holder: str, job: Callable[[Runtime], int]) -> int | None:
    try:
        if locks.due(
            runtime.database,
            name,
            holder,
            RETENTION_EVERY,
            business_id=runtime.business.id,
            now=runtime.now(),
        ):
            return job(runtime)
    except Exception:
        log.exception("periodic job %s failed", name)
    return None


def _safe_pass(dispatcher: Dispatcher) -> None:
    try:
        dispatcher.drain()
    except Exception:  # keep the loop alive; the lease returns claimed rows
        log.exception("dispatch pass failed")


def _checkpoint(database: Database) -> None:
    try:
        database.checkpoint()
    except Exception:
        log.exception("checkpoint failed")


def run_forever(runtime: Runtime, dispatcher: Dispatcher) -> None:
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    scheduler = make_scheduler(dispatcher)
    scheduler.start()
    print(
        f"dispatching every {PASS_SECONDS}s from {runtime.settings.database_url}; Ctrl-C stops",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
