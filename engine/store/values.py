"""Stored rows as the pure core's values: the one mapping from ``BookingRow`` to ``Booking``.

The planner, the dispatcher, the previews and the calendar all judge a
booking by the ``Booking`` built here, so a column read one way in one place
and another way elsewhere cannot happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.contacts import address_hash
from engine.core.facts import facts_for_templates
from engine.core.playbooks import Playbook
from engine.core.values import Booking, BookingStatus, Customer, Finding
from engine.store.tables import BookingRow, CustomerRow, FindingRow, OptOutRow


def booking_value(session: Session, row: BookingRow, *, playbook: Playbook, secret: str | None) -> Booking:
    """``row`` with its customer, findings and opt-outs; ``secret`` keys the opt-out hashes."""
    customer = session.get(CustomerRow, row.customer_id)
    assert customer is not None
    return booking_of(
        row, customer_value(session, customer, secret=secret), findings(session, row.id), playbook=playbook
    )


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
    rows = session.scalars(
        select(FindingRow).where(FindingRow.booking_id == booking_id).order_by(FindingRow.id)
    )
    return tuple(finding_value(f) for f in rows)


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
    found = session.scalars(
        select(OptOutRow.address_hash).where(
            OptOutRow.business_id == customer.business_id, OptOutRow.address_hash.in_(list(wanted))
        )
    )
    return opted_out_of(wanted, found)


def _last_purchase(session: Session, customer_id: int) -> datetime | None:
    rows = session.scalars(
        select(BookingRow.anchors).where(
            BookingRow.customer_id == customer_id, BookingRow.status == str(BookingStatus.COMPLETED)
        )
    )
    return last_purchase(rows)
