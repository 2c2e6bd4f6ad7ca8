"""The outbox from the command line: ``messages`` and ``history`` read it, ``dispatch`` sends it.

The two read commands query the store directly instead of going through the
booking service: they change nothing, and skipping the service's imports (the
planner, phone numbers, templates) keeps them quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from engine.cli.app import State, common, console, emit, open_store
from engine.exceptions import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.tables import BookingRow


def _booking(session: Session, business_id: str, ref: str) -> BookingRow:
    from sqlalchemy import select

    from engine.store.tables import BookingRow

    query = select(BookingRow).where(BookingRow.business_id == business_id, BookingRow.ref == ref)
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"unknown booking ref {ref!r}", field="ref")
    return row


@click.command()
@click.argument("ref", required=False)
@common
def messages(state: State, ref: str | None) -> None:
    """Outbox rows, for one booking or all."""
    from engine.store.serialise import messages_json

    runtime = open_store(state)
    business_id = runtime.business.id
    with runtime.database.session() as session:
        if ref is not None:
            _booking(session, business_id, ref)
        data = messages_json(session, business_id, ref)

    def human() -> None:
        from rich.table import Table

        table = Table()
        for col in ("id", "booking", "step", "channel", "status", "due", "sent", "to"):
            table.add_column(col)
        for m in data:
            status = m["status"] + (f" ({m['reason']})" if m["reason"] else "")
            table.add_row(
                m["id"],
                m["booking"],
                m["step"],
                m["channel"],
                status,
                m["due_at"] or "-",
                m["sent_at"] or "-",
                m["to"] or "",
            )
        console.print(table)

    emit(state, data, human)


@click.command()
@click.argument("ref")
@common
def history(state: State, ref: str) -> None:
    """The booking's full record: events, messages, replies."""
    from engine.store.serialise import history_json

    runtime = open_store(state)
    with runtime.database.session() as session:
        data = history_json(session, _booking(session, runtime.business.id, ref))

    def human() -> None:
        from rich.table import Table

        table = Table()
        for col in ("at", "kind", "detail"):
            table.add_column(col)
        for h in data:
            table.add_row(h["at"], h["kind"], h["detail"] or "")
        console.print(table)

    emit(state, data, human)


@click.command()
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@common
def dispatch(state: State, once: bool) -> None:
    """Send what is due: a pass every second, or --once."""
    from engine.channels.factory import build_channels
    from engine.dispatch.dispatcher import Dispatcher

    rt = open_store(state)
    rt.signer  # noqa: B018 - refuse before claiming anything when links cannot be signed
    channels = build_channels(rt)
    dispatcher = Dispatcher(rt, channels)
    try:
        if once:
            stats = dispatcher.run_until_idle()
            emit(
                state,
                vars(stats),
                lambda: console.print(
                    f"sent {stats.sent}, retrying {stats.retrying}, failed {stats.failed}, "
                    f"skipped {stats.skipped}, re-timed {stats.requeued}"
                ),
            )
            return
        from engine.dispatch.scheduler import run_forever

        run_forever(rt, dispatcher)
    finally:
        dispatcher.close()
        for channel in channels.values():
            channel.close()
