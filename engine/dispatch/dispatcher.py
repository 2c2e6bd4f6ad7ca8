"""The dispatch pass: claim due messages, check, render, send, record.

One pass claims a batch under a lease, prepares each message in one
transaction (checks against the booking as it is now, renders with signed
links), sends the batch concurrently (bounded by
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
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult
from engine.core import timing
from engine.core.context import Links, build_context
from engine.core.planner import BUILTIN_STEPS, INVITE_EVENTS
from engine.core.playbooks import Playbook, StepSpec
from engine.core.retry import GiveUp, RetryPolicy
from engine.core.values import STARTED_OR_LATER, Booking, BookingStatus, Event, MessageStatus
from engine.exceptions import ChannelError, TemplateRenderError, TransientChannelError
from engine.logs import fields
from engine.messages.invites import Invite, build_invite
from engine.messages.renderer import Kind
from engine.runtime import Runtime
from engine.services.alerts import STAFF_ALERT, URGENT_SKIP_REASONS, alert_undelivered
from engine.services.bookings import BookingService
from engine.store import outbox
from engine.store.tables import BookingRow, HistoryRow, MessageRow

S = MessageStatus
log = logging.getLogger("forvent.dispatch")
BATCH = 200
INVITE_STEPS = frozenset({"moved", "cancelled", "invite_update"})


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
    message_id: int
    outgoing: OutgoingMessage
    carries_invite: bool
    result: SendResult | None = None
    error: ChannelError | None = None
    extra: dict[str, object] = field(default_factory=dict)


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
        self.policy = RetryPolicy(max_attempts=runtime.settings.max_attempts)
        self.rng = rng or random.Random()
        self._values: dict[int, Booking] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=runtime.settings.dispatch_concurrency, thread_name_prefix="forvent-send"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- passes --------------------------------------------------------------------

    def run_pass(self) -> PassStats:
        """Claim one batch of due messages and deal with each."""
        now = self.rt.now()
        stats = PassStats()
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
            ids = [row.id for row in rows]
        stats.claimed = len(ids)
        if not ids:
            return stats
        prepared: list[_Prepared] = []
        sends: list[Future[None]] = []
        with db.session() as session:
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
        with db.session() as session:
            _held = self._load(session, [item.message_id for item in prepared], lock_bookings=True)
            done = self._record_sent(
                session, [item for item in prepared if item.result is not None], now, stats
            )
            for item in prepared:
                if item.message_id not in done:
                    self._record_one(session, item, now, stats)
        return stats

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

    def run_until_idle(self, max_passes: int = 100_000) -> PassStats:
        """``dispatch --once``: passes until nothing due on the engine clock is left unclaimed."""
        total = PassStats()
        for _ in range(max_passes):
            stats = self.run_pass()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

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
            return _Prepared(
                message_id=row.id, outgoing=self._alert(row, booking_row, now), carries_invite=False
            )
        if booking_row is None:
            outbox.release(session, row, S.FAILED, worker=self.worker, now=now, reason="no_booking")
            stats.failed += 1
            return None
        booking = self._value(session, booking_row)
        playbook = self.rt.playbooks.get(booking_row.playbook)
        step = self._step(playbook, row)
        event = self._event(session, row)
        verdict = self._check(row, booking_row, booking, step, event, now)
        if verdict is not None:
            status, reason, due = verdict
            if status == S.PLANNED:
                outbox.release(
                    session,
                    row,
                    S.PLANNED,
                    worker=self.worker,
                    now=now,
                    detail=f"quiet hours: moved to {timing.local_iso(due, timing.zone(booking.timezone))}",
                    due_at=due,
                    ready_at=due,
                    attempts=max(row.attempts - 1, 0),
                )
                stats.requeued += 1
            else:
                outbox.release(session, row, status, worker=self.worker, now=now, reason=reason)
                stats.skipped += 1
                if step.urgent and reason in URGENT_SKIP_REASONS:
                    self._alert_staff(session, row, booking_row, reason, now)
            return None
        try:
            outgoing, carries_invite = self._render(row, booking_row, booking, playbook, step, event, now)
        except TemplateRenderError as exc:
            outbox.release(
                session, row, S.FAILED, worker=self.worker, now=now, reason="template_error", detail=str(exc)
            )
            stats.failed += 1
            return None
        row.to_addr, row.body, row.subject = outgoing.to, outgoing.body, outgoing.subject
        return _Prepared(message_id=row.id, outgoing=outgoing, carries_invite=carries_invite)

    def _step(self, playbook: Playbook, row: MessageRow) -> StepSpec:
        return step_of(playbook, row)

    def _event(self, session: Session, row: MessageRow) -> Event | None:
        if row.event_id is None:
            return None
        history = session.get(HistoryRow, row.event_id)
        if history is None:
            return None
        return Event(
            id=str(history.id),
            name=history.kind.removeprefix("event:"),
            at=history.at,
            data=history.data or {},
        )

    def _check(
        self,
        row: MessageRow,
        booking_row: BookingRow,
        booking: Booking,
        step: StepSpec,
        event: Event | None,
        now: datetime,
    ) -> tuple[MessageStatus, str | None, datetime | None] | None:
        """Why the message must not go now: (status, reason, new due) or None to send."""
        closed_at = booking.anchors.get("closed_at")
        if closed_at is not None and row.created_at < closed_at:
            return S.CANCELLED, "booking_cancelled", None
        if row.due_at is not None and now - row.due_at > self.rt.settings.max_lateness:
            return S.SKIPPED, "stale", None
        if row.moves_with_start and row.about_at is not None:
            if booking.status in STARTED_OR_LATER:
                return S.SKIPPED, "already_started", None
            if row.about_at <= now:
                return S.SKIPPED, "too_late", None
        planner = self.rt.planner(booking.playbook)
        if step.marketing and not planner.has_consent(booking, now):
            return S.SKIPPED, "no_consent", None
        reason = planner.condition_reason(booking, step, row.channel, now=now, event=event)
        if reason:
            return S.SKIPPED, reason, None
        if row.step == "reply_stop" and booking.customer.phone:
            return None  # the acknowledgement of STOP is the last SMS that number gets
        if not booking.customer.can_receive(row.channel):
            return (
                S.SKIPPED,
                "opted_out" if booking.customer.opted_out_of(row.channel) else "no_channel",
                None,
            )
        decision = planner.retime(
            now,
            step=step,
            about=row.about_at,
            now=now,
            timed=row.event_id is None,
            tz=timing.zone(booking.timezone),
        )
        if decision.reason:
            return S.SKIPPED, decision.reason, None
        if decision.due is not None and decision.due > now:
            return S.PLANNED, None, decision.due
        return None

    # --- render --------------------------------------------------------------------

    def links(self, booking: Booking, now: datetime) -> Links:
        token = self.rt.signer.token(int(booking.id), now=now)
        page = f"{self.rt.settings.public_url}/b/{token}"
        return Links(
            page=page,
            invite=f"{page}/invite.ics",
            review=self.rt.business.review_url,
            unsubscribe=f"{page}/unsubscribe",
        )

    def _render(
        self,
        row: MessageRow,
        booking_row: BookingRow,
        booking: Booking,
        playbook: Playbook,
        step: StepSpec,
        event: Event | None,
        now: datetime,
    ) -> tuple[OutgoingMessage, bool]:
        business = self.rt.business
        context = build_context(
            booking=booking,
            title=playbook.title,
            business=business,
            links=self.links(booking, now),
            step_id=row.step,
            channel=row.channel,
            event=event,
            now=now,
        )
        renderer = self.rt.renderer
        template = row.template or step.template
        base = OutgoingMessage(
            id=str(row.id),
            channel=row.channel,
            booking_ref=booking.ref,
            step=row.step,
            to="",
            to_name=booking.customer.name,
            date=now,
        )
        if row.channel == "sms":
            sms = renderer.render_sms(
                playbook.playbook, template, booking.locale, playbook.default_locale, context
            )
            sender = os.environ.get("TWILIO_FROM") or business.sms_sender
            callback = f"{self.rt.settings.public_url}/webhooks/twilio/status?m={row.id}"
            return replace(
                base,
                to=booking.customer.phone or "",
                sender=sender,
                body=sms.body,
                encoding=sms.encoding,
                segments=sms.segments,
                status_callback=callback,
            ), False
        email = renderer.render_email(
            playbook.playbook, template, booking.locale, playbook.default_locale, context
        )
        method = self._invite_method(row, booking_row, booking, step, event)
        ics = self._invite(booking_row, booking, playbook, step, context, method, now) if method else None
        domain = business.from_address.rpartition("@")[2] or "forvent.local"
        headers = {
            "X-Forvent-Booking": booking.ref,
            "X-Forvent-Step": row.step,
            "X-Forvent-Message": str(row.id),
            "Message-ID": f"<forvent-{row.id}-{row.attempts}@{domain}>",
        }
        if step.marketing:
            headers["List-Unsubscribe"] = f"<{context['links']['unsubscribe']}>"
        return replace(
            base,
            to=booking.customer.email or "",
            body=email.text,
            subject=email.subject,
            html=email.html,
            from_addr=business.from_address,
            from_name=business.name,
            reply_to=business.email or business.from_address,
            ics=ics,
            ics_method=method,
            headers=headers,
        ), ics is not None

    def _invite_method(
        self,
        row: MessageRow,
        booking_row: BookingRow,
        booking: Booking,
        step: StepSpec,
        event: Event | None,
    ) -> str | None:
        cancelling = booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)
        if step.invite_spec is not None and not cancelling:
            return "REQUEST"
        follows = row.step in INVITE_STEPS or (event is not None and event.name in INVITE_EVENTS)
        if follows and booking_row.invite_sent:
            return "CANCEL" if cancelling else "REQUEST"
        return None

    def _invite(
        self,
        booking_row: BookingRow,
        booking: Booking,
        playbook: Playbook,
        step: StepSpec,
        context: dict[str, object],
        method: str,
        now: datetime,
    ) -> bytes:
        ics = self.rt.renderer.render_ics(
            playbook.playbook, step.template, booking.locale, playbook.default_locale, context
        )
        business = self.rt.business
        spec = step.invite_spec
        links = context["links"]
        assert isinstance(links, dict)
        return build_invite(
            Invite(
                uid=booking_row.invite_uid,
                sequence=booking_row.invite_sequence,
                method=method,  # type: ignore[arg-type]
                start=booking.start,
                end=booking.end,
                timezone=booking.timezone,
                summary=ics.summary if ics else f"{playbook.title} - {business.name}",
                description=ics.description if ics else "",
                # A visit happens at the customer's; a drop-off (promise: ready) at the business.
                location=booking.location or (business.address if playbook.promise == "ready" else None),
                url=str(links["page"]),
                organizer_name=business.name,
                organizer_email=business.from_address,
                attendee_name=booking.customer.name,
                attendee_email=booking.customer.email,
                stamp=now,
                alarm=spec.alarm_delta() if spec else None,
            )
        )

    # --- send and record -----------------------------------------------------------

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
            if item.carries_invite and row.booking_id:
                booking = session.get(BookingRow, row.booking_id)
                if booking is not None:
                    booking.invite_sent = True
        stats.sent += len(rows)
        return {row.id for row, _ in rows}

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
            if item.carries_invite and row.booking_id:
                booking = session.get(BookingRow, row.booking_id)
                if booking is not None:
                    booking.invite_sent = True
            stats.sent += 1
            return
        assert item.error is not None
        decision = self.policy.decide(item.error, row.attempts, now, self.rng)
        if isinstance(decision, GiveUp):
            outbox.release(
                session,
                row,
                S.FAILED,
                worker=self.worker,
                now=now,
                reason=decision.reason,
                detail=item.error.message,
            )
            stats.failed += 1
            fallback = self._fall_back(session, row, now) if decision.fall_back else None
            if fallback is None and row.urgent and row.step != STAFF_ALERT:
                booking_row = session.get(BookingRow, row.booking_id) if row.booking_id else None
                self._alert_staff(session, row, booking_row, decision.reason, now)
            return
        outbox.release(
            session,
            row,
            S.RETRYING,
            worker=self.worker,
            now=now,
            reason=item.error.reason,
            detail=item.error.message,
            next_attempt_at=decision.at,
            ready_at=decision.at,
        )
        stats.retrying += 1

    def _fall_back(self, session: Session, row: MessageRow, now: datetime) -> MessageRow | None:
        return plan_fallback(self.rt, self.service, session, row, now)

    # --- staff alerts --------------------------------------------------------------

    def _alert(self, row: MessageRow, booking_row: BookingRow | None, now: datetime) -> OutgoingMessage:
        business = self.rt.business
        ref = booking_row.ref if booking_row else "-"
        domain = business.from_address.rpartition("@")[2] or "forvent.local"
        headers = {
            "X-Forvent-Booking": ref,
            "X-Forvent-Step": row.step,
            "X-Forvent-Message": str(row.id),
            "Message-ID": f"<forvent-{row.id}-{row.attempts}@{domain}>",
        }
        return OutgoingMessage(
            id=str(row.id),
            channel=row.channel,
            booking_ref=ref,
            step=row.step,
            to=row.to_addr or "",
            body=row.body or "",
            subject=row.subject,
            sender=os.environ.get("TWILIO_FROM") or business.sms_sender,
            from_addr=business.from_address,
            from_name=business.name,
            reply_to=business.email or business.from_address,
            headers=headers,
            date=now,
            status_callback=f"{self.rt.settings.public_url}/webhooks/twilio/status?m={row.id}",
        )

    def _alert_staff(
        self,
        session: Session,
        row: MessageRow,
        booking_row: BookingRow | None,
        reason: str | None,
        now: datetime,
    ) -> None:
        alert_undelivered(session, business=self.rt.business, message=row, reason=reason, now=now)


def plan_fallback(
    rt: Runtime, service: BookingService, session: Session, row: MessageRow, now: datetime
) -> MessageRow | None:
    """A permanent failure: the same message on the step's next unused channel."""
    booking_row = session.get(BookingRow, row.booking_id) if row.booking_id else None
    if booking_row is None or row.step == STAFF_ALERT:
        return None
    playbook = rt.playbooks.get(booking_row.playbook)
    step = step_of(playbook, row)
    booking = service.value(session, booking_row)
    base_key = row.key.split(">")[0]
    used = set(
        session.scalars(
            select(MessageRow.channel).where(
                MessageRow.booking_id == row.booking_id, MessageRow.key.like(f"{base_key}%")
            )
        )
    )
    # The step's own list first, then the playbook's: an SMS-only reminder to a
    # number that cannot take SMS still reaches the customer by email.
    for channel in dict.fromkeys([*playbook.step_channels(step), *playbook.channels]):
        if channel in used or not booking.customer.can_receive(channel):
            continue
        template = row.template or step.template
        kind: Kind = "sms" if channel == "sms" else "email"
        if (
            rt.renderer.resolve(playbook.playbook, template, kind, booking.locale, playbook.default_locale)
            is None
        ):
            continue  # lint guarantees templates only for the step's own channels
        fallback = MessageRow(
            business_id=row.business_id,
            booking_id=row.booking_id,
            key=f"{base_key}>{channel}",
            step=row.step,
            template=row.template,
            channel=channel,
            status=str(S.PLANNED),
            due_at=now,
            ready_at=now,
            event_id=row.event_id,
            urgent=row.urgent,
            about_at=row.about_at,
            moves_with_start=row.moves_with_start,
            attempts=0,
            replaces_id=row.id,
            schedule_version=row.schedule_version,
            created_at=now,
            updated_at=now,
        )
        session.add(fallback)
        session.flush()
        outbox.record(
            session,
            business_id=row.business_id,
            booking_id=row.booking_id,
            message_id=fallback.id,
            at=now,
            kind="message:planned",
            detail=f"{row.step} ({channel}): replaces message {row.id}",
        )
        return fallback
    return None


def step_of(playbook: Playbook, row: MessageRow) -> StepSpec:
    """The step a row belongs to: the playbook's, a built-in, or an answer the engine sends itself."""
    step = playbook.step(row.step)
    if step is not None:
        return step
    for builtin in BUILTIN_STEPS.values():
        if builtin.id == row.step:
            return builtin
    # invite_update, reply_<class>: answers the engine sends at once
    return StepSpec(id=row.step, when="customer.replied", template=row.template or row.step, urgent=True)
