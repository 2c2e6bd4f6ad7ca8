"""What the staff board shows: a day's bookings as cards, recent alerts, one booking in full.

"Today" is the business's local date on the engine clock. A day lists the
bookings expected or promised to start on it; today's list also keeps jobs
still in progress (started or ready) from earlier days, such as a car that
stayed overnight.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.values import BookingStatus
from engine.exceptions import ForventError
from engine.runtime import Runtime
from engine.store.tables import BookingRow, CustomerRow, FindingRow, HistoryRow, MessageRow
from engine.web import i18n

B = BookingStatus
IN_PROGRESS = (str(B.STARTED), str(B.READY))
ALERT_WINDOW = timedelta(hours=24)
SUMMARY_FACTS = ("vehicle", "registration", "task")


@dataclass(frozen=True, kw_only=True)
class Card:
    """One booking on the board."""

    id: int
    ref: str
    name: str
    phone: str | None
    title: str
    summary: str
    status: str
    confirmed: bool
    start: datetime  # local, current expected
    end: datetime
    promised: str  # "10:00–14:00"
    eta: str | None  # the expected window when it differs from the promise
    delay_minutes: int
    pending_findings: int
    failed_messages: int
    location: str | None
    on_my_way: bool = False  # its playbook has a step on staff.on_my_way
    promise: str = "arrival"  # what its window promises: arrival or ready
    assignee: str | None = None  # who does the job

    @property
    def can_delay(self) -> bool:
        return self.status in (B.BOOKED, B.CONFIRMED)

    @property
    def can_go(self) -> bool:
        """The "On my way" button: the playbook tells the customer, and the job is still ahead."""
        return self.on_my_way and self.can_delay

    @property
    def can_delay_ready(self) -> bool:
        """The "Ready later" control: a job in hand whose window promises when it is ready."""
        return self.promise == "ready" and self.status == B.STARTED

    @property
    def unconfirmed(self) -> bool:
        return self.status == B.BOOKED and not self.confirmed


def local_day(runtime: Runtime, value: str | None) -> date:
    tz = timing.zone(runtime.business.timezone)
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return runtime.now().astimezone(tz).date()


def _bounds(runtime: Runtime, day: date) -> tuple[datetime, datetime]:
    tz = timing.zone(runtime.business.timezone)
    return (
        timing.wall(datetime.combine(day, time()), tz),
        timing.wall(datetime.combine(day + timedelta(days=1), time()), tz),
    )


def day_cards(runtime: Runtime, session: Session, day: date) -> list[Card]:
    begin, end = _bounds(runtime, day)
    on_day = [
        and_(BookingRow.start_at >= begin, BookingRow.start_at < end),
        and_(BookingRow.promised_start >= begin, BookingRow.promised_start < end),
    ]
    if local_day(runtime, None) == day:
        on_day.append(and_(BookingRow.status.in_(IN_PROGRESS), BookingRow.start_at < end))
    query = select(BookingRow).where(BookingRow.business_id == runtime.business.id, or_(*on_day))
    rows = list(session.scalars(query.order_by(BookingRow.start_at, BookingRow.id)))
    return cards(runtime, session, rows)


def cards(runtime: Runtime, session: Session, rows: list[BookingRow]) -> list[Card]:
    ids = [r.id for r in rows]
    pending = Counter(
        session.scalars(
            select(FindingRow.booking_id).where(
                FindingRow.booking_id.in_(ids), FindingRow.decision == "pending"
            )
        )
    )
    failed = Counter(
        session.scalars(
            select(MessageRow.booking_id).where(
                MessageRow.booking_id.in_(ids),
                MessageRow.status == "failed",
                MessageRow.step != "staff_alert",
            )
        )
    )
    customers = {
        c.id: c
        for c in session.scalars(select(CustomerRow).where(CustomerRow.id.in_([r.customer_id for r in rows])))
    }
    return [
        _card(runtime, row, customers.get(row.customer_id), pending[row.id], failed[row.id]) for row in rows
    ]


def _card(runtime: Runtime, row: BookingRow, customer: CustomerRow | None, pending: int, failed: int) -> Card:
    tz = timing.zone(row.timezone)
    locale = runtime.business.default_locale
    start, end = row.start_at.astimezone(tz), row.end_at.astimezone(tz)
    promised = i18n.window(row.promised_start.astimezone(tz), row.promised_end.astimezone(tz), locale)
    eta = i18n.window(start, end, locale)
    return Card(
        id=row.id,
        ref=row.ref,
        name=customer.name if customer else "?",
        phone=customer.phone if customer else None,
        title=_title(runtime, row.playbook),
        summary=summary(row),
        status=row.status,
        confirmed=row.confirmed,
        start=start,
        end=end,
        promised=promised,
        eta=eta if eta != promised else None,
        delay_minutes=int((row.start_at - row.promised_start).total_seconds() // 60),
        pending_findings=pending,
        failed_messages=failed,
        location=row.location,
        on_my_way=_has_on_my_way(runtime, row.playbook),
        promise=_promise(runtime, row.playbook),
        assignee=row.assignee,
    )


def _promise(runtime: Runtime, playbook_id: str) -> str:
    try:
        return runtime.playbooks.get(playbook_id).promise
    except ForventError:
        return "arrival"


def _has_on_my_way(runtime: Runtime, playbook_id: str) -> bool:
    try:
        return bool(runtime.playbooks.get(playbook_id).steps_for("staff.on_my_way"))
    except ForventError:
        return False


def _title(runtime: Runtime, playbook_id: str) -> str:
    try:
        return runtime.playbooks.get(playbook_id).title_in(runtime.business.default_locale)
    except ForventError:  # a playbook edited into an invalid state must not take the board down
        return playbook_id


def summary(row: BookingRow) -> str:
    facts = row.facts or {}
    return " · ".join(str(facts[k]) for k in SUMMARY_FACTS if facts.get(k))


def alerts(runtime: Runtime, session: Session) -> list[dict[str, Any]]:
    """Staff alerts of the last 24 hours, newest first."""
    since = runtime.now() - ALERT_WINDOW
    query = (
        select(HistoryRow, BookingRow.ref)
        .outerjoin(BookingRow, BookingRow.id == HistoryRow.booking_id)
        .where(
            HistoryRow.business_id == runtime.business.id, HistoryRow.kind == "staff", HistoryRow.at >= since
        )
        .order_by(HistoryRow.at.desc(), HistoryRow.id.desc())
    )
    tz = timing.zone(runtime.business.timezone)
    return [
        {"at": h.at.astimezone(tz), "ref": ref, "text": (h.detail or "").removeprefix("alert: ")}
        for h, ref in session.execute(query)
        if (h.data or {}).get("alert")
    ][:20]
