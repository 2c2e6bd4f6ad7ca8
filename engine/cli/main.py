"""The ``forvent`` command.

User errors print one line naming the field or file and exit 1; click's own
usage errors (unknown command or option, missing argument) exit 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from engine.core import timing
from engine.core.business import SAMPLE_BUSINESS, load_business
from engine.exceptions import ForventError, UserInputError
from engine.runtime import Runtime
from engine.services.bookings import BookingInput, BookingService
from engine.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
# Piped output gets a wide console: rich's 80-column default folds every table cell.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


class State:
    def __init__(self, settings: Settings, as_json: bool, business_file: Path | None) -> None:
        self.settings = settings
        self.as_json = as_json
        self.business_file = business_file
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime(self.settings)
        return self._runtime


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(1)


def common(func: F) -> F:
    """Every command accepts ``--json`` and ``--now`` after its name, and reports user errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, now: str | None, **kwargs: Any) -> Any:
        state: State = click.get_current_context().obj
        if as_json:
            state.as_json = True
        if now:
            try:
                timing.parse_clock_instant(now)
            except UserInputError as exc:
                _fail(str(exc))
            state.settings = replace(state.settings, now=now)
        try:
            return func(state, *args, **kwargs)
        except ForventError as exc:
            _fail(str(exc))
        finally:
            if state._runtime is not None:
                state._runtime.close()

    wrapper = click.option("--now", "now", default=None, metavar="ISO", help="Engine clock (with offset).")(
        wrapper
    )
    wrapper = click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")(
        wrapper
    )
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", default=None, metavar="URL", help="SQLAlchemy URL (env FORVENT_DATABASE_URL).")
@click.option("--playbooks", default=None, metavar="DIR", help="Playbooks directory.")
@click.option("--templates", default=None, metavar="DIR", help="Templates directory.")
@click.option("--business", default=None, metavar="FILE", help="business.yaml (env FORVENT_BUSINESS_FILE).")
@click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")
@click.option("--now", default=None, metavar="ISO", help="Engine clock, with offset (env FORVENT_NOW).")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    playbooks: str | None,
    templates: str | None,
    business: str | None,
    as_json: bool,
    now: str | None,
) -> None:
    """Forvent: proactive expectation messaging for service businesses."""
    from engine.logs import configure

    configure()
    try:
        settings = Settings.from_env()
        if now:
            timing.parse_clock_instant(now)
        elif settings.now:
            timing.parse_clock_instant(settings.now)
    except ForventError as exc:
        _fail(str(exc))
    changes: dict[str, Any] = {}
    if db:
        changes["database_url"] = db
    if playbooks:
        changes["playbooks_dir"] = Path(playbooks)
    if templates:
        changes["templates_dir"] = Path(templates)
    if business:
        changes["business_file"] = Path(business)
    if now:
        changes["now"] = now
    ctx.obj = State(replace(settings, **changes), as_json, Path(business) if business else None)


def emit(state: State, data: Any, human: Callable[[], None]) -> None:
    if state.as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        human()


# --- schema and playbooks ------------------------------------------------------------


@cli.command("init-db")
@common
def init_db(state: State) -> None:
    """Create or upgrade the schema, then ANALYZE."""
    state.runtime.database.upgrade()
    emit(
        state,
        {"database": state.settings.database_url, "status": "ok"},
        lambda: console.print(f"database ready: {state.settings.database_url}"),
    )


@cli.command()
@click.argument("playbook", nargs=-1)
@click.option("--schema", is_flag=True, help="Print only the playbook JSON Schema.")
@common
def lint(state: State, playbook: tuple[str, ...], schema: bool) -> None:
    """Validate playbooks and templates."""
    from engine.core.playbooks import json_schema
    from engine.messages.lint import Linter

    if schema:
        click.echo(json.dumps(json_schema(), indent=2))
        return
    business = _business_or_sample(state)
    linter = Linter(state.settings.templates_dir, business)
    directory = state.settings.playbooks_dir
    paths = [_playbook_path(directory, p) for p in playbook] if playbook else sorted(directory.glob("*.yaml"))
    if not paths:
        _fail(f"{directory}: no playbooks found")
    errors: list[str] = []
    warnings: list[str] = []
    for path in paths:
        report = linter.lint(path)
        errors += report.errors
        warnings += report.warnings
    if state.as_json:
        click.echo(
            json.dumps(
                {"errors": errors, "warnings": warnings, "playbooks": [str(p) for p in paths]},
                indent=2,
            )
        )
    else:
        for line in warnings:
            click.echo(line, err=True)
        for line in errors:
            click.echo(line, err=True)
        if not errors:
            click.echo(f"ok: {len(paths)} playbook(s), {len(warnings)} warning(s)")
    if errors:
        sys.exit(1)


def _playbook_path(directory: Path, name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return directory / f"{name}.yaml"


def _business_or_sample(state: State) -> Any:
    path = state.settings.business_file
    if path.exists():
        return load_business(path)
    if state.business_file is not None:
        _fail(f"{path}: no such business file")
    return SAMPLE_BUSINESS


@cli.command()
@click.argument("playbook")
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", default=None, metavar="ISO")
@click.option("--tz", default=None)
@click.option("--locale", default=None)
@click.option("--created", default=None, metavar="ISO")
@click.option("--name", default="Kari Nordmann")
@click.option("--phone", default="+4791234567")
@click.option("--email", default="kari.nordmann@example.com")
@click.option("--fact", "facts", multiple=True, metavar="K=V")
@click.option("--event", "events", multiple=True, metavar="NAME@ISO[,k=v]")
@common
def preview(
    state: State,
    playbook: str,
    start: str,
    end: str | None,
    tz: str | None,
    locale: str | None,
    created: str | None,
    name: str,
    phone: str,
    email: str,
    facts: tuple[str, ...],
    events: tuple[str, ...],
) -> None:
    """Dry-run timeline of one booking."""
    from engine.core.facts import parse_fact_args
    from engine.core.playbooks import PlaybookSet
    from engine.dispatch.preview import Previewer, parse_event

    pb = PlaybookSet(state.settings.playbooks_dir).get(playbook)
    business = _business_or_sample(state)
    zone = timing.zone(tz or pb.timezone or business.timezone)
    created_at = timing.parse_instant(created, zone, field="created") if created else state.runtime.now()
    given = parse_fact_args(facts)
    for fact, spec in pb.facts.items():
        if spec.required and fact not in given:
            given[fact] = {"money": 1990, "bool": True, "number": 1, "date": "2026-11-24"}.get(
                spec.type, "Eksempel"
            )
    booking = BookingInput(
        ref="PREVIEW",
        playbook=playbook,
        name=name,
        phone=phone or None,
        email=email or None,
        start=start,
        end=end,
        timezone=zone.key,
        locale=locale,
        facts=given,
    )
    rows, tz_name = Previewer(state.settings, business).run(
        booking, created=created_at, events=[parse_event(e) for e in events]
    )
    data = [r.as_json(tz_name) for r in rows]

    def human() -> None:
        table = Table(show_lines=True)
        for col in ("send at", "step", "channel", "status"):
            table.add_column(col, no_wrap=True)
        table.add_column("message", ratio=1)
        for item in data:
            text = item["body"] or ""
            if item["subject"]:
                lines = text.strip().splitlines()
                more = f"\n[dim]... {len(lines) - 6} more lines[/dim]" if len(lines) > 6 else ""
                text = f"[b]{item['subject']}[/b]\n" + "\n".join(lines[:6]) + more
            if item["segments"]:
                text += f"\n[dim]{item['encoding']}, {item['segments']} segment(s)[/dim]"
            if item["attachments"]:
                text += f"\n[dim]+ {', '.join(item['attachments'])}[/dim]"
            status = item["status"] + (f"\n{item['reason']}" if item["reason"] else "")
            table.add_row(item["send_at"] or "-", item["step"], item["channel"], status, text)
        console.print(table)

    emit(state, data, human)


# --- bookings ------------------------------------------------------------------------


def _service(state: State) -> BookingService:
    rt = state.runtime
    rt.business  # noqa: B018 - commands that store refuse to run without a business profile
    rt.database.check_schema()
    return BookingService(rt)


def _booking_out(state: State, service: BookingService, ref: str, verb: str) -> None:
    from engine.store.serialise import booking_json

    with service.rt.database.session() as session:
        data = booking_json(session, service.get(session, ref))
    emit(
        state,
        data,
        lambda: console.print(
            f"{verb} {data['ref']}: {data['status']}, expected {data['start']} - {data['end']}"
            + (f" ({data['delay_minutes']} min late)" if data["delay_minutes"] else "")
        ),
    )


@cli.command()
@click.option("--playbook", required=True)
@click.option("--ref", required=True)
@click.option("--name", required=True)
@click.option("--phone", default=None)
@click.option("--email", default=None)
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", default=None, metavar="ISO")
@click.option("--tz", default=None)
@click.option("--locale", default=None)
@click.option("--location", default=None)
@click.option("--fact", "facts", multiple=True, metavar="K=V")
@click.option("--marketing-ok", is_flag=True, default=None)
@common
def book(
    state: State,
    playbook: str,
    ref: str,
    name: str,
    phone: str | None,
    email: str | None,
    start: str,
    end: str | None,
    tz: str | None,
    locale: str | None,
    location: str | None,
    facts: tuple[str, ...],
    marketing_ok: bool | None,
) -> None:
    """Create a booking, or update it by --ref."""
    from engine.core.facts import parse_fact_args

    service = _service(state)
    result = service.book(
        BookingInput(
            ref=ref,
            playbook=playbook,
            name=name,
            phone=phone,
            email=email,
            start=start,
            end=end,
            timezone=tz,
            locale=locale,
            location=location,
            facts=parse_fact_args(facts),
            marketing_ok=marketing_ok,
        )
    )
    row = result.booking
    zone = timing.zone(row.timezone)
    data = {
        "ref": row.ref,
        "id": str(row.id),
        "status": row.status,
        "start": timing.local_iso(row.start_at, zone),
        "end": timing.local_iso(row.end_at, zone),
        "created": result.created,
        "changed": result.changed,
    }
    verb = "created" if result.created else ("updated" if result.changed else "unchanged")
    emit(state, data, lambda: console.print(f"{verb} {row.ref}: {data['start']} - {data['end']}"))


def _int_option(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserInputError(f"--{name}: expected a whole number, got {value!r}", field=name) from None


@cli.command()
@click.argument("ref")
@click.option("--minutes", default=None)
@click.option("--until", default=None, metavar="ISO")
@click.option("--reason", default=None)
@click.option("--at", default=None, metavar="ISO")
@common
def delay(
    state: State,
    ref: str,
    minutes: str | None,
    until: str | None,
    reason: str | None,
    at: str | None,
) -> None:
    """Staff: we are running late."""
    service = _service(state)
    service.delay(ref, minutes=_int_option(minutes, "minutes"), until=until, reason=reason, at=at)
    _booking_out(state, service, ref, "delayed")


@cli.command()
@click.argument("ref")
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", default=None, metavar="ISO")
@click.option("--at", default=None, metavar="ISO")
@common
def reschedule(state: State, ref: str, start: str, end: str | None, at: str | None) -> None:
    """A newly agreed time."""
    service = _service(state)
    service.reschedule(ref, start=start, end=end, at=at)
    _booking_out(state, service, ref, "rescheduled")


def _simple(name: str, verb: str, method: str, help_text: str) -> None:
    @cli.command(name, help=help_text)
    @click.argument("ref")
    @click.option("--at", default=None, metavar="ISO")
    @common
    def command(state: State, ref: str, at: str | None) -> None:
        service = _service(state)
        getattr(service, method)(ref, at=at)
        _booking_out(state, service, ref, verb)


_simple("start", "started", "start", "Job event: work has started.")
_simple("no-show", "no-show", "no_show", "The customer did not come.")
_simple("confirm", "confirmed", "confirm", "The customer confirmed (as staff heard it).")


@cli.command()
@click.argument("ref")
@click.option("--price", default=None)
@click.option("--pickup", default=None, metavar="ISO")
@click.option("--at", default=None, metavar="ISO")
@common
def ready(state: State, ref: str, price: str | None, pickup: str | None, at: str | None) -> None:
    """Ready, with final price and pick-up time."""
    service = _service(state)
    service.ready(ref, price=price, pickup=pickup, at=at)
    _booking_out(state, service, ref, "ready")


@cli.command()
@click.argument("ref")
@click.option("--price", default=None)
@click.option("--at", default=None, metavar="ISO")
@common
def complete(state: State, ref: str, price: str | None, at: str | None) -> None:
    """Done."""
    service = _service(state)
    service.complete(ref, price=price, at=at)
    _booking_out(state, service, ref, "completed")


@cli.command()
@click.argument("ref")
@click.option("--text", required=True)
@click.option("--price", default=None)
@click.option("--must-fix", is_flag=True, default=False)
@click.option("--at", default=None, metavar="ISO")
@common
def finding(state: State, ref: str, text: str, price: str | None, must_fix: bool, at: str | None) -> None:
    """Extra work needing the customer's approval."""
    service = _service(state)
    service.finding(ref, text=text, price=price, must_fix=must_fix, at=at)
    _booking_out(state, service, ref, "finding recorded for")


@cli.command()
@click.argument("ref")
@click.option("--reason", default=None)
@click.option("--at", default=None, metavar="ISO")
@common
def cancel(state: State, ref: str, reason: str | None, at: str | None) -> None:
    """Cancel the booking and every pending message."""
    service = _service(state)
    service.cancel(ref, reason=reason, at=at)
    _booking_out(state, service, ref, "cancelled")


@cli.command()
@click.argument("ref", required=False)
@common
def messages(state: State, ref: str | None) -> None:
    """Outbox rows, for one booking or all."""
    from engine.store.serialise import messages_json

    service = _service(state)
    with service.rt.database.session() as session:
        if ref is not None:
            service.get(session, ref)
        data = messages_json(session, service.business_id, ref)

    def human() -> None:
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


@cli.command()
@click.argument("ref")
@common
def history(state: State, ref: str) -> None:
    """The booking's full record: events, messages, replies."""
    from engine.store.serialise import history_json

    service = _service(state)
    with service.rt.database.session() as session:
        data = history_json(session, service.get(session, ref))

    def human() -> None:
        table = Table()
        for col in ("at", "kind", "detail"):
            table.add_column(col)
        for h in data:
            table.add_row(h["at"], h["kind"], h["detail"] or "")
        console.print(table)

    emit(state, data, human)


# --- dispatch ------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@common
def dispatch(state: State, once: bool) -> None:
    """Send what is due: a pass every second, or --once."""
    from engine.channels.factory import build_channels
    from engine.dispatch.dispatcher import Dispatcher

    rt = state.runtime
    _service(state)
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


def _register_extensions() -> None:
    """Commands that live in their own modules register themselves on ``cli``."""
    import importlib

    for module in ("engine.cli.web", "engine.cli.ops"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_extensions()


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    cli(prog_name="forvent")
