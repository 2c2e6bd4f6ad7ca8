"""plan: bookings through the booking service (plan + enqueue), against ``add_job`` per message
and against Core inserts of the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine.bench.drains import Figures
from engine.bench.floor import BookingRows, Composer, Floor
from engine.bench.peer import Peer, jobs_for
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import MESSAGES, book, seeded
from engine.bench.world import (
    Context,
    StatementCounter,
    null_channels,
    open_world,
    ratio,
    spending,
    sqlite_url,
)

PER_BOOKING = 3  # messages the seed playbook plans for a new booking
TARGET_BOOKINGS_PER_S = 2000
TARGET_TIMES_PEER = 20


def measure(ctx: Context) -> Scenario:
    n, jobs = ctx.sizes.plan_bookings, ctx.sizes.peer_jobs
    engine_runs, peer_runs, floor_runs = [], [], []
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"plan: repetition {rep + 1}")
        peer_runs.append(_peer(ctx, jobs))
        floor_runs.append(_floor(ctx, n, rep))
        engine_runs.append(_engine(ctx, n, rep))
    engine = Side.of(
        f"{n:,} bookings, BookingService.book",
        engine_runs,
        {
            "bookings_per_s": "bookings/s",
            "msgs_per_s": "msgs/s",
            "cpu_ms_per_booking": "ms CPU per booking",
            "statements_per_booking": "SQL statements per booking",
        },
    )
    peer = Side.of(
        f"{jobs:,} add_job, {PER_BOOKING} per booking",
        peer_runs,
        {
            "jobs_per_s": "jobs/s",
            "cpu_ms_per_job": "ms CPU per job",
            "statements_per_job": "SQL statements per job",
        },
    )
    floor = Side.of(
        f"{n:,} bookings, Core inserts, no planning",
        floor_runs,
        {
            "bookings_per_s": "bookings/s",
            "msgs_per_s": "msgs/s",
            "cpu_ms_per_booking": "ms CPU per booking",
            "statements_per_booking": "SQL statements per booking",
        },
    )
    times_peer = ratio(engine.get("msgs_per_s"), peer.get("jobs_per_s"))
    return Scenario(
        name="plan",
        title="plan: bookings through the booking service, seed playbooks",
        target=f">= {TARGET_TIMES_PEER}x the peer in msgs/s; >= {TARGET_BOOKINGS_PER_S:,} bookings/s",
        engine=engine,
        peer=peer,
        floor=floor,
        checks=[
            Check(f"msgs/s >= {TARGET_TIMES_PEER}x the peer's jobs/s", times_peer, TARGET_TIMES_PEER),
            Check(
                f"bookings/s >= {TARGET_BOOKINGS_PER_S:,}",
                engine.get("bookings_per_s"),
                TARGET_BOOKINGS_PER_S,
            ),
        ],
        ratios={
            "msgs/s vs peer": times_peer,
            "bookings/s vs floor": ratio(engine.get("bookings_per_s"), floor.get("bookings_per_s")),
        },
    )


def _engine(ctx: Context, n: int, rep: int) -> Figures:
    world = open_world(ctx.files, sqlite_url(seeded(ctx, 1, due=None)))
    try:
        book(world.service, f"W{rep}", 0)  # loads the playbook, planner and templates: not measured
        with world.engine.connect() as conn:
            before = conn.scalar(select(func.count()).select_from(MESSAGES)) or 0
        with spending(world.engine) as spent:
            for i in range(n):
                book(world.service, f"B{rep}-{i}", i)
        with world.engine.connect() as conn:
            made = (conn.scalar(select(func.count()).select_from(MESSAGES)) or 0) - before
    finally:
        world.close()
    return {
        "bookings_per_s": n / spent.wall_s,
        "msgs_per_s": made / spent.wall_s,
        "cpu_ms_per_booking": 1000 * spent.cpu_s / n,
        "statements_per_booking": spent.statements / n,
    }


def _floor(ctx: Context, n: int, rep: int) -> Figures:
    url = sqlite_url(seeded(ctx, 1, due=None))
    template = BookingRows(url, "S0")
    floor = Floor(ctx.files, url)
    try:
        with spending(floor.engine) as spent:
            for i in range(n):
                floor.book(template, f"F{rep}-{i}")
    finally:
        floor.close()
    return {
        "bookings_per_s": n / spent.wall_s,
        "msgs_per_s": n * len(template.messages) / spent.wall_s,
        "cpu_ms_per_booking": 1000 * spent.cpu_s / n,
        "statements_per_booking": spent.statements / n,
    }


def _peer(ctx: Context, jobs: int) -> Figures:
    with Peer(ctx.path("peer-plan"), Composer(ctx.files), null_channels()) as peer:
        later = datetime.now(UTC) + timedelta(days=30)  # nothing runs while it books
        with StatementCounter(peer.store.engine) as counter, spending() as spent:
            peer.add(jobs_for(jobs, PER_BOOKING), later)
    return {
        "jobs_per_s": jobs / spent.wall_s,
        "cpu_ms_per_job": 1000 * spent.cpu_s / jobs,
        "statements_per_job": counter.count / jobs,
    }
