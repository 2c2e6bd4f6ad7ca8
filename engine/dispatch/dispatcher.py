"""The dispatch pass: claim due messages, prepare them, send, record.

A pass claims a batch under a lease in one short write transaction, reads
what the batch is about in one read-only transaction (``drafts.read_batch``),
then, with no transaction open and so no lock held, judges each message
(``checks``) and composes it (``compose``) and hands it to a channel; its
outcome is recorded with the batch's others in one short write transaction
(``outcomes``). A staff action waits for the write lock only while a claim
or a record is written, never while messages render or travel.

``drain`` (``dispatch --once``, and the scheduler's tick) pipelines the
passes: the next batch is claimed and rendered while earlier sends are still
in flight, up to ``FORVENT_DISPATCH_CONCURRENCY`` of them, and outcomes are
recorded as sends finish instead of after a batch's slowest. Nothing is held
in a scheduler: the outbox table is the schedule, so a burst of any size is
drained batch by batch, never dropped.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from engine.channels.base import BaseChannel
from engine.core import timing
from engine.core.planner import alerts_staff
from engine.dispatch.checks import Requeue, Send, check
from engine.dispatch.compose import Composer
from engine.dispatch.drafts import Batch, read_batch
from engine.dispatch.outcomes import Defer, PassStats, Prepared, Recorder, Settle
from engine.dispatch.webhook_pass import WebhookPass
from engine.exceptions import ChannelError, TemplateRenderError, TransientChannelError
from engine.runtime import Runtime
from engine.services.alerts import STAFF_ALERT, URGENT_SKIP_REASONS
from engine.store import outbox
from engine.store.db import is_sqlite
from engine.store.tables import BookingRow, MessageRow

__all__ = ["BATCH", "Dispatcher", "PassStats"]

S = outbox.S
log = logging.getLogger("forvent.dispatch")
BATCH = 200
# Seconds a drain with nothing left to claim waits for its sends before it looks
# for newly due rows again: real time, the provider's, not the engine clock.
IDLE_WAIT_SECONDS = 0.2


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
        self.concurrency = runtime.settings.dispatch_concurrency
        self.composer = Composer(runtime)
        self.recorder = Recorder(runtime, self.worker, rng or random.Random())
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="forvent-send")
        self.webhooks = WebhookPass(
            runtime, channels.get("webhook"), worker=self.worker, pool=self._pool, rng=random.Random()
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.webhooks.close()

    # --- passes --------------------------------------------------------------------

    def run_until_idle(self, max_passes: int = 100_000) -> PassStats:
        """``dispatch --once``: ``drain``, then the write-ahead log checkpointed (SQLite)."""
        stats = self.drain(max_passes)
        self.rt.database.checkpoint()
        return stats

    def run_pass(self) -> PassStats:
        """Claim one batch of due messages and deal with each; returns once every outcome is recorded."""
        stats = PassStats()
        flight = _Flight(self._pool)
        now = self.rt.now()
        ids = self._claim(now, self._room(0))
        stats.claimed = len(ids)
        if ids:
            held = self._prepare_and_send(ids, now, flight)
            self.recorder.record(held + flight.take(wait_for=flight.outstanding), stats)
        return stats

    def drain(self, max_passes: int = 100_000) -> PassStats:
        """Passes until nothing due on the engine clock is left unclaimed, with sends in flight across them.

        A batch is claimed whenever fewer than ``concurrency`` sends are
        outstanding, so a claimed row waits for at most one batch ahead of it and
        the lease outlasts its send. Finished sends are recorded together.
        """
        stats = PassStats()
        flight = _Flight(self._pool)
        passes, idle = 0, False
        while True:
            room = self._room(flight.outstanding)
            if room and not idle and passes < max_passes:
                passes += 1
                now = self.rt.now()
                ids = self._claim(now, room)
                stats.claimed += len(ids)
                idle = not ids
                done = self._prepare_and_send(ids, now, flight) + flight.take()
            elif flight.outstanding:
                if idle or passes >= max_passes:
                    done = flight.take(wait_for=flight.outstanding, timeout=IDLE_WAIT_SECONDS)
                else:  # every send slot is taken: wait until one batch may follow
                    done = flight.take(wait_for=max(1, flight.outstanding - self.concurrency + 1))
            else:
                break
            if done:
                self.recorder.record(done, stats)
                # What was recorded may have planned more (a fallback, a staff alert): look again,
                # or a send that finished just after an empty claim would leave its alert behind.
                idle = False
        self.webhooks.drain()  # after the messages: what their recording raised goes in this drain
        return stats

    def _room(self, outstanding: int) -> int:
        """How many rows the next claim may take: none while every send slot is taken.

        A rate-limited channel (``FORVENT_SMS_RATE``) takes no more than it can
        send within half the lease, so no claimed row outlives its lease waiting
        for its turn. Nothing outstanding: at least one, so a drain never stalls.
        """
        if outstanding >= self.concurrency:
            return 0
        within = self.rt.settings.claim_lease.total_seconds() / 2
        limits = [c for channel in self.channels.values() if (c := channel.capacity(within)) is not None]
        room = min([self.batch, *limits])
        return room if outstanding else max(room, 1)

    def _claim(self, now: datetime, limit: int) -> list[int]:
        db = self.rt.database
        with db.session() as session:
            outbox.reap_expired_claims(session, now=now)
            return outbox.claim_due_ids(
                session,
                now=now,
                worker=self.worker,
                lease=self.rt.settings.claim_lease,
                limit=limit,
                skip_locked=not is_sqlite(db.engine),
            )

    # --- prepare -------------------------------------------------------------------

    def _prepare_and_send(self, ids: list[int], now: datetime, flight: _Flight) -> list[Prepared]:
        """Read the batch in one read-only transaction, then, with none open, judge, compose and hand
        each message to the send pool; returns the ones held back."""
        if not ids:
            return []
        with self.rt.database.read_session() as session:
            batch = read_batch(self.rt, session, ids)
        held = []
        for row in batch.rows:
            item = self._prepare(row, batch, now)
            if item.outgoing is None:
                held.append(item)
            else:
                # Sent while the rest of the batch renders: the provider's latency
                # overlaps the CPU work instead of following it.
                flight.submit(self._send, item)
        return held

    def _prepare(self, row: MessageRow, batch: Batch, now: datetime) -> Prepared:
        """A bug in one message's preparation fails that message, not the batch."""
        booking_row = batch.booking_row(row)
        item = Prepared(row=row, ref=booking_row.ref if booking_row else "-")
        try:
            if row.step == STAFF_ALERT:
                item.outgoing = self.composer.staff_alert(row, ref=item.ref, now=now)
            elif booking_row is None:
                item.held = Settle(S.FAILED, "no_booking")
            else:
                self._judge(item, batch, booking_row, now)
        except Exception as exc:
            log.exception("preparing message %s failed", row.id)
            item.outgoing = None
            item.held = Settle(S.FAILED, "internal_error", detail=str(exc)[:500])
        return item

    def _judge(self, item: Prepared, batch: Batch, booking_row: BookingRow, now: datetime) -> None:
        """The send-time checks' verdict: hold the message back, or compose it."""
        row = item.row
        draft = batch.draft(row, booking_row)
        verdict = check(self.rt, row, draft, now)
        if isinstance(verdict, Requeue):
            moved_to = timing.local_iso(verdict.until, timing.zone(draft.booking.timezone))
            item.held = Defer(verdict.until, f"quiet hours: moved to {moved_to}")
        elif not isinstance(verdict, Send):
            alert = alerts_staff(draft.step.id, urgent=draft.step.urgent)
            urgent = alert and verdict.reason in URGENT_SKIP_REASONS
            item.held = Settle(verdict.status, verdict.reason, alert=urgent)
        else:
            try:
                item.outgoing = self.composer.compose(row, draft, now=now)
            except TemplateRenderError as exc:
                item.held = Settle(S.FAILED, "template_error", detail=str(exc))

    # --- send ----------------------------------------------------------------------

    def _send(self, item: Prepared) -> None:
        assert item.outgoing is not None
        channel = self.channels.get(item.outgoing.channel)
        try:
            if channel is None:
                raise TransientChannelError("no channel configured", channel=item.outgoing.channel)
            item.result = channel.send(item.outgoing)
        except ChannelError as exc:
            item.error = exc
        except Exception as exc:  # a channel bug must not lose the message: retry it
            log.exception("channel %s raised on message %s", item.outgoing.channel, item.row.id)
            item.error = TransientChannelError(
                str(exc), channel=item.outgoing.channel, provider_code="exception"
            )


class _Flight:
    """Sends handed to the pool and not yet taken back; each queues itself up when it finishes."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._finished: queue.SimpleQueue[Prepared] = queue.SimpleQueue()
        self.outstanding = 0

    def submit(self, send: Callable[[Prepared], None], item: Prepared) -> None:
        self.outstanding += 1
        self._pool.submit(self._run, send, item)

    def _run(self, send: Callable[[Prepared], None], item: Prepared) -> None:
        try:
            send(item)
        finally:  # whatever happened, the item comes back to be recorded
            self._finished.put(item)

    def take(self, *, wait_for: int = 0, timeout: float | None = None) -> list[Prepared]:
        """At least ``wait_for`` finished sends (fewer if ``timeout`` seconds pass first), and any
        others that have finished by then."""
        taken: list[Prepared] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(taken) < wait_for:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                taken.append(self._finished.get(timeout=left))
            except queue.Empty:
                break
        while True:
            try:
                taken.append(self._finished.get_nowait())
            except queue.Empty:
                break
        self.outstanding -= len(taken)
        return taken
