"""APScheduler drives passes over the outbox; it never holds one job per message."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from engine.dispatcher import Dispatcher
from engine.runtime import Runtime

log = logging.getLogger("forvent.scheduler")
PASS_SECONDS = 1


def make_scheduler(dispatcher: Dispatcher) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
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
    return scheduler


def _safe_pass(dispatcher: Dispatcher) -> None:
    try:
        while dispatcher.run_pass().claimed:
            pass
    except Exception:  # keep the loop alive; the lease returns claimed rows
        log.exception("dispatch pass failed")


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
