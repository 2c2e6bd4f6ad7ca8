"""``forvent preview``: a dry-run timeline of one booking, planned by the real engine.

The booking lives in a throwaway SQLite file; the engine clock stands at
``--created`` and then at each ``--event`` in time order. Before an event,
the rows already due count as sent (rendered as of their send time, with the
booking as it was then); the rest are rendered at the end.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.business import SAMPLE_BUSINESS, BusinessProfile
from engine.core.clock import FixedClock
from engine.core.playbooks import EVENTS
from engine.dispatch.checks import Cancel, Requeue, Skip, check
from engine.dispatch.compose import Composer
from engine.dispatch.drafts import read_draft
from engine.exceptions import TemplateRenderError, UserInputError
from engine.messages.sms import sms_info
from engine.runtime import Runtime
from engine.services import feedback
from engine.services.alerts import STAFF_ALERT
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.services.on_my_way import on_my_way
from engine.services.ready_delay import ReadyDelays
from engine.settings import Settings
from engine.store.db import Database
from engine.store.tables import BookingRow, MessageRow

#: Events a preview can apply: all but the booking's own creation.
EVENT_ALIASES = tuple(sorted(EVENTS - {"booking.created"}))


@dataclass(frozen=True)
class PreviewEvent:
    name: str
    at: str
    data: dict[str, str]


def parse_event(text: str) -> PreviewEvent:
    """``NAME@ISO[,k=v]...``; a comma inside a value is written ``%2C``."""
    head, _, rest = text.partition(",")
    name, sep, at = head.partition("@")
    if not sep or name not in EVENT_ALIASES or not at:
        raise UserInputError(
            f"--event: expected NAME@ISO[,k=v]... with a known event, got {text!r}", field="event"
        )
    data: dict[str, str] = {}
    for pair in filter(None, rest.split(",")):
        key, eq, value = pair.partition("=")
        if not eq:
            raise UserInputError(f"--event: expected k=v, got {pair!r}", field="event")
        data[key] = value.replace("%2C", ",").replace("%2c", ",")
    return PreviewEvent(name=name, at=at, data=data)


@dataclass(frozen=True, kw_only=True)
class PreviewRow:
    step: str
    channel: str
    status: str
    reason: str | None
    send_at: datetime | None
    subject: str | None = None
    body: str | None = None
    encoding: str | None = None
    segments: int | None = None
    attachments: tuple[str, ...] = ()
    order: tuple[Any, ...] = ()

    def as_json(self, tz_name: str) -> dict[str, Any]:
        tz = timing.zone(tz_name)
        return {
            "step": self.step,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
            "send_at": timing.local_iso(self.send_at, tz),
            "send_at_utc": timing.utc_z(self.send_at),
            "subject": self.subject,
            "body": self.body,
            "encoding": self.encoding,
            "segments": self.segments,
            "attachments": list(self.attachments),
        }


class Previewer:
    def __init__(self, settings: Settings, business: BusinessProfile | None) -> None:
        self.settings = settings
        self.business = business or SAMPLE_BUSINESS

    def run(
        self, booking: BookingInput, *, created: datetime, events: Sequence[PreviewEvent]
    ) -> tuple[list[PreviewRow], str]:
        with tempfile.TemporaryDirectory(prefix="forvent-preview-") as tmp:
            settings = self.settings.model_copy(
                update={
                    "database_url": f"sqlite:///{Path(tmp) / 'preview.db'}",
                    "secret": self.settings.secret or "preview-only",
                    "now": None,
                }
            )
            clock = FixedClock(created)
            runtime = Runtime(
                settings,
                clock=clock,
                business=self.business,
                database=Database(settings.database_url),
            )
            try:
                runtime.database.upgrade()
                return self._simulate(runtime, clock, booking, events)
            finally:
                runtime.close()

    def _simulate(
        self, rt: Runtime, clock: FixedClock, data: BookingInput, events: Sequence[PreviewEvent]
    ) -> tuple[list[PreviewRow], str]:
        service = BookingService(rt)
        composer = Composer(rt)
        result = service.book(data, allow_past=True)
        ref, tz_name = result.booking.ref, result.booking.timezone
        tz = timing.zone(tz_name)
        timeline = sorted(
            ((timing.parse_instant(e.at, tz, field="event"), e) for e in events),
            key=lambda p: p[0],
        )
        rendered: dict[int, PreviewRow] = {}
        for at, event in timeline:
            self._send_due(rt, composer, service, ref, before=at, rendered=rendered)
            clock.set(at)
            self._apply(service, ref, event, at)
        self._send_due(rt, composer, service, ref, before=None, rendered=rendered)
        rows = list(rendered.values()) + self._waiting(rt, service, ref)
        rows.sort(key=lambda r: r.order)
        return rows, tz_name

    def _send_due(
        self,
        rt: Runtime,
        composer: Composer,
        service: BookingService,
        ref: str,
        *,
        before: datetime | None,
        rendered: dict[int, PreviewRow],
    ) -> None:
        with rt.database.session() as session:
            booking_row = service.get(session, ref)
            query = (
                select(MessageRow)
                # Staff alerts (a low score's) go to staff, not to the customer this previews.
                .where(MessageRow.booking_id == booking_row.id, MessageRow.step != STAFF_ALERT)
                .order_by(MessageRow.due_at, MessageRow.id)
            )
            for row in session.scalars(query):
                if row.id in rendered:
                    continue  # rendered as of its own send time, or already final
                due = row.ready_at or row.due_at
                if row.status == "planned" and (before is None or (due is not None and due <= before)):
                    rendered[row.id] = self._render(rt, composer, service, session, row, booking_row)
                    if before is not None:  # counts as sent before the next event
                        row.status, row.sent_at = "sent", due
                        if rendered[row.id].attachments:
                            booking_row.invite_sent = True
                elif row.status != "planned":
                    rendered[row.id] = PreviewRow(
                        step=row.step,
                        channel=row.channel,
                        status=row.status,
                        reason=row.reason,
                        send_at=row.due_at,
                        order=(0, row.due_at, row.id),
                    )

    def _render(
        self,
        rt: Runtime,
        composer: Composer,
        service: BookingService,
        session: Session,
        row: MessageRow,
        booking_row: BookingRow,
    ) -> PreviewRow:
        send_at = row.ready_at or row.due_at
        assert send_at is not None
        draft = read_draft(rt, session, row, booking_row, service.value(session, booking_row))
        order = (0, send_at, row.id)
        verdict = check(rt, row, draft, send_at)
        if isinstance(verdict, Skip | Cancel):
            return PreviewRow(
                step=row.step,
                channel=row.channel,
                status=str(verdict.status),
                reason=verdict.reason,
                send_at=send_at,
                order=order,
            )
        if isinstance(verdict, Requeue):  # quiet hours at send time: re-timed
            send_at, order = verdict.until, (0, verdict.until, row.id)
        try:
            outgoing = composer.compose(row, draft, now=send_at)
        except TemplateRenderError as exc:
            return PreviewRow(
                step=row.step,
                channel=row.channel,
                status="failed",
                reason=str(exc),
                send_at=send_at,
                order=order,
            )
        info = sms_info(outgoing.body) if row.channel == "sms" else None
        return PreviewRow(
            step=row.step,
            channel=row.channel,
            status="planned",
            reason=None,
            send_at=send_at,
            subject=outgoing.subject,
            body=outgoing.body,
            encoding=info.encoding if info else None,
            segments=info.segments if info else None,
            attachments=("invite.ics",) if outgoing.ics is not None else (),
            order=order,
        )

    def _waiting(self, rt: Runtime, service: BookingService, ref: str) -> list[PreviewRow]:
        with rt.database.session() as session:
            booking = service.value(session, service.get(session, ref))
        planner = rt.planner(booking.playbook)
        out = []
        for index, (step, event) in enumerate(planner.waiting_steps(booking)):
            for channel in planner.channels_for(step, booking)[0] or planner.playbook.step_channels(step)[:1]:
                out.append(
                    PreviewRow(
                        step=step.id,
                        channel=channel,
                        status="waiting",
                        reason=f"waiting for {event}",
                        send_at=None,
                        order=(1, index),
                    )
                )
        return out

    def _apply(self, service: BookingService, ref: str, event: PreviewEvent, at: datetime) -> None:
        d = event.data
        when = at.isoformat()
        match event.name:
            case "booking.delayed":
                minutes = d.get("minutes")
                service.delay(
                    ref,
                    minutes=int(minutes) if minutes else None,
                    until=d.get("until"),
                    reason=d.get("reason"),
                    at=when,
                )
            case "booking.rescheduled":
                service.reschedule(ref, start=d["start"], end=d.get("end"), at=when)
            case "booking.cancelled":
                service.cancel(ref, reason=d.get("reason"), at=when)
            case "booking.no_show":
                service.no_show(ref, at=when)
            case "booking.confirmed":
                service.confirm(ref, at=when)
            case "job.started":
                service.start(ref, at=when)
            case "job.finding":
                service.finding(ref, text=d.get("text", ""), price=d.get("price"), at=when)
            case "job.ready":
                # A dry run shows what goes once staff have confirmed any price over the estimate.
                service.ready(ref, price=d.get("price"), pickup=d.get("pickup"), at=when, confirm_price=True)
            case "job.ready_delayed":
                minutes = d.get("minutes")
                ReadyDelays(service.rt, service).delay_ready(
                    ref,
                    minutes=int(minutes) if minutes else None,
                    until=d.get("until"),
                    reason=d.get("reason"),
                    at=when,
                )
            case "job.completed":
                service.complete(ref, price=d.get("price"), at=when, confirm_price=True)
            case "staff.on_my_way":
                on_my_way(service, ref, eta=d.get("eta"), at=when)
            case "customer.scored" | "customer.detractor" | "customer.promoter":
                feedback.play(service, ref, event.name, dict(d))
            case _:
                service.customer_event(ref, event.name, dict(d), at=when)
