"""Running a deployment: ``init-db``, ``import``, ``report``, ``erase-customer``, ``bench``."""

from __future__ import annotations

import sys
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import click

from engine.cli.app import State, booking_service, common, console, emit, err_console, open_store
from engine.core import timing
from engine.exceptions import UserInputError


@click.command("init-db")
@common
def init_db(state: State) -> None:
    """Create or upgrade the schema, then ANALYZE."""
    state.runtime.database.upgrade()
    emit(
        state,
        {"database": state.settings.database_url, "status": "ok"},
        lambda: console.print(f"database ready: {state.settings.database_url}"),
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file", field="file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot read it as UTF-8 text: {exc}", field="file") from None


@click.command("import")
@click.argument("file", metavar="FILE.csv")
@click.option("--playbook", required=True, help="Playbook of rows without a playbook column.")
@common
def import_command(state: State, file: str, playbook: str) -> None:
    """Bulk create or update bookings from a CSV file.

    \b
    Columns (a header row names them; only ref is required as a column):
      ref, customer_name, customer_phone, customer_email, customer_locale,
      customer_marketing_ok, start, end, timezone, location, playbook, assignee,
      fact_<name>
    An empty cell means "not given" (an update keeps the stored value). Times
    without an offset are wall-clock in the booking's zone; past starts are
    accepted. Good rows are imported, bad rows reported as FILE:LINE: field:
    message (exit 1); importing the same file again changes nothing.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from engine.services.importer import import_rows, read_csv

    service = booking_service(state)
    state.runtime.playbooks.get(playbook)  # an unknown playbook is one error, not one per row
    rows = read_csv(_read(file), playbook)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn())
    quiet = state.as_json or not err_console.rich.is_terminal  # a bar only where someone watches it
    with Progress(*columns, console=err_console.rich, transient=True, disable=quiet) as progress:
        task = progress.add_task("import", total=len(rows))
        report = import_rows(service, rows, progress=lambda _: progress.advance(task))

    def human() -> None:
        for error in report.errors:
            err_console.print(
                f"{file}:{error.line}: {error.message}", highlight=False, markup=False, soft_wrap=True
            )
        console.print(
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{len(report.errors)} failed"
        )

    emit(state, {"file": file, **report.as_json()}, human)
    if report.errors:
        sys.exit(1)


def run_report(state: State, since: str | None, until: str | None) -> dict[str, Any]:
    from engine.store.report import DEFAULT_PERIOD, report

    rt = open_store(state)
    tz = timing.zone(rt.business.timezone)
    now = rt.now()
    # By default: the last 30 days through the end of today, so today's promises count.
    end_of_today = timing.at_local_time(now + timedelta(days=1), time(0, 0), tz)
    end = timing.parse_instant(until, tz, field="until") if until else end_of_today
    start = timing.parse_instant(since, tz, field="since") if since else end - DEFAULT_PERIOD
    playbooks = {pid: rt.playbooks.get(pid) for pid in rt.playbooks.ids()}
    with rt.database.session() as session:
        return report(
            session,
            business_id=rt.business.id,
            promises={pid: pb.promise for pid, pb in playbooks.items()},
            since=start,
            until=end,
            step_ids={pid: [step.id for step in pb.steps] for pid, pb in playbooks.items()},
            locale=rt.business.default_locale,
        )


STEP_COLUMNS = ("planned", "sent", "delivered", "failed", "skipped", "cancelled", "pending", "replies")


def _by_reason(row: dict[str, Any], name: str) -> str:
    """``2 (sms:21211 1, sms:30003 1)``: a count and what it is made of."""
    reasons = row[f"{name}_by_reason"]
    if not reasons:
        return str(row[name])
    return f"{row[name]} ({', '.join(f'{reason} {n}' for reason, n in reasons.items())})"


def _print_report(data: dict[str, Any]) -> None:
    from rich.table import Table

    from engine.messages.report_text import percent, width

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
    for playbook, rows in data["steps"].items():
        steps = Table(title=f"{playbook}: messages per step")
        steps.add_column("step")
        for name in STEP_COLUMNS:
            steps.add_column(name, justify="right" if name not in ("failed", "skipped") else "left")
        for row in rows:
            cells = [_by_reason(row, n) if n in ("failed", "skipped") else str(row[n]) for n in STEP_COLUMNS]
            steps.add_row(row["step"], *cells)
        console.print(steps)
    _print_assignees(data)
    for playbook, calibration in data["calibration"].items():
        console.print(f"{playbook}: {calibration['sentence']}", highlight=False, markup=False, soft_wrap=True)
        for window in calibration["windows"]:
            rate = window["kept_rate"]
            kept = "-" if rate is None else f"{percent(rate, 'en')} kept"
            count = window["bookings"]
            line = f"  {width(window['minutes'], 'en')} windows: {count} booking{'s' * (count != 1)}, {kept}"
            console.print(line, highlight=False)


ASSIGNEE_METRICS = (
    "bookings",
    "kept_rate",
    "late",
    "lateness_minutes_median",
    "late_announced_in_time_rate",
    "notice_lead_minutes_median",
    "unannounced_late",
)


def _print_assignees(data: dict[str, Any]) -> None:
    """Lateness and notice lead per assignee, and their calibration sentences."""
    from rich.table import Table

    assignees = data.get("assignees") or {}
    if not assignees:
        return
    table = Table(title="per assignee")
    table.add_column("metric")
    for name in assignees:
        table.add_column(name)
    for metric in ASSIGNEE_METRICS:
        values = [assignees[name][metric] for name in assignees]
        table.add_row(metric, *("-" if v is None else str(v) for v in values))
    console.print(table)
    for name, per_playbook in (data.get("assignee_calibration") or {}).items():
        for playbook, calibration in per_playbook.items():
            line = f"{name}, {playbook}: {calibration['sentence']}"
            console.print(line, highlight=False, markup=False, soft_wrap=True)


@click.command("report")
@click.option("--since", default=None, metavar="ISO")
@click.option("--until", default=None, metavar="ISO")
@common
def report_command(state: State, since: str | None, until: str | None) -> None:
    """Expectation metrics: promises kept, delays announced, delivery, scores; messages per
    step; how wide promised windows must be to be kept 90% of the time."""
    data = run_report(state, since, until)
    emit(state, data, lambda: _print_report(data))


@click.command("erase-customer")
@click.option("--phone", default=None)
@click.option("--email", default=None)
@common
def erase_customer_command(state: State, phone: str | None, email: str | None) -> None:
    """Anonymise a person's bookings in place; counts stay for the report."""
    from engine.core.contacts import address_hash, normalise_email, normalise_phone
    from engine.store.privacy import clear_traces, erase_customer
    from engine.store.tables import OptOutRow

    if (phone is None) == (email is None):
        raise UserInputError("erase-customer: give exactly one of --phone and --email", field="phone")
    rt = open_store(state)
    business_id = rt.business.id
    number = normalise_phone(phone, country=rt.business.country) if phone else None
    # Erasure must also find addresses stored before non-ASCII local parts were refused.
    address = normalise_email(email, allow_smtputf8=True) if email else None
    with rt.database.session() as session:
        result = erase_customer(
            session,
            business_id=business_id,
            playbooks=rt.playbooks,
            now=rt.now(),
            phone=number,
            email=address,
        )
        opted = (
            session.query(OptOutRow)
            .filter_by(
                business_id=business_id,
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


@click.command("bench")
@click.option("--quick", is_flag=True, help="Smaller sizes, one repetition: under two minutes on two cores.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.001, 10), help="Sizes x F.")
@click.option("--pg", default=None, metavar="URL", help="PostgreSQL for the scale-out (a scratch database).")
@click.option("--bookings", default=None, type=click.IntRange(1, 1_000_000), help="Plan scenario's bookings.")
@click.option("--latency-ms", default=100.0, show_default=True, type=click.FloatRange(0, 5000))
@click.option("--concurrency", default=None, type=click.IntRange(1, 1024), help="Sends in flight.")
@common
def bench_command(
    state: State,
    quick: bool,
    scale: float,
    pg: str | None,
    bookings: int | None,
    latency_ms: float,
    concurrency: int | None,
) -> None:
    """Every scenario against a naive peer and a floor: figures, targets and ratios."""
    from engine.bench import main

    main(bookings, latency_ms, concurrency, quick=quick, as_json=state.as_json, scale=scale, pg=pg)
