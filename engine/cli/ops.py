"""Running a deployment: ``init-db``, ``import``, ``erase-customer``, ``bench``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.app import State, booking_service, common, console, emit, err_console, open_store
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
        "webhooks_cancelled": result.webhooks_cancelled,
        "opt_out_kept": bool(opted),
    }
    emit(
        state,
        data,
        lambda: console.print(
            f"erased {result.customers} customer(s), {result.bookings} booking(s); "
            f"{result.messages_cancelled} pending message(s) and "
            f"{result.webhooks_cancelled} waiting webhook delivery(ies) cancelled"
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
