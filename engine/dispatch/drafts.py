"""What an outbox row is about: the booking as it is now, its playbook, the row's step and event.

Read once per message and handed to the send-time checks (``checks``) and to
composition (``compose``), so the dispatch pass and ``forvent preview`` judge
and compose a message from the same inputs. A dispatch pass reads a whole
batch's at once (``read_batch``: a fixed number of queries whatever the batch's
size) and builds each draft afterwards, with no transaction open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.planner import BUILTIN_STEPS
from engine.core.playbooks import Playbook, StepSpec
from engine.core.values import Booking, BookingStatus, Customer, Event, Finding
from engine.runtime import Runtime
from engine.store.tables import BookingRow, CustomerRow, FindingRow, HistoryRow, MessageRow, OptOutRow
from engine.store.values import (
    booking_of,
    customer_of,
    finding_value,
    last_purchase,
    opt_out_hashes,
    opted_out_of,
)


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
    # invite_update (as urgent as its notice), reply_<class> (urgent: an answer goes at once)
    return StepSpec(
        id=row.step, when="customer.replied", template=row.template or row.step, urgent=row.urgent
    )


def event_of(session: Session, row: MessageRow) -> Event | None:
    """The event an event step was planned for, from the history entry that recorded it."""
    if row.event_id is None:
        return None
    history = session.get(HistoryRow, row.event_id)
    return None if history is None else event_value(history)


def event_value(history: HistoryRow) -> Event:
    return Event(
        id=str(history.id),
        name=history.kind.removeprefix("event:"),
        at=history.at,
        data=history.data or {},
    )


@dataclass
class Batch:
    """What a batch of outbox rows is about, as ``read_batch`` read it in one transaction.

    Drafts are built from it afterwards, with no session: the booking value
    once per booking, however many of the batch's rows it has.
    """

    rt: Runtime
    rows: list[MessageRow]  # in the order asked for
    bookings: dict[int, BookingRow]
    customers: dict[int, CustomerRow]
    findings: dict[int, tuple[Finding, ...]]
    opted_out: dict[int, dict[str, bool]]  # each customer's, as ``opted_out_of`` gives them
    purchases: dict[int, datetime | None]  # the customer's last completed booking
    events: dict[int, Event]
    _values: dict[int, Booking] = field(default_factory=dict)

    def booking_row(self, row: MessageRow) -> BookingRow | None:
        return self.bookings.get(row.booking_id) if row.booking_id is not None else None

    def draft(self, row: MessageRow, booking_row: BookingRow) -> Draft:
        """Raises what a broken booking raises (an unknown playbook): the caller fails that message."""
        playbook = self.rt.playbooks.get(booking_row.playbook)
        return Draft(
            booking=self.value(booking_row, playbook),
            playbook=playbook,
            step=step_of(playbook, row),
            event=self.events.get(row.event_id) if row.event_id is not None else None,
            invite=InviteState(
                uid=booking_row.invite_uid,
                sequence=booking_row.invite_sequence,
                sent=booking_row.invite_sent,
            ),
        )

    def value(self, booking_row: BookingRow, playbook: Playbook) -> Booking:
        if booking_row.id not in self._values:
            found = self.findings.get(booking_row.id, ())
            self._values[booking_row.id] = booking_of(
                booking_row, self._customer(booking_row.customer_id), found, playbook=playbook
            )
        return self._values[booking_row.id]

    def _customer(self, customer_id: int) -> Customer:
        return customer_of(
            self.customers[customer_id],
            opted_out=self.opted_out.get(customer_id, {}),
            last_purchase_at=self.purchases.get(customer_id),
        )


def read_batch(rt: Runtime, session: Session, message_ids: Sequence[int]) -> Batch:
    """The outbox rows ``message_ids``, their bookings with the customers, findings, opt-outs and
    last purchases, and the rows' events: seven queries for the whole batch."""
    order = {message_id: n for n, message_id in enumerate(message_ids)}
    query = select(MessageRow).where(MessageRow.id.in_(message_ids))
    rows = sorted(session.scalars(query), key=lambda row: order[row.id])
    booking_ids = sorted({r.booking_id for r in rows if r.booking_id is not None})
    bookings = {b.id: b for b in session.scalars(select(BookingRow).where(BookingRow.id.in_(booking_ids)))}
    customer_ids = sorted({b.customer_id for b in bookings.values()})
    customers = {
        c.id: c for c in session.scalars(select(CustomerRow).where(CustomerRow.id.in_(customer_ids)))
    }
    event_ids = sorted({r.event_id for r in rows if r.event_id is not None})
    return Batch(
        rt=rt,
        rows=rows,
        bookings=bookings,
        customers=customers,
        findings=_findings(session, booking_ids),
        opted_out=_opted_out(session, rt, customers),
        purchases=_purchases(session, customer_ids),
        events=_events(session, event_ids),
    )


def _events(session: Session, event_ids: list[int]) -> dict[int, Event]:
    if not event_ids:  # timed steps only: the usual batch
        return {}
    return {
        h.id: event_value(h) for h in session.scalars(select(HistoryRow).where(HistoryRow.id.in_(event_ids)))
    }


def _findings(session: Session, booking_ids: list[int]) -> dict[int, tuple[Finding, ...]]:
    """Each booking's findings in the order staff added them."""
    found: dict[int, list[Finding]] = defaultdict(list)
    query = select(FindingRow).where(FindingRow.booking_id.in_(booking_ids)).order_by(FindingRow.id)
    for finding in session.scalars(query):
        found[finding.booking_id].append(finding_value(finding))
    return {booking_id: tuple(items) for booking_id, items in found.items()}


def _opted_out(
    session: Session, rt: Runtime, customers: dict[int, CustomerRow]
) -> dict[int, dict[str, bool]]:
    """Each customer's opt-outs: one query for all their keyed address hashes."""
    wanted = {c.id: opt_out_hashes(c, rt.settings.secret) for c in customers.values()}
    hashes = sorted({h for hashes in wanted.values() for h in hashes})
    if not hashes:
        return {}
    query = select(OptOutRow.business_id, OptOutRow.address_hash).where(OptOutRow.address_hash.in_(hashes))
    stored = {(business, h) for business, h in session.execute(query)}
    return {
        customer_id: opted_out_of(
            hashes, [h for h in hashes if (customers[customer_id].business_id, h) in stored]
        )
        for customer_id, hashes in wanted.items()
    }


def _purchases(session: Session, customer_ids: list[int]) -> dict[int, datetime | None]:
    anchors: dict[int, list[dict[str, str] | None]] = defaultdict(list)
    query = select(BookingRow.customer_id, BookingRow.anchors).where(
        BookingRow.customer_id.in_(customer_ids), BookingRow.status == str(BookingStatus.COMPLETED)
    )
    for customer_id, booking_anchors in session.execute(query):
        anchors[customer_id].append(booking_anchors)
    return {customer_id: last_purchase(found) for customer_id, found in anchors.items()}
