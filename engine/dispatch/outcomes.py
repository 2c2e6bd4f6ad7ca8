"""What became of each claimed message, recorded in one short transaction per batch.

A pass prepares a message with no transaction open: it is held back (a
``Settle`` or a ``Defer``) or composed and sent, which fills in its ``result``
or ``error``. ``Recorder.record`` then writes a batch of outcomes in one
transaction that locks their bookings first, in id order, as every user
action does, so recording and a staff action on one booking queue instead of
deadlocking. Each message is settled only if this worker still holds its
claim; one that another process took over is left to it, and the rest of the
batch is recorded all the same.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.channels.base import OutgoingMessage, SendResult
from engine.core.planner import alerts_staff
from engine.core.retry import GiveUp, RetryPolicy
from engine.core.values import MessageStatus
from engine.dispatch.fallback import plan_fallback
from engine.exceptions import ChannelError
from engine.logs import fields
from engine.runtime import Runtime
from engine.services.alerts import STAFF_ALERT, alert_undelivered
from engine.services.bookings import BookingService
from engine.services.webhooks_out import message_event
from engine.store import outbox
from engine.store.db import is_sqlite
from engine.store.tables import BookingRow, MessageRow

S = MessageStatus
log = logging.getLogger("forvent.dispatch")


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


@dataclass(frozen=True)
class Settle:
    """Not sent, and never will be: the row ends ``status`` with ``reason``."""

    status: MessageStatus
    reason: str
    detail: str | None = None
    alert: bool = False  # an urgent message that cannot reach the customer: staff are told


@dataclass(frozen=True)
class Defer:
    """Not yet (quiet hours, a closed day): planned again for ``until``."""

    until: datetime
    detail: str


@dataclass
class Prepared:
    """One claimed row on its way through a pass: held back, or composed and then sent.

    The rendered fields travel here, not in the database, until the outcome is
    recorded: they are written once, by the statement that settles the row.
    """

    row: MessageRow  # as claimed: detached, read without a session
    ref: str  # the booking's, or ``-``: for the log lines
    held: Settle | Defer | None = None
    outgoing: OutgoingMessage | None = None
    result: SendResult | None = None
    error: ChannelError | None = None

    @property
    def rendered(self) -> dict[str, str | None]:
        assert self.outgoing is not None
        return {"to_addr": self.outgoing.to, "body": self.outgoing.body, "subject": self.outgoing.subject}


class Recorder:
    """Records the outcomes of a worker's sends; ``rng`` jitters the retries."""

    def __init__(self, runtime: Runtime, worker: str, rng: random.Random) -> None:
        self.rt = runtime
        self.worker = worker
        self.rng = rng
        self.service = BookingService(runtime)
        self.policy = RetryPolicy(max_attempts=runtime.settings.max_attempts)

    def record(self, items: list[Prepared], stats: PassStats) -> None:
        """Every outcome of ``items`` in one transaction: held rows, then the sent, then send failures.

        What can be worked out beforehand is, and the sends' log lines follow the
        commit: the write lock is held for the statements, little else.
        """
        now = self.rt.now()
        sent = [i for i in items if i.result is not None]
        marks = [
            (i.row, {"provider_id": i.result.provider_id if i.result else None, **i.rendered}) for i in sent
        ]
        bookings = {i.row.booking_id for i in items if i.row.booking_id is not None}
        database = self.rt.database
        with database.session() as session:
            if not is_sqlite(database.engine):  # SQLite's BEGIN IMMEDIATE holds its one lock already
                _lock_bookings(session, bookings)
            for item in items:
                if item.held is not None:
                    self._isolated(session, item, now, stats)
            done = {row.id for row in outbox.mark_sent_many(session, marks, now=now, worker=self.worker)}
            _note_invites(session, [i for i in sent if i.row.id in done])
            for item in sent:
                if item.row.id in done:
                    self._tell(session, item.row, "message.sent", now)
            for item in items:
                if item.error is not None:
                    self._isolated(session, item, now, stats)
        self._log_sent(sent, done, stats)

    def _isolated(self, session: Session, item: Prepared, now: datetime, stats: PassStats) -> None:
        """One outcome; a row that is no longer ours (its lease expired and another process
        took it over) is left to that process instead of undoing the rest of the batch."""
        try:
            if item.held is not None:
                self._hold(session, item.row, item.held, now, stats)
            else:
                self._record_error(session, item, now, stats)
        except outbox.TransitionError as exc:
            self._lost(item, str(exc))

    def _lost(self, item: Prepared, why: str) -> None:
        log.warning(
            "outcome not recorded: %s",
            why,
            extra=fields(action="lost_claim", message=item.row.id, booking=item.ref),
        )

    # --- held back -----------------------------------------------------------------

    def _hold(
        self, session: Session, row: MessageRow, held: Settle | Defer, now: datetime, stats: PassStats
    ) -> None:
        if isinstance(held, Defer):
            outbox.release(
                session,
                row,
                S.PLANNED,
                worker=self.worker,
                now=now,
                detail=held.detail,
                due_at=held.until,
                ready_at=held.until,
                attempts=max(row.attempts - 1, 0),  # a deferral is not a try
            )
            stats.requeued += 1
            return
        outbox.release(
            session, row, held.status, worker=self.worker, now=now, reason=held.reason, detail=held.detail
        )
        if held.status == S.FAILED:
            stats.failed += 1
            self._tell(session, row, "message.failed", now, held.reason)
        else:
            stats.skipped += 1
        if held.alert:
            self._alert_staff(session, row, held.reason, now)

    # --- sent ----------------------------------------------------------------------

    def _log_sent(self, sent: list[Prepared], done: set[int], stats: PassStats) -> None:
        """The sends now on record; one whose claim was lost meanwhile is left to its new owner."""
        stats.sent += len(done)
        logged = log.isEnabledFor(logging.INFO)  # a line's fields are worth building only then
        for item in sent:
            row = item.row
            if row.id not in done:
                self._lost(item, f"message {row.id} is no longer claimed by {self.worker} in sending")
            elif logged:
                log.info(
                    "send sent",
                    extra=fields(
                        action="sent", booking=item.ref, message=row.id, channel=row.channel, step=row.step
                    ),
                )

    # --- failed sends --------------------------------------------------------------

    def _record_error(self, session: Session, item: Prepared, now: datetime, stats: PassStats) -> None:
        """Retry later, or give up: then the next channel, or the staff for an urgent message."""
        row, error = item.row, item.error
        assert error is not None
        outcome = type(error).__name__
        log.info(
            "send %s",
            outcome,
            extra=fields(
                action=outcome,
                booking=item.ref,
                message=row.id,
                channel=row.channel,
                step=row.step,
                reason=error.reason,
            ),
        )
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
                **item.rendered,
            )
            stats.failed += 1
            self._tell(session, row, "message.failed", now, decision.reason)
            fallback = plan_fallback(self.rt, self.service, session, row, now) if decision.fall_back else None
            if fallback is None and alerts_staff(row.step, urgent=row.urgent) and row.step != STAFF_ALERT:
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
            **item.rendered,
        )
        stats.retrying += 1

    def _tell(
        self, session: Session, row: MessageRow, event: str, now: datetime, reason: str | None = None
    ) -> None:
        """The business's own systems hear of it (``webhooks:``), in this same transaction."""
        message_event(session, self.rt.business, row, event, now=now, reason=reason)

    def _alert_staff(self, session: Session, row: MessageRow, reason: str | None, now: datetime) -> None:
        alert_undelivered(session, business=self.rt.business, message=row, reason=reason, now=now)


def _note_invites(session: Session, sent: list[Prepared]) -> None:
    """Changes to a booking follow as invites once one reached the customer."""
    invited = sorted({i.row.booking_id for i in sent if i.outgoing and i.outgoing.ics and i.row.booking_id})
    if invited:
        session.execute(
            update(BookingRow)
            .where(BookingRow.id.in_(invited), BookingRow.invite_sent.is_(False))
            .values(invite_sent=True)
            .execution_options(synchronize_session=False)
        )


def _lock_bookings(session: Session, booking_ids: set[int]) -> None:
    """The bookings' row locks, in id order: the order every user action takes them in."""
    if booking_ids:
        session.execute(
            select(BookingRow.id)
            .where(BookingRow.id.in_(sorted(booking_ids)))
            .order_by(BookingRow.id)
            .with_for_update()
        )
