"""``forvent attention``: what needs a person (an unhappy customer's words), and marking it handled.

``forvent attention`` lists the open items, oldest first; ``forvent attention
handled ID`` marks one handled, in one transaction that locks its booking,
recorded in the booking's history with who did it (``--by``, else the
command's actor, else ``staff``). Marking it again as the same person changes
nothing; an item someone else handled is exit 1 naming them.
"""

from __future__ import annotations

from typing import Any

import click

from engine.cli.app import State, cli_actor, common, console, emit, open_store


def _line(item: dict[str, Any]) -> str:
    who = f"{item['name']} ({item['ref']})" if item["ref"] else "-"
    contact = item["phone"] or item["email"] or "-"
    detail = " · ".join((item["detail"] or "").splitlines())
    return f"#{item['id']} {item['created_at']} {who} {contact} [{item['kind']}]: {detail}"


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")
@click.option("--now", default=None, metavar="ISO", help="Engine clock (with offset).")
@click.pass_context
def attention(ctx: click.Context, as_json: bool, now: str | None) -> None:
    """Open attention items (unhappy customers); `attention handled ID` marks one handled."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(attention_list, as_json=as_json, now=now)


@attention.command("list")
@common
def attention_list(state: State) -> None:
    """The open items, oldest first."""
    from engine.core import timing
    from engine.store import attention as store

    rt = open_store(state)
    tz = timing.zone(rt.business.timezone)
    with rt.database.session() as session:
        items = store.items(session, rt.business.id)
    data = [{**item.as_json(), "created_at": timing.local_iso(item.created_at, tz)} for item in items]

    def human() -> None:
        if not data:
            console.print("nothing needs attention", highlight=False, markup=False)
        for item in data:
            console.print(_line(item), highlight=False, markup=False, soft_wrap=True)

    emit(state, data, human)


@attention.command("handled")
@click.argument("item_id", metavar="ID", type=int)
@click.option("--by", default=None, metavar="NAME", help="Who handled it (default: cli:<your user name>).")
@common
def attention_handled(state: State, item_id: int, by: str | None) -> None:
    """Mark item ID handled."""
    from engine.core import timing
    from engine.services.feedback import Feedback

    rt = open_store(state)
    item = Feedback(rt).handle(item_id, by=(by or "").strip() or cli_actor())
    tz = timing.zone(rt.business.timezone)
    handled_at = timing.local_iso(item.handled_at, tz) if item.handled_at else None
    data = {**item.as_json(), "created_at": timing.local_iso(item.created_at, tz), "handled_at": handled_at}

    def human() -> None:
        line = f"#{item.id} handled by {item.handled_by} at {handled_at}"
        console.print(line + (f" (booking {item.ref})" if item.ref else ""), highlight=False, markup=False)

    emit(state, data, human)
