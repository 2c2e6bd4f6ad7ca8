"""delay: a staff member delays one booking by 15 minutes, with a small and a large pending outbox.

The cost must not grow with the outbox. The floor moves the booking's
start-anchored rows with one UPDATE; the peer reschedules the booking's four
jobs in a job store as large as the small outbox.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from engine.bench.floor import Composer, Floor
from engine.bench.peer import Peer, jobs_for
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import BOOKINGS, booking_refs, seeded
from engine.bench.world import (
    START,
    Context,
    StatementCounter,
    null_channels,
    open_world,
    percentile,
    ratio,
    sqlite_url,
)
from engine.store.db import make_engine

PER_BOOKING = 3  # pending rows per seeded booking
MINUTES = 15
TARGET_P99_MS = 5.0
FLAT = 1.5  # "flat": the large outbox's p99 within this factor of the small one's


def measure(ctx: Context) -> Scenario:
    sizes = ctx.sizes
    small, large = sizes.outbox_small, sizes.outbox_large
    engine: dict[int, list[float]] = {small: [], large: []}
    statements: list[int] = []
    floor: list[float] = []
    peer: list[float] = []
    wanted = sizes.delays * sizes.repetitions
    for size in (small, large):
        path = seeded(ctx, size // PER_BOOKING, due=None, copy=False)
        refs = _refs(sqlite_url(path), 2 * wanted + 1)
        for rep in range(sizes.repetitions):
            ctx.progress(f"delay: {size:,} pending rows, repetition {rep + 1}")
            mine = refs[1 + 2 * rep * sizes.delays :][: 2 * sizes.delays]
            engine[size] += _engine(ctx, sqlite_url(path), [r for r, _ in mine[0::2]], refs[0][0], statements)
            if size == large:
                floor += _floor(ctx, sqlite_url(path), [b for _, b in mine[1::2]])
            else:
                peer += _peer(ctx, small, sizes.delays)
    p99_small, p99_large = percentile(engine[small], 99), percentile(engine[large], 99)
    engine_side = Side.of(
        f"BookingService.delay, {MINUTES} min, {small:,} and {large:,} pending rows",
        [
            {
                "p50_ms": percentile(engine[large], 50),
                "p99_ms": p99_large,
                "p50_ms_small": percentile(engine[small], 50),
                "p99_ms_small": p99_small,
                "statements_per_delay": sum(statements) / max(len(statements), 1),
            }
        ],
        {
            "p50_ms": f"ms p50 at {large:,} rows",
            "p99_ms": f"ms p99 at {large:,} rows",
            "p50_ms_small": f"ms p50 at {small:,} rows",
            "p99_ms_small": f"ms p99 at {small:,} rows",
            "statements_per_delay": "SQL statements per delay",
        },
    )
    floor_side = Side.of(
        f"one UPDATE, {large:,} pending rows",
        [{"p50_ms": percentile(floor, 50), "p99_ms": percentile(floor, 99)}],
        {"p50_ms": "ms p50", "p99_ms": "ms p99"},
    )
    peer_side = Side.of(
        f"reschedule_job x{PER_BOOKING}, {small:,} jobs in the store",
        [{"p50_ms": percentile(peer, 50), "p99_ms": percentile(peer, 99)}],
        {"p50_ms": "ms p50", "p99_ms": "ms p99"},
    )
    flatness = ratio(p99_large, p99_small)
    return Scenario(
        name="delay",
        title=f"delay one booking, outbox of {large:,} rows",
        target=f"p99 <= {TARGET_P99_MS:g} ms, flat {small:,}-{large:,}",
        engine=engine_side,
        peer=peer_side,
        floor=floor_side,
        checks=[
            Check(f"p99 <= {TARGET_P99_MS:g} ms", p99_large, TARGET_P99_MS, at_least=False),
            Check(f"flat: p99 at {large:,} within {FLAT:g}x of {small:,}", flatness, FLAT, at_least=False),
        ],
        ratios={
            "p99 large vs small": flatness,
            "p99 vs floor": ratio(p99_large, floor_side.get("p99_ms")),
            "p99 vs peer": ratio(p99_small, peer_side.get("p99_ms")),
        },
    )


def _refs(url: str, count: int) -> list[tuple[str, int]]:
    """(ref, id) of ``count`` bookings spread over the table."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            refs = booking_refs(conn, count)
            ids = dict(
                conn.execute(select(BOOKINGS.c.ref, BOOKINGS.c.id).where(BOOKINGS.c.ref.in_(refs))).all()
            )
    finally:
        engine.dispose()
    return [(ref, ids[ref]) for ref in refs]


def _engine(ctx: Context, url: str, refs: list[str], warm: str, statements: list[int]) -> list[float]:
    world = open_world(ctx.files, url)
    took = []
    try:
        world.service.delay(warm, minutes=1)  # loads the playbook and planner: not measured
        for ref in refs:
            with StatementCounter(world.engine) as counter:
                began = time.perf_counter()
                world.service.delay(ref, minutes=MINUTES)
                took.append(1000 * (time.perf_counter() - began))
            statements.append(counter.count)
    finally:
        world.close()
    return took


def _floor(ctx: Context, url: str, booking_ids: list[int]) -> list[float]:
    floor = Floor(ctx.files, url)
    took = []
    try:
        for booking_id in booking_ids:
            began = time.perf_counter()
            floor.move(booking_id, START + timedelta(days=3, minutes=MINUTES), START)
            took.append(1000 * (time.perf_counter() - began))
    finally:
        floor.close()
    return took


def _peer(ctx: Context, jobs: int, delays: int) -> list[float]:
    took = []
    with Peer(ctx.path("peer-delay"), Composer(ctx.files), null_channels()) as peer:
        later = peer.load(jobs_for(jobs, PER_BOOKING), timedelta(days=30))
        peer.scheduler.resume()
        step = max(1, jobs // PER_BOOKING // delays)
        for booking in range(0, jobs // PER_BOOKING, step)[:delays]:
            ids = [str(booking * PER_BOOKING + k) for k in range(PER_BOOKING)]
            began = time.perf_counter()
            peer.move(ids, later + timedelta(minutes=MINUTES))
            took.append(1000 * (time.perf_counter() - began))
    return took
