"""Expectation metrics from real bookings: promises kept, delays announced in time, scores."""

from __future__ import annotations

from datetime import datetime

from engine.store.report import report
from tests.integration.world import OSLO, World


def metrics(world: World) -> dict[str, object]:
    with world.rt.database.session() as s:
        return report(
            s,
            business_id=world.rt.business.id,
            promises={"plumber_visit": "arrival", "car_service": "ready"},
            since=datetime(2026, 11, 20, tzinfo=OSLO),
            until=datetime(2026, 12, 1, tzinfo=OSLO),
        )


def test_a_kept_promise_an_announced_delay_and_a_silent_one(world: World) -> None:
    for ref in ("ON-TIME", "ANNOUNCED", "SILENT"):
        world.book(ref=ref, playbook="plumber_visit", end="2026-11-26T11:00")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 8, 0)
    world.service.delay("ANNOUNCED", minutes=90, reason="forrige jobb tok lengre tid")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 12, 0)  # staff report the morning's events at noon
    world.service.start("ON-TIME", at="2026-11-26T10:05")
    world.service.start("ANNOUNCED", at="2026-11-26T11:30")
    world.service.start("SILENT", at="2026-11-26T11:20")
    world.service.complete("ON-TIME", at="2026-11-26T12:00")
    world.at(2026, 11, 26, 14, 5)
    world.dispatcher.run_until_idle()
    world.service.customer_event("ON-TIME", "customer.scored", {"score": 10})

    data = metrics(world)
    overall = data["overall"]
    assert isinstance(overall, dict)
    assert overall["bookings"] == 3
    assert overall["late"] == 2
    assert overall["kept_rate"] == round(1 / 3, 4)
    assert overall["late_announced_in_time_rate"] == 0.5
    assert overall["notice_lead_minutes_median"] == 120.0  # told at 08:00 about a 10:00 promise
    assert overall["unannounced_late"] == 1
    assert overall["unannounced_late_minutes"] == 20.0
    assert overall["lateness_minutes_median"] == 25.0
    assert (overall["scores"], overall["promoters"], overall["nps"]) == (1, 1, 100.0)
    assert overall["messages_sent"] >= 6
    assert data["playbooks"]["plumber_visit"]["bookings"] == 3  # type: ignore[index]
