"""Dispatcher processes for the concurrency, crash and restart tests, and a fast outbox seeder.

Run as ``python -m tests.integration.workers --record FILE [--delay S] [--batch N]
[--barrier DIR]``: a real :class:`engine.dispatch.dispatcher.Dispatcher` on the settings
of the environment (``FORVENT_DATABASE_URL``, ``FORVENT_NOW``,
``FORVENT_CLAIM_LEASE``, ``FORVENT_DISPATCH_CONCURRENCY``...), whose ``sms`` and
``email`` channels are :class:`RecordingChannel`: each send appends the
message id it was given to FILE with one unbuffered ``O_APPEND`` write, the
moment the "provider" has it, so a ``kill -9`` loses nothing already
recorded. The process runs passes until nothing due is left unclaimed
(``dispatch --once``) and prints its stats as JSON.

With ``--barrier DIR`` the worker announces itself (``DIR/ready-<pid>``) once
set up and waits for ``DIR/go``, so that several workers start their first
pass together and throughput is measured without interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.core.clock import FixedClock
from engine.dispatch.dispatcher import Dispatcher
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.settings import Settings
from engine.store.db import Database
from engine.store.tables import Base, BookingRow, CustomerRow, MessageRow

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-secret-not-for-production"
BARRIER_TIMEOUT = 60.0  # seconds of real time a worker waits for the go signal


class RecordingChannel(BaseChannel):
    """A provider stand-in: records each message id on arrival, then answers after ``delay`` seconds."""

    def __init__(self, name: str, path: Path, *, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def send(self, message: OutgoingMessage) -> SendResult:
        # One write(2) per id on an O_APPEND descriptor: atomic between threads and
        # processes, and in the kernel's hands before the (slow) answer comes back.
        os.write(self._fd, f"{message.id}\n".encode())
        if self.delay:
            time.sleep(self.delay)  # real-time: a slow provider, so the batch stays claimed
        return SendResult(provider_id=f"rec-{message.id}")

    def close(self) -> None:
        os.close(self._fd)


def read_ids(*paths: Path) -> list[str]:
    """Every id recorded in ``paths``, in order, repeats kept."""
    out: list[str] = []
    for path in paths:
        if path.exists():
            out += path.read_text().split()
    return out


def settings_for(database_url: str, **changes: Any) -> Settings:
    """Settings for a test deployment on the repository's seed playbooks, templates and business."""
    settings = Settings(
        database_url=database_url,
        playbooks_dir=REPO / "playbooks",
        templates_dir=REPO / "templates",
        business_file=REPO / "business.yaml",
        secret=SECRET,
    )
    return settings.model_copy(update=changes)


def worker_env(database_url: str, now: datetime, **extra: str) -> dict[str, str]:
    """The environment of a worker or ``forvent`` process on the test deployment."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FORVENT_", "TWILIO_", "SMTP_", "SENDGRID_"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        FORVENT_DATABASE_URL=database_url,
        FORVENT_PLAYBOOKS_DIR=str(REPO / "playbooks"),
        FORVENT_TEMPLATES_DIR=str(REPO / "templates"),
        FORVENT_BUSINESS_FILE=str(REPO / "business.yaml"),
        FORVENT_SECRET=SECRET,
        FORVENT_NOW=now.isoformat(),
    )
    env.update(extra)
    return env


def worker_command(record: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tests.integration.workers", "--record", str(record), *args]


def database_snapshot(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order: "nothing changed" compares two of these."""
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        db.dispose()


def seed_due_messages(database_url: str, *, now: datetime, bookings: int, per_booking: int) -> list[int]:
    """``bookings`` plumber visits, each with ``per_booking`` SMS confirmation rows due at ``now``.

    Bookings and customers are real rows (the dispatcher loads, checks and
    renders them as it would any booking); they are inserted in bulk because
    booking 5,000 visits one by one through the planner would dominate the test.
    Each row has its own key, so the outbox's uniqueness does not merge them.
    Returns the message ids.
    """
    rt = Runtime(settings_for(database_url), clock=FixedClock(now))
    try:
        business = rt.business.id
        start = now + timedelta(days=2)
        with rt.database.session() as session:
            BookingService(rt).ensure_business(session, now)
            session.execute(
                insert(CustomerRow),
                [
                    {
                        "business_id": business,
                        "name": f"Kunde {i}",
                        "phone": f"+47{90000000 + i}",
                        "locale": "nb",
                        "marketing_ok": False,
                        "created_at": now,
                    }
                    for i in range(bookings)
                ],
            )
            customers = list(session.scalars(select(CustomerRow.id).order_by(CustomerRow.id)))
            session.execute(
                insert(BookingRow), [_booking(business, i, c, now, start) for i, c in enumerate(customers)]
            )
            booking_ids = list(session.scalars(select(BookingRow.id).order_by(BookingRow.id)))
            session.execute(
                insert(MessageRow),
                [_message(business, b, j, now) for b in booking_ids for j in range(per_booking)],
            )
            return list(session.scalars(select(MessageRow.id).order_by(MessageRow.id)))
    finally:
        rt.close()


def _booking(business: str, i: int, customer_id: int, now: datetime, start: datetime) -> dict[str, Any]:
    return {
        "business_id": business,
        "ref": f"LOAD-{i}",
        "playbook": "plumber_visit",
        "customer_id": customer_id,
        "timezone": "Europe/Oslo",
        "locale": "nb",
        "status": "booked",
        "confirmed": False,
        "start_at": start,
        "end_at": start + timedelta(hours=1),
        "promised_start": start,
        "promised_end": start + timedelta(hours=1),
        "told_start": start,
        "schedule_version": 1,
        "facts": {"task": "Tett avløp"},
        "choices": {},
        "anchors": {"created": now.isoformat()},
        "invite_uid": f"load-{i}@forvent",
        "invite_sequence": 0,
        "invite_sent": False,
        "created_at": now,
        "updated_at": now,
    }


def _message(business: str, booking_id: int, j: int, now: datetime) -> dict[str, Any]:
    return {
        "business_id": business,
        "booking_id": booking_id,
        "key": f"confirmation:sms:load-{j}",
        "step": "confirmation",
        "template": "confirmation",
        "channel": "sms",
        "status": "planned",
        "due_at": now,
        "ready_at": now,
        "urgent": False,
        "moves_with_start": False,
        "attempts": 0,
        "schedule_version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _wait_for_go(barrier: Path) -> None:
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.005)  # real-time: waiting for the other workers to be set up


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workers", description=__doc__)
    parser.add_argument("--record", type=Path, required=True, help="file the channel appends message ids to")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each send takes")
    parser.add_argument("--batch", type=int, default=None, help="rows claimed per pass")
    parser.add_argument("--barrier", type=Path, default=None, help="directory of the start barrier")
    args = parser.parse_args(argv)
    rt = Runtime(Settings.from_env())
    channels: dict[str, BaseChannel] = {
        name: RecordingChannel(name, args.record, delay=args.delay) for name in ("sms", "email")
    }
    dispatcher = Dispatcher(rt, channels, **({"batch": args.batch} if args.batch else {}))
    try:
        if args.barrier is not None:
            _wait_for_go(args.barrier)
        started = time.time()
        stats = dispatcher.run_until_idle()
        finished = time.time()
    finally:
        dispatcher.close()
        for channel in channels.values():
            channel.close()
        rt.close()
    print(json.dumps({**vars(stats), "started": started, "finished": finished, "worker": dispatcher.worker}))


if __name__ == "__main__":
    main()
