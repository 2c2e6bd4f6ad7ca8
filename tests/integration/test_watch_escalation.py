"""The watch's one escalation and ``run_due_jobs``, on the engine clock with the seed car service."""

from __future__ import annotations

from datetime import timedelta

from engine.dispatch import jobs
from engine.dispatch.scheduler import run_due_jobs
from engine.services.ready_delay import ReadyDelays
from engine.store.tables import HistoryRow
from tests.integration.world import World


def watch_lines(world: World) -> list[str]:
    with world.rt.database.session() as s:
        rows = s.query(HistoryRow).filter(HistoryRow.detail.like("watch:%")).order_by(HistoryRow.id)
        return [r.detail or "" for r in rows]


def test_a_first_look_after_the_promised_moment_alerts_once_as_the_escalation(world: World) -> None:
    world.book()  # promised ready 14:00 on Thursday
    world.at(2026, 11, 26, 10, 5)
    world.service.start("C-1")
    world.at(2026, 11, 26, 14, 20)  # nobody looked in the lead
    assert jobs.watch(world.rt) == 1
    assert jobs.watch(world.rt) == 0
    assert watch_lines(world) == ["watch: escalated: ready time 14:00 passed, no ready notice or delay sent"]


def test_a_ready_time_moved_after_the_first_alert_escalates_only_when_the_new_one_passes(
    world: World,
) -> None:
    world.book()
    world.at(2026, 11, 26, 10, 5)
    world.service.start("C-1")
    world.at(2026, 11, 26, 13, 50)
    assert jobs.watch(world.rt) == 1
    ReadyDelays(world.rt).delay_ready("C-1", minutes=30)
    world.at(2026, 11, 26, 14, 15)
    assert jobs.watch(world.rt) == 0  # told: 14:30 now
    world.at(2026, 11, 26, 14, 30)
    assert jobs.watch(world.rt) == 1
    assert (
        watch_lines(world)[-1] == "watch: escalated: ready time 14:30 passed, no ready notice or delay sent"
    )


def test_run_due_jobs_takes_turns_as_the_scheduler_does(world: World) -> None:
    world.book()
    world.rt.settings = world.rt.settings.model_copy(update={"retention_days": 30})
    first = run_due_jobs(world.rt, "once-a")
    assert first["watch"] == 0 and first["retention"] == 0
    again = run_due_jobs(world.rt, "once-b")  # another pass, the same instant
    assert again["watch"] == 0  # the lease was given back
    assert again["retention"] is None  # retention's turn is daily
    world.clock.set(world.clock.now() + timedelta(days=1))
    assert run_due_jobs(world.rt, "once-c")["retention"] == 0
