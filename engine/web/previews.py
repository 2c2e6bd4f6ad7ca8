"""``POST /api/v1/playbooks/{id}/preview``: the ``forvent preview`` dry run over HTTP."""

from __future__ import annotations

from typing import Any

from engine.core import timing
from engine.core.business import SAMPLE_BUSINESS, BusinessProfile
from engine.dispatch.preview import Previewer, PreviewEvent
from engine.exceptions import ConfigurationError, UserInputError
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.web.models import MAX_DELAY_MINUTES, PreviewEventIn, PreviewIn

# Sample values for required facts the request leaves out, as the CLI gives them.
SAMPLE_FACTS = {"money": 1990, "bool": True, "number": 1, "date": "2026-11-24"}


def _business(runtime: Runtime) -> BusinessProfile:
    try:
        return runtime.business
    except ConfigurationError:
        return SAMPLE_BUSINESS


def _event_data(index: int, event: PreviewEventIn) -> dict[str, str]:
    """The event's data as ``--event`` text, checked where the engine would fail late."""
    where = f"events.{index}.data"
    data = {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in event.data.items() if v is not None
    }
    if event.name in ("booking.delayed", "job.ready_delayed"):
        if ("minutes" in data) == ("until" in data):
            raise UserInputError(f"{where}: a delay needs exactly one of minutes and until", field=where)
        minutes = data.get("minutes")
        if minutes is not None and not (minutes.isdigit() and 1 <= int(minutes) <= MAX_DELAY_MINUTES):
            raise UserInputError(f"{where}.minutes: a whole number of at least 1", field=f"{where}.minutes")
    if event.name == "booking.rescheduled" and "start" not in data:
        raise UserInputError(f"{where}.start: a reschedule needs a start", field=f"{where}.start")
    return data


def run_preview(runtime: Runtime, playbook_id: str, body: PreviewIn) -> list[dict[str, Any]]:
    playbook = runtime.playbooks.get(playbook_id)
    business = _business(runtime)
    zone = timing.zone(body.timezone or playbook.timezone or business.timezone)
    created = timing.parse_instant(body.created, zone, field="created") if body.created else runtime.now()
    facts: dict[str, Any] = {k: v for k, v in body.facts.items() if v is not None}
    for name, spec in playbook.facts.items():
        if spec.required and name not in facts:
            facts[name] = SAMPLE_FACTS.get(spec.type, "Eksempel")
    booking = BookingInput(
        ref="PREVIEW",
        playbook=playbook.playbook,
        name=body.customer.name,
        phone=body.customer.phone or None,
        email=body.customer.email or None,
        start=body.start,
        end=body.end,
        timezone=zone.key,
        locale=body.locale,
        facts=facts,
    )
    events = [PreviewEvent(e.name, e.at, _event_data(i, e)) for i, e in enumerate(body.events)]
    try:
        rows, tz_name = Previewer(runtime.settings, business).run(booking, created=created, events=events)
    except (KeyError, ValueError) as exc:
        # An event the simulated booking cannot take (data the engine reads as it goes).
        raise UserInputError(f"events: {exc}", field="events") from exc
    return [r.as_json(tz_name) for r in rows]
