"""Database tables (SQLAlchemy 2.x). Values for the pure core live in ``engine.core.values``.

Every table carries ``business_id``. Times are stored as UTC and come back aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, naive UTC stored (sortable as text in SQLite), aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class BusinessRow(Base):
    __tablename__ = "businesses"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64))  # itself, so every table carries it
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerRow(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    name: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    marketing_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OptOutRow(Base):
    """A channel address that asked for no more messages, kept as a one-way hash."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("business_id", "channel", "address_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    channel: Mapped[str] = mapped_column(String(16))
    address_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BookingRow(Base):
    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("business_id", "ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    ref: Mapped[str] = mapped_column(String(100))
    playbook: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    promised_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    promised_end: Mapped[datetime] = mapped_column(UTCDateTime)
    told_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ready time the customer was last told (``promise: ready`` playbooks); None = promised_end.
    told_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The technician or team member doing the job; free text, filtered on the board.
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    anchors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # event -> UTC ISO
    delay_reason: Mapped[str | None] = mapped_column(Text)
    final_price: Mapped[str | None] = mapped_column(String(32))
    pickup_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    invite_uid: Mapped[str] = mapped_column(String(200))
    invite_sequence: Mapped[int] = mapped_column(Integer, default=0)
    invite_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FindingRow(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    price: Mapped[str | None] = mapped_column(String(32))
    must_fix: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageRow(Base):
    """The outbox: one row per message, the durable schedule."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("booking_id", "key"),
        # The dispatcher's query: claimable rows by the time they become ready.
        Index("ix_messages_status_ready", "status", "ready_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(100))
    template: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # claimable from
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_id: Mapped[int | None] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    about_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moves_with_start: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_addr: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(100))
    replaces_id: Mapped[int | None] = mapped_column(Integer)
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HistoryRow(Base):
    """Everything that happened: events, message transitions, replies, choices, staff notes."""

    __tablename__ = "history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Who did it: a staff name, "token:<name>", "customer:sms", "customer:page" or "system".
    actor: Mapped[str | None] = mapped_column(String(120))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("business_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffUserRow(Base):
    """A named staff login. Only an argon2 hash of the password is kept."""

    __tablename__ = "staff_users"
    __table_args__ = (UniqueConstraint("business_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AttentionRow(Base):
    """Something a person must look at (a detractor's words, ...) until someone marks it handled."""

    __tablename__ = "attention"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "detractor", ...
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    handled_by: Mapped[str | None] = mapped_column(String(120))


class StaffSessionRow(Base):
    """A staff login. The signed cookie only names the row, so ending the row ends the session."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random; the cookie carries it
    business_id: Mapped[str] = mapped_column(String(64))
    who: Mapped[str] = mapped_column(String(120))  # "staff" or "token:<name>"
    # Revoking the token ends every session it opened.
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    # Disabling the user or changing their password ends every session they opened.
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # HMAC of the staff password it was opened with: changing the password ends those sessions.
    password_mark: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LockRow(Base):
    """Leases for periodic jobs that must run once per deployment (watch, digest, retention)."""

    __tablename__ = "job_locks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str | None] = mapped_column(String(100))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDeliveryRow(Base):
    """One event POSTed to one receiver of ``business.yaml``'s ``webhooks:``: a schedule of its own,
    claimed, retried and settled like a message, and kept out of every customer-facing figure."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("business_id", "key"),
        Index("ix_webhook_deliveries_status_ready", "status", "ready_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(64), ForeignKey("businesses.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))  # receiver, event and what it is about: once each
    delivery_id: Mapped[str] = mapped_column(String(64))  # the body's "id" and X-Forvent-Delivery
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)  # the exact JSON signed; dropped once settled
    status: Mapped[str] = mapped_column(String(16))  # planned|sending|retrying|sent|failed|cancelled
    reason: Mapped[str | None] = mapped_column(String(200))
    response_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
