"""What the read commands (``messages``, ``history``) read, without the ORM where it can be.

On a SQLite file they read through ``sqlite3`` (``engine.store.sqlite_reads``)
with the values of the environment (``engine.environment``) and the business's
id from ``business.yaml``: no SQLAlchemy, no pydantic, which are most of a
command's start-up. Any other database is read through the ORM, as the
commands that write do. Either way the rows take the shapes of
``engine.store.serialise``, so the output is the same.

A business profile with a mistake other than in its id does not stop a read:
the id is all a read needs. A missing or unreadable file, or a bad id, is
refused in the words of ``load_business``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine import environment
from engine.cli.app import State, open_store
from engine.exceptions import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.sqlite_reads import SqliteReader


class Reads(Protocol):
    """One read transaction on one business's store."""

    def booking(self, ref: str) -> Any:
        """The booking row with ``ref``; an unknown ref is a NotFoundError."""

    def messages_json(self, ref: str | None) -> list[dict[str, Any]]: ...

    def history_json(self, booking: Any) -> list[dict[str, Any]]: ...


def _unknown(ref: str) -> NotFoundError:
    return NotFoundError(f"unknown booking ref {ref!r}", field="ref")


class FileReads:
    def __init__(self, reader: SqliteReader, business_id: str) -> None:
        self.reader = reader
        self.business_id = business_id

    def booking(self, ref: str) -> Any:
        row = self.reader.booking(self.business_id, ref)
        if row is None:
            raise _unknown(ref)
        return row

    def messages_json(self, ref: str | None) -> list[dict[str, Any]]:
        return self.reader.messages_json(self.business_id, ref)

    def history_json(self, booking: Any) -> list[dict[str, Any]]:
        return self.reader.history_json(booking)


class OrmReads:
    def __init__(self, session: Session, business_id: str) -> None:
        self.session = session
        self.business_id = business_id

    def booking(self, ref: str) -> Any:
        from sqlalchemy import select

        from engine.store.tables import BookingRow

        query = select(BookingRow).where(BookingRow.business_id == self.business_id, BookingRow.ref == ref)
        row = self.session.scalar(query)
        if row is None:
            raise _unknown(ref)
        return row

    def messages_json(self, ref: str | None) -> list[dict[str, Any]]:
        from engine.store.serialise import messages_json

        return messages_json(self.session, self.business_id, ref)

    def history_json(self, booking: Any) -> list[dict[str, Any]]:
        from engine.store.serialise import history_json

        return history_json(self.session, booking)


def business_id(path: Path) -> str:
    """The id in ``business.yaml``, read without validating the rest of the profile."""
    import yaml

    from engine.core import safe_yaml

    try:
        _, data = safe_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    found = data.get("id", "default") if isinstance(data, dict) else None
    if isinstance(found, str):
        return found
    from engine.core.business import load_business

    return load_business(path).id  # which says what is wrong with the file


@contextmanager
def store_reads(state: State) -> Iterator[Reads]:
    """One read transaction on the store the settings name."""
    from engine.store.sqlite_reads import file_of, read

    path = file_of(environment.value(state.values, "database_url"))
    if path is None:
        runtime = open_store(state)
        with runtime.database.read_session() as session:
            yield OrmReads(session, runtime.business.id)
        return
    ident = business_id(environment.value(state.values, "business_file"))
    with read(path) as reader:
        yield FileReads(reader, ident)
