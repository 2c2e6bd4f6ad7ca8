"""What the customer will read before staff send it: the delay notice, rendered ahead.

``preview_delay`` applies the delay to a copy of the booking (the row is not
touched), picks the step and channel the planner would (the playbook's
``booking.delayed`` step, else the built-in ``moved``), and renders its
template with the same context the dispatcher builds at send time. The
link in it is signed now, as the dispatcher will sign it a moment later.
When the delay is below ``min_delay_notice`` nothing is rendered: the ETA
updates silently, and the preview says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.context import Links, build_context
from engine.core.values import UNDER_WAY_OR_ENDED, Booking, BookingStatus, Event
from engine.exceptions import ConflictError, UserInputError
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow


def links_for(runtime: Runtime, booking_id: int, now: datetime) -> Links:
    """The customer's signed links, as the dispatcher builds them."""
    token = runtime.signer.token(booking_id, now=now)
    page = f"{runtime.settings.public_url}/b/{token}"
    return Links(
        page=page,
        invite=f"{page}/invite.ics",
        review=runtime.business.review_url,
        unsubscribe=f"{page}/unsubscribe",
    )


@dataclass(frozen=True, kw_only=True)
class DelayPreview:
    start: datetime  # the new expected start and end
    end: datetime
    minutes: int  # how much later than the current expected start
    step: str | None
    channel: str | None  # None: no message goes (see ``silent``)
    subject: str | None = None
    body: str | None = None
    segments: int | None = None
    encoding: str | None = None
    silent: str | None = None  # why no message goes


def new_start(row: BookingRow, *, minutes: int | None, until: str | None) -> datetime:
    """The expected start a delay would give, refused as ``BookingService.delay`` refuses it."""
    if (minutes is None) == (until is None):
        raise UserInputError("delay: give exactly one of minutes and until", field="minutes")
    if BookingStatus(row.status) in UNDER_WAY_OR_ENDED:
        raise ConflictError(f"cannot delay booking {row.ref}: it is {row.status}", field="ref")
    if minutes is not None:
        if minutes < 1:
            raise UserInputError("minutes: must be a whole number of at least 1", field="minutes")
        return row.start_at + timedelta(minutes=minutes)
    assert until is not None
    tz = timing.zone(row.timezone)
    start = timing.parse_instant(until, tz, field="until")
    if start <= row.start_at:
        raise ConflictError(
            f"until: {timing.local_iso(start, tz)} is not later than the expected start "
            f"{timing.local_iso(row.start_at, tz)}",
            field="until",
        )
    return start


def preview_delay(
    runtime: Runtime,
    session: Session,
    row: BookingRow,
    *,
    minutes: int | None = None,
    until: str | None = None,
    reason: str | None = None,
) -> DelayPreview:
    now = runtime.now()
    start = new_start(row, minutes=minutes, until=until)
    shift = start - row.start_at
    booking = BookingService(runtime).value(session, row)
    moved = replace(
        booking, start=start, end=booking.end + shift, delay_reason=reason or booking.delay_reason
    )
    base = DelayPreview(
        start=start, end=moved.end, minutes=int(shift.total_seconds() // 60), step=None, channel=None
    )
    told = row.told_start or row.promised_start
    return preview_moved(
        runtime, moved, "booking.delayed", new=start, told=told, reason=reason, now=now, base=base
    )


def preview_moved(
    runtime: Runtime,
    moved: Booking,
    event: str,
    *,
    new: datetime,
    told: datetime,
    reason: str | None,
    now: datetime,
    base: DelayPreview,
) -> DelayPreview:
    """The notice of ``event`` for ``moved`` (the booking with its new time ``new``), as the
    service would plan it, or why none goes: less than ``min_delay_notice`` from the time last
    ``told``, no step for the event, no channel for the customer."""
    if new - told < runtime.playbooks.get(moved.playbook).min_delay:
        return replace(base, silent="below_min_delay_notice")
    planner = runtime.planner(moved.playbook)
    steps = planner.steps_for(event)
    if not steps:
        return replace(base, silent="no_step")
    step = steps[0]
    channels, why = planner.channels_for(step, moved)
    if not channels:
        return replace(base, step=step.id, silent=why)
    until = timing.local_iso(new, timing.zone(moved.timezone))
    data = {"minutes": base.minutes, "until": until, "reason": reason}
    preview = Event(id="preview", name=event, at=now, data=data)
    return _render(runtime, moved, step.id, step.template, channels[0], preview, now, base)


def _render(
    runtime: Runtime,
    booking: Booking,
    step_id: str,
    template: str,
    channel: str,
    event: Event,
    now: datetime,
    base: DelayPreview,
) -> DelayPreview:
    playbook = runtime.playbooks.get(booking.playbook)
    context = build_context(
        booking=booking,
        title=playbook.title_in(booking.locale),
        business=runtime.business,
        links=links_for(runtime, int(booking.id), now),
        step_id=step_id,
        channel=channel,
        event=event,
        now=now,
    )
    args = (playbook.playbook, template, booking.locale, playbook.default_locale, context)
    if channel == "sms":
        sms = runtime.renderer.render_sms(*args)
        return replace(
            base, step=step_id, channel=channel, body=sms.body, segments=sms.segments, encoding=sms.encoding
        )
    email = runtime.renderer.render_email(*args)
    return replace(base, step=step_id, channel=channel, subject=email.subject, body=email.text)


def clock_on_day(until: str | None, moving: datetime, tz_name: str, *, example: str) -> str | None:
    """A chosen "HH:MM" on the local day of ``moving`` (the time it moves), as local ISO.

    The staff pages' "set time" for a delay (the start) and a ready delay (the ready time).
    """
    if not until:
        return None
    try:
        clock = datetime.strptime(until, "%H:%M").time()
    except ValueError:
        raise UserInputError(f"until: expected a time such as {example}", field="until") from None
    local = moving.astimezone(timing.zone(tz_name))
    return datetime.combine(local.date(), clock).isoformat(timespec="minutes")
