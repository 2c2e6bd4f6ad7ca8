"""Bulk create/update of bookings: ``forvent import FILE.csv`` and ``POST /api/v1/bookings:import``.

CSV columns are the API body with ``customer.*`` flattened and facts
prefixed with ``fact_``::

    ref,customer_name,customer_phone,customer_email,customer_locale,customer_marketing_ok,
    start,end,timezone,location,playbook,assignee,fact_<name>...

Only ``ref`` is required as a column; ``customer_name`` and ``start`` are
required to create a booking. An empty cell means "not given" (on update the
stored value stays); a fact cell is read like ``--fact k=v`` (a JSON scalar
when it parses as one, else text). ``playbook`` defaults to ``--playbook``.
Times without an offset are wall-clock in the booking's zone; starts in the
past are accepted (an import is history too).

Every row is its own transaction: good rows are imported, bad rows are
reported with their line number and the field at fault, and importing the
same file again changes nothing (a row with identical data is ``unchanged``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core.facts import parse_fact_args
from engine.exceptions import ForventError, UserInputError
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.settings import env_bool

BASE_COLUMNS = (
    "ref",
    "playbook",
    "customer_name",
    "customer_phone",
    "customer_email",
    "customer_locale",
    "customer_marketing_ok",
    "start",
    "end",
    "timezone",
    "location",
    "assignee",
)
FACT_PREFIX = "fact_"


@dataclass(frozen=True)
class RowError:
    line: int  # the file's line where the record starts (the header is line 1); JSON: item index + 1
    field: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.as_json() for e in self.errors],
        }


@dataclass(frozen=True)
class ImportRow:
    line: int
    booking: BookingInput | None  # None: the row could not be read; ``error`` says why
    error: RowError | None = None


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _marketing(raw: str | None) -> bool | None:
    if raw is None:
        return None
    try:
        return env_bool(raw, name="customer_marketing_ok")
    except ForventError:
        raise UserInputError(
            f"customer_marketing_ok: expected 1/0/true/false/yes/no, got {raw!r}",
            field="customer_marketing_ok",
        ) from None


def row_to_input(cells: Mapping[str, str | None], default_playbook: str) -> BookingInput:
    """One CSV record as a ``BookingInput``; ``UserInputError`` names the column at fault."""
    get = {k: _blank(v) for k, v in cells.items()}
    facts: dict[str, Any] = {}
    for column, value in get.items():
        if column.startswith(FACT_PREFIX) and value is not None:
            name = column.removeprefix(FACT_PREFIX)
            try:
                facts.update(parse_fact_args([f"{name}={value}"]))
            except UserInputError:
                raise UserInputError(f"{column}: not a fact name", field=column) from None
    return BookingInput(
        ref=get.get("ref") or "",
        playbook=get.get("playbook") or default_playbook,
        name=get.get("customer_name"),
        phone=get.get("customer_phone"),
        email=get.get("customer_email"),
        locale=get.get("customer_locale"),
        marketing_ok=_marketing(get.get("customer_marketing_ok")),
        start=get.get("start"),
        end=get.get("end"),
        timezone=get.get("timezone"),
        location=get.get("location"),
        facts=facts,
        assignee=get.get("assignee"),
    )


def _check_header(header: list[str]) -> list[str]:
    columns = [c.strip() for c in header]
    unknown = [c for c in columns if c not in BASE_COLUMNS and not c.startswith(FACT_PREFIX)]
    if unknown:
        raise UserInputError(
            f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(BASE_COLUMNS)}, fact_<name>)",
            field=unknown[0],
        )
    if "ref" not in columns:
        raise UserInputError("line 1: the header needs a 'ref' column", field="ref")
    duplicates = {c for c in columns if columns.count(c) > 1}
    if duplicates:
        raise UserInputError(f"line 1: column {sorted(duplicates)[0]!r} appears twice", field="header")
    return columns


def read_csv(text: str, default_playbook: str) -> list[ImportRow]:
    """Parse a whole CSV file; a bad header is a ``UserInputError``, a bad row an ``ImportRow.error``."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UserInputError(f"line 1: {exc}", field="header") from exc
    if not header:
        raise UserInputError("line 1: the file is empty: it needs a header row", field="header")
    columns = _check_header(header)
    return list(_records(reader, columns, default_playbook))


def _records(reader: Any, columns: list[str], default_playbook: str) -> Iterator[ImportRow]:
    previous = reader.line_num
    while True:
        line = previous + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ImportRow(line, None, RowError(line, None, str(exc)))
            return
        previous = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines are allowed anywhere
        if len(record) != len(columns):
            message = f"expected {len(columns)} cells, got {len(record)}"
            yield ImportRow(line, None, RowError(line, None, message))
            continue
        nul = next((c for c, cell in zip(columns, record, strict=True) if "\x00" in cell), None)
        if nul is not None:  # PostgreSQL cannot store it; refused here, the row's neighbours still go in
            yield ImportRow(line, None, RowError(line, nul, f"{nul}: must not contain NUL characters"))
            continue
        try:
            booking = row_to_input(dict(zip(columns, record, strict=True)), default_playbook)
        except UserInputError as exc:
            yield ImportRow(line, None, RowError(line, exc.field, exc.message))
            continue
        yield ImportRow(line, booking)


#: The engine's field names as CSV columns (``phone`` -> ``customer_phone``, ``facts.x`` -> ``fact_x``).
CSV_NAMES = {
    "name": "customer_name",
    "phone": "customer_phone",
    "email": "customer_email",
    "locale": "customer_locale",
    "marketing_ok": "customer_marketing_ok",
}
#: ... and as the API body names them.
JSON_NAMES = {k: f"customer.{k}" for k in CSV_NAMES}


def _renamed(exc: ForventError, names: Mapping[str, str], line: int) -> RowError:
    field = exc.field
    if field is None:
        return RowError(line, None, exc.message)
    column = names.get(field) or (
        FACT_PREFIX + field.removeprefix("facts.")
        if names is CSV_NAMES and field.startswith("facts.")
        else field
    )
    message = exc.message
    if message.startswith(f"{field}:"):
        message = f"{column}:{message.removeprefix(f'{field}:')}"
    return RowError(line, column, message)


def import_rows(
    service: BookingService,
    rows: Iterable[ImportRow],
    *,
    names: Mapping[str, str] = CSV_NAMES,
    progress: Callable[[ImportRow], None] | None = None,
) -> ImportReport:
    """Book each good row in its own transaction; collect what went wrong, row by row.

    ``names`` renames the engine's fields in the errors: ``CSV_NAMES`` or ``JSON_NAMES``.
    """
    report = ImportReport()
    for row in rows:
        if row.booking is None:
            assert row.error is not None
            report.errors.append(row.error)
        else:
            try:
                result = service.book(row.booking, allow_past=True)
            except ForventError as exc:
                report.errors.append(_renamed(exc, names, row.line))
            else:
                if result.created:
                    report.created += 1
                elif result.changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
        if progress is not None:
            progress(row)
    return report
