"""``outbox.enqueue`` writes by executemany: the same rows however the database returns ids,
and a row claimed between the read and the move is left where the dispatcher has it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.store import outbox
from engine.store.db import Database
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.test_outbox import T0, enqueue, plan, seed_booking


def test_without_executemany_returning_the_ids_are_read_back(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite before 3.35 cannot return ids from an executemany: one SELECT by key instead."""
    monkeypatch.setattr(database.engine.dialect, "insert_executemany_returning", False)
    booking = seed_booking(database)
    made = enqueue(database, booking, plan("a:sms:v1", T0), plan("b:sms:v1", T0 + timedelta(hours=1)))
    with database.session() as s:
        rows = {r.id: r.key for r in s.scalars(select(MessageRow).where(MessageRow.booking_id == booking))}
        lines = s.execute(select(HistoryRow.message_id, HistoryRow.kind).order_by(HistoryRow.id)).all()
    assert {m.id: m.plan.key for m in made} == rows
    assert [(m, k) for m, k in lines] == [(m.id, "message:planned") for m in made]


def test_a_row_claimed_before_its_move_stays_claimed_and_the_others_move(database: Database) -> None:
    booking = seed_booking(database)
    made = enqueue(
        database,
        booking,
        plan("a:sms:v1", T0 + timedelta(hours=1)),
        plan("b:sms:v1", T0 + timedelta(hours=2)),
    )
    later = timedelta(minutes=15)
    with database.session() as s:
        held = list(s.scalars(select(MessageRow).where(MessageRow.booking_id == booking)))  # read as planned
        # A dispatcher claims "a" now; this session's copy still says planned.
        s.connection().execute(
            update(MessageRow).where(MessageRow.key == "a:sms:v1").values(status="sending")
        )
        moved = outbox.enqueue(
            s,
            business_id="b",
            booking_id=booking,
            planned=[
                plan("a:sms:v1", T0 + timedelta(hours=1) + later),
                plan("b:sms:v1", T0 + timedelta(hours=2) + later),
            ],
            now=T0,
            schedule_version=1,
            tz_name="Europe/Oslo",
        )
        assert [m.id for m in moved] == [made[1].id]
        assert [r.due_at for r in held] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2) + later]
    with database.session() as s:
        rows = list(
            s.scalars(select(MessageRow).where(MessageRow.booking_id == booking).order_by(MessageRow.id))
        )
        kinds = [
            (h.message_id, h.kind, h.data.get("moved_from"))
            for h in s.scalars(select(HistoryRow).order_by(HistoryRow.id))
        ]
    assert [(r.status, r.due_at) for r in rows] == [
        ("sending", T0 + timedelta(hours=1)),
        ("planned", T0 + timedelta(hours=2) + later),
    ]
    assert kinds[-1] == (made[1].id, "message:planned", (T0 + timedelta(hours=2)).isoformat())
    assert len(kinds) == 3
