"""Operational commands: ``report``."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import click
from rich.table import Table

from engine.cli.main import State, _service, cli, common, console, emit
from engine.core import timing
from engine.store.report import DEFAULT_PERIOD, report


def run_report(state: State, since: str | None, until: str | None) -> dict[str, Any]:
    service = _service(state)
    rt = state.runtime
    tz = timing.zone(rt.business.timezone)
    now = rt.now()
    # By default: the last 30 days through the end of today, so today's promises count.
    end_of_today = timing.at_local_time(now + timedelta(days=1), time(0, 0), tz)
    end = timing.parse_instant(until, tz, field="until") if until else end_of_today
    start = timing.parse_instant(since, tz, field="since") if since else end - DEFAULT_PERIOD
    promises: dict[str, str] = {pid: rt.playbooks.get(pid).promise for pid in rt.playbooks.ids()}
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
            values = [
                data["overall"][metric],
                *(data["playbooks"][p][metric] for p in data["playbooks"]),
            ]
            table.add_row(metric, *("-" if v is None else str(v) for v in values))
        console.print(table)

    emit(state, data, human)


@cli.command("bench")
@click.option("--bookings", default=2000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--latency-ms", default=100.0, show_default=True, type=click.FloatRange(0, 5000))
@click.option("--concurrency", default=64, show_default=True, type=click.IntRange(1, 1024))
@common
def bench_command(state: State, bookings: int, latency_ms: float, concurrency: int) -> None:
    """The performance benchmark: figures and ratios, printed."""
    from engine.bench import main

    main(bookings, latency_ms, concurrency)


@cli.command("erase-customer")
@click.option("--phone", default=None)
@click.option("--email", default=None)
@common
def erase_customer_command(state: State, phone: str | None, email: str | None) -> None:
    """Anonymise a person's bookings in place; counts stay for the report."""
    from engine.core.contacts import address_hash, normalise_email, normalise_phone
    from engine.exceptions import UserInputError
    from engine.store.privacy import clear_traces, erase_customer
    from engine.store.tables import OptOutRow

    if (phone is None) == (email is None):
        raise UserInputError("erase-customer: give exactly one of --phone and --email", field="phone")
    service = _service(state)
    rt = state.runtime
    number = normalise_phone(phone, country=rt.business.country) if phone else None
    # Erasure must also find addresses stored before non-ASCII local parts were refused.
    address = normalise_email(email, allow_smtputf8=True) if email else None
    with rt.database.session() as session:
        result = erase_customer(
            session,
            business_id=service.business_id,
            playbooks=rt.playbooks,
            now=rt.now(),
            phone=number,
            email=address,
        )
        opted = (
            session.query(OptOutRow)
            .filter_by(
                business_id=service.business_id,
                address_hash=address_hash(
                    "sms" if number else "email", number or address or "", rt.settings.secret
                ),
            )
            .count()
        )
    clear_traces(rt.database, rt.settings.outbox_dir, result.message_ids)
    data = {
        "customers": result.customers,
        "bookings": result.bookings,
        "messages_cancelled": result.messages_cancelled,
        "opt_out_kept": bool(opted),
    }
    emit(
        state,
        data,
        lambda: console.print(
            f"erased {result.customers} customer(s), {result.bookings} booking(s); "
            f"{result.messages_cancelled} pending message(s) cancelled"
        ),
    )
