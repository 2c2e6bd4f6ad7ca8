"""Every user action is one transaction on a locked booking; a claimed row is settled only by its owner.

The engine is real (SQLite file, seed playbooks, memory channels, fixed clock).
Races between processes are in ``test_races.py``; here the interleavings are
forced inside one process so that each one happens every time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.channels.base import OutgoingMessage, SendResult
from engine.channels.memory import MemoryChannel
from engine.core.values import MessageStatus
from engine.exceptions import UserInputError
from engine.services.inbound import Inbound
from engine.store import outbox
from engine.store.tables import BookingRow, HistoryRow, MessageRow
from tests.integration.twilio_inbound import KARI, inbound_sms, trusting_twilio, webhook_client
from tests.integration.world import World

S = MessageStatus


@pytest.fixture
def world(world: World) -> World:
    return trusting_twilio(world)


def signed_reply(world: World, body: str, sid: str, sender: str = KARI) -> int:
    return inbound_sms(webhook_client(world), body, sender=sender, sid=sid).status_code


# --- the outbox: only the claimer settles a claim ----------------------------------------


def test_release_refuses_a_row_whose_claim_another_worker_took_over(world: World) -> None:
    world.book()
    lease = world.rt.settings.claim_lease
    now = world.clock.now()
    with world.rt.database.session() as s:
        [first, *_] = outbox.claim_due(s, now=now, worker="a", lease=lease, limit=1, skip_locked=False)
        row_id = first.id
    later = now + lease + timedelta(seconds=1)  # a's lease ran out; b reaps and claims it again
    with world.rt.database.session() as s:
        assert outbox.reap_expired_claims(s, now=later) == 1
        again = outbox.claim_due(s, now=later, worker="b", lease=lease, limit=100, skip_locked=False)
        assert row_id in [r.id for r in again]
    with world.rt.database.session() as s:
        row = s.get(MessageRow, row_id)
        assert row is not None
        with pytest.raises(outbox.TransitionError, match="claimed by a"):
            outbox.release(s, row, S.SENT, worker="a", now=later, sent_at=later)
    with world.rt.database.session() as s:
        row = s.get(MessageRow, row_id)
        assert row is not None and (row.status, row.claimed_by) == ("sending", "b")


class StealingChannel(MemoryChannel):
    """Sends like the memory channel; on one message, another worker takes its claim meanwhile
    (what happens when a send outlives the lease and another process re-claims the row)."""

    def __init__(self, world: World, victim_step: str) -> None:
        super().__init__("sms")
        self.world, self.victim_step = world, victim_step

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.step == self.victim_step:
            with self.world.rt.database.session() as s:
                s.execute(
                    update(MessageRow).where(MessageRow.id == int(message.id)).values(claimed_by="other")
                )
        return super().send(message)


def test_a_lost_claim_leaves_the_rest_of_the_batch_recorded(world: World) -> None:
    world.book()
    world.dispatcher.channels["sms"] = StealingChannel(world, "confirmation")
    stats = world.dispatcher.run_pass()
    assert stats.claimed >= 2
    confirmation = world.row("confirmation", channel="sms")
    assert (confirmation.status, confirmation.claimed_by) == ("sending", "other")  # left to its owner
    others = [r for r in world.rows() if r.id != confirmation.id and r.status != "planned"]
    assert others and all(r.status == "sent" for r in others)


# --- times a person types --------------------------------------------------------------


def test_reschedule_into_the_past_is_refused_and_changes_nothing(world: World) -> None:
    world.book()
    before = [(r.id, r.status, r.due_at) for r in world.rows()]
    with pytest.raises(UserInputError, match=r"^start: more than 1 h in the past") as caught:
        world.service.reschedule("C-1", start="2026-11-20T10:00")
    assert caught.value.field == "start"
    assert [(r.id, r.status, r.due_at) for r in world.rows()] == before


def test_event_times_in_the_future_or_long_ago_are_refused(world: World) -> None:
    world.book()
    world.at(2026, 11, 26, 10, 30)
    with pytest.raises(UserInputError, match=r"^at: 2026-11-27T10:00:00\+01:00 is in the future") as caught:
        world.service.start("C-1", at="2026-11-27T10:00")
    assert caught.value.field == "at"
    with pytest.raises(UserInputError, match=r"^at: 2024-11-26T10:00:00\+01:00 is more than 30 days ago"):
        world.service.start("C-1", at="2024-11-26T10:00")
    world.service.start("C-1", at="2026-11-26T10:05")  # earlier today: what --at is for
    with world.rt.database.session() as s:
        event = s.scalar(select(HistoryRow).where(HistoryRow.kind == "event:job.started"))
        assert (
            event is not None and event.at.astimezone(world.clock.now().tzinfo).strftime("%H:%M") == "10:05"
        )


# --- inbound replies ---------------------------------------------------------------------


def test_a_reply_after_a_cancellation_is_stored_and_staff_are_alerted(world: World) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    world.service.cancel("C-1", reason="kunden ringte")
    world.dispatcher.run_until_idle()
    assert world.sms.sent[-1].step == "cancelled"  # the last SMS that number got

    assert signed_reply(world, "JA, jeg kommer likevel!", sid="SM-after-cancel") == 200

    with world.rt.database.session() as s:
        booking = s.scalars(select(BookingRow)).one()
        assert booking.status == "cancelled" and not booking.confirmed
        replies = s.scalars(select(HistoryRow).where(HistoryRow.kind == "reply")).all()
        assert [r.detail for r in replies] == ["JA, jeg kommer likevel!"]
    alert = world.row("staff_alert")
    world.dispatcher.run_until_idle()
    [sent] = [m for m in world.sms.sent if m.step == "staff_alert"]
    assert sent.id == str(alert.id)
    assert sent.body == (
        "Forvent: svar fra Kari Nordmann (C-1), som er cancelled: «JA, jeg kommer likevel!». Ta kontakt."
    )


def test_a_reply_that_fails_midway_leaves_nothing_so_the_retry_is_processed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    inbound = Inbound(world.rt)
    original = Inbound._acknowledge

    def crash(*args: object, **kwargs: object) -> None:
        # A fault we cannot provoke for real (the process dying mid-request): raise instead.
        raise RuntimeError("process died")

    monkeypatch.setattr(Inbound, "_acknowledge", crash)
    with pytest.raises(RuntimeError):
        inbound.reply("+4791234567", "JA", sid="SM-retried")
    monkeypatch.setattr(Inbound, "_acknowledge", original)

    outcome = inbound.reply("+4791234567", "JA", sid="SM-retried")  # Twilio retries the webhook
    assert (outcome.action, outcome.booking_ref) == ("confirm", "C-1")
    assert inbound.reply("+4791234567", "JA", sid="SM-retried").action == "duplicate"
    with world.rt.database.session() as s:
        booking = s.scalars(select(BookingRow)).one()
        assert booking.confirmed and booking.status == "confirmed"
        assert s.query(HistoryRow).filter_by(kind="reply").count() == 1
        assert s.query(HistoryRow).filter_by(kind="event:booking.confirmed").count() == 1
