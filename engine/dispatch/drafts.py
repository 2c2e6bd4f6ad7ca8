"""What an outbox row is about: the booking as it is now, its playbook, the row's step and event.

Read once per message and handed to the send-time checks (``checks``) and to
composition (``compose``), so the dispatch pass and ``forvent preview`` judge
and compose a message from the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engine.core.planner import BUILTIN_STEPS
from engine.core.playbooks import Playbook, StepSpec
from engine.core.values import Booking, Event
from engine.runtime import Runtime
from engine.store.tables import BookingRow, HistoryRow, MessageRow


@dataclass(frozen=True, kw_only=True)
class InviteState:
    """The booking's calendar invite: one UID for its whole life, SEQUENCE raised on every change."""

    uid: str
    sequence: int
    sent: bool  # an invite reached the customer, so its changes follow as invites too


@dataclass(frozen=True, kw_only=True)
class Draft:
    booking: Booking
    playbook: Playbook
    step: StepSpec
    event: Event | None  # the event an event step answers; None for a timed step
    invite: InviteState


def read_draft(
    rt: Runtime, session: Session, row: MessageRow, booking_row: BookingRow, booking: Booking
) -> Draft:
    """``booking`` is ``booking_row`` as the core sees it, passed in so a pass computes it once."""
    playbook = rt.playbooks.get(booking_row.playbook)
    return Draft(
        booking=booking,
        playbook=playbook,
        step=step_of(playbook, row),
        event=event_of(session, row),
        invite=InviteState(
            uid=booking_row.invite_uid,
            sequence=booking_row.invite_sequence,
            sent=booking_row.invite_sent,
        ),
    )


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


def event_of(session: Session, row: MessageRow) -> Event | None:
    """The event an event step was planned for, from the history entry that recorded it."""
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
