"""Commands around the web app: ``serve``, ``demo``, ``token create|revoke``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from engine.cli.app import State, common, console, emit, err_console, open_store
from engine.exceptions import UserInputError

if TYPE_CHECKING:
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


@click.command()
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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=str(DEFAULT_PORT), show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
@common
def demo(state: State, host: str, port: str, no_serve: bool) -> None:
    """A local demo business with sample bookings, served with the file channels."""
    from engine.services.demo import DEMO_DIR, demo_settings, prepare

    number = _port(port)
    public = None if "public_url" in state.settings.model_fields_set else f"http://{host}:{number}"
    state.settings = demo_settings(state.settings, DEMO_DIR, public_url=public)
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


@click.group()
def token() -> None:
    """API tokens: shown once, stored hashed."""


@token.command("create")
@click.argument("name")
@common
def token_create(state: State, name: str) -> None:
    """Create the token NAME and print it (the only time it is shown)."""
    from engine.store.tokens import create_token

    rt = open_store(state)
    with rt.database.session() as session:
        text = create_token(
            session, business_id=rt.business.id, business_name=rt.business.name, name=name, now=rt.now()
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

    rt = open_store(state)
    with rt.database.session() as session:
        revoke_token(session, business_id=rt.business.id, name=name, now=rt.now())
    emit(state, {"name": name, "revoked": True}, lambda: console.print(f"token {name} revoked"))
