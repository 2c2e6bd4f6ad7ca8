"""The outbox and history read from a SQLite file with the standard library's ``sqlite3``.

A command that only reads (``forvent messages``, ``forvent history``) starts
in a fraction of SQLAlchemy's import time this way. Nothing about the schema is
written here: the queries name columns the tables (``engine.store.tables``)
and the migrations define, and values come back typed by the types those
declare (``DATETIME`` as aware UTC, ``BOOLEAN``, ``JSON``), as the ORM returns
them, so the shapes in ``engine.store.serialise`` take these rows unchanged.
Another database, or a URL this module does not read, goes through
:class:`engine.store.db.Database` as before.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from engine.core import timing
from engine.exceptions import ConfigurationError
from engine.store.serialise import history_item, message_json, message_order

BUSY_TIMEOUT_S = 30.0  # engine.store.db.SQLITE_BUSY_TIMEOUT_MS
# sqlite:///relative.db, sqlite:////absolute.db; a query string, %-escapes or memory: SQLAlchemy's.
_FILE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?%]+)")


def _utc(value: bytes) -> datetime:
    return datetime.fromisoformat(value.decode()).replace(tzinfo=UTC)


# Used only by connections opened with detect_types (this module's); SQLAlchemy's are untouched.
sqlite3.register_converter("DATETIME", _utc)
sqlite3.register_converter("BOOLEAN", lambda value: value not in (b"0", b""))
sqlite3.register_converter("JSON", json.loads)


def file_of(url: str) -> str | None:
    """The SQLite file a database URL names, if this module reads it."""
    match = _FILE_URL.fullmatch(url)
    if match is None or match["path"] == ":memory:":
        return None
    return match["path"]


class SqliteReader:
    """One read transaction: a snapshot of the file, no lock a writer waits for."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """Rows as objects with the columns as attributes, like the ORM's rows."""
        cursor = self.connection.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [SimpleNamespace(**dict(zip(names, row, strict=True))) for row in cursor]

    def booking(self, business_id: str, ref: str) -> Any | None:
        found = self.rows(
            "SELECT * FROM bookings WHERE business_id = :b AND ref = :ref", b=business_id, ref=ref
        )
        return found[0] if found else None

    def messages_json(self, business_id: str, ref: str | None = None) -> list[dict[str, Any]]:
        """``engine.store.serialise.messages_json``'s list."""
        sql = (
            "SELECT messages.*, bookings.ref AS booking_ref, bookings.timezone AS booking_timezone"
            " FROM messages JOIN bookings ON bookings.id = messages.booking_id"
            " WHERE messages.business_id = :b"
        )
        if ref is not None:
            sql += " AND bookings.ref = :ref"
        rows = self.rows(sql, b=business_id, ref=ref)
        rows.sort(key=message_order)
        return [message_json(row, row.booking_ref, row.booking_timezone) for row in rows]

    def history_json(self, booking: Any) -> list[dict[str, Any]]:
        """``engine.store.serialise.history_json``'s list."""
        tz = timing.zone(booking.timezone)
        rows = self.rows("SELECT * FROM history WHERE booking_id = :id ORDER BY at, id", id=booking.id)
        return [history_item(row, tz) for row in rows]


@contextmanager
def read(path: str) -> Iterator[SqliteReader]:
    """A reader of the store in the file; refused in the words ``Database.check_schema`` uses."""
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, detect_types=sqlite3.PARSE_DECLTYPES)
    except sqlite3.OperationalError as exc:
        raise ConfigurationError(f"--db: cannot reach the database: {exc}", field="db") from exc
    try:
        connection.isolation_level = None  # transactions by hand: one deferred BEGIN, no write lock
        try:
            present = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
            ).fetchone()
        except sqlite3.OperationalError as exc:
            raise ConfigurationError(f"--db: cannot reach the database: {exc}", field="db") from exc
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"--db: not a usable database: {exc}", field="db") from exc
        if present is None:
            raise ConfigurationError("the database has no schema yet: run `forvent init-db`")
        connection.execute("BEGIN")
        yield SqliteReader(connection)
    finally:
        connection.close()
