"""Staff actions on a booking: ``book``, ``delay``, ``reschedule``, the job events, ``cancel``.

Each command is one call on the booking service (one transaction on the locked
booking), then prints the booking as it now stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from engine.cli.app import F, State, booking_service, common, console, emit
from engine.core import timing
from engine.exceptions import UserInputError

if TYPE_CHECKING:
    from engine.services.bookings import BookingService


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


def _int_option(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserInputError(f"--{name}: expected a whole number, got {value!r}", field=name) from None


@click.command()
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
@click.option("--assignee", default=None, metavar="NAME", help='Who does the job ("" for nobody).')
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
    assignee: str | None,
) -> None:
    """Create a booking, or update it by --ref."""
    from engine.core.facts import parse_fact_args
    from engine.services.booking_input import BookingInput

    service = booking_service(state)
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
            assignee=assignee,
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


def delay_options(
    func: F,
    *,
    minutes_help: str | None = None,
    until_help: str | None = None,
) -> F:
    """``REF --minutes N | --until ISO [--reason] [--at]``: a delay's and a ready delay's options."""
    for option in (
        click.option("--at", default=None, metavar="ISO"),
        click.option("--reason", default=None, metavar="TEXT"),
        click.option("--until", default=None, metavar="ISO", help=until_help),
        click.option("--minutes", default=None, help=minutes_help),
        click.argument("ref"),
    ):
        func = option(func)
    return func


@click.command()
@delay_options
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
    service = booking_service(state)
    service.delay(ref, minutes=_int_option(minutes, "minutes"), until=until, reason=reason, at=at)
    _booking_out(state, service, ref, "delayed")


@click.command()
@click.argument("ref")
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", default=None, metavar="ISO")
@click.option("--at", default=None, metavar="ISO")
@common
def reschedule(state: State, ref: str, start: str, end: str | None, at: str | None) -> None:
    """A newly agreed time."""
    service = booking_service(state)
    service.reschedule(ref, start=start, end=end, at=at)
    _booking_out(state, service, ref, "rescheduled")


def _event_command(name: str, verb: str, method: str, help_text: str) -> click.Command:
    """A command that records one job event on the booking REF: the service's ``method``."""

    @click.command(name, help=help_text)
    @click.argument("ref")
    @click.option("--at", default=None, metavar="ISO")
    @common
    def command(state: State, ref: str, at: str | None) -> None:
        service = booking_service(state)
        getattr(service, method)(ref, at=at)
        _booking_out(state, service, ref, verb)

    return command


start = _event_command("start", "started", "start", "Job event: work has started.")
no_show = _event_command("no-show", "no-show", "no_show", "The customer did not come.")
confirm = _event_command("confirm", "confirmed", "confirm", "The customer confirmed (as staff heard it).")


@click.command()
@click.argument("ref")
@click.option("--price", default=None)
@click.option("--pickup", default=None, metavar="ISO")
@click.option("--at", default=None, metavar="ISO")
@click.option("--confirm-price", is_flag=True, default=False, help="Send a price above the estimate.")
@common
def ready(
    state: State, ref: str, price: str | None, pickup: str | None, at: str | None, confirm_price: bool
) -> None:
    """Ready, with final price and pick-up time."""
    service = booking_service(state)
    service.ready(ref, price=price, pickup=pickup, at=at, confirm_price=confirm_price)
    _booking_out(state, service, ref, "ready")


@click.command()
@click.argument("ref")
@click.option("--price", default=None)
@click.option("--at", default=None, metavar="ISO")
@click.option("--confirm-price", is_flag=True, default=False, help="Send a price above the estimate.")
@common
def complete(state: State, ref: str, price: str | None, at: str | None, confirm_price: bool) -> None:
    """Done."""
    service = booking_service(state)
    service.complete(ref, price=price, at=at, confirm_price=confirm_price)
    _booking_out(state, service, ref, "completed")


@click.command()
@click.argument("ref")
@click.option("--text", required=True)
@click.option("--price", default=None)
@click.option("--must-fix", is_flag=True, default=False)
@click.option("--at", default=None, metavar="ISO")
@common
def finding(state: State, ref: str, text: str, price: str | None, must_fix: bool, at: str | None) -> None:
    """Extra work needing the customer's approval."""
    service = booking_service(state)
    service.finding(ref, text=text, price=price, must_fix=must_fix, at=at)
    _booking_out(state, service, ref, "finding recorded for")


@click.command()
@click.argument("ref")
@click.option("--reason", default=None)
@click.option("--at", default=None, metavar="ISO")
@common
def cancel(state: State, ref: str, reason: str | None, at: str | None) -> None:
    """Cancel the booking and every pending message."""
    service = booking_service(state)
    service.cancel(ref, reason=reason, at=at)
    _booking_out(state, service, ref, "cancelled")


@click.command()
@click.argument("ref")
@click.argument("name")
@common
def assign(state: State, ref: str, name: str) -> None:
    """Give the job to NAME (a technician; "" for nobody)."""
    from engine.services.assignments import assign as assign_booking

    service = booking_service(state)
    row = assign_booking(service, ref, name)
    emit(
        state,
        {"ref": row.ref, "assignee": row.assignee},
        lambda: console.print(
            f"{row.ref}: assigned to {row.assignee}" if row.assignee else f"{row.ref}: unassigned"
        ),
    )
