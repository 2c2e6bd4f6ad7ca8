"""The watch on the engine clock: ``forvent dispatch --once`` runs it as the scheduler does.

A car promised ready at 14:00 and started at 08:05: a pass at 13:50 with nothing
said alerts staff about the ready time, a pass at 14:00 still silent escalates
once, and later passes add nothing. A car whose ready time was moved and told
is not alerted about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.dispatch.scheduler import JOB_LEASE
from engine.store import locks
from engine.store.db import Database
from tests.conftest import Project
from tests.e2e.journeys import book_arrival, started_car

BUSINESS_ID = "default"  # business.yaml names none
BEFORE = "2026-11-24T13:50:00+01:00"
PROMISED = "2026-11-24T14:00:00+01:00"
LATER = "2026-11-24T14:30:00+01:00"


def staff_alerts(project: Project) -> list[dict[str, Any]]:
    return [s for s in project.sms_files() if s["step"] == "staff_alert"]


def watch_lines(project: Project, ref: str = "C-1") -> list[str]:
    return [
        h["detail"]
        for h in project.json("history", ref, now=LATER)
        if (h["detail"] or "").startswith("watch:")
    ]


def test_a_silent_ready_time_alerts_staff_then_escalates_once_at_the_promised_time(project: Project) -> None:
    started_car(project)

    stats = project.json("dispatch", "--once", now=BEFORE)
    assert stats["jobs"]["watch"] == 1
    [alert] = staff_alerts(project)
    assert alert["to"] == "+4791001122"
    assert alert["body"] == (
        "Forvent: Kari Nordmann (C-1) er lovet ferdig kl. 14:00, og ingen beskjed er sendt. "
        "Blir det senere? Send beskjed nå."
    )

    project.run("dispatch", "--once", now="2026-11-24T13:55:00+01:00")
    assert len(staff_alerts(project)) == 1  # said once in the lead

    project.run("dispatch", "--once", now=PROMISED)
    _, second = staff_alerts(project)
    assert second["body"] == (
        "Forvent: Kari Nordmann (C-1) skulle vært ferdig kl. 14:00, og kunden har ikke fått beskjed. "
        "Ring kunden nå."
    )

    project.run("dispatch", "--once", now=LATER)
    assert len(staff_alerts(project)) == 2  # one escalation, never repeated
    assert watch_lines(project) == [
        "watch: ready time 14:00 approaching, no ready notice or delay sent",
        "watch: escalated: ready time 14:00 passed, no ready notice or delay sent",
    ]


def test_a_ready_time_moved_and_told_is_not_alerted_about(project: Project) -> None:
    started_car(project)
    project.run(
        "delay-ready",
        "C-1",
        "--minutes",
        "60",
        "--reason",
        "Venter på en del",
        now="2026-11-24T12:00:00+01:00",
    )

    for now in (BEFORE, PROMISED, LATER):
        project.run("dispatch", "--once", now=now)

    assert staff_alerts(project) == []
    assert watch_lines(project) == []
    [notice] = [s for s in project.sms_files() if s["step"] == "ready_delay_notice"]
    assert "i dag kl. 15:00" in notice["body"]


def test_an_arrival_promise_still_speaks_of_the_start(project: Project) -> None:
    book_arrival(project)
    project.run("dispatch", "--once", now="2026-11-24T09:50:00+01:00")
    project.run("dispatch", "--once", now="2026-11-24T10:00:00+01:00")

    bodies = [a["body"] for a in staff_alerts(project)]
    assert bodies == [
        "Forvent: Ola Nordmann (P-1) venter oss kl. 10:00. Blir det senere? Send beskjed nå.",
        "Forvent: Ola Nordmann (P-1) ventet oss kl. 10:00, og har ikke fått beskjed. Ring kunden nå.",
    ]
    assert watch_lines(project, "P-1") == [
        "watch: start 10:00 approaching, not started",
        "watch: escalated: start 10:00 passed, not started",
    ]


def test_a_watch_lease_held_by_a_running_scheduler_is_left_to_it(project: Project) -> None:
    started_car(project)
    database = Database(project.env["FORVENT_DATABASE_URL"])
    try:
        # A long-running `forvent dispatch` holds the watch's lease on the engine clock.
        assert locks.acquire(
            database,
            "watch",
            "scheduler-elsewhere",
            JOB_LEASE,
            business_id=BUSINESS_ID,
            now=datetime.fromisoformat(BEFORE),
        )
    finally:
        database.dispose()

    stats = project.json("dispatch", "--once", now=BEFORE)
    assert stats["jobs"]["watch"] is None
    assert staff_alerts(project) == []
