"""outbound webhook deliveries: one row per event and receiver, claimed and retried like a message

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_id", sa.String(length=64), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ready_at", engine.store.tables.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", engine.store.tables.UTCDateTime(), nullable=True),
        sa.Column("sent_at", engine.store.tables.UTCDateTime(), nullable=True),
        sa.Column("created_at", engine.store.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_webhook_deliveries_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_webhook_deliveries_business_id_businesses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("business_id", "key", name=op.f("uq_webhook_deliveries_business_id_key")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index("ix_webhook_deliveries_status_ready", ["status", "ready_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status_ready")
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_booking_id"))
    op.drop_table("webhook_deliveries")
