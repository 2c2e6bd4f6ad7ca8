"""Staff sessions on the server: the signed cookie names a row, and the row decides.

A signature alone would keep a copied cookie working for its whole 12 hours
after logout, after ``forvent token revoke`` and after a password change.
Each request therefore looks its session up by primary key (one indexed
read); the row ends when the staff member logs out, when the token it was
opened with is revoked (``engine.store.tokens.revoke_token``), when the shared
staff password it was opened with is no longer the configured one, or when the
named staff user it belongs to is disabled or given a new password
(``engine.services.staff_users``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session as DbSession

from engine.store.tables import StaffSessionRow
from engine.web.security import Session


def open_session(
    db: DbSession,
    session: Session,
    *,
    business_id: str,
    now: datetime,
    token_id: int | None = None,
    password_mark: str | None = None,
    staff_user_id: int | None = None,
) -> None:
    # Expired rows have no use left; logins are rare enough to sweep them here.
    db.execute(delete(StaffSessionRow).where(StaffSessionRow.expires_at <= now))
    db.add(
        StaffSessionRow(
            id=session.id,
            business_id=business_id,
            who=session.who,
            token_id=token_id,
            staff_user_id=staff_user_id,
            password_mark=password_mark,
            created_at=now,
            expires_at=session.expires,
        )
    )


def is_open(
    db: DbSession, session: Session, *, business_id: str, now: datetime, password_mark: str | None
) -> bool:
    row = db.get(StaffSessionRow, session.id)
    if row is None or row.business_id != business_id or row.ended_at is not None or row.expires_at <= now:
        return False
    if row.token_id is None and row.staff_user_id is None:
        return password_mark is not None and row.password_mark == password_mark
    return True  # a user's or a token's sessions are ended when it is disabled or revoked


def end_session(db: DbSession, session_id: str, now: datetime) -> None:
    db.execute(
        update(StaffSessionRow)
        .where(StaffSessionRow.id == session_id, StaffSessionRow.ended_at.is_(None))
        .values(ended_at=now)
    )
