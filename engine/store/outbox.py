"""The outbox: message rows, their state machine and the history of every change.

Every transition is a compare-and-set (``UPDATE ... WHERE id = :id AND status
IN (:allowed)``) appended to the history; a zero row count means someone else
moved the row first and raises ``TransitionError``. "Now" always comes from
the caller, so tests and simulations control every lease and due time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.core.timing import local_iso, zone
from engine.core.values import PENDING, TRANSITIONS, MessageStatus, PlannedMessage
from engine.store.history import record
from engine.store.tables import HistoryRow, MessageRow

S = MessageStatus


class TransitionError(RuntimeError):
    """A compare-and-set found the row in another state than expected."""


def _message_detail(row: MessageRow | PlannedMessage, extra: str | None = None) -> str:
    parts = [f"{row.step} ({row.channel})"]
    if row.reason:
        parts.append(row.reason)
    if extra:
        parts.append(extra)
    return ": ".join(parts)


# A booking's new rows and their history lines go in by Core executemany, through statements
# built once: the unit of work, and building a statement per call, cost more than the database.
_MESSAGES = cast(Table, MessageRow.__table__)
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.key, _MESSAGES.c.id)
_INSERT_HISTORY = insert(cast(Table, HistoryRow.__table__))
_BY_KEYS = select(MessageRow).where(
    MessageRow.booking_id == bindparam("booking_id"), MessageRow.key.in_(bindparam("keys", expanding=True))
)
_MOVE = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("m_id"), _MESSAGES.c.status == str(S.PLANNED))
    .values(
        due_at=bindparam("m_due"),
        ready_at=bindparam("m_due"),
        about_at=bindparam("m_about"),
        updated_at=bindparam("m_now"),
    )
)


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A row ``enqueue`` inserted or moved: its id and the plan it now follows."""

    id: int
    plan: PlannedMessage


def enqueue(
    session: Session,
    *,
    business_id: str,
    booking_id: int,
    planned: Iterable[PlannedMessage],
    now: datetime,
    schedule_version: int,
    tz_name: str,
    new_booking: bool = False,
) -> list[Enqueued]:
    """Insert new keys; move pending rows whose due time changed; leave the rest.

    Returns what was inserted or moved, in the order planned. ``new_booking``:
    this transaction created the booking, so it has no rows to read yet. The
    statements do not grow with the messages: a read, an UPDATE for the moves,
    an INSERT for the new rows and one for their history lines.
    """
    wanted = list(planned)
    if not wanted:
        return []
    session.flush()  # what the unit of work holds goes first: the history keeps its order
    existing = {} if new_booking else _existing(session, booking_id, [p.key for p in wanted])
    moving = [(existing[p.key], p) for p in wanted if p.key in existing and _moves(existing[p.key], p)]
    moved = _move(session, moving, now, tz_name)
    fresh = [p for p in wanted if p.key not in existing]
    inserted = _insert(session, business_id, booking_id, fresh, now, schedule_version, tz_name)
    done = {**moved, **inserted}
    touched = [done[p.key] for p in wanted if p.key in done]
    if touched:
        session.connection().execute(_INSERT_HISTORY, [line for _, line in touched])
    return [message for message, _ in touched]


def _existing(session: Session, booking_id: int, keys: list[str]) -> dict[str, MessageRow]:
    rows = session.scalars(_BY_KEYS, {"booking_id": booking_id, "keys": keys})
    return {row.key: row for row in rows}


def _insert(
    session: Session,
    business_id: str,
    booking_id: int,
    plans: Sequence[PlannedMessage],
    now: datetime,
    version: int,
    tz_name: str,
) -> dict[str, tuple[Enqueued, dict[str, Any]]]:
    """Insert the new rows in one statement; each key's row and history line."""
    if not plans:
        return {}
    values = [
        {
            "business_id": business_id,
            "booking_id": booking_id,
            "key": plan.key,
            "step": plan.step,
            "template": plan.template,
            "channel": plan.channel,
            "status": str(plan.status),
            "reason": plan.reason,
            "due_at": plan.due_at,
            "ready_at": plan.due_at if plan.status == S.PLANNED else None,
            "event_id": int(plan.event_id) if plan.event_id else None,
            "urgent": plan.urgent,
            "about_at": plan.about,
            "moves_with_start": plan.moves_with_start,
            "attempts": 0,
            "schedule_version": version,
            "created_at": now,
            "updated_at": now,
        }
        for plan in plans
    ]
    ids = _inserted_ids(session, booking_id, values)
    out = {}
    for plan in plans:
        message_id = ids[plan.key]
        due = _due_text(plan.due_at, tz_name) if plan.status == S.PLANNED else None
        detail = _message_detail(plan, due)
        data = {"due_at": plan.due_at.isoformat() if plan.due_at else None}
        line = _line(business_id, booking_id, message_id, now, f"message:{plan.status}", detail, data)
        out[plan.key] = (Enqueued(id=message_id, plan=plan), line)
    return out


def _inserted_ids(session: Session, booking_id: int, values: list[dict[str, Any]]) -> dict[str, int]:
    """Each new row's id by its key, by RETURNING where an executemany can (SQLite >= 3.35, PostgreSQL)."""
    connection = session.connection()
    if connection.dialect.insert_executemany_returning:
        return {key: message_id for key, message_id in connection.execute(_INSERT_MESSAGES, values)}
    connection.execute(insert(_MESSAGES), values)
    keys = [v["key"] for v in values]
    query = select(_MESSAGES.c.key, _MESSAGES.c.id).where(
        _MESSAGES.c.booking_id == booking_id, _MESSAGES.c.key.in_(keys)
    )
    return {key: message_id for key, message_id in connection.execute(query)}


def _line(
    business_id: str,
    booking_id: int | None,
    message_id: int,
    at: datetime,
    kind: str,
    detail: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "business_id": business_id,
        "booking_id": booking_id,
        "message_id": message_id,
        "at": at,
        "kind": kind,
        "detail": detail,
        "data": data,
    }


def _due_text(due: datetime | None, tz_name: str) -> str | None:
    return f"due {local_iso(due, zone(tz_name))}" if due else None


def _moves(row: MessageRow, plan: PlannedMessage) -> bool:
    """A pending row whose plan is still to send it, at another time (a delay)."""
    planned = row.status == S.PLANNED and plan.status == S.PLANNED
    return planned and plan.due_at is not None and row.due_at != plan.due_at


def _move(
    session: Session, moving: Sequence[tuple[MessageRow, PlannedMessage]], now: datetime, tz_name: str
) -> dict[str, tuple[Enqueued, dict[str, Any]]]:
    """Move pending rows to their plans' new times, keeping their ids; each moved key's row and history line.

    One executemany compare-and-set. A row claimed meanwhile stays where it is
    (the dispatcher re-checks it against the booking); when the row count says
    one was, each is moved again alone to learn which: a row already moved
    matches again and takes the same values.
    """
    if not moving:
        return {}
    params = [
        {"m_id": row.id, "m_due": plan.due_at, "m_about": plan.about, "m_now": now} for row, plan in moving
    ]
    connection = session.connection()
    result = connection.execute(_MOVE, params)
    if result.rowcount == len(moving) and (
        len(moving) == 1 or connection.dialect.supports_sane_multi_rowcount
    ):
        done = list(moving)
    else:
        done = [
            pair
            for pair, one in zip(moving, params, strict=True)
            if connection.execute(_MOVE, one).rowcount == 1
        ]
    out = {}
    for row, plan in done:
        assert plan.due_at is not None
        data = {
            "due_at": plan.due_at.isoformat(),
            "moved_from": row.due_at.isoformat() if row.due_at else None,
        }
        # The row now holds exactly these values (in UTC, as a read gives them): no SELECT needed.
        due = plan.due_at.astimezone(UTC)
        about = plan.about.astimezone(UTC) if plan.about else None
        for name, value in {"due_at": due, "ready_at": due, "about_at": about, "updated_at": now}.items():
            set_committed_value(row, name, value)
        detail = _message_detail(row, f"moved to {local_iso(plan.due_at, zone(tz_name))}")
        line = _line(row.business_id, row.booking_id, row.id, now, "message:planned", detail, data)
        out[plan.key] = (Enqueued(id=row.id, plan=plan), line)
    return out


def transition(
    session: Session,
    row: MessageRow,
    to: MessageStatus,
    *,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
    expect: Iterable[MessageStatus] | None = None,
    owner: str | None = None,
    **values: Any,
) -> None:
    """Compare-and-set ``row`` into ``to``; raises ``TransitionError`` if it moved meanwhile.

    With ``owner`` the row must also still be leased to that worker: a claim
    that expired and was taken over by another process is no longer ours to settle.
    """
    allowed = [s for s in (expect or S) if to in TRANSITIONS[s]]
    query = update(MessageRow).where(
        MessageRow.id == row.id, MessageRow.status.in_([str(s) for s in allowed])
    )
    if owner is not None:
        query = query.where(MessageRow.claimed_by == owner)
    result = session.execute(
        query.values(status=str(to), reason=reason, updated_at=now, **values).execution_options(
            synchronize_session=False
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        held = f" claimed by {owner}" if owner else ""
        raise TransitionError(f"message {row.id} is no longer{held} in {', '.join(map(str, allowed))}")
    # The row now holds exactly these values: no SELECT needed to learn them.
    for name, value in {"status": str(to), "reason": reason, "updated_at": now, **values}.items():
        set_committed_value(row, name, value)
    record(
        session,
        business_id=row.business_id,
        booking_id=row.booking_id,
        message_id=row.id,
        at=now,
        kind=f"message:{to}",
        detail=_message_detail(row, detail),
    )


def release(
    session: Session,
    row: MessageRow,
    to: MessageStatus,
    *,
    worker: str | None,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
    **values: Any,
) -> None:
    """A row claimed by ``worker`` leaves ``sending``: the outcome is recorded and the lease dropped.

    ``ready_at`` is cleared unless given (a row going back to ``planned`` or
    ``retrying`` says when it is due again). Raises ``TransitionError`` if the
    row is no longer ``sending`` under ``worker``'s claim (``None``: the reaper,
    which holds the row's lock, settles it whoever claimed it).
    """
    values.setdefault("ready_at", None)
    transition(
        session,
        row,
        to,
        now=now,
        reason=reason,
        detail=detail,
        expect=[S.SENDING],
        owner=worker,
        claimed_by=None,
        claimed_until=None,
        **values,
    )


def cancel_pending(
    session: Session,
    *,
    booking_id: int,
    reason: str,
    now: datetime,
    only_schedule: bool = False,
    steps: Sequence[str] | None = None,
) -> list[MessageRow]:
    """Cancel the booking's pending rows (all, or those on the start/end schedule)."""
    query = select(MessageRow).where(
        MessageRow.booking_id == booking_id,
        MessageRow.status.in_([str(s) for s in PENDING]),
    )
    if only_schedule:
        query = query.where(MessageRow.moves_with_start.is_(True))
    if steps is not None:
        query = query.where(MessageRow.step.in_(list(steps)))
    # Locked as read: a dispatcher claiming one of them meanwhile makes it ``sending``, which
    # this UPDATE must not touch (the send-time check stops it against the booking instead).
    rows = list(session.scalars(query.order_by(MessageRow.id).with_for_update()))
    cancelled = []
    for row in rows:
        try:
            transition(session, row, S.CANCELLED, now=now, reason=reason, ready_at=None)
        except TransitionError:
            continue
        cancelled.append(row)
    return cancelled


def claim_due(
    session: Session,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    limit: int,
    skip_locked: bool,
) -> list[MessageRow]:
    """Lease up to ``limit`` due rows to ``worker``, earliest first."""
    ids = claim_due_ids(session, now=now, worker=worker, lease=lease, limit=limit, skip_locked=skip_locked)
    if not ids:
        return []
    order = {message_id: n for n, message_id in enumerate(ids)}
    # populate_existing: a row reaped earlier in this session is in its identity map as it was reaped.
    query = select(MessageRow).where(MessageRow.id.in_(ids)).execution_options(populate_existing=True)
    return sorted(session.scalars(query), key=lambda row: order[row.id])


def claim_due_ids(
    session: Session,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    limit: int,
    skip_locked: bool,
) -> list[int]:
    """``claim_due`` without loading the rows: the ids leased, earliest first.

    Four statements whatever the number (select, UPDATE, read back, one INSERT
    of the history) and no ORM object built, so a dispatcher holds the write
    lock only briefly; it reads the rows afterwards, outside the transaction.
    """
    table = cast(Table, MessageRow.__table__)  # Core: nothing for the session to track
    due = and_(table.c.status.in_([str(S.PLANNED), str(S.RETRYING)]), table.c.ready_at <= now)
    query = select(table.c.id).where(due).order_by(table.c.ready_at, table.c.id).limit(limit)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    connection = session.connection()
    ids = list(connection.scalars(query))
    if not ids:
        return []
    connection.execute(
        update(table)
        .where(table.c.id.in_(ids), due)
        .values(
            status=str(S.SENDING),
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=table.c.attempts + 1,
            updated_at=now,
        )
    )
    claimed = connection.execute(
        select(
            table.c.id,
            table.c.business_id,
            table.c.booking_id,
            table.c.step,
            table.c.channel,
            table.c.attempts,
        )
        .where(table.c.id.in_(ids), table.c.claimed_by == worker, table.c.status == str(S.SENDING))
        .order_by(table.c.ready_at, table.c.id)
    ).all()
    if claimed:  # every transition is in the history, claims too: one INSERT for the batch
        connection.execute(
            insert(cast(Table, HistoryRow.__table__)),
            [
                {
                    "business_id": r.business_id,
                    "booking_id": r.booking_id,
                    "message_id": r.id,
                    "at": now,
                    "kind": "message:sending",
                    "detail": f"{r.step} ({r.channel}): claimed by {worker}",
                    "data": {"attempt": r.attempts},
                }
                for r in claimed
            ],
        )
    return [r.id for r in claimed]


def reap_expired_claims(session: Session, *, now: datetime) -> int:
    """Rows whose claimer died: back to ``planned`` (SPEC: ``sending -> planned``).

    The rows are locked as they are read (``FOR UPDATE SKIP LOCKED`` where the
    database has it; SQLite's ``BEGIN IMMEDIATE`` already serialises writers):
    otherwise a second dispatcher could reap and re-claim a row between this
    read and the compare-and-set below, which would then reset a live claim
    and let the row be claimed, and sent, twice.
    """
    rows = list(
        session.scalars(
            select(MessageRow)
            .where(MessageRow.status == str(S.SENDING), MessageRow.claimed_until < now)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        release(
            session,
            row,
            S.PLANNED,
            worker=row.claimed_by,
            now=now,
            detail="claim expired",
            ready_at=now,
            attempts=max(row.attempts - 1, 0),
        )
    return len(rows)


def mark_sent_many(
    session: Session, sent: Sequence[tuple[MessageRow, dict[str, Any]]], *, now: datetime, worker: str
) -> list[MessageRow]:
    """``sending -> sent`` for the rows still leased to ``worker``; returns those, in order.

    Three statements whatever the number: the rows still held are read (and
    locked, where the database locks rows), then one executemany UPDATE and
    one INSERT of their history. A row no longer held (its lease expired and
    another process took it over) is left as it is, to whoever holds it now.
    Unlike ``transition``, the row objects are not updated: this runs under the
    write lock, and a batch's callers have no further use for them.
    """
    if not sent:
        return []
    table = cast(Table, MessageRow.__table__)  # Core table: executemany by primary key
    connection = session.connection()
    held = set(
        connection.scalars(
            select(table.c.id)
            .where(
                table.c.id.in_([row.id for row, _ in sent]),
                table.c.status == str(S.SENDING),
                table.c.claimed_by == worker,
            )
            .with_for_update()
        )
    )
    mine = [(row, values) for row, values in sent if row.id in held]
    if not mine:
        return []
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"), table.c.status == str(S.SENDING), table.c.claimed_by == worker
        )
        .values(
            status=str(S.SENT),
            reason=None,
            updated_at=now,
            sent_at=now,
            claimed_by=None,
            claimed_until=None,
            ready_at=None,
            next_attempt_at=None,
            provider_id=bindparam("b_provider_id"),
            to_addr=bindparam("b_to"),
            body=bindparam("b_body"),
            subject=bindparam("b_subject"),
        )
    )
    params = [
        {
            "b_id": row.id,
            "b_provider_id": v.get("provider_id"),
            "b_to": v.get("to_addr"),
            "b_body": v.get("body"),
            "b_subject": v.get("subject"),
        }
        for row, v in mine
    ]
    result = connection.execute(statement, params)
    if result.rowcount != len(mine):  # the rows were read under this transaction's lock
        raise TransitionError(f"{len(mine) - result.rowcount} of {len(mine)} held messages moved meanwhile")
    connection.execute(
        insert(cast(Table, HistoryRow.__table__)),
        [
            {
                "business_id": row.business_id,
                "booking_id": row.booking_id,
                "message_id": row.id,
                "at": now,
                "kind": "message:sent",
                "detail": f"{row.step} ({row.channel})",  # _message_detail: a sent row has no reason
                "data": {},
            }
            for row, _ in mine
        ],
    )
    return [row for row, _ in mine]
