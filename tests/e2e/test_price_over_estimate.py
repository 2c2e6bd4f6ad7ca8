"""``forvent ready --price`` above estimate + approved extras: one line with the figures, exit 1,
nothing recorded; ``--confirm-price`` sends it (the real CLI in a subprocess)."""

from __future__ import annotations

from engine.messages.formatting import money
from tests.conftest import Project
from tests.e2e.journeys import book

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
THURSDAY = "2026-11-26T13:00:00+01:00"


def nok(amount: int) -> str:
    return money(amount, "NOK", "nb")  # business.yaml: NOK, nb


def car_with_approved_brake_pads(project: Project) -> None:
    book(
        project,
        "C-1",
        playbook="car_service",
        start="2026-11-26T08:00",
        end="2026-11-26T15:00",
        facts=["vehicle=Toyota Corolla", "estimate=3450"],
        now=MONDAY_NOON,
    )
    project.run("start", "C-1", now="2026-11-26T08:05:00+01:00")
    project.run(
        "finding", "C-1", "--text", "Bremseklosser foran", "--price", "1890", now="2026-11-26T10:00:00+01:00"
    )
    project.run("dispatch", "--once", now="2026-11-26T10:00:00+01:00")  # the approval request
    approved = project.json("reply", "--from", "912 34 567", "--text", "JA", now="2026-11-26T10:30:00+01:00")
    assert approved["action"] == "finding"


def test_ready_over_the_estimate_is_one_line_with_the_figures_and_confirm_price_sends_it(
    project: Project,
) -> None:
    car_with_approved_brake_pads(project)
    project.run("dispatch", "--once", now=THURSDAY)
    history = project.json("history", "C-1", now=THURSDAY)

    held = project.run("ready", "C-1", "--price", "6000", now=THURSDAY, check=False)
    assert held.returncode == 1
    [line] = held.stderr.strip().splitlines()
    assert line == (
        f"error: price: {nok(6000)} is more than the estimate {nok(3450)} + approved extras "
        f"{nok(1890)} = {nok(5340)}; nothing was sent: adjust the price, or confirm it with "
        '--confirm-price (API: "confirm_price": true)'
    )
    assert project.json("history", "C-1", now=THURSDAY) == history  # nothing recorded
    assert all(m["step"] != "ready_notice" for m in project.json("messages", "C-1", now=THURSDAY))

    project.run("ready", "C-1", "--price", "6000", "--confirm-price", now=THURSDAY)
    project.run("dispatch", "--once", now=THURSDAY)
    [notice] = [s for s in project.sms_files() if s["step"] == "ready_notice"]
    assert "Å betale: 6 000,00 kr (prisoverslag: 3 450,00 kr)." in notice["body"]
    assert "Ekstraarbeid du godkjente:\n- Bremseklosser foran (1 890,00 kr)\n" in notice["body"]


def test_a_plumber_completion_over_the_estimate_is_held_too(project: Project) -> None:
    book(
        project,
        "P-1",
        playbook="plumber_visit",
        name="Ola Hansen",
        phone="934 56 789",
        start="2026-11-24T10:00",
        facts=["task=Tett avløp", "estimate=1500"],
        now=MONDAY_NOON,
    )
    held = project.run("complete", "P-1", "--price", "2100", now="2026-11-24T11:30:00+01:00", check=False)
    assert held.returncode == 1
    assert f"{nok(2100)} is more than the estimate {nok(1500)} + approved extras {nok(0)}" in held.stderr
    assert all(h["kind"] != "event:job.completed" for h in project.json("history", "P-1", now=MONDAY_NOON))
    done = project.run(
        "complete", "P-1", "--price", "2100", "--confirm-price", now="2026-11-24T11:30:00+01:00"
    )
    assert done.stdout.startswith("completed P-1: completed")
