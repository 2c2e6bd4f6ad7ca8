"""Once-per-deployment turns in ``job_locks``, decided by compare-and-set on the engine clock.

However many processes run the scheduler, one of them runs each job:

- ``acquire`` takes a lease that expires, so a process that died frees the
  job for another after ``lease``; the holder renews its own lease.
- ``due`` keeps the row's ``until`` as the next run's time instead, so
  restarts and several processes still run a daily job once a day.
- ``release`` frees a lease its holder no longer needs.

Each call is a transaction of its own: a turn taken is visible to the other
processes at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.store.db import Database
from engine.store.tables import LockRow


def acquire(
    database: Database, name: str, holder: str, lease: timedelta, *, business_id: str, now: datetime
) -> bool:
    """Take the job's lease if it is free or expired; True when ``holder`` holds it."""
    free = LockRow.until.is_(None) | (LockRow.until < now) | (LockRow.holder == holder)
    return _take(database, name, holder, until=now + lease, business_id=business_id, when=free)


def due(
    database: Database, name: str, holder: str, every: timedelta, *, business_id: str, now: datetime
) -> bool:
    """Take the job's turn if its last run was ``every`` ago or more; True when ``holder`` runs it."""
    turn = LockRow.until.is_(None) | (LockRow.until <= now)
    return _take(database, name, holder, until=now + every, business_id=business_id, when=turn)


def release(database: Database, name: str, holder: str) -> None:
    """Give the job's lease back: a process that ran it once (``dispatch --once``) frees it at once."""
    with database.session() as session:
        session.execute(
            update(LockRow)
            .where(LockRow.name == name, LockRow.holder == holder)
            .values(holder=None, until=None)
        )


def _take(
    database: Database,
    name: str,
    holder: str,
    *,
    until: datetime,
    business_id: str,
    when: ColumnElement[bool],
) -> bool:
    with database.session() as session:
        _ensure_row(session, name, business_id)
        result = session.execute(
            update(LockRow).where(LockRow.name == name, when).values(holder=holder, until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _ensure_row(session: Session, name: str, business_id: str) -> None:
    if session.get(LockRow, name) is not None:
        return
    try:
        with session.begin_nested():
            session.add(LockRow(name=name, business_id=business_id, holder=None, until=None))
    except IntegrityError:
        pass  # another process created it first; the compare-and-set decides
