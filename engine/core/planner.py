"""Planning: booking + playbook + events + now -> the messages to hold (pure).

``Planner.timed`` turns every ``at:`` step whose anchor is known into planned
or skipped messages; ``Planner.for_event`` does the same for the ``when:``
steps an event triggers. Neither reads a clock or a database: the store
inserts what is new by each message's ``key`` and moves pending rows whose
``due_at`` changed, so planning the same state twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.core import conditions, timing
from engine.core.business import BusinessProfile
from engine.core.context import Links, build_context
from engine.core.playbooks import Playbook, StepSpec
from engine.core.values import (
    CLOSED,
    STARTED_OR_LATER,
    Booking,
    BookingStatus,
    Event,
    MessageStatus,
    PlannedMessage,
)

#: Steps the engine runs itself when a playbook has none for the event (SPEC "Cancel").
#: Not urgent: quiet hours hold them like any non-urgent event step (``retime``); a
#: playbook that wants a notice to ignore them writes its own step with ``urgent: true``.
BUILTIN_STEPS = {
    "booking.cancelled": StepSpec(id="cancelled", when="booking.cancelled", template="cancelled"),
    "booking.delayed": StepSpec(id="moved", when="booking.delayed", template="moved"),
    "booking.rescheduled": StepSpec(id="moved", when="booking.rescheduled", template="moved"),
    "job.ready_delayed": StepSpec(id="ready_delayed", when="job.ready_delayed", template="ready_delayed"),
}
#: The engine's own notices of a change. Quiet hours hold them, but one that cannot reach the
#: customer alerts staff like an urgent step's: a cancellation nobody heard of is a surprise.
MUST_REACH = frozenset(step.id for step in BUILTIN_STEPS.values())
#: Events after which a calendar that ever got an invite must be updated.
INVITE_EVENTS = frozenset(
    {"booking.delayed", "job.ready_delayed", "booking.rescheduled", "booking.cancelled", "booking.no_show"}
)
MARKETING_MONTHS = 24


def alerts_staff(step_id: str, *, urgent: bool) -> bool:
    """Whether a message of this step that cannot reach the customer is told to staff: an
    urgent step's, or one of the engine's own notices (``MUST_REACH``)."""
    return urgent or step_id in MUST_REACH


@dataclass(frozen=True, kw_only=True)
class _Decision:
    due: datetime | None
    reason: str | None


class Planner:
    """Plans the messages of one playbook for one business."""

    def __init__(self, playbook: Playbook, business: BusinessProfile) -> None:
        self.playbook = playbook
        self.business = business
        spec = playbook.quiet_hours or business.quiet_hours
        self.quiet = spec.value() if spec else None
        self.closed_dates = frozenset(business.closed_dates)

    # --- timed steps -------------------------------------------------------------

    def timed(self, booking: Booking, *, now: datetime) -> list[PlannedMessage]:
        """Messages for every ``at:`` step whose anchor is known."""
        out: list[PlannedMessage] = []
        for step in self.playbook.steps:
            expr = step.at_expr
            if expr is None:
                continue
            on_schedule = expr.anchor in ("start", "end")
            if on_schedule and booking.status in CLOSED:
                continue
            if booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
                continue
            anchor = self.anchor_time(booking, expr.anchor)
            if anchor is None:
                continue
            tz = timing.zone(booking.timezone)
            due = timing.shift(anchor, expr.sign, expr.offset, tz)
            if step.local_time is not None:
                due = timing.at_local_time(due, step.local_time, tz)
            about = anchor if on_schedule and due < anchor else None
            slot = f"v{booking.schedule_version}" if on_schedule else expr.anchor
            out.extend(
                self._messages(
                    booking,
                    step,
                    due=due,
                    about=about,
                    now=now,
                    slot=slot,
                    event=None,
                    moves_with_start=on_schedule,
                )
            )
        return out

    def anchor_time(self, booking: Booking, anchor: str) -> datetime | None:
        if anchor == "start":
            return booking.start
        if anchor == "end":
            return booking.end
        return booking.anchors.get(anchor)

    def waiting_steps(self, booking: Booking) -> list[tuple[StepSpec, str]]:
        """Timed steps whose anchor event has not happened: (step, the event)."""
        out = []
        for step in self.playbook.steps:
            expr = step.at_expr
            if expr and expr.anchor not in ("start", "end") and expr.anchor not in booking.anchors:
                out.append((step, timing.EVENT_ANCHORS[expr.anchor]))
        return out

    # --- event steps -------------------------------------------------------------

    def steps_for(self, event_name: str) -> list[StepSpec]:
        steps = self.playbook.steps_for(event_name)
        if not steps and event_name in BUILTIN_STEPS:
            return [BUILTIN_STEPS[event_name]]
        return steps

    def for_event(
        self, booking: Booking, event: Event, *, now: datetime, invite_sent: bool = False
    ) -> list[PlannedMessage]:
        """Messages for the ``when:`` steps ``event`` triggers, due at once.

        ``invite_sent``: an invite reached this customer before, so a change of
        time or a cancel also sends the updated invite by email.
        """
        slot = "created" if event.name == "booking.created" else f"e{event.id}"
        # An event step before the start is about the start (SPEC "Quiet hours").
        about = booking.start if now < booking.start else None
        out: list[PlannedMessage] = []
        for step in self.steps_for(event.name):
            out.extend(self._messages(booking, step, due=now, about=about, now=now, slot=slot, event=event))
        if invite_sent and event.name in INVITE_EVENTS and booking.customer.email:
            sends_email = any(m.channel == "email" and m.status == MessageStatus.PLANNED for m in out)
            if not sends_email and not booking.customer.email_opted_out:
                due, urgent = self.invite_timing(out, about=about, now=now, tz=timing.zone(booking.timezone))
                out.append(
                    PlannedMessage(
                        key=f"invite_update:email:{slot}",
                        step="invite_update",
                        channel="email",
                        status=MessageStatus.PLANNED,
                        due_at=due,
                        event_id=event.id,
                        urgent=urgent,
                        about=about,
                        template="invite_update",
                    )
                )
        return out

    def invite_timing(
        self, notices: list[PlannedMessage], *, about: datetime | None, now: datetime, tz: ZoneInfo
    ) -> tuple[datetime, bool]:
        """When an updated invite goes on its own, and whether it is urgent: with its notice.

        Never before the event's last notice, and as urgent as they are, so the send-time
        checks hold or release both alike; with no notice planned (none in the playbook,
        or none reaches the customer) it is a non-urgent event step of its own.
        """
        going = [m for m in notices if m.status == MessageStatus.PLANNED and m.due_at is not None]
        if going:
            last = max(going, key=lambda m: m.due_at or now)
            assert last.due_at is not None
            return last.due_at, all(m.urgent for m in going)
        decision = self.retime(now, urgent=False, about=about, now=now, timed=False, tz=tz)
        return decision.due or now, False

    # --- shared ------------------------------------------------------------------

    def _messages(
        self,
        booking: Booking,
        step: StepSpec,
        *,
        due: datetime,
        about: datetime | None,
        now: datetime,
        slot: str,
        event: Event | None,
        moves_with_start: bool = False,
    ) -> list[PlannedMessage]:
        channels, channel_reason = self.channels_for(step, booking)
        base = PlannedMessage(
            key="",
            step=step.id,
            channel=channels[0] if channels else self.playbook.step_channels(step)[0],
            status=MessageStatus.PLANNED,
            due_at=due,
            event_id=event.id if event else None,
            urgent=step.urgent,
            about=about,
            moves_with_start=moves_with_start,
            template=step.template,
        )
        if channel_reason:
            return [self._skip(base, slot, channel_reason)]
        out = []
        for channel in channels:
            message = replace(base, channel=channel, key=f"{step.id}:{channel}:{slot}")
            decision = self._decide(booking, step, message, now=now, event=event)
            if decision.reason:
                out.append(replace(message, status=MessageStatus.SKIPPED, reason=decision.reason))
            else:
                out.append(replace(message, due_at=decision.due))
        return out

    @staticmethod
    def _skip(message: PlannedMessage, slot: str, reason: str) -> PlannedMessage:
        key = f"{message.step}:{message.channel}:{slot}"
        return replace(message, key=key, status=MessageStatus.SKIPPED, reason=reason)

    def channels_for(self, step: StepSpec, booking: Booking) -> tuple[list[str], str | None]:
        """The channels a step uses for this customer, or why it has none."""
        listed = self.playbook.step_channels(step)
        usable = [c for c in listed if booking.customer.can_receive(c)]
        if not usable:
            opted = any(booking.customer.opted_out_of(c) for c in listed)
            return [], "opted_out" if opted else "no_channel"
        return (usable if step.deliver == "all" else usable[:1]), None

    def _decide(
        self,
        booking: Booking,
        step: StepSpec,
        message: PlannedMessage,
        *,
        now: datetime,
        event: Event | None,
    ) -> _Decision:
        assert message.due_at is not None
        due = message.due_at
        timed = event is None
        if step.marketing and not self.has_consent(booking, now):
            return _Decision(due=None, reason="no_consent")
        if timed and due < now:
            return _Decision(due=None, reason="too_late")
        if timed and step.skip_if_created_within:
            window = timing.parse_timedelta(step.skip_if_created_within)
            if due - booking.created_at < window:
                return _Decision(due=None, reason="created_recently")
        reason = self.condition_reason(booking, step, message.channel, now=now, event=event)
        if reason:
            return _Decision(due=None, reason=reason)
        if message.moves_with_start and message.about and booking.status in STARTED_OR_LATER:
            return _Decision(due=None, reason="already_started")
        tz = timing.zone(booking.timezone)
        if step.on_closed_day != "keep" and not self.is_open(due, tz):
            if step.on_closed_day == "skip":
                return _Decision(due=None, reason="closed_day")
            due = timing.next_open_day(due, tz, self.business.open_weekdays, self.closed_dates)
        return self.retime(due, urgent=step.urgent, about=message.about, now=now, timed=timed, tz=tz)

    def retime(
        self,
        due: datetime,
        *,
        urgent: bool,
        about: datetime | None,
        now: datetime,
        timed: bool,
        tz: ZoneInfo,
    ) -> _Decision:
        """The one quiet-hours rule, at planning and again at send time (SPEC "Quiet hours").

        Urgent: ``due`` as it is. Otherwise a time inside quiet hours moves to their
        end, or to their start when the end is at or after ``about`` (the moment still
        ahead the message is about); if that start has passed, a timed step is
        ``too_late`` and an event step (a notice, an invite update) goes at once.
        """
        if urgent:
            return _Decision(due=due, reason=None)
        decision = timing.apply_quiet_hours(due, quiet=self.quiet, tz=tz, about=about, now=now)
        if decision.due is not None:
            return _Decision(due=decision.due, reason=None)
        return _Decision(due=None, reason="too_late") if timed else _Decision(due=now, reason=None)

    def is_open(self, due: datetime, tz: ZoneInfo) -> bool:
        return timing.is_open_day(due.astimezone(tz).date(), self.business.open_weekdays, self.closed_dates)

    def has_consent(self, booking: Booking, now: datetime) -> bool:
        customer = booking.customer
        if customer.marketing_opted_out:
            return False
        if customer.marketing_ok:
            return True
        bought = customer.last_purchase_at or booking.anchors.get("completed")
        if bought is None:
            return False
        tz = timing.zone(booking.timezone)
        limit = timing.shift(now, -1, timing.Duration(months=MARKETING_MONTHS), tz)
        return bought >= limit

    def condition_reason(
        self,
        booking: Booking,
        step: StepSpec,
        channel: str,
        *,
        now: datetime,
        event: Event | None,
    ) -> str | None:
        """``None`` when every ``if``/``unless`` holds, else the skip reason."""
        sources = step.condition_sources
        if not sources:
            return None
        context = build_context(
            booking=booking,
            title=self.playbook.title_in(booking.locale),
            business=self.business,
            links=Links.placeholder(self.business),
            step_id=step.id,
            channel=channel,
            event=event,
            now=now,
        )
        for expression, wanted in sources:
            if conditions.evaluate(expression, context) != wanted:
                if booking.confirmed and "confirmed" in expression and not wanted:
                    return "already_confirmed"
                return "condition"
        return None
