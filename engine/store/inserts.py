"""Rows written by one Core INSERT and held by the session as if they had been read back.

A flush of the unit of work costs several times the INSERT it sends, and a
new booking made four of them. A row inserted here is in the session with
every column known (the values given, NULL for the rest), so reading it
never goes back to the database and a later change to it is flushed as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Table, insert
from sqlalchemy.orm import Session, make_transient_to_detached

from engine.store.tables import Base

_Row = TypeVar("_Row", bound=Base)


def insert_loaded(session: Session, entity: type[_Row], values: dict[str, Any]) -> _Row:
    """Insert one ``entity`` row with ``values`` and return it, held by the session.

    ``values`` names every column that has a default: a default would apply in
    the database and not in the row held.
    """
    shape = _shape(cast(Table, entity.__table__))
    assert shape.defaulted <= values.keys(), f"give {sorted(shape.defaulted - values.keys())}"
    key = session.connection().execute(shape.insert, values).inserted_primary_key
    assert key is not None
    row = entity(**{**shape.empty, **values, "id": key[0]})
    make_transient_to_detached(row)
    session.add(row)
    return row


@dataclass(frozen=True)
class _Shape:
    insert: Insert  # built once per table: building it costs more than SQLite's INSERT
    empty: dict[str, None]
    defaulted: frozenset[str]


@cache
def _shape(table: Table) -> _Shape:
    return _Shape(
        insert=insert(table),
        empty=dict.fromkeys(table.columns.keys()),
        defaulted=frozenset(
            c.key for c in table.columns if (c.default or c.server_default) is not None and not c.primary_key
        ),
    )
