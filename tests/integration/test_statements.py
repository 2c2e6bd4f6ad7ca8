"""How many SQL statements planning takes: a bound that does not grow with the playbook's steps.

A new booking's messages and their history lines go in by executemany, and a
delay moves its rows with one executemany UPDATE, so a playbook with ten more
steps costs the same statements. The count is behaviour (what reaches the
database), not timing; it is taken with a ``before_cursor_execute`` listener.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from engine.core.clock import FixedClock
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.workers import REPO, settings_for
from tests.integration.world import MONDAY_NOON

EXTRA_STEPS = 10
# Besides SQLite's BEGIN: the ref's look-up, customer, booking, the event's history line, the
# opt-outs, the messages (one INSERT ... RETURNING) and their history lines (one executemany).
BOOK_STATEMENTS = 7
# Besides SQLite's BEGIN: the booking locked, its UPDATE, the recent delay notices, the event's
# history line, customer with purchases, opt-outs, findings, the rows by key, the moves (one
# executemany UPDATE), the delay notice's INSERT and the history lines (one executemany).
DELAY_STATEMENTS = 11


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):  # PostgreSQL's driver begins without a statement
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def playbooks(tmp_path: Path, extra: int) -> Path:
    """The seed playbooks, the plumber visit with a heads-up 45 minutes before the start (a timed
    step a delay moves; the seed's "on my way" waits for staff) and ``extra`` more reminders."""
    folder = tmp_path / f"playbooks-{extra}"
    folder.mkdir()
    for source in (REPO / "playbooks").glob("*.yaml"):
        (folder / source.name).write_text(source.read_text())
    steps = "\n  - id: heads_up\n    at: start - 45m\n    channels: [sms]\n    template: reminder\n"
    steps += "".join(
        f"\n  - id: reminder_{days}d\n    at: start - {days}d\n    template: reminder\n"
        for days in range(2, 2 + extra)
    )
    plumber = folder / "plumber_visit.yaml"
    plumber.write_text(plumber.read_text().rstrip("\n") + "\n" + steps)
    return folder


@dataclass
class Deployment:
    service: BookingService
    extra: int  # reminders beyond the seed playbook's steps

    @property
    def engine(self) -> Engine:
        return self.service.rt.database.engine


@pytest.fixture(params=[0, EXTRA_STEPS], ids=["seed-steps", "ten-more-steps"])
def deployment(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    extra = int(request.param)
    settings = settings_for(database_url, playbooks_dir=playbooks(tmp_path, extra))
    rt = Runtime(settings, clock=FixedClock(MONDAY_NOON))
    rt.database.upgrade()
    service = BookingService(rt)
    service.book(visit("WARM"))  # the business row is written once, by the first booking
    yield Deployment(service, extra)
    rt.close()


def visit(ref: str) -> BookingInput:
    return BookingInput(
        ref=ref,
        playbook="plumber_visit",
        name="Kari Nordmann",
        phone="+4791234567",
        email="kari@example.com",
        start="2026-12-21T10:00",
        locale="nb",
        facts={"task": "Tett avløp"},
    )


def counts(service: BookingService, ref: str) -> tuple[int, int]:
    """(messages, history lines) of booking ``ref``."""
    with service.rt.database.session() as s:
        booking_id = service.get(s, ref).id
        messages = s.scalar(select(func.count()).where(MessageRow.booking_id == booking_id))
        lines = s.scalar(select(func.count()).where(HistoryRow.booking_id == booking_id))
    return messages or 0, lines or 0


def test_a_new_booking_is_planned_in_the_same_statements_whatever_its_steps(deployment: Deployment) -> None:
    with counting(deployment.engine) as statements:
        deployment.service.book(visit("P-1"))
    messages, lines = counts(deployment.service, "P-1")
    # Both confirmations, the day-before reminder, the heads-up, and one reminder per extra step.
    assert messages == 4 + deployment.extra
    assert lines == 1 + messages  # the event, then one line per message
    assert len(statements) == BOOK_STATEMENTS, statements


def test_a_delay_moves_every_pending_row_in_the_same_statements(deployment: Deployment) -> None:
    service = deployment.service
    service.book(visit("P-1"))
    with counting(deployment.engine) as statements:
        service.delay("P-1", minutes=30)
    with service.rt.database.session() as s:
        booking_id = service.get(s, "P-1").id
        moved = s.execute(
            select(HistoryRow.detail, HistoryRow.data)
            .where(HistoryRow.booking_id == booking_id, HistoryRow.detail.like("%moved to%"))
            .order_by(HistoryRow.id)
        ).all()
    # The heads-up (09:15 -> 09:45) and each extra reminder (10:00 -> 10:30); the 17:00 reminder stays.
    assert [d.rsplit("T", 1)[-1] for d, _ in moved] == ["09:45:00+01:00"] + [
        "10:30:00+01:00"
    ] * deployment.extra
    assert moved[0].data == {"due_at": "2026-12-21T08:45:00+00:00", "moved_from": "2026-12-21T08:15:00+00:00"}
    assert len(statements) == DELAY_STATEMENTS, statements
