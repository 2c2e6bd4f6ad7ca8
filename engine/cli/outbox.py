"""The outbox from the command line: ``messages`` and ``history`` read it, ``dispatch`` sends it.

The two read commands query the store directly instead of going through the
booking service, and on SQLite without SQLAlchemy or pydantic
(``engine.cli.reading``): they change nothing, and they start in a fraction of
the time (tests/e2e/test_cli_startup.py lists what they may load).
"""

from __future__ import annotations

import click

from engine.cli.app import State, common, console, emit, open_store


@click.command()
@click.argument("ref", required=False)
@common
def messages(state: State, ref: str | None) -> None:
    """Outbox rows, for one booking or all."""
    from engine.cli.reading import store_reads
    from engine.cli.tables import print_table

    with store_reads(state) as store:
        if ref is not None:
            store.booking(ref)
        data = store.messages_json(ref)

    def human() -> None:
        rows = [
            [
                m["id"],
                m["booking"],
                m["step"],
                m["channel"],
                m["status"] + (f" ({m['reason']})" if m["reason"] else ""),
                m["due_at"] or "-",
                m["sent_at"] or "-",
                m["to"] or "",
            ]
            for m in data
        ]
        print_table(("id", "booking", "step", "channel", "status", "due", "sent", "to"), rows)

    emit(state, data, human)


@click.command()
@click.argument("ref")
@common
def history(state: State, ref: str) -> None:
    """The booking's full record: events, messages, replies."""
    from engine.cli.reading import store_reads
    from engine.cli.tables import print_table

    with store_reads(state) as store:
        data = store.history_json(store.booking(ref))

    def human() -> None:
        rows = [[h["at"], h["kind"], h["detail"] or "", h["actor"]] for h in data]
        print_table(("at", "kind", "detail", "by"), rows)

    emit(state, data, human)


@click.command()
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@common
def dispatch(state: State, once: bool) -> None:
    """Send what is due: a pass every second, or --once (with the periodic jobs due on the engine clock)."""
    from engine.channels.factory import build_channels
    from engine.dispatch.dispatcher import Dispatcher

    rt = open_store(state)
    rt.signer  # noqa: B018 - refuse before claiming anything when links cannot be signed
    channels = build_channels(rt)
    dispatcher = Dispatcher(rt, channels)
    try:
        if once:
            from engine.dispatch.scheduler import run_due_jobs

            # The periodic jobs first: a watch alert raised now goes out in this pass.
            ran = run_due_jobs(rt, dispatcher.worker)
            stats = dispatcher.run_until_idle()
            alerts = f", watch alerts {ran['watch']}" if ran["watch"] else ""
            emit(
                state,
                {**vars(stats), "jobs": ran},
                lambda: console.print(
                    f"sent {stats.sent}, retrying {stats.retrying}, failed {stats.failed}, "
                    f"skipped {stats.skipped}, re-timed {stats.requeued}{alerts}"
                ),
            )
            return
        from engine.dispatch.scheduler import run_forever

        run_forever(rt, dispatcher)
    finally:
        dispatcher.close()
        for channel in channels.values():
            channel.close()
