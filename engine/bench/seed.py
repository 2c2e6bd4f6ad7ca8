"""Databases full of bookings, made quickly: a few booked through the service, the rest copied in SQL.

Booking 250,000 bookings through the service would take longer than the whole
bench, so a dozen are booked for real (rows exactly as the engine writes them:
customer, booking, history, outbox) and then copied with ``INSERT ... SELECT``,
every id shifted so that each copy has its own customer, booking, history
events and messages. Then the outbox is laid out for the scenario:

- ``due=N``: N messages due at ``START``, taken from each booking's two
  confirmations (email with an invite, SMS) and its day-before reminder SMS, so one
  message in three carries an invite; every other pending row is due later.
- ``due=None``: a pending outbox, nothing due before tomorrow.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, bindparam, create_engine, event, select, text, update

from engine.bench.world import PLAYBOOK, START, Context, SeedFiles, open_world, sqlite_url
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow, CustomerRow, HistoryRow, MessageRow

TEMPLATE_BOOKINGS = 12
DUE_STEPS = ("confirmation", "reminder_day_before")
LATER = START + timedelta(days=30)

MESSAGES: Table = MessageRow.__table__  # type: ignore[assignment]
BOOKINGS: Table = BookingRow.__table__  # type: ignore[assignment]
CUSTOMERS: Table = CustomerRow.__table__  # type: ignore[assignment]
HISTORY: Table = HistoryRow.__table__  # type: ignore[assignment]


def booking_input(ref: str, i: int) -> BookingInput:
    return BookingInput(
        ref=ref,
        playbook=PLAYBOOK,
        name="Kari Nordmann",
        phone="+4791234567",
        email="kari@example.com",
        start=START + timedelta(days=3, minutes=i % 600),
        locale="nb",
        facts={"task": "Tett avløp"},
    )


def book(service: BookingService, ref: str, i: int) -> None:
    service.book(booking_input(ref, i))


def build(files: SeedFiles, url: str, bookings: int, *, due: int | None) -> None:
    """A migrated database at ``url`` with ``bookings`` bookings (rounded up to whole copies)."""
    world = open_world(files, url)
    try:
        world.rt.database.upgrade()
        templates = max(1, min(bookings, TEMPLATE_BOOKINGS))
        for i in range(templates):
            book(world.service, f"S{i}", i)
        world.rt.database.dispose()
        with _bulk(url) as engine, engine.begin() as conn:
            clone(conn, math.ceil(bookings / templates) - 1)
            lay_out(conn, due)
        world.rt.database.analyze()
    finally:
        world.close()


@contextmanager
def _bulk(url: str) -> Iterator[Engine]:
    """An engine for copying rows fast: on SQLite a rollback journal and no syncing while it copies
    (a million rows through the write-ahead log took minutes), WAL again after; set-up is not measured."""
    if not url.startswith("sqlite"):
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    path = url.removeprefix("sqlite:///")
    _journal(path, "DELETE")
    engine = create_engine(url)
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=OFF"))
    try:
        yield engine
    finally:
        engine.dispose()
        _journal(path, "WAL")


def _journal(path: str, mode: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA journal_mode={mode}")
    finally:
        conn.close()


def clone(conn: Connection, copies: int) -> None:
    """``copies`` more of every customer, booking, history event and message, ids shifted."""
    if copies < 1:
        return
    stride = {t.name: conn.scalar(select(t.c.id).order_by(t.c.id.desc()).limit(1)) or 0 for t in _TABLES}

    def shift(column: str, table: str) -> str:
        return f"t.{column} + k.n * {int(stride[table])}"

    changes = {
        "customers": {"id": shift("id", "customers")},
        "bookings": {
            "id": shift("id", "bookings"),
            "customer_id": shift("customer_id", "customers"),
            "ref": "t.ref || '-' || k.n",
            "invite_uid": "k.n || '-' || t.invite_uid",
        },
        "history": {
            "id": shift("id", "history"),
            "booking_id": shift("booking_id", "bookings"),
            "message_id": shift("message_id", "messages"),
        },
        "messages": {
            "id": shift("id", "messages"),
            "booking_id": shift("booking_id", "bookings"),
            "event_id": shift("event_id", "history"),
            "replaces_id": shift("replaces_id", "messages"),
        },
    }
    for table in _TABLES:  # in foreign-key order
        columns = [c.name for c in table.columns]
        values = [changes[table.name].get(c, f"t.{c}") for c in columns]
        conn.execute(
            text(
                f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {int(copies)}) "
                f"INSERT INTO {table.name} ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM {table.name} t CROSS JOIN k"
            )
        )
    if conn.dialect.name == "postgresql":  # explicit ids leave the sequences behind
        for table in _TABLES:
            highest = f"(SELECT max(id) FROM {table.name})"
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {highest})"))


_TABLES = (CUSTOMERS, BOOKINGS, HISTORY, MESSAGES)


def lay_out(conn: Connection, due: int | None) -> None:
    planned = MESSAGES.c.status == "planned"
    if due is None:
        conn.execute(update(MESSAGES).where(planned, MESSAGES.c.ready_at <= START).values(ready_at=LATER))
        return
    conn.execute(update(MESSAGES).where(planned).values(ready_at=LATER))
    chosen = (
        select(MESSAGES.c.id)
        .where(planned, MESSAGES.c.step.in_(DUE_STEPS))
        .order_by(MESSAGES.c.id)
        .limit(due)
        .scalar_subquery()
    )
    conn.execute(update(MESSAGES).where(MESSAGES.c.id.in_(chosen)).values(ready_at=START))


def due_ids(conn: Connection, now: datetime = START) -> list[int]:
    """Messages a pass at ``now`` may claim, in claim order."""
    query = (
        select(MESSAGES.c.id)
        .where(MESSAGES.c.status.in_(["planned", "retrying"]), MESSAGES.c.ready_at <= now)
        .order_by(MESSAGES.c.ready_at, MESSAGES.c.id)
    )
    return list(conn.scalars(query))


def spread(
    conn: Connection, ids: Sequence[int], *, start: datetime, per_second: float
) -> dict[int, datetime]:
    """Make ``ids`` due one after another at ``per_second``, from ``start``: an offered load."""
    due = {message_id: start + timedelta(seconds=i / per_second) for i, message_id in enumerate(ids)}
    statement = update(MESSAGES).where(MESSAGES.c.id == bindparam("b_id")).values(ready_at=bindparam("b_at"))
    conn.execute(statement, [{"b_id": k, "b_at": v} for k, v in due.items()])
    return due


def booking_refs(conn: Connection, count: int, *, skip_due: bool = False) -> list[str]:
    """``count`` booking refs spread over the table (or only bookings with nothing due)."""
    query = select(BOOKINGS.c.ref).order_by(BOOKINGS.c.id)
    if skip_due:
        busy = select(MESSAGES.c.booking_id).where(MESSAGES.c.ready_at <= START)
        query = query.where(BOOKINGS.c.id.not_in(busy))
    refs = list(conn.scalars(query))
    step = max(1, len(refs) // max(count, 1))
    return refs[::step][:count]


def seeded(ctx: Context, bookings: int, *, due: int | None, copy: bool = True) -> Path:
    """A fresh SQLite copy of a seeded database (built once per run, copied per use).

    ``copy=False`` hands out the cached database itself, for scenarios whose
    changes (a few delays) do not matter to the next user.
    """
    key = ("seed", bookings, due)
    if key not in ctx.cache:
        path = ctx.path("seed")
        ctx.progress(f"seeding {bookings:,} bookings{'' if due is None else f', {due:,} due'}")
        build(ctx.files, sqlite_url(path), bookings, due=due)
        _checkpoint(path)
        ctx.cache[key] = path
    if not copy:
        return ctx.cache[key]
    fresh = ctx.path("world")
    shutil.copyfile(ctx.cache[key], fresh)
    return fresh


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so that copying the file copies everything."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
