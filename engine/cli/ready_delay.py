"""``forvent delay-ready``: the job will be ready later than promised (``promise: ready``)."""

from __future__ import annotations

import functools

import click

from engine.cli.app import State, booking_service, common
from engine.cli.bookings import _booking_out, _int_option, delay_options


@click.command("delay-ready")
@functools.partial(
    delay_options,
    minutes_help="Minutes later than the expected ready time.",
    until_help="The new expected ready time.",
)
@common
def delay_ready(
    state: State,
    ref: str,
    minutes: str | None,
    until: str | None,
    reason: str | None,
    at: str | None,
) -> None:
    """Staff: the job will be ready later; the customer is told before the promised ready time."""
    from engine.services.ready_delay import ReadyDelays

    service = booking_service(state)
    ReadyDelays(service.rt, service).delay_ready(
        ref, minutes=_int_option(minutes, "minutes"), until=until, reason=reason, at=at
    )
    _booking_out(state, service, ref, "ready later")
