"""API tokens: shown once, stored as a SHA-256 hash, revocable by name.

A token is ``fv_`` followed by 43 characters of base64url (256 random bits).
Only its SHA-256 hex digest is stored, so a copy of the database grants
nothing. The lookup goes by digest (an index); the found digest is compared
again with ``hmac.compare_digest`` so the answer takes the same time whether
or not a prefix matched. Revoking a token also ends the staff sessions it
opened.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.exceptions import ConflictError, NotFoundError, UserInputError
from engine.store.tables import ApiTokenRow, BusinessRow, StaffSessionRow

PREFIX = "fv_"
TOKEN_BYTES = 32
MAX_NAME = 100


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        raise UserInputError(f"name: {name!r} must be 1-{MAX_NAME} characters without spaces", field="name")
    return name


def _ensure_business(session: Session, business_id: str, name: str, now: datetime) -> None:
    if session.get(BusinessRow, business_id) is None:
        session.add(BusinessRow(id=business_id, business_id=business_id, name=name, created_at=now))
        session.flush()


def create_token(session: Session, *, business_id: str, business_name: str, name: str, now: datetime) -> str:
    """A new token named ``name``; the only time its text is available.

    A revoked name may be reused; an active one is a ``ConflictError``.
    """
    name = _check_name(name)
    _ensure_business(session, business_id, business_name, now)
    token = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = session.scalar(
        select(ApiTokenRow).where(ApiTokenRow.business_id == business_id, ApiTokenRow.name == name)
    )
    if row is not None and row.revoked_at is None:
        raise ConflictError(f"token {name!r} exists: revoke it first", field="name")
    if row is None:
        row = ApiTokenRow(business_id=business_id, name=name, created_at=now)
        session.add(row)
    row.token_hash, row.created_at, row.revoked_at = digest(token), now, None
    session.flush()
    return token


def revoke_token(session: Session, *, business_id: str, name: str, now: datetime) -> None:
    row = session.scalar(
        select(ApiTokenRow).where(ApiTokenRow.business_id == business_id, ApiTokenRow.name == name)
    )
    if row is None or row.revoked_at is not None:
        raise NotFoundError(f"no active token named {name!r}", field="name")
    row.revoked_at = now
    session.execute(
        update(StaffSessionRow)
        .where(StaffSessionRow.token_id == row.id, StaffSessionRow.ended_at.is_(None))
        .values(ended_at=now)
    )


def verify_token(session: Session, *, business_id: str, token: str) -> str | None:
    """The name of the active token ``token``, or None."""
    row = active_token(session, business_id=business_id, token=token)
    return row.name if row is not None else None


def active_token(session: Session, *, business_id: str, token: str, lock: bool = False) -> ApiTokenRow | None:
    """The row of the active token ``token``, or None.

    ``lock`` holds the row until the transaction ends: a login that opens a
    session with the token then cannot interleave with its revocation, which
    would leave a session the revocation never saw.
    """
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    wanted = digest(token)
    query = select(ApiTokenRow).where(
        ApiTokenRow.business_id == business_id,
        ApiTokenRow.token_hash == wanted,
        ApiTokenRow.revoked_at.is_(None),
    )
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return row
