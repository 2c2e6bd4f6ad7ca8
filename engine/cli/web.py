"""Commands around the web app: ``serve``, ``token create|revoke``, ``import``, ``demo``.

Registered on ``engine.cli.main.cli`` when that module loads. User errors print one
line and exit 1, as everywhere in the CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from engine.cli.main import State, _service, cli, common, console, emit, err_console
from engine.exceptions import UserInputError
from engine.runtime import Runtime

DEFAULT_PORT = 8000


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UserInputError(f"--port: expected a port number 1-65535, got {value!r}", field="port")
    return port


def _serve(runtime: Runtime, host: str, port: int, dispatch: bool) -> None:
    import uvicorn

    from engine.web.app import create_app

    app = create_app(runtime, dispatch=dispatch)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)


# --- serve ---------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=str(DEFAULT_PORT), show_default=True)
@click.option("--no-dispatch", is_flag=True, help="API and pages only: no dispatch loop.")
@common
def serve(state: State, host: str, port: str, no_dispatch: bool) -> None:
    """HTTP API, staff board and customer page; and the dispatch loop unless --no-dispatch."""
    number = _port(port)
    runtime = state.runtime
    runtime.business  # noqa: B018 - refuse to serve without a business profile
    runtime.signer  # noqa: B018 - refuse to serve without FORVENT_SECRET
    runtime.database.check_schema()
    _serve(runtime, host, number, dispatch=not no_dispatch)


# --- tokens --------------------------------------------------------------------------


@cli.group()
def token() -> None:
    """API tokens: shown once, stored hashed."""


@token.command("create")
@click.argument("name")
@common
def token_create(state: State, name: str) -> None:
    """Create the token NAME and print it (the only time it is shown)."""
    from engine.store.tokens import create_token

    service = _service(state)
    rt = state.runtime
    with rt.database.session() as session:
        text = create_token(
            session, business_id=service.business_id, business_name=rt.business.name, name=name, now=rt.now()
        )

    def human() -> None:
        err_console.print(f"token [b]{name}[/b] created; it is shown only now, store it safely:")
        click.echo(text)

    emit(state, {"name": name, "token": text}, human)


@token.command("revoke")
@click.argument("name")
@common
def token_revoke(state: State, name: str) -> None:
    """Revoke the token NAME: it stops working at once."""
    from engine.store.tokens import revoke_token

    service = _service(state)
    rt = state.runtime
    with rt.database.session() as session:
        revoke_token(session, business_id=service.business_id, name=name, now=rt.now())
    emit(state, {"name": name, "revoked": True}, lambda: console.print(f"token {name} revoked"))


# --- import --------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file", field="file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot read it as UTF-8 text: {exc}", field="file") from None


@cli.command("import")
@click.argument("file", metavar="FILE.csv")
@click.option("--playbook", required=True, help="Playbook of rows without a playbook column.")
@common
def import_command(state: State, file: str, playbook: str) -> None:
    """Bulk create or update bookings from a CSV file.

    \b
    Columns (a header row names them; only ref is required as a column):
      ref, customer_name, customer_phone, customer_email, customer_locale,
      customer_marketing_ok, start, end, timezone, location, playbook, fact_<name>
    An empty cell means "not given" (an update keeps the stored value). Times
    without an offset are wall-clock in the booking's zone; past starts are
    accepted. Good rows are imported, bad rows reported as FILE:LINE: field:
    message (exit 1); importing the same file again changes nothing.
    """
    from engine.services.importer import import_rows, read_csv

    service = _service(state)
    state.runtime.playbooks.get(playbook)  # an unknown playbook is one error, not one per row
    rows = read_csv(_read(file), playbook)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn())
    quiet = state.as_json or not err_console.is_terminal  # a bar only where someone watches it
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as progress:
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


# --- demo ----------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=str(DEFAULT_PORT), show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
@common
def demo(state: State, host: str, port: str, no_serve: bool) -> None:
    """A local demo business with sample bookings, served with the file channels."""
    from engine.services.demo import DEMO_DIR, demo_settings, prepare

    number = _port(port)
    public = None if "FORVENT_PUBLIC_URL" in os.environ else f"http://{host}:{number}"
    state.settings = demo_settings(state.settings, DEMO_DIR, public_url=public)
    state._runtime = None
    runtime = state.runtime
    info = prepare(runtime, DEMO_DIR)

    def human() -> None:
        console.print(
            f"[b]Forvent demo[/b]: {runtime.business.name}, {len(info['bookings'])} sample bookings"
        )
        console.print(f"  staff board    {info['staff']}   password: [b]{info['password']}[/b]")
        console.print(f"  customer page  {info['customer']}")
        console.print(
            f"  outbox         {info['outbox']}/   ({info['sms']} SMS, {info['emails']} emails so far)"
        )
        console.print(f"  database       {info['database']}")
        if not no_serve:
            console.print("serving with the file channels; Ctrl-C stops")

    emit(state, info, human)
    if not no_serve:
        _serve(runtime, host, number, dispatch=True)
