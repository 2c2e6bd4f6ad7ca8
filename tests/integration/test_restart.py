"""Stopping and starting dispatchers resends nothing and loses nothing; re-migrating keeps the data.

Through the real ``forvent`` command (SQLite file and PostgreSQL alike), with
the file channels: three plumber visits are booked, then dispatched across a
day and a half of engine time by a series of dispatchers: ``dispatch --once``
runs, restarted at the same instant, and a long-running ``forvent dispatch``
stopped with SIGTERM. The history must show each planned message sent
exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text

from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.services.on_my_way import on_my_way
from engine.store.db import Database, alembic_config
from engine.store.tables import HistoryRow, MessageRow
from tests.conftest import Project
from tests.integration.workers import database_snapshot, settings_for, worker_env

NOW = "2026-11-23T12:00:00+01:00"  # Monday noon
DAY_BEFORE = "2026-11-24T17:00:30+01:00"  # the reminders are due at 17:00
ON_MY_WAY = "2026-11-25T09:15:30+01:00"  # the plumbers set off for the 10:00 visits
REFS = ("P-1", "P-2", "P-3")
STOP_TIMEOUT = 30.0  # seconds of real time


@pytest.fixture
def deployment(database_url: str, tmp_path: Path) -> Project:
    env = worker_env(database_url, datetime.fromisoformat(NOW))
    del env["FORVENT_NOW"]
    env["FORVENT_OUTBOX_DIR"] = str(tmp_path / "outbox")
    db = Database(database_url)
    db.upgrade()
    db.dispose()
    return Project(root=tmp_path, env=env)


def book_three(database_url: str) -> list[int]:
    """Three plumber visits booked at ``NOW`` (in-process: booking is not what is tested here).

    Returns the ids of the messages they planned.
    """
    rt = Runtime(settings_for(database_url), clock=FixedClock(datetime.fromisoformat(NOW)))
    service = BookingService(rt)
    for i, ref in enumerate(REFS):
        service.book(
            BookingInput(
                ref=ref,
                playbook="plumber_visit",
                name=f"Kari Nordmann {i}",
                phone=f"+479123456{i}",
                email=f"kari{i}@example.com",
                start="2026-11-25T10:00",
                facts={"task": "Tett avløp"},
            )
        )
    with rt.database.session() as s:
        planned = s.execute(
            select(MessageRow.id, MessageRow.step, MessageRow.channel).where(MessageRow.status == "planned")
        ).all()
    rt.close()
    assert sorted({(step, channel) for _, step, channel in planned}) == [
        ("confirmation", "email"),
        ("confirmation", "sms"),
        ("reminder_day_before", "sms"),
    ]
    return sorted(i for i, _, _ in planned)


def on_my_way_three(database_url: str, now: str) -> list[int]:
    """The plumbers set off for the three visits at ``now``: the ids of the "on my way" SMS planned."""
    rt = Runtime(settings_for(database_url), clock=FixedClock(datetime.fromisoformat(now)))
    service = BookingService(rt)
    for ref in REFS:
        on_my_way(service, ref)
    with rt.database.session() as s:
        planned = s.scalars(
            select(MessageRow.id).where(MessageRow.step == "on_my_way", MessageRow.status == "planned")
        ).all()
    rt.close()
    return sorted(planned)


def dispatch_once(project: Project, now: str) -> dict[str, Any]:
    stats: dict[str, Any] = project.json("dispatch", "--once", now=now)
    return stats


def sent_rows(database_url: str) -> dict[int, str]:
    db = Database(database_url)
    try:
        with db.session() as s:
            return dict(
                s.execute(select(MessageRow.id, MessageRow.step).where(MessageRow.status == "sent")).all()
            )
    finally:
        db.dispose()


def run_dispatcher_until(project: Project, now: str, database_url: str, sent: int) -> None:
    """``forvent dispatch`` (a pass a second) until ``sent`` rows are sent, then SIGTERM."""
    env = {**project.env, "FORVENT_NOW": now}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "dispatch"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + STOP_TIMEOUT
        while len(sent_rows(database_url)) < sent:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the dispatcher sent nothing"
            time.sleep(0.1)  # real-time: polling the long-running dispatcher's progress
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=STOP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err


def test_stopping_and_starting_dispatchers_resends_nothing_and_loses_nothing(
    deployment: Project, database_url: str
) -> None:
    project = deployment
    planned = book_three(database_url)
    assert dispatch_once(project, NOW)["sent"] == 6  # confirmations: email and SMS each
    after_first = database_snapshot(database_url)
    assert dispatch_once(project, NOW)["sent"] == 0  # a restart at the same instant
    assert database_snapshot(database_url) == after_first

    run_dispatcher_until(project, DAY_BEFORE, database_url, sent=9)  # stopped once the reminders went
    assert dispatch_once(project, DAY_BEFORE)["sent"] == 0  # started again: nothing to resend
    planned += on_my_way_three(database_url, ON_MY_WAY)
    assert dispatch_once(project, ON_MY_WAY)["sent"] == 3

    final = {m["id"]: m["status"] for m in database_snapshot(database_url)["messages"]}
    assert {final[i] for i in planned} == {"sent"}  # no planned message lost
    assert set(final.values()) <= {"sent", "skipped"}
    db = Database(database_url)
    with db.session() as s:
        sends = dict(
            s.execute(
                select(HistoryRow.message_id, func.count())
                .where(HistoryRow.kind == "message:sent")
                .group_by(HistoryRow.message_id)
            ).all()
        )
    db.dispose()
    assert sends == dict.fromkeys(planned, 1)  # each exactly once
    outbox = project.root / "outbox"
    written = {p.name.split(".")[0] for p in [*outbox.glob("*.sms.json"), *outbox.glob("*.eml")]}
    assert written == {str(i) for i in planned}


def test_upgrading_an_existing_database_keeps_its_data(deployment: Project, database_url: str) -> None:
    """``forvent init-db`` and ``Database.upgrade()`` on a database in use change no row.

    An older schema upgraded to the newest is the next test's; this one repeats
    the upgrade on a database already at head.
    """
    project = deployment
    book_three(database_url)
    dispatch_once(project, NOW)
    rt = Runtime(settings_for(database_url), clock=FixedClock(datetime.fromisoformat(DAY_BEFORE)))
    BookingService(rt).delay("P-2", minutes=20, reason="traffic")
    rt.close()
    before = database_snapshot(database_url)
    # Three bookings' confirmations (email, SMS) and reminders, P-2's delay notice and invite update.
    assert len(before["messages"]) >= 11 and len(before["history"]) >= 20

    project.run("init-db")
    db = Database(database_url)
    db.upgrade()
    db.upgrade()
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    db.dispose()

    assert version == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert database_snapshot(database_url) == before
    due = datetime.fromisoformat(DAY_BEFORE)
    pending = [m for m in before["messages"] if m["status"] == "planned" and m["ready_at"] <= due]
    assert len(pending) >= 3  # the reminders, and the delay notice
    assert dispatch_once(project, DAY_BEFORE)["sent"] == len(pending)  # the engine carries on from it


KEPT_TABLES = ("businesses", "customers", "bookings", "findings", "messages", "history")


def test_a_database_written_at_the_first_revision_upgrades_and_carries_on(
    database_url: str, tmp_path: Path
) -> None:
    """A deployment still at revision 0001, with bookings sent and pending, takes ``init-db``:
    every row it had is kept as it was and the engine carries on from it.

    Today's code cannot write a 0001 schema, so the deployment is made the way a rollback
    leaves one: written at head, then taken down to 0001 by the migrations' own downgrades.
    """
    from alembic import command

    env = worker_env(database_url, datetime.fromisoformat(NOW))
    del env["FORVENT_NOW"]
    env["FORVENT_OUTBOX_DIR"] = str(tmp_path / "outbox")
    project = Project(root=tmp_path, env=env)
    db = Database(database_url)
    db.upgrade()
    db.dispose()
    book_three(database_url)
    dispatch_once(project, NOW)
    # A plain connection, as `alembic downgrade` opens one: SQLite's batch mode rebuilds tables,
    # which the engine's own connections (foreign keys on) would refuse.
    plain = create_engine(database_url)
    config = alembic_config(database_url)
    with plain.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    plain.dispose()
    before = snapshot_of(database_url, KEPT_TABLES)
    assert "told_end" not in before["bookings"][0] and "actor" not in before["history"][0]
    # Three bookings' confirmations (email, SMS) and reminders.
    assert len(before["messages"]) >= 9 and len(before["history"]) >= 20

    project.run("init-db")

    after = snapshot_of(database_url, KEPT_TABLES)
    # The columns later revisions add are new and empty; every column 0001 had is as it was.
    assert {
        name: [{column: row[column] for column in kept} for row, kept in zip(rows, before[name], strict=True)]
        for name, rows in after.items()
    } == before
    assert {row["told_end"] for row in after["bookings"]} == {None}
    db = Database(database_url)
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    db.dispose()
    assert version == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    due = datetime.fromisoformat(DAY_BEFORE).astimezone(UTC).replace(tzinfo=None)  # stored naive UTC
    pending = [m for m in before["messages"] if m["status"] == "planned" and m["ready_at"] <= due]
    assert len(pending) >= 3
    assert dispatch_once(project, DAY_BEFORE)["sent"] == len(pending)


def snapshot_of(database_url: str, tables: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """The named tables' rows in primary-key order, with the columns the database has now
    (read from the database itself, since the models describe the newest revision)."""
    from sqlalchemy import MetaData

    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            present = MetaData()
            present.reflect(connection, only=list(tables))
            return {
                name: [
                    dict(row._mapping)
                    for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for name, table in present.tables.items()
            }
    finally:
        db.dispose()
