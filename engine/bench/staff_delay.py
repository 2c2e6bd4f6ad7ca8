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
from engine.bench.scaleout import scratch_database
from engine.bench.seed import BOOKINGS, booking_refs, build, seeded
from engine.bench.world import START, Context, median, open_world, percentile, ratio, sqlite_url
from engine.exceptions import ConflictError
from engine.store.db import make_engine

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
    waits: dict[str, list[float]] = {"engine": [], "floor": [], "postgresql": []}
    drains: dict[str, list[float]] = {"engine": [], "floor": [], "postgresql": []}
    refused = 0
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"staff-delay: repetition {rep + 1}")
        took, drained, failed = _engine(ctx, *_sqlite_world(ctx, n))
        waits["engine"] += took
        drains["engine"].append(drained)
        refused += failed
        took, drained = _floor(ctx, *_sqlite_world(ctx, n))
        waits["floor"] += took
        drains["floor"].append(drained)
        if ctx.pg_url:
            with scratch_database(ctx.pg_url) as url:
                took, drained, failed = _engine(ctx, url, _pg_world(ctx, url, n))
            waits["postgresql"] += took
            drains["postgresql"].append(drained)
            refused += failed
    engine_units = UNITS | {"failed": "refused (lock timeout)"}
    engine_figures = _waits(waits["engine"]) | {"drain_s": median(drains["engine"]), "failed": refused}
    if ctx.pg_url:
        engine_figures |= {"pg_p50_ms": percentile(waits["postgresql"], 50)}
        engine_figures |= {"pg_p99_ms": percentile(waits["postgresql"], 99)}
        engine_units |= {"pg_p50_ms": "ms p50 on PostgreSQL", "pg_p99_ms": "ms p99 on PostgreSQL"}
    engine = Side.of(
        f"BookingService.delay while a dispatcher process drains {n:,}", [engine_figures], engine_units
    )
    floor = Side.of(
        f"one UPDATE while the floor's loop drains {n:,}",
        [_waits(waits["floor"]) | {"drain_s": median(drains["floor"])}],
        UNITS,
    )
    notes = ["waits are pooled over the repetitions; drain_s is their median"]
    if not ctx.pg_url:
        notes.append("the same on PostgreSQL runs with --pg URL")
    return Scenario(
        name="staff-delay",
        title=f"a staff delay while a {n:,} burst drains (SQLite)",
        target=f"p99 <= {TARGET_P99_MS:g} ms on SQLite",
        engine=engine,
        floor=floor,
        checks=[Check(f"p99 <= {TARGET_P99_MS:g} ms", engine.get("p99_ms"), TARGET_P99_MS, at_least=False)],
        ratios={
            "p99 vs floor": ratio(engine.get("p99_ms"), floor.get("p99_ms")),
            "p99 vs PostgreSQL": ratio(engine.get("p99_ms"), engine.get("pg_p99_ms")),
        },
        notes=notes,
    )


def _waits(waits: list[float]) -> Figures:
    return {
        "p50_ms": percentile(waits, 50),
        "p99_ms": percentile(waits, 99),
        "max_ms": max(waits, default=None),
        "delays": len(waits),
    }


def _sqlite_world(ctx: Context, n: int) -> tuple[str, list[tuple[str, int]]]:
    url = sqlite_url(seeded(ctx, math.ceil(n / PER_BOOKING) + STAFF_BOOKINGS, due=n))
    return url, _staff(url)


def _pg_world(ctx: Context, url: str, n: int) -> list[tuple[str, int]]:
    build(ctx.files, url, math.ceil(n / PER_BOOKING) + STAFF_BOOKINGS, due=n)
    return _staff(url)


def _staff(url: str) -> list[tuple[str, int]]:
    """(ref, id) of the bookings with nothing due: the ones the staff member delays."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            refs = booking_refs(conn, STAFF_BOOKINGS, skip_due=True)
            query = select(BOOKINGS.c.ref, BOOKINGS.c.id).where(BOOKINGS.c.ref.in_(refs))
            ids = dict(conn.execute(query).all())
    finally:
        engine.dispose()
    return [(ref, ids[ref]) for ref in refs]


def _engine(ctx: Context, url: str, staff: list[tuple[str, int]]) -> tuple[list[float], float, int]:
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


def _floor(ctx: Context, url: str, staff: list[tuple[str, int]]) -> tuple[list[float], float]:
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
