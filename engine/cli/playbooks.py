"""Working on playbooks without a database: ``lint`` and ``preview``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.app import State, common, console, emit, fail
from engine.core import timing

if TYPE_CHECKING:
    from engine.core.business import BusinessProfile


@click.command()
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
        fail(f"{directory}: no playbooks found")
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


def _business_or_sample(state: State) -> BusinessProfile:
    from engine.core.business import SAMPLE_BUSINESS, load_business

    path = state.settings.business_file
    if path.exists():
        return load_business(path)
    if state.business_file is not None:
        fail(f"{path}: no such business file")
    return SAMPLE_BUSINESS


@click.command()
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
    from engine.services.booking_input import BookingInput

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
        from rich.table import Table

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
