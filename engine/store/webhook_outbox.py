"""Webhook deliveries: the rows, their claim under a lease and their compare-and-set outcomes.

The same life as a message (``planned`` -> ``sending`` -> ``sent`` |
``retrying`` | ``failed``; an expired claim is claimable again; ``cancelled``
when the customer is erased before it went), in a table of its own so no
report, board, opt-out or quiet-hours rule ever counts one.
Every outcome is a compare-and-set on the row still claimed by this worker;
a zero row count means another worker took it over, and its outcome wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from engine.store import history
from engine.store.tables import WebhookDeliveryRow

PLANNED, SENDING, RETRYING, SENT, FAILED = "planned", "sending", "retrying", "sent", "failed"
CANCELLED = "cancelled"
W = WebhookDeliveryRow


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    key: str
    delivery_id: str
    event: str
    url: str
    body: str


def add(
    session: Session,
    *,
    business_id: str,
    booking_id: int | None,
    deliveries: list[NewDelivery],
    now: datetime,
) -> None:
    """Due at once; written with the event's own transaction, so one never goes without the other."""
    session.add_all(
        W(
            business_id=business_id,
            booking_id=booking_id,
            key=d.key,
            delivery_id=d.delivery_id,
            event=d.event,
            url=d.url,
            body=d.body,
            status=PLANNED,
            attempts=0,
            ready_at=now,
            created_at=now,
            updated_at=now,
        )
        for d in deliveries
    )


def _claimable(business_id: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        W.business_id == business_id,
        or_(
            and_(W.status.in_((PLANNED, RETRYING)), W.ready_at <= now),
            and_(W.status == SENDING, W.claimed_until < now),  # its worker died: take it over
        ),
    )


def any_due(session: Session, *, business_id: str, now: datetime) -> bool:
    return session.scalar(select(W.id).where(_claimable(business_id, now)).limit(1)) is not None


def claim_due(
    session: Session,
    *,
    business_id: str,
    now: datetime,
    worker: str,
    lease: timedelta,
    limit: int,
    skip_locked: bool,
) -> list[WebhookDeliveryRow]:
    """Up to ``limit`` due deliveries, now ``sending`` and held by ``worker`` until the lease ends."""
    due = select(W.id).where(_claimable(business_id, now)).order_by(W.ready_at, W.id).limit(limit)
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(W)
        .where(W.id.in_(ids), _claimable(business_id, now))
        .values(status=SENDING, claimed_by=worker, claimed_until=now + lease, attempts=W.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    claimed = select(W).where(W.id.in_(ids), W.status == SENDING, W.claimed_by == worker)
    return list(session.scalars(claimed.order_by(W.id)))


def erase(session: Session, *, booking_id: int, reason: str, now: datetime) -> int:
    """Forget a booking's undelivered bodies; the waiting ones are ``cancelled`` (``reason``).

    A delivery being POSTed right now keeps its claim, so its worker can still
    record the answer, but loses its body: should it need a retry, there is
    nothing left to send. Returns how many were cancelled.
    """
    of_booking = W.booking_id == booking_id
    waiting = or_(W.status.in_((PLANNED, RETRYING)), and_(W.status == SENDING, W.claimed_until < now))
    cancelled = session.execute(
        update(W)
        .where(of_booking, waiting)
        .values(
            status=CANCELLED,
            reason=reason,
            body=None,
            ready_at=None,
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(W)
        .where(of_booking, W.body.is_not(None))
        .values(body=None)
        .execution_options(synchronize_session=False)
    )
    return int(cancelled.rowcount or 0)  # type: ignore[attr-defined]


def settle(
    session: Session,
    delivery: WebhookDeliveryRow,
    status: str,
    *,
    worker: str,
    now: datetime,
    reason: str | None = None,
    response_code: int | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record an attempt's outcome; False when the claim was lost meanwhile (nothing written)."""
    values: dict[str, object] = {
        "status": status,
        "reason": reason,
        "response_code": response_code,
        "claimed_by": None,
        "claimed_until": None,
        "ready_at": retry_at,
        "updated_at": now,
    }
    if status == SENT:
        values["sent_at"] = now
    if status in (SENT, FAILED):
        values["body"] = None  # it may quote the customer; what happened stays, the words go
    done = session.execute(
        update(W)
        .where(W.id == delivery.id, W.status == SENDING, W.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return False
    _note(session, delivery, status, reason, response_code, now)
    return True


def _note(
    session: Session,
    delivery: WebhookDeliveryRow,
    status: str,
    reason: str | None,
    response_code: int | None,
    now: datetime,
) -> None:
    """The booking's history says what its business's own system was told, and what it answered."""
    if delivery.booking_id is None:
        return
    answer = f"{status} ({reason})" if reason else f"{status} ({response_code})"
    history.record(
        session,
        business_id=delivery.business_id,
        booking_id=delivery.booking_id,
        at=now,
        kind="webhook",
        detail=f"{delivery.event} to {delivery.url}: {answer}",
        data={"delivery": delivery.delivery_id},
    )
