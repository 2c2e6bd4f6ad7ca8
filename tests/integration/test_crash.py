"""A dispatcher killed with ``kill -9`` while it holds claimed messages loses none of them.

The first dispatcher (``tests.integration.workers``) talks to a slow provider:
each send is recorded on arrival and answered after 2 s of real time, with 4
sends in flight and a batch of 8 claimed. It is killed as soon as its 4
threads are all waiting on the provider. Those 4 messages reached the provider
but were never recorded as sent: they are the only possible duplicates
(at-least-once at the provider boundary). The next two dispatchers are the real
``forvent dispatch --once`` with the file channels: one while the dead worker's
lease still runs (it must leave the claimed rows alone), one with the engine
clock moved past ``FORVENT_CLAIM_LEASE`` (it reaps and sends them). Every send
carries the Forvent message id, so a provider that takes an idempotency key
can drop the repeat.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.store.db import Database
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.workers import read_ids, seed_due_messages, worker_command, worker_env

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=OSLO)
LEASE = timedelta(minutes=2)
IN_FLIGHT, BATCH, SEND_SECONDS = 4, 8, 2.0
PROGRESS_TIMEOUT = 30.0  # seconds of real time for the first sends to reach the provider


def statuses(db: Database) -> dict[int, tuple[str, str | None]]:
    with db.session() as s:
        return {r.id: (r.status, r.claimed_by) for r in s.scalars(select(MessageRow))}


def forvent_dispatch_once(database_url: str, now: datetime, outbox: Path) -> set[str]:
    """``forvent dispatch --once`` at ``now`` with the file channels; the message ids it wrote."""
    env = worker_env(
        database_url,
        now,
        FORVENT_SMS="file",
        FORVENT_EMAIL="file",
        FORVENT_OUTBOX_DIR=str(outbox),
        FORVENT_CLAIM_LEASE="2m",
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine", "dispatch", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {p.name.split(".")[0] for p in outbox.glob("*.sms.json")}


def kill_while_sending(database_url: str, record: Path) -> None:
    """Start the slow worker, ``kill -9`` it once every send thread waits on the provider."""
    env = worker_env(database_url, T0, FORVENT_CLAIM_LEASE="2m", FORVENT_DISPATCH_CONCURRENCY=str(IN_FLIGHT))
    proc = subprocess.Popen(
        worker_command(record, "--delay", str(SEND_SECONDS), "--batch", str(BATCH)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        while len(read_ids(record)) < IN_FLIGHT:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.01)  # real-time: polling for the worker's sends to reach the provider
    finally:
        proc.kill()  # SIGKILL: no cleanup, no release of its claims
        _, err = proc.communicate()
    assert proc.returncode == -9, err


def test_a_killed_dispatchers_claims_expire_and_are_sent_by_another(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    db.upgrade()
    ids = seed_due_messages(database_url, now=T0, bookings=5, per_booking=4)
    record = tmp_path / "killed-worker.txt"
    kill_while_sending(database_url, record)

    before = statuses(db)
    reached_provider = read_ids(record)
    claimed = {i for i, (status, _) in before.items() if status == "sending"}
    assert len(reached_provider) == IN_FLIGHT
    assert len(claimed) == BATCH and {s for s, _ in before.values()} == {"sending", "planned"}
    assert len({by for i, (_, by) in before.items() if i in claimed}) == 1  # all the dead worker's

    # Within the lease: the other rows go, the dead worker's claims are left alone.
    early = forvent_dispatch_once(database_url, T0 + timedelta(minutes=1), tmp_path / "outbox-early")
    assert early == {str(i) for i in ids if i not in claimed}
    assert {i for i, (s, _) in statuses(db).items() if s == "sending"} == claimed

    # Past the lease: the claims expired and are sent now.
    late = forvent_dispatch_once(database_url, T0 + LEASE + timedelta(seconds=1), tmp_path / "outbox-late")
    assert late == {str(i) for i in claimed}

    sends = reached_provider + sorted(early) + sorted(late)
    missing = {str(i) for i in ids} - set(sends)
    repeated = {i for i, n in Counter(sends).items() if n > 1}
    print(
        f"\ncrash ({db.engine.dialect.name}): {len(ids)} messages, {BATCH} claimed by the killed worker, "
        f"{len(reached_provider)} in flight at the kill; missing {len(missing)}, duplicates {len(repeated)}"
    )
    assert not missing
    assert repeated <= set(reached_provider)  # only sends that reached the provider may repeat...
    assert len(repeated) <= IN_FLIGHT  # ...at most the sends in flight
    assert set(sends) == {str(i) for i in ids}  # every send carried its message id: the idempotency key
    assert {s for s, _ in statuses(db).values()} == {"sent"}
    with db.session() as s:
        expired = s.scalars(
            select(HistoryRow.message_id).where(
                HistoryRow.kind == "message:planned", HistoryRow.detail.like("%claim expired%")
            )
        ).all()
        assert set(expired) == claimed  # the reaping is on the record
    db.dispose()
