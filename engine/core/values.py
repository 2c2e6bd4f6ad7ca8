"""Frozen values the pure core works on: bookings, events, planned messages.

ORM rows live in ``engine.store``; these are what planning, timing and
rendering take and return. Every datetime here is aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


def _require_aware(value: object) -> None:
    for item in fields(value):  # type: ignore[arg-type]
        attr = getattr(value, item.name)
        if isinstance(attr, datetime) and attr.tzinfo is None:
            raise ValueError(f"{type(value).__name__}.{item.name} must be timezone-aware")


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    STARTED = "started"
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


#: Statuses after which the customer is no longer waiting for the work to begin.
STARTED_OR_LATER = frozenset({BookingStatus.STARTED, BookingStatus.READY, BookingStatus.COMPLETED})
#: Statuses that end a booking: nothing more is planned for it.
CLOSED = frozenset({BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW})
#: Statuses in which the job no longer lies ahead: too late for a delay or an on-my-way.
UNDER_WAY_OR_ENDED = STARTED_OR_LATER | {BookingStatus.CANCELLED, BookingStatus.NO_SHOW}


class MessageStatus(StrEnum):
    PLANNED = "planned"  # waiting for its due time
    SENDING = "sending"  # claimed by a dispatcher under a lease
    RETRYING = "retrying"  # a temporary failure; due again at next_attempt_at
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider confirmed delivery
    FAILED = "failed"  # permanent failure or attempts exhausted
    SKIPPED = "skipped"  # decided not to send (reason says why)
    CANCELLED = "cancelled"  # withdrawn (booking cancelled, superseded, erased)


#: Allowed transitions (SPEC "Message lifecycle"); every change is a compare-and-set on these.
TRANSITIONS: Mapping[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.PLANNED: frozenset({MessageStatus.SENDING, MessageStatus.SKIPPED, MessageStatus.CANCELLED}),
    MessageStatus.SENDING: frozenset(
        {
            MessageStatus.SENT,
            MessageStatus.RETRYING,
            MessageStatus.FAILED,
            MessageStatus.PLANNED,
            # decided at send time (stale, condition, booking cancelled): never sent
            MessageStatus.SKIPPED,
            MessageStatus.CANCELLED,
        }
    ),
    MessageStatus.RETRYING: frozenset({MessageStatus.SENDING, MessageStatus.CANCELLED}),
    MessageStatus.SENT: frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED}),
    MessageStatus.DELIVERED: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.SKIPPED: frozenset(),
    MessageStatus.CANCELLED: frozenset(),
}
#: Rows that may still be sent.
PENDING = frozenset({MessageStatus.PLANNED, MessageStatus.RETRYING})


@dataclass(frozen=True, kw_only=True)
class Customer:
    name: str
    phone: str | None = None  # E.164
    email: str | None = None
    locale: str | None = None
    marketing_ok: bool = False
    first_name_given: str | None = None
    sms_opted_out: bool = False
    email_opted_out: bool = False
    marketing_opted_out: bool = False  # unsubscribed from offers: beats a recent purchase
    last_purchase_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self)

    @property
    def first_name(self) -> str:
        if self.first_name_given:
            return self.first_name_given
        parts = self.name.split()
        return parts[0] if parts else ""

    def can_receive(self, channel: str) -> bool:
        if channel == "sms":
            return bool(self.phone) and not self.sms_opted_out
        if channel == "email":
            return bool(self.email) and not self.email_opted_out
        return False

    def opted_out_of(self, channel: str) -> bool:
        return self.sms_opted_out if channel == "sms" else self.email_opted_out


@dataclass(frozen=True, kw_only=True)
class Finding:
    text: str
    price: Decimal | None
    must_fix: bool
    decision: str  # pending | approved | declined
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened to a booking; ``id`` is unique within the booking."""

    id: str
    name: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self)


@dataclass(frozen=True, kw_only=True)
class Booking:
    """A booking as the core sees it: current and promised times, state, facts."""

    id: str
    ref: str
    playbook: str
    customer: Customer
    start: datetime  # current expected start
    end: datetime
    promised_start: datetime
    promised_end: datetime
    timezone: str
    locale: str
    created_at: datetime
    status: BookingStatus = BookingStatus.BOOKED
    confirmed: bool = False
    location: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    choices: Mapping[str, str] = field(default_factory=dict)
    delay_reason: str | None = None
    final_price: Decimal | None = None
    pickup_at: datetime | None = None
    score: int | None = None
    schedule_version: int = 1
    told_start: datetime | None = None  # the expected start the customer was last told
    anchors: Mapping[str, datetime] = field(default_factory=dict)  # created, started, ...

    def __post_init__(self) -> None:
        _require_aware(self)
        if self.end <= self.start:
            raise ValueError("end must be after start")

    @property
    def delay_minutes(self) -> int:
        return int((self.start - self.promised_start).total_seconds() // 60)


@dataclass(frozen=True, kw_only=True)
class PlannedMessage:
    """One row the planner wants in the outbox.

    ``key`` is the uniqueness slot (SPEC "Uniqueness"): a timed step's key holds
    the schedule version, an event step's the event id, so replanning the same
    state yields the same keys and the store inserts nothing new.
    """

    key: str
    step: str
    channel: str
    status: MessageStatus  # planned or skipped
    due_at: datetime | None
    reason: str | None = None
    event_id: str | None = None
    urgent: bool = False
    about: datetime | None = None  # the moment the message is about, if still ahead
    moves_with_start: bool = False  # anchored on start/end: moves with a delay
    template: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self)
