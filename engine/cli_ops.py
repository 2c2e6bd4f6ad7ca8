"""Operational commands: ``report``."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from engine import timing
from engine.cli import State, _service, cli, common, console, emit
from engine.report import DEFAULT_PERIOD, report


def run_report(state: State, since: str | None, until: str | None) -> dict[str, Any]:
    service = _service(state)
    rt = state.runtime
    tz = timing.zone(rt.business.timezone)
    now = rt.now()
    end = timing.parse_instant(until, tz, field="until") if until else now
    start = timing.parse_instant(since, tz, field="since") if since else end - DEFAULT_PERIOD
    promises = {pid: rt.playbooks.get(pid).promise for pid in rt.playbooks.ids()}
    with rt.database.session() as session:
        return report(session, business_id=service.business_id, promises=promises, since=start, until=end)


@cli.command("report")
@click.option("--since", default=None, metavar="ISO")
@click.option("--until", default=None, metavar="ISO")
@common
def report_command(state: State, since: str | None, until: str | None) -> None:
    """Expectation metrics: promises kept, delays announced, delivery, scores."""
    data = run_report(state, since, until)

    def human() -> None:
        columns = ["overall", *data["playbooks"]]
        table = Table(title=f"{data['since']} - {data['until']}")
        table.add_column("metric")
        for name in columns:
            table.add_column(name)
        for metric in data["overall"]:
            values = [data["overall"][metric], *(data["playbooks"][p][metric] for p in data["playbooks"])]
            table.add_row(metric, *("-" if v is None else str(v) for v in values))
        console.print(table)

    emit(state, data, human)


