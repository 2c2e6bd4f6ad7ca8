"""Send-time checks: may this message go now, given the booking as it is now?

A row was planned earlier; just before it is composed the same question is
asked again (docs/decisions/0003-render-at-send-time.md) and answered with a
named verdict: ``Send``, ``Skip(reason)``, ``Cancel(reason)`` or
``Requeue(until)``. The dispatch pass acts on it; ``forvent preview`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Final, TypeAlias

from engine.core import timing
from engine.core.planner import Planner
from engine.core.values import STARTED_OR_LATER, MessageStatus
from engine.dispatch.drafts import Draft
from engine.runtime import Runtime
from engine.store.tables import MessageRow

# The engine's acknowledgement of STOP: the last SMS that number gets.
STOP_ACKNOWLEDGEMENT = "reply_stop"


@dataclass(frozen=True)
class Send:
    """Nothing stands in the way: compose it and send it now."""


@dataclass(frozen=True)
class Skip:
    """Never sent: the row ends ``skipped`` with ``reason``."""

    reason: str
    status: ClassVar[MessageStatus] = MessageStatus.SKIPPED


@dataclass(frozen=True)
class Cancel:
    """Never sent because the booking was closed after the row was planned."""

    reason: str
    status: ClassVar[MessageStatus] = MessageStatus.CANCELLED


@dataclass(frozen=True)
class Requeue:
    """Not yet (quiet hours, a closed day): planned again for ``until``."""

    until: datetime


Verdict: TypeAlias = Send | Skip | Cancel | Requeue
SEND: Final = Send()


def check(rt: Runtime, row: MessageRow, draft: Draft, now: datetime) -> Verdict:
    """The verdict on ``row`` at ``now``; the order of the questions decides the reason given."""
    overtaken = _overtaken(row, draft, now, max_lateness=rt.settings.max_lateness)
    if overtaken is not None:
        return overtaken
    planner = rt.planner(draft.booking.playbook)
    refused = _refused(planner, row, draft, now)
    if refused is not None:
        return refused
    if row.step == STOP_ACKNOWLEDGEMENT and draft.booking.customer.phone:
        return SEND  # even to a number that has just opted out
    customer = draft.booking.customer
    if not customer.can_receive(row.channel):
        return Skip("opted_out" if customer.opted_out_of(row.channel) else "no_channel")
    return _retimed(planner, row, draft, now)


def _overtaken(row: MessageRow, draft: Draft, now: datetime, *, max_lateness: timedelta) -> Verdict | None:
    """Events since planning made the row pointless: closed booking, too late, already started."""
    closed_at = draft.booking.anchors.get("closed_at")
    if closed_at is not None and row.created_at < closed_at:
        return Cancel("booking_cancelled")
    if row.due_at is not None and now - row.due_at > max_lateness:
        return Skip("stale")
    started = draft.booking.status in STARTED_OR_LATER
    if started and draft.step.when == "booking.created":
        # A confirmation still queued when the job starts would ask a customer whose car is
        # already in the workshop to confirm the booking.
        return Skip("already_started")
    if row.moves_with_start and row.about_at is not None:
        if started:
            return Skip("already_started")
        if row.about_at <= now:
            return Skip("too_late")
    return None


def _refused(planner: Planner, row: MessageRow, draft: Draft, now: datetime) -> Skip | None:
    """The playbook's own rules: marketing consent and the step's conditions."""
    if draft.step.marketing and not planner.has_consent(draft.booking, now):
        return Skip("no_consent")
    reason = planner.condition_reason(draft.booking, draft.step, row.channel, now=now, event=draft.event)
    return Skip(reason) if reason else None


def _retimed(planner: Planner, row: MessageRow, draft: Draft, now: datetime) -> Verdict:
    """Quiet hours and closed days, decided on the send time as the planner decides them."""
    decision = planner.retime(
        now,
        urgent=draft.step.urgent,
        about=row.about_at,
        now=now,
        timed=row.event_id is None,
        tz=timing.zone(draft.booking.timezone),
    )
    if decision.reason:
        return Skip(decision.reason)
    if decision.due is not None and decision.due > now:
        return Requeue(decision.due)
    return SEND
