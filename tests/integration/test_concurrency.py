"""Several dispatcher processes on one database: every message is sent exactly once.

Real processes (``tests.integration.workers``) run the real Dispatcher on the
seed playbook ``plumber_visit``: each message is a real booking's
``confirmation`` SMS, checked and rendered at send time like any other. The
channel appends each message id it is handed to a per-process file, so
duplicates and losses are counted from what reached the "provider", not from
what the database says. The engine clock is fixed (``FORVENT_NOW``), so no
lease can expire during the run: any duplicate would be a claiming bug.

Throughput is printed (``pytest -s``); it is measured from the moment all
workers, already started and connected, are released together.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from engine.store import outbox
from engine.store.db import Database
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.workers import read_ids, seed_due_messages, worker_command, worker_env

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
START_TIMEOUT = 60.0  # seconds of real time for the workers to start and connect
RUN_TIMEOUT = 120.0


@dataclass
class Run:
    sends: list[str]
    stats: list[dict[str, Any]]
    seconds: float

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in Counter(self.sends).values() if n > 1)


def run_workers(database_url: str, tmp_path: Path, workers: int, *args: str) -> Run:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    records = [tmp_path / f"sent-{i}.txt" for i in range(workers)]
    env = worker_env(database_url, T0)
    procs = [
        subprocess.Popen(
            worker_command(record, "--barrier", str(barrier), *args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for record in records
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while len(list(barrier.glob("ready-*"))) < workers:
            assert all(p.poll() is None for p in procs), "a worker died while starting"
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.02)  # real-time: polling for the workers to finish starting up
        (barrier / "go").touch()
        outputs = [p.communicate(timeout=RUN_TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    stats = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    seconds = max(s["finished"] for s in stats) - min(s["started"] for s in stats)
    return Run(sends=read_ids(*records), stats=stats, seconds=seconds)


def create_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade()
    finally:
        db.dispose()


def check_exactly_once(database_url: str, ids: list[int], run: Run, label: str) -> None:
    expected = {str(i) for i in ids}
    missing = expected - set(run.sends)
    unexpected = set(run.sends) - expected
    rate = len(ids) / run.seconds
    per_worker = [s["sent"] for s in run.stats]
    print(
        f"\n{label}: {len(ids)} messages in {run.seconds:.2f} s = {rate:,.0f} msg/s; "
        f"sent per worker {per_worker}; duplicates {run.duplicates}, missing {len(missing)}"
    )
    assert run.duplicates == 0
    assert not missing and not unexpected
    assert sum(per_worker) == len(ids)
    assert all(n > 0 for n in per_worker), "the work was not shared: the test proves nothing"
    db = Database(database_url)
    try:
        with db.session() as s:
            statuses = dict(
                s.execute(select(MessageRow.status, func.count()).group_by(MessageRow.status)).all()
            )
            assert statuses == {"sent": len(ids)}
            sent_twice = s.scalars(
                select(HistoryRow.message_id)
                .where(HistoryRow.kind == "message:sent")
                .group_by(HistoryRow.message_id)
                .having(func.count() > 1)
            ).all()
            assert sent_twice == []
    finally:
        db.dispose()


@pytest.mark.pg
@pytest.mark.slow
def test_four_processes_on_postgresql_send_20000_messages_exactly_once(pg_url: str, tmp_path: Path) -> None:
    create_schema(pg_url)
    ids = seed_due_messages(pg_url, now=T0, bookings=5_000, per_booking=4)
    assert len(ids) == 20_000
    run = run_workers(pg_url, tmp_path, workers=4)
    check_exactly_once(pg_url, ids, run, "PostgreSQL, 4 processes")


def test_two_processes_on_one_sqlite_file_send_3000_messages_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'forvent.db'}"
    create_schema(url)
    ids = seed_due_messages(url, now=T0, bookings=1_000, per_booking=3)
    # SQLite has one writer at a time and its busy handler is not fair: with no
    # provider latency the process holding the lock re-takes it between its
    # transactions and the other one can wait out the whole run. A provider
    # answering in 20 ms (real ones take 100-300 ms) and batches of 50 leave
    # the lock free while each batch is on the wire, so both processes claim.
    run = run_workers(url, tmp_path, 2, "--batch", "50", "--delay", "0.02")
    check_exactly_once(url, ids, run, "SQLite, 2 processes, 20 ms provider")


@pytest.mark.pg
def test_two_reapers_never_hand_out_one_expired_claim_twice(pg_url: str) -> None:
    """A reaper that read an expired claim must not reset it after another worker re-claimed it.

    Dispatcher B reads the expired row; before B writes, dispatcher A reaps it,
    claims it again and commits (a fresh lease). B's write must then not put
    the row back to ``planned``, or B would claim, and send, a message that A
    is sending. The interleaving is forced with a hook after B's read.
    """
    a, b = Database(pg_url), Database(pg_url)
    a.upgrade()
    [message_id] = seed_due_messages(pg_url, now=T0, bookings=1, per_booking=1)
    lease = timedelta(minutes=5)
    with a.session() as s:
        [row] = outbox.claim_due(s, now=T0, worker="dead", lease=lease, limit=10, skip_locked=True)
    later = T0 + lease + timedelta(seconds=1)
    claims: dict[str, list[int]] = {}

    def claim(db: Database, worker: str) -> None:
        with db.session() as s:
            outbox.reap_expired_claims(s, now=later)
            rows = outbox.claim_due(s, now=later, worker=worker, lease=lease, limit=10, skip_locked=True)
            claims[worker] = [r.id for r in rows]

    def a_runs_in_between(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "claimed_until <" in statement and "a" not in claims:
            claim(a, "a")

    event.listen(b.engine, "after_cursor_execute", a_runs_in_between)
    try:
        claim(b, "b")
    finally:
        event.remove(b.engine, "after_cursor_execute", a_runs_in_between)
        a.dispose()
        b.dispose()
    assert "a" in claims, "the hook did not run: the test proves nothing"
    assert sorted(claims["a"] + claims["b"]) == [message_id] == [row.id]
