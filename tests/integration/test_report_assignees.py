"""The report per assignee: lateness and notice lead of each one's jobs, from a known history."""

from __future__ import annotations

import json

from engine.services.assignments import assign
from tests.integration.test_report_steps import cli_report, run_report
from tests.integration.world import World


def three_visits_by_two_plumbers(world: World) -> None:
    """Ola: one on time, one 30 minutes late but told two hours ahead; Kari: 20 minutes late in silence."""
    for ref in ("ON-TIME", "ANNOUNCED", "SILENT"):
        world.book(ref=ref, playbook="plumber_visit", start="2026-11-26T10:00", end="2026-11-26T11:00")
    assign(world.service, "ON-TIME", "Ola")
    assign(world.service, "ANNOUNCED", "Ola")
    assign(world.service, "SILENT", "Kari")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 8, 0)
    world.service.delay("ANNOUNCED", minutes=90, reason="forrige jobb tok lengre tid")
    world.dispatcher.run_until_idle()
    world.at(2026, 11, 26, 12, 0)
    world.service.start("ON-TIME", at="2026-11-26T10:05")
    world.service.start("ANNOUNCED", at="2026-11-26T11:30")
    world.service.start("SILENT", at="2026-11-26T11:20")


def test_lateness_and_notice_lead_per_assignee(world: World) -> None:
    three_visits_by_two_plumbers(world)
    data = run_report(world, locale="en")
    ola, kari = data["assignees"]["Ola"], data["assignees"]["Kari"]
    assert list(data["assignees"]) == ["Kari", "Ola"]
    assert (ola["bookings"], ola["late"], ola["kept_rate"]) == (2, 1, 0.5)
    assert (ola["late_announced_in_time_rate"], ola["notice_lead_minutes_median"]) == (1.0, 120.0)
    assert (ola["lateness_minutes_median"], ola["unannounced_late"]) == (30.0, 0)
    assert (kari["bookings"], kari["late"], kari["kept_rate"]) == (1, 1, 0.0)
    assert (kari["late_announced_in_time_rate"], kari["notice_lead_minutes_median"]) == (0.0, None)
    assert (kari["lateness_minutes_median"], kari["unannounced_late"]) == (20.0, 1)
    calibration = data["assignee_calibration"]["Ola"]["plumber_visit"]
    assert (calibration["measured"], calibration["enough"]) == (2, False)
    assert calibration["sentence"] == (
        "Too few bookings to calibrate the arrival windows yet: 2 measured, 10 needed."
    )


def test_the_cli_report_has_a_section_per_assignee(world: World) -> None:
    three_visits_by_two_plumbers(world)
    data = json.loads(cli_report(world, "--json"))
    assert data["assignees"]["Ola"]["notice_lead_minutes_median"] == 120.0
    text = cli_report(world)
    section = text.split("per assignee", 1)[1]
    header = next(line for line in section.splitlines() if "metric" in line)
    row = next(line for line in section.splitlines() if "notice_lead_minutes_median" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == ["metric", "Kari", "Ola"]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == ["notice_lead_minutes_median", "-", "120.0"]
    assert "Ola, plumber_visit: For få avtaler til å kalibrere ankomstvinduene ennå: 2 målt" in text
