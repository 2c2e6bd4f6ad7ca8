"""Stored rows as the pure core's values: the one mapping from ``BookingRow`` to ``Booking``.

The planner, the dispatcher, the previews and the calendar all judge a
booking by the ``Booking`` built here, so a column read one way in one place
and another way elsewhere cannot happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from engine.core.contacts import address_hash
from engine.core.facts import facts_for_templates
from engine.core.playbooks import Playbook
from engine.core.values import Booking, BookingStatus, Customer, Finding
from engine.store.tables import BookingRow, CustomerRow, FindingRow, OptOutRow

# The reads every plan makes, built once: building a query took longer than SQLite took to run it.
_OPT_OUTS = select(OptOutRow.address_hash).where(
    OptOutRow.business_id == bindparam("business_id"),
    OptOutRow.address_hash.in_(bindparam("hashes", expanding=True)),
)
_COMPLETED = BookingStatus.COMPLETED.value
_CUSTOMER_AND_PURCHASES = (
    select(CustomerRow, BookingRow.anchors)
    .outerjoin(BookingRow, and_(BookingRow.customer_id == CustomerRow.id, BookingRow.status == _COMPLETED))
    .where(CustomerRow.id == bindparam("customer_id"))
)
_PURCHASES = select(BookingRow.anchors).where(
    BookingRow.customer_id == bindparam("customer_id"), BookingRow.status == _COMPLETED
)
_FINDINGS = select(FindingRow).where(FindingRow.booking_id == bindparam("booking_id")).order_by(FindingRow.id)


def booking_value(
    session: Session,
    row: BookingRow,
    *,
    playbook: Playbook,
    secret: str | None,
    customer: CustomerRow | None = None,
    created: bool = False,
) -> Booking:
    """``row`` with its customer, findings and opt-outs; ``secret`` keys the opt-out hashes.

    ``customer``: the booking's customer row, when the caller holds it. ``created``:
    this transaction created the booking and its customer (give ``customer``), so
    there are no findings and no completed bookings of the customer to read.
    """
    if created:
        assert customer is not None and customer.id == row.customer_id
        person = customer_of(customer, opted_out=_opt_outs(session, customer, secret), last_purchase_at=None)
        return booking_of(row, person, (), playbook=playbook)
    if customer is None:
        customer, bought = _customer_and_last_purchase(session, row.customer_id)
    else:
        bought = _last_purchase(session, customer.id)
    person = customer_of(customer, opted_out=_opt_outs(session, customer, secret), last_purchase_at=bought)
    return booking_of(row, person, findings(session, row.id), playbook=playbook)


def booking_of(
    row: BookingRow, customer: Customer, found: tuple[Finding, ...], *, playbook: Playbook
) -> Booking:
    """``booking_value`` once its customer and findings are read (a dispatch pass reads a batch's at once)."""
    return Booking(
        id=str(row.id),
        ref=row.ref,
        playbook=row.playbook,
        customer=customer,
        start=row.start_at,
        end=row.end_at,
        promised_start=row.promised_start,
        promised_end=row.promised_end,
        timezone=row.timezone,
        locale=row.locale,
        created_at=row.created_at,
        status=BookingStatus(row.status),
        confirmed=row.confirmed,
        location=row.location,
        facts=facts_for_templates(playbook, row.facts or {}),
        findings=found,
        choices=dict(row.choices or {}),
        delay_reason=row.delay_reason,
        final_price=Decimal(row.final_price) if row.final_price else None,
        pickup_at=row.pickup_at,
        score=row.score,
        schedule_version=row.schedule_version,
        told_start=row.told_start,
        anchors=booking_anchors(row),
    )


def customer_value(session: Session, customer: CustomerRow, *, secret: str | None) -> Customer:
    return customer_of(
        customer,
        opted_out=_opt_outs(session, customer, secret),
        last_purchase_at=_last_purchase(session, customer.id),
    )


def customer_of(
    customer: CustomerRow, *, opted_out: Mapping[str, bool], last_purchase_at: datetime | None
) -> Customer:
    """``opted_out`` as ``opted_out_of`` gives it (``{"sms_opted_out": True}``)."""
    return Customer(
        name=customer.name,
        first_name_given=customer.first_name,
        phone=customer.phone,
        email=customer.email,
        locale=customer.locale,
        marketing_ok=customer.marketing_ok,
        **opted_out,
        last_purchase_at=last_purchase_at,
    )


def finding_value(row: FindingRow) -> Finding:
    return Finding(
        text=row.text,
        price=Decimal(row.price) if row.price else None,
        must_fix=row.must_fix,
        decision=row.decision,
        at=row.created_at,
    )


def findings(session: Session, booking_id: int) -> tuple[Finding, ...]:
    """The booking's findings in the order staff added them."""
    return tuple(finding_value(f) for f in session.scalars(_FINDINGS, {"booking_id": booking_id}))


def booking_anchors(row: BookingRow) -> dict[str, datetime]:
    """The instants the booking reached each milestone (``created``, ``confirmed``, ``completed``...)."""
    return {k: datetime.fromisoformat(v) for k, v in (row.anchors or {}).items()}


def customer_name(session: Session, booking: BookingRow) -> str:
    """The name staff alerts give; ``?`` if the customer row is gone."""
    customer = session.get(CustomerRow, booking.customer_id)
    return customer.name if customer else "?"


def opt_out_hashes(customer: CustomerRow, secret: str | None) -> dict[str, str]:
    """The keyed hashes an opt-out of this customer is stored under, each with its channel."""
    return {
        address_hash(channel, address, secret): channel
        for channel, address in (
            ("sms", customer.phone),
            ("email", customer.email),
            ("marketing", customer.phone),
            ("marketing", customer.email),
        )
        if address
    }


def opted_out_of(wanted: Mapping[str, str], found: Iterable[str]) -> dict[str, bool]:
    """The opt-outs among ``wanted`` (``opt_out_hashes``) that ``found`` holds."""
    return {f"{wanted[h]}_opted_out": True for h in found if h in wanted}


def last_purchase(anchors: Iterable[Mapping[str, str] | None]) -> datetime | None:
    """The latest ``completed`` anchor among a customer's completed bookings'."""
    times = [datetime.fromisoformat(a["completed"]) for a in anchors if a and "completed" in a]
    return max(times) if times else None


def _opt_outs(session: Session, customer: CustomerRow, secret: str | None) -> dict[str, bool]:
    """Every channel's opt-out in one query."""
    wanted = opt_out_hashes(customer, secret)
    if not wanted:
        return {}
    found = session.scalars(_OPT_OUTS, {"business_id": customer.business_id, "hashes": list(wanted)})
    return opted_out_of(wanted, found)


def _customer_and_last_purchase(session: Session, customer_id: int) -> tuple[CustomerRow, datetime | None]:
    """The customer row and its last purchase, in one query joining its completed bookings."""
    rows = session.execute(_CUSTOMER_AND_PURCHASES, {"customer_id": customer_id}).all()
    assert rows, f"customer {customer_id} of a booking is missing"
    return rows[0][0], last_purchase(anchors for _, anchors in rows)


def _last_purchase(session: Session, customer_id: int) -> datetime | None:
    return last_purchase(session.scalars(_PURCHASES, {"customer_id": customer_id}))
