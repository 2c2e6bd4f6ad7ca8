"""Named staff logins: ``forvent staff add|list|passwd|disable`` and the board's name + password.

Only an argon2id hash of a password is kept (argon2-cffi's ``PasswordHasher``,
with its recommended parameters). A hash made with older parameters is
replaced by a fresh one at the next successful login. Disabling a user or
giving them a new password ends every session they have open, on every
process sharing the database (decision 0006: sessions are rows).

A login names no one it does not find: an unknown name, a disabled user and a
wrong password take the same time (a hash is checked in each case) and give
the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.exceptions import ConflictError, NotFoundError, UserInputError
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.store.tables import BusinessRow, StaffSessionRow, StaffUserRow

MIN_PASSWORD = 10  # characters
MAX_PASSWORD = 1024  # characters: a longer one only costs hashing time
MAX_NAME = 100


@dataclass(frozen=True, kw_only=True)
class StaffUser:
    name: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def check_name(name: str) -> str:
    """A person's name as they type it at the login; ``:`` is kept for the other actors."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME:
        raise UserInputError(f"name: must be 1-{MAX_NAME} characters", field="name")
    if ":" in name or any(not c.isprintable() for c in name):
        raise UserInputError(f"name: {name!r} must be printable text without ':'", field="name")
    if name.casefold() in ("staff", "system"):
        raise UserInputError(f"name: {name!r} is reserved for the engine's own actors", field="name")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserInputError(f"password: at least {MIN_PASSWORD} characters, please", field="password")
    if len(password) > MAX_PASSWORD:
        raise UserInputError(f"password: at most {MAX_PASSWORD} characters", field="password")
    return password


def _value(row: StaffUserRow) -> StaffUser:
    return StaffUser(name=row.name, created_at=row.created_at, disabled_at=row.disabled_at)


class StaffUsers:
    def __init__(self, runtime: Runtime, hasher: PasswordHasher | None = None) -> None:
        self.rt = runtime
        self.hasher = hasher or PasswordHasher()

    @cached_property
    def _decoy(self) -> str:
        """Checked against when no user matches, so an unknown name costs what a known one does."""
        return self.hasher.hash("forvent: nobody by that name")

    @property
    def business_id(self) -> str:
        return self.rt.business.id

    def _find(self, session: Session, name: str, *, lock: bool = False) -> StaffUserRow | None:
        """By name, case and spacing aside: "ola  nordmann" logs in as "Ola Nordmann"."""
        wanted = " ".join(name.split()).casefold()
        query = select(StaffUserRow).where(StaffUserRow.business_id == self.business_id)
        rows = session.scalars(query.with_for_update() if lock else query)
        return next((row for row in rows if row.name.casefold() == wanted), None)

    def _get(self, session: Session, name: str) -> StaffUserRow:
        row = self._find(session, name, lock=True)
        if row is None:
            raise NotFoundError(f"no staff user named {name!r}", field="name")
        return row

    def add(self, name: str, password: str) -> StaffUser:
        name, hashed, now = check_name(name), self.hasher.hash(check_password(password)), self.rt.now()
        with self.rt.database.session() as session:
            BookingService(self.rt).ensure_business(session, now)
            # One add at a time, so the name check sees a user added at the same moment ("Ola", "ola").
            session.execute(
                select(BusinessRow.id).where(BusinessRow.id == self.business_id).with_for_update()
            )
            if (existing := self._find(session, name, lock=True)) is not None:
                raise ConflictError(f"a staff user named {existing.name!r} exists", field="name")
            row = StaffUserRow(business_id=self.business_id, name=name, password_hash=hashed, created_at=now)
            session.add(row)
            session.flush()
            return _value(row)

    def users(self) -> list[StaffUser]:
        with self.rt.database.session() as session:
            rows = session.scalars(select(StaffUserRow).where(StaffUserRow.business_id == self.business_id))
            return sorted((_value(r) for r in rows), key=lambda u: u.name.casefold())

    def set_password(self, name: str, password: str) -> int:
        """A new password (a disabled user is enabled again by it); the number of sessions ended."""
        hashed = self.hasher.hash(check_password(password))
        with self.rt.database.session() as session:
            row = self._get(session, name)
            row.password_hash = hashed
            row.disabled_at = None
            return self._end_sessions(session, row)

    def disable(self, name: str) -> int:
        """The user can no longer log in; the number of their sessions ended."""
        with self.rt.database.session() as session:
            row = self._get(session, name)
            if row.disabled_at is None:
                row.disabled_at = self.rt.now()
            return self._end_sessions(session, row)

    def _end_sessions(self, session: Session, row: StaffUserRow) -> int:
        result = session.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.staff_user_id == row.id, StaffSessionRow.ended_at.is_(None))
            .values(ended_at=self.rt.now())
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def authenticate(self, session: Session, name: str, password: str) -> StaffUserRow | None:
        """The active user with this name and password, locked for the login's transaction; else None.

        The hash is checked before the write lock is taken (it takes a while by
        design), then the row is read again under the lock: a user disabled or
        given a new password meanwhile does not get in.
        """
        with self.rt.database.read_session() as read:
            seen = self._find(read, name)
        known = seen.password_hash if seen is not None and seen.disabled_at is None else None
        if not self._verify(known or self._decoy, password) or seen is None or known is None:
            return None
        row = session.get(StaffUserRow, seen.id, with_for_update=True, populate_existing=True)
        if row is None or row.disabled_at is not None or row.password_hash != known:
            return None
        if self.hasher.check_needs_rehash(known):
            row.password_hash = self.hasher.hash(password)
        return row

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
