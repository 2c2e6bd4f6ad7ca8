"""``forvent on-my-way REF [--eta ISO]``: staff have set off for the booking.

It records the ``staff.on_my_way`` event with the arrival time (default: the
booking's expected start), which sends the playbook's step on that event.
"""

from __future__ import annotations

from datetime import datetime

import click

from engine.cli.app import State, booking_service, common, console, emit
from engine.core import timing


@click.command("on-my-way")
@click.argument("ref")
@click.option("--eta", default=None, metavar="ISO", help="Expected arrival; default the expected start.")
@click.option("--at", default=None, metavar="ISO")
@common
def on_my_way_command(state: State, ref: str, eta: str | None, at: str | None) -> None:
    """Staff: on my way to REF, arriving at --eta."""
    from engine.services.on_my_way import on_my_way
    from engine.store.serialise import booking_json

    service = booking_service(state)
    on_my_way(service, ref, eta=eta, at=at)
    with service.rt.database.session() as session:
        row = service.get(session, ref)
        data = booking_json(session, row)
        arrival = timing.local_iso(datetime.fromisoformat(row.anchors["eta"]), timing.zone(row.timezone))
    data["eta"] = arrival
    emit(state, data, lambda: console.print(f"on my way to {data['ref']}: arriving {arrival}"))
