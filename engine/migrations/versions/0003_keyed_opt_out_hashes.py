"""keyed opt-out hashes: re-key every stored opt-out with FORVENT_SECRET

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 03:00:00

Opt-outs were stored as SHA-256("<channel>:<address>"), which anyone holding a
copy of the database can reverse by hashing every mobile number. They are now
HMAC(key, that digest), the key derived from FORVENT_SECRET, so every row is
re-keyed here without needing to know whose it was (also rows whose customer
was erased). The secret comes from the caller (``config.attributes["secret"]``)
or the environment; a database with opt-outs is not upgraded without it.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import sqlalchemy as sa
from alembic import context, op

from engine.exceptions import ConfigurationError

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPT_OUTS = sa.table("opt_outs", sa.column("id", sa.Integer), sa.column("address_hash", sa.String))


def _secret() -> str:
    secret = context.config.attributes.get("secret") or os.environ.get("FORVENT_SECRET")
    if not secret:
        raise ConfigurationError(
            "FORVENT_SECRET is not set: the stored opt-outs must be re-keyed with it (migration 0003)"
        )
    return str(secret)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(OPT_OUTS.c.id, OPT_OUTS.c.address_hash)).all()
    if not rows:
        return
    # Frozen here rather than imported, so later changes to engine.core.contacts cannot change this
    # migration; tests/integration/test_opt_out_hashes.py checks the two agree.
    key = hmac.new(_secret().encode(), b"forvent-opt-out", hashlib.sha256).digest()
    for row_id, unkeyed in rows:
        keyed = hmac.new(key, unkeyed.encode(), hashlib.sha256).hexdigest()
        bind.execute(sa.update(OPT_OUTS).where(OPT_OUTS.c.id == row_id).values(address_hash=keyed))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.select(sa.func.count()).select_from(OPT_OUTS)).scalar():
        # The unkeyed digests cannot be recovered, and the old code would ignore
        # keyed ones: it would message people who opted out.
        raise ConfigurationError("opt-out hashes cannot be un-keyed: downgrade below 0003 refused")
