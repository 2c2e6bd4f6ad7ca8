"""staff-delay: a staff member delays bookings while a dispatcher, in its own process, drains a burst.

Each delay goes through ``BookingService.delay`` in this process and is timed
from call to commit: the wait is for the database's write lock, which the
dispatcher takes for its own transactions. The floor's drainer holds it only
to claim and to mark; its "delay" is one UPDATE.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

from sqlalchemy import select

from engine.bench.child import Child
from engine.bench.drains import PER_BOOKING, Figures
from engine.bench.floor import Floor
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import BOOKINGS, booking_refs, seeded
from engine.bench.world import START, Context, open_world, percentile, ratio, sqlite_url
from engine.exceptions import ConflictError

TARGET_P99_MS = 100.0
STAFF_BOOKINGS = 100  # bookings with nothing due, for the staff member to delay
PAUSE_S = 0.05  # between two delays: a person, not a loop
UNITS = {
    "p50_ms": "ms p50",
    "p99_ms": "ms p99",
    "max_ms": "ms max",
    "delays": "delays",
    "drain_s": "s to drain",
}


def measure(ctx: Context) -> Scenario:
    n = ctx.sizes.staff_burst
    engine_waits: list[float] = []
    floor_waits: list[float] = []
    engine_runs: list[Figures] = []
    floor_runs: list[Figures] = []
    failed = 0
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"staff-delay: repetition {rep + 1}")
        waits, drained, refused = _engine(ctx, n)
        engine_waits += waits
        failed += refused
        engine_runs.append({"drain_s": drained})
        waits, drained = _floor(ctx, n)
        floor_waits += waits
        floor_runs.append({"drain_s": drained})
    engine = Side.of(
        f"BookingService.delay while a dispatcher process drains {n:,}",
        [_waits(engine_waits) | engine_runs[-1] | {"failed": failed}],
        UNITS | {"failed": "refused (lock timeout)"},
    )
    floor = Side.of(
        f"one UPDATE while the floor's loop drains {n:,}", [_waits(floor_waits) | floor_runs[-1]], UNITS
    )
    return Scenario(
        name="staff-delay",
        title=f"a staff delay while a {n:,} burst drains (SQLite)",
        target=f"p99 <= {TARGET_P99_MS:g} ms on SQLite",
        engine=engine,
        floor=floor,
        checks=[Check(f"p99 <= {TARGET_P99_MS:g} ms", engine.get("p99_ms"), TARGET_P99_MS, at_least=False)],
        ratios={"p99 vs floor": ratio(engine.get("p99_ms"), floor.get("p99_ms"))},
        notes=["drain_s is the last repetition's; waits are pooled over all repetitions"],
    )


def _waits(waits: list[float]) -> Figures:
    return {
        "p50_ms": percentile(waits, 50),
        "p99_ms": percentile(waits, 99),
        "max_ms": max(waits, default=None),
        "delays": len(waits),
    }


def _world(ctx: Context, n: int) -> tuple[str, list[tuple[str, int]]]:
    url = sqlite_url(seeded(ctx, math.ceil(n / PER_BOOKING) + STAFF_BOOKINGS, due=n))
    world = open_world(ctx.files, url)
    try:
        with world.engine.connect() as conn:
            refs = booking_refs(conn, STAFF_BOOKINGS, skip_due=True)
            ids = dict(
                conn.execute(select(BOOKINGS.c.ref, BOOKINGS.c.id).where(BOOKINGS.c.ref.in_(refs))).all()
            )
    finally:
        world.close()
    return url, [(ref, ids[ref]) for ref in refs]


def _engine(ctx: Context, n: int) -> tuple[list[float], float, int]:
    url, staff = _world(ctx, n)
    world = open_world(ctx.files, url)
    waits: list[float] = []
    refused = 0
    child = Child({"role": "drain", "url": url, "files": ctx.files.as_json(), "concurrency": ctx.concurrency})
    try:
        child.wait_ready()
        world.service.delay(staff[0][0], minutes=1)  # loads the playbook and planner: not measured
        child.go()
        for ref, _ in staff[1:]:
            if not child.running:
                break
            time.sleep(PAUSE_S)
            began = time.perf_counter()
            try:
                world.service.delay(ref, minutes=15)
            except ConflictError:  # the lock never came within the busy timeout
                refused += 1
            waits.append(1000 * (time.perf_counter() - began))
        result = child.result()
    finally:
        world.close()
    return waits, result["ended"] - result["began"], refused


def _floor(ctx: Context, n: int) -> tuple[list[float], float]:
    url, staff = _world(ctx, n)
    floor = Floor(ctx.files, url)
    waits: list[float] = []
    child = Child({"role": "floor", "url": url, "files": ctx.files.as_json()})
    try:
        child.wait_ready()
        child.go()
        for _, booking_id in staff:
            if not child.running:
                break
            time.sleep(PAUSE_S)
            began = time.perf_counter()
            floor.move(booking_id, START + timedelta(days=3, minutes=15), START)
            waits.append(1000 * (time.perf_counter() - began))
        result = child.result()
    finally:
        floor.close()
    return waits, result["ended"] - result["began"]
