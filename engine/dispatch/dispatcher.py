"""The dispatch pass: claim due messages, prepare, send, record.

One pass claims a batch under a lease, prepares each message in one
transaction (the send-time checks of ``checks`` against the booking as it is
now, then ``compose`` with signed links), sends the batch concurrently (bounded by
``FORVENT_DISPATCH_CONCURRENCY``), and records every outcome in a second
transaction. Nothing is held in a scheduler: the outbox table is the
schedule, so a burst of any size is drained pass by pass, never dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.core import timing
from engine.core.retry import GiveUp, RetryPolicy
from engine.core.values import Booking, MessageStatus
from engine.dispatch.checks import Cancel, Requeue, Send, Skip, check
from engine.dispatch.compose import Composer
from engine.dispatch.drafts import Draft, read_draft
from engine.dispatch.fallback import plan_fallback
from engine.exceptions import ChannelError, TemplateRenderError, TransientChannelError
from engine.logs import fields
from engine.runtime import Runtime
from engine.services.alerts import STAFF_ALERT, URGENT_SKIP_REASONS, alert_undelivered
from engine.services.bookings import BookingService
from engine.store import outbox
from engine.store.tables import BookingRow, MessageRow

S = MessageStatus
log = logging.getLogger("forvent.dispatch")
BATCH = 200


@dataclass
class PassStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    requeued: int = 0

    def add(self, other: PassStats) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    """One composed message on its way: the send fills in ``result`` or ``error``."""

    message_id: int
    outgoing: OutgoingMessage
    result: SendResult | None = None
    error: ChannelError | None = None

    @property
    def carries_invite(self) -> bool:
        return self.outgoing.ics is not None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        channels: Mapping[str, BaseChannel],
        *,
        worker: str | None = None,
        batch: int = BATCH,
        rng: random.Random | None = None,
    ) -> None:
        self.rt = runtime
        self.channels = channels
        self.worker = worker or default_worker_id()
        self.batch = batch
        self.service = BookingService(runtime)
        self.composer = Composer(runtime)
        self.policy = RetryPolicy(max_attempts=runtime.settings.max_attempts)
        self.rng = rng or random.Random()
        self._values: dict[int, Booking] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=runtime.settings.dispatch_concurrency, thread_name_prefix="forvent-send"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- passes --------------------------------------------------------------------

    def run_until_idle(self, max_passes: int = 100_000) -> PassStats:
        """``dispatch --once``: passes until nothing due on the engine clock is left unclaimed."""
        total = PassStats()
        for _ in range(max_passes):
            stats = self.run_pass()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run_pass(self) -> PassStats:
        """Claim one batch of due messages and deal with each."""
        now = self.rt.now()
        stats = PassStats()
        ids = self._claim(now)
        stats.claimed = len(ids)
        if ids:
            prepared = self._prepare_and_send(ids, now, stats)
            self._record_batch(prepared, now, stats)
        return stats

    def _claim(self, now: datetime) -> list[int]:
        db = self.rt.database
        with db.session() as session:
            outbox.reap_expired_claims(session, now=now)
            rows = outbox.claim_due(
                session,
                now=now,
                worker=self.worker,
                lease=self.rt.settings.claim_lease,
                limit=self.batch,
                skip_locked=db.engine.dialect.name != "sqlite",
            )
            return [row.id for row in rows]

    def _prepare_and_send(self, ids: list[int], now: datetime, stats: PassStats) -> list[_Prepared]:
        """Prepare the batch in one transaction; returns once every send has finished."""
        prepared: list[_Prepared] = []
        sends: list[Future[None]] = []
        with self.rt.database.session() as session:
            _held = self._load(session, ids)  # kept alive: see _load
            self._values = {}
            for message_id in ids:
                item = self._prepare_safely(session, message_id, now, stats)
                if item is not None:
                    prepared.append(item)
                    # Send while the rest of the batch renders: the provider's latency
                    # overlaps the CPU work instead of following it.
                    sends.append(self._pool.submit(self._send, item))
        for future in sends:
            future.result()
        return prepared

    def _record_batch(self, prepared: list[_Prepared], now: datetime, stats: PassStats) -> None:
        """Every outcome in one transaction that locks the bookings first (see _load)."""
        with self.rt.database.session() as session:
            _held = self._load(session, [item.message_id for item in prepared], lock_bookings=True)
            done = self._record_sent(
                session, [item for item in prepared if item.result is not None], now, stats
            )
            for item in prepared:
                if item.message_id not in done:
                    self._record_one(session, item, now, stats)

    # --- load ----------------------------------------------------------------------

    @staticmethod
    def _load(session: Session, ids: list[int], *, lock_bookings: bool = False) -> list[object]:
        """One query puts the batch's rows and bookings in the session; get() then finds them there.

        The caller keeps the returned list for as long as it uses the session: the
        identity map holds objects weakly, so unreferenced ones would be dropped and
        every get() would query again (7 statements a message instead of 2).

        ``lock_bookings`` takes the bookings' row locks, in id order, before any
        message row is written: the order every user action takes them in, so a
        pass recording its sends and a staff action on the same booking queue
        instead of deadlocking.
        """
        rows = list(session.scalars(select(MessageRow).where(MessageRow.id.in_(ids))))
        booking_ids = sorted({r.booking_id for r in rows if r.booking_id is not None})
        if not booking_ids:
            return list(rows)
        bookings = select(BookingRow).where(BookingRow.id.in_(booking_ids)).order_by(BookingRow.id)
        if lock_bookings:
            bookings = bookings.with_for_update().execution_options(populate_existing=True)
        return [*rows, *session.scalars(bookings)]

    def _value(self, session: Session, booking_row: BookingRow) -> Booking:
        """The booking as the core sees it, computed once per pass (messages share bookings)."""
        if booking_row.id not in self._values:
            self._values[booking_row.id] = self.service.value(session, booking_row)
        return self._values[booking_row.id]

    # --- prepare -------------------------------------------------------------------

    def _prepare_safely(
        self, session: Session, message_id: int, now: datetime, stats: PassStats
    ) -> _Prepared | None:
        """A bug in one message's preparation fails that message, not the batch."""
        savepoint = session.begin_nested()
        try:
            item = self._prepare(session, message_id, now, stats)
        except outbox.TransitionError as exc:
            savepoint.rollback()  # no longer ours: another process settles it
            log.warning("message %s not prepared: %s", message_id, exc)
            return None
        except Exception as exc:
            savepoint.rollback()
            log.exception("preparing message %s failed", message_id)
            row = session.get(MessageRow, message_id)
            if row is not None:
                with contextlib.suppress(outbox.TransitionError):
                    outbox.release(
                        session,
                        row,
                        S.FAILED,
                        worker=self.worker,
                        now=now,
                        reason="internal_error",
                        detail=str(exc)[:500],
                    )
            stats.failed += 1
            return None
        savepoint.commit()
        return item

    def _prepare(
        self, session: Session, message_id: int, now: datetime, stats: PassStats
    ) -> _Prepared | None:
        row = session.get(MessageRow, message_id)
        assert row is not None
        booking_row = session.get(BookingRow, row.booking_id) if row.booking_id else None
        if row.step == STAFF_ALERT:
            ref = booking_row.ref if booking_row else "-"
            return _Prepared(message_id=row.id, outgoing=self.composer.staff_alert(row, ref=ref, now=now))
        if booking_row is None:
            outbox.release(session, row, S.FAILED, worker=self.worker, now=now, reason="no_booking")
            stats.failed += 1
            return None
        draft = read_draft(self.rt, session, row, booking_row, self._value(session, booking_row))
        verdict = check(self.rt, row, draft, now)
        if not isinstance(verdict, Send):
            self._hold(session, row, draft, verdict, now, stats)
            return None
        try:
            outgoing = self.composer.compose(row, draft, now=now)
        except TemplateRenderError as exc:
            outbox.release(
                session, row, S.FAILED, worker=self.worker, now=now, reason="template_error", detail=str(exc)
            )
            stats.failed += 1
            return None
        row.to_addr, row.body, row.subject = outgoing.to, outgoing.body, outgoing.subject
        return _Prepared(message_id=row.id, outgoing=outgoing)

    def _hold(
        self,
        session: Session,
        row: MessageRow,
        draft: Draft,
        verdict: Skip | Cancel | Requeue,
        now: datetime,
        stats: PassStats,
    ) -> None:
        """Act on a verdict other than ``Send``: plan the row again, or settle it unsent."""
        if isinstance(verdict, Requeue):
            moved_to = timing.local_iso(verdict.until, timing.zone(draft.booking.timezone))
            outbox.release(
                session,
                row,
                S.PLANNED,
                worker=self.worker,
                now=now,
                detail=f"quiet hours: moved to {moved_to}",
                due_at=verdict.until,
                ready_at=verdict.until,
                attempts=max(row.attempts - 1, 0),  # a deferral is not a try
            )
            stats.requeued += 1
            return
        outbox.release(session, row, verdict.status, worker=self.worker, now=now, reason=verdict.reason)
        stats.skipped += 1
        if draft.step.urgent and verdict.reason in URGENT_SKIP_REASONS:
            self._alert_staff(session, row, verdict.reason, now)

    # --- send ----------------------------------------------------------------------

    def _send(self, item: _Prepared) -> None:
        channel = self.channels.get(item.outgoing.channel)
        try:
            if channel is None:
                raise TransientChannelError("no channel configured", channel=item.outgoing.channel)
            item.result = channel.send(item.outgoing)
        except ChannelError as exc:
            item.error = exc
        except Exception as exc:  # a channel bug must not lose the message: retry it
            log.exception("channel %s raised on message %s", item.outgoing.channel, item.message_id)
            item.error = TransientChannelError(
                str(exc), channel=item.outgoing.channel, provider_code="exception"
            )

    # --- record --------------------------------------------------------------------

    def _record_sent(
        self, session: Session, items: list[_Prepared], now: datetime, stats: PassStats
    ) -> set[int]:
        """Record the batch's successful sends at once; returns their ids (empty if it had to fall back)."""
        rows = []
        for item in items:
            row = session.get(MessageRow, item.message_id)
            assert row is not None and item.result is not None
            values = {
                "provider_id": item.result.provider_id,
                "to_addr": item.outgoing.to,
                "body": item.outgoing.body,
                "subject": item.outgoing.subject,
            }
            rows.append((row, values))
        if not outbox.mark_sent_many(session, rows, now=now, worker=self.worker):
            return set()
        for item, (row, _) in zip(items, rows, strict=True):
            log.info(
                "send sent",
                extra=fields(
                    action="sent",
                    booking=item.outgoing.booking_ref,
                    message=row.id,
                    channel=row.channel,
                    step=row.step,
                ),
            )
            self._note_invite(session, row, item)
        stats.sent += len(rows)
        return {row.id for row, _ in rows}

    def _record_one(self, session: Session, item: _Prepared, now: datetime, stats: PassStats) -> None:
        """One outcome; a row that is no longer ours (its lease expired and another process
        took it over) is left to that process instead of undoing the rest of the batch."""
        try:
            self._record(session, item, now, stats)
        except outbox.TransitionError as exc:
            log.warning(
                "outcome not recorded: %s",
                exc,
                extra=fields(action="lost_claim", message=item.message_id, booking=item.outgoing.booking_ref),
            )

    def _record(self, session: Session, item: _Prepared, now: datetime, stats: PassStats) -> None:
        row = session.get(MessageRow, item.message_id)
        assert row is not None
        outcome = "sent" if item.result is not None else type(item.error).__name__
        log.info(
            "send %s",
            outcome,
            extra=fields(
                action=outcome,
                booking=item.outgoing.booking_ref,
                message=row.id,
                channel=row.channel,
                step=row.step,
                reason=item.error.reason if item.error else None,
            ),
        )
        row.to_addr, row.body, row.subject = (
            item.outgoing.to,
            item.outgoing.body,
            item.outgoing.subject,
        )
        if item.result is not None:
            outbox.release(
                session,
                row,
                S.SENT,
                worker=self.worker,
                now=now,
                sent_at=now,
                provider_id=item.result.provider_id,
                next_attempt_at=None,
            )
            self._note_invite(session, row, item)
            stats.sent += 1
            return
        assert item.error is not None
        self._record_failure(session, row, item.error, now, stats)

    def _record_failure(
        self, session: Session, row: MessageRow, error: ChannelError, now: datetime, stats: PassStats
    ) -> None:
        """Retry later, or give up: then the next channel, or the staff for an urgent message."""
        decision = self.policy.decide(error, row.attempts, now, self.rng)
        if isinstance(decision, GiveUp):
            outbox.release(
                session,
                row,
                S.FAILED,
                worker=self.worker,
                now=now,
                reason=decision.reason,
                detail=error.message,
            )
            stats.failed += 1
            fallback = plan_fallback(self.rt, self.service, session, row, now) if decision.fall_back else None
            if fallback is None and row.urgent and row.step != STAFF_ALERT:
                self._alert_staff(session, row, decision.reason, now)
            return
        outbox.release(
            session,
            row,
            S.RETRYING,
            worker=self.worker,
            now=now,
            reason=error.reason,
            detail=error.message,
            next_attempt_at=decision.at,
            ready_at=decision.at,
        )
        stats.retrying += 1

    @staticmethod
    def _note_invite(session: Session, row: MessageRow, item: _Prepared) -> None:
        """Changes to the booking follow as invites once one reached the customer."""
        if item.carries_invite and row.booking_id:
            booking = session.get(BookingRow, row.booking_id)
            if booking is not None:
                booking.invite_sent = True

    def _alert_staff(self, session: Session, row: MessageRow, reason: str | None, now: datetime) -> None:
        alert_undelivered(session, business=self.rt.business, message=row, reason=reason, now=now)
