"""The outbox contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.core.values import MessageStatus, PlannedMessage
from engine.store import outbox
from engine.store.db import Database
from engine.store.tables import BookingRow, BusinessRow, CustomerRow, HistoryRow, MessageRow

S = MessageStatus
T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def seed_booking(db: Database) -> int:
    with db.session() as s:
        s.add(BusinessRow(id="b", business_id="b", name="Biz", created_at=T0))
        s.flush()
        customer = CustomerRow(business_id="b", name="Kari", phone="+4791234567", created_at=T0)
        s.add(customer)
        s.flush()
        booking = BookingRow(
            business_id="b",
            ref="R1",
            playbook="p",
            customer_id=customer.id,
            timezone="Europe/Oslo",
            locale="nb",
            status="booked",
            start_at=T0 + timedelta(days=1),
            end_at=T0 + timedelta(days=1, hours=1),
            promised_start=T0 + timedelta(days=1),
            promised_end=T0 + timedelta(days=1, hours=1),
            facts={},
            choices={},
            anchors={},
            invite_uid="u@x",
            created_at=T0,
            updated_at=T0,
        )
        s.add(booking)
        s.flush()
        return booking.id


def plan(key: str, due: datetime) -> PlannedMessage:
    return PlannedMessage(
        key=key,
        step=key.split(":")[0],
        channel="sms",
        status=S.PLANNED,
        due_at=due,
        moves_with_start=True,
        template="t",
    )


def enqueue(db: Database, booking_id: int, *plans: PlannedMessage) -> list[outbox.Enqueued]:
    with db.session() as s:
        return outbox.enqueue(
            s,
            business_id="b",
            booking_id=booking_id,
            planned=plans,
            now=T0,
            schedule_version=1,
            tz_name="Europe/Oslo",
        )


def claim(db: Database, now: datetime, worker: str = "w1", limit: int = 10) -> list[int]:
    with db.session() as s:
        rows = outbox.claim_due(
            s,
            now=now,
            worker=worker,
            lease=LEASE,
            limit=limit,
            skip_locked=db.engine.dialect.name != "sqlite",
        )
        return [r.id for r in rows]


def test_enqueue_is_idempotent_and_moves_pending_rows_in_place(database: Database) -> None:
    booking = seed_booking(database)
    first = enqueue(database, booking, plan("a:sms:v1", T0 + timedelta(hours=1)))
    assert enqueue(database, booking, plan("a:sms:v1", T0 + timedelta(hours=1))) == []
    moved = enqueue(database, booking, plan("a:sms:v1", T0 + timedelta(hours=4)))
    assert [m.id for m in moved] == [first[0].id]
    with database.session() as s:
        row = s.get(MessageRow, first[0].id)
        assert row is not None and row.due_at == T0 + timedelta(hours=4)
        kinds = [h.kind for h in s.query(HistoryRow).filter_by(message_id=row.id).order_by(HistoryRow.id)]
    assert kinds == ["message:planned", "message:planned"]


def test_claim_takes_due_rows_earliest_first_and_never_twice(database: Database) -> None:
    booking = seed_booking(database)
    enqueue(
        database,
        booking,
        plan("late:sms:v1", T0 + timedelta(minutes=30)),
        plan("early:sms:v1", T0 + timedelta(minutes=10)),
        plan("future:sms:v1", T0 + timedelta(days=2)),
    )
    now = T0 + timedelta(hours=1)
    ids = claim(database, now)
    with database.session() as s:
        steps = [s.get(MessageRow, i).step for i in ids]  # type: ignore[union-attr]
    assert steps == ["early", "late"]
    assert claim(database, now, worker="w2") == []


def test_an_expired_claim_returns_to_planned_and_is_claimable_again(database: Database) -> None:
    booking = seed_booking(database)
    enqueue(database, booking, plan("a:sms:v1", T0))
    [message_id] = claim(database, T0, worker="crashed")
    later = T0 + LEASE + timedelta(seconds=1)
    with database.session() as s:
        assert outbox.reap_expired_claims(s, now=later) == 1
    assert claim(database, later, worker="w2") == [message_id]
    with database.session() as s:
        row = s.get(MessageRow, message_id)
        assert row is not None and row.claimed_by == "w2" and row.attempts == 1


def test_transitions_are_compare_and_set(database: Database) -> None:
    booking = seed_booking(database)
    enqueue(database, booking, plan("a:sms:v1", T0))
    [message_id] = claim(database, T0)
    with database.session() as s:
        row = s.get(MessageRow, message_id)
        assert row is not None
        outbox.transition(s, row, S.SENT, now=T0, expect=[S.SENDING])
    with database.session() as s, pytest.raises(outbox.TransitionError):
        row = s.get(MessageRow, message_id)
        assert row is not None
        outbox.transition(s, row, S.CANCELLED, now=T0, reason="booking_cancelled")


def test_cancel_pending_only_touches_pending_rows(database: Database) -> None:
    booking = seed_booking(database)
    enqueue(database, booking, plan("a:sms:v1", T0), plan("b:sms:v1", T0 + timedelta(days=1)))
    claim(database, T0)  # a is now sending
    with database.session() as s:
        cancelled = outbox.cancel_pending(s, booking_id=booking, reason="booking_cancelled", now=T0)
        assert [r.step for r in cancelled] == ["b"]
        assert cancelled[0].status == "cancelled" and cancelled[0].reason == "booking_cancelled"
