"""Once-per-deployment jobs: the watch that prevents silent lateness, and retention."""

from __future__ import annotations

from datetime import timedelta

from engine.dispatch import jobs
from engine.dispatch.scheduler import make_scheduler
from engine.store import locks
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.world import World


def test_watch_alerts_staff_once_before_a_promised_arrival_passes_in_silence(world: World) -> None:
    world.book(ref="P-1", playbook="plumber_visit")
    world.at(2026, 11, 26, 9, 50)  # ten minutes before the promised 10:00 arrival
    assert jobs.watch(world.rt) == 1
    assert jobs.watch(world.rt) == 0
    world.dispatcher.run_until_idle()
    alerts = [m for m in world.sms.sent if m.step == "staff_alert"]
    assert len(alerts) == 1 and "P-1" in alerts[0].body and "10:00" in alerts[0].body
    assert alerts[0].to == world.rt.business.staff_phone


def test_a_delay_moves_the_watch_to_the_new_time(world: World) -> None:
    world.book(ref="P-1", playbook="plumber_visit")
    world.at(2026, 11, 26, 9, 30)
    world.service.delay("P-1", minutes=60)
    world.at(2026, 11, 26, 9, 50)
    assert jobs.watch(world.rt) == 0


def test_the_lease_lets_one_process_run_a_job(world: World) -> None:
    assert acquire(world, "watch", "a", timedelta(minutes=10))
    assert not acquire(world, "watch", "b", timedelta(minutes=10))
    world.clock.set(world.clock.now() + timedelta(minutes=11))
    assert acquire(world, "watch", "b", timedelta(minutes=10))


def test_retention_purges_old_bodies_and_keeps_rows(world: World) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    world.rt.settings = world.rt.settings.model_copy(update={"retention_days": 30})
    world.clock.set(world.clock.now() + timedelta(days=31))
    assert jobs.retention(world.rt) >= 2
    with world.rt.database.session() as s:
        rows = s.query(MessageRow).filter(MessageRow.status == "sent").all()
        assert rows and all(r.body is None for r in rows)
        assert s.query(HistoryRow).count() > 0


def test_the_scheduler_purges_once_a_day_on_the_engine_clock(world: World) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    world.rt.settings = world.rt.settings.model_copy(update={"retention_days": 30})
    scheduler = make_scheduler(world.dispatcher)
    scheduler.start(paused=True)  # jobs get their run times; nothing runs on the real clock
    try:
        job = scheduler.get_job("retention")
        assert job is not None and job.next_run_time is not None  # scheduled, not paused

        def bodies() -> list[str | None]:
            with world.rt.database.session() as s:
                return [r.body for r in s.query(MessageRow).filter(MessageRow.status == "sent")]

        def run_at(after: timedelta) -> None:
            world.clock.set(start + after)
            job.func(*job.args)

        start = world.clock.now()
        run_at(timedelta(days=29, hours=12))
        assert all(bodies())  # not 30 days old yet; this was the day's run
        run_at(timedelta(days=30, hours=6))
        assert all(bodies())  # old enough now, but the next run is due at 30 days 12 hours
        run_at(timedelta(days=30, hours=12))
        assert bodies() and not any(bodies())
    finally:
        scheduler.shutdown(wait=False)


def test_a_daily_job_runs_once_per_engine_day_whoever_asks(world: World) -> None:
    day = timedelta(days=1)
    assert due(world, "retention", "a", day)
    assert not due(world, "retention", "a", day)  # the same process, later the same day
    world.clock.set(world.clock.now() + timedelta(hours=23))
    assert not due(world, "retention", "b", day)
    world.clock.set(world.clock.now() + timedelta(hours=1))
    assert due(world, "retention", "b", day)


def acquire(world: World, name: str, holder: str, lease: timedelta) -> bool:
    rt = world.rt
    return locks.acquire(rt.database, name, holder, lease, business_id=rt.business.id, now=rt.now())


def due(world: World, name: str, holder: str, every: timedelta) -> bool:
    rt = world.rt
    return locks.due(rt.database, name, holder, every, business_id=rt.business.id, now=rt.now())
