"""dispatch-io: a slow provider (100 ms a send): how many messages one process sends, and how late
they go out when messages fall due at a steady 200 a second.

The offered-load run drives the dispatcher the way ``forvent dispatch`` does:
a pass on every tick of ``PASS_SECONDS``, each tick draining until nothing
due is left, on an engine clock that moves with the wall clock. Lag is the
time from a message's due instant to the provider receiving it.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

from engine.bench.drains import PER_BOOKING, Figures, engine_drain
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import due_ids, seeded, spread
from engine.bench.world import (
    START,
    Context,
    RunningClock,
    null_channels,
    open_world,
    percentile,
    ratio,
    sqlite_url,
)
from engine.dispatch.dispatcher import Dispatcher
from engine.dispatch.scheduler import PASS_SECONDS
from engine.settings import Settings

OFFERED_PER_S = 200
TARGET_MSGS_PER_S = 1000
TARGET_LAG_P99_S = 1.0


def measure(ctx: Context) -> Scenario:
    n, latency = ctx.sizes.dispatch_io, ctx.latency_ms / 1000
    runs: list[Figures] = []
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"dispatch-io: repetition {rep + 1}")
        run, lag = engine_drain(ctx, n, latency_s=latency), _lag(ctx, latency)
        runs.append(run | lag | {"lost": run["lost"] + lag["lost"]})
    concurrency = ctx.concurrency or Settings().dispatch_concurrency
    cap = concurrency / latency if latency else None
    runs = [run | {"cap_msgs_per_s": cap} for run in runs]
    engine = Side.of(
        f"{n:,} due, {ctx.latency_ms:g} ms provider, concurrency {concurrency}; "
        f"then {OFFERED_PER_S}/s offered for {ctx.sizes.lag_seconds} s",
        runs,
        {
            "msgs_per_s": "msgs/s",
            "cap_msgs_per_s": "msgs/s at most (concurrency / latency)",
            "lag_p50_s": "s lag p50",
            "lag_p99_s": "s lag p99",
            "lag_max_s": "s lag max",
            "lost": "lost",
        },
    )
    return Scenario(
        name="dispatch-io",
        title=f"dispatch-io: {ctx.latency_ms:g} ms provider",
        target=(
            f">= {TARGET_MSGS_PER_S:,} msgs/s per process; "
            f"lag p99 <= {TARGET_LAG_P99_S:g} s at {OFFERED_PER_S}/s"
        ),
        engine=engine,
        checks=[
            Check(f">= {TARGET_MSGS_PER_S:,} msgs/s", engine.get("msgs_per_s"), TARGET_MSGS_PER_S),
            Check(
                f"lag p99 <= {TARGET_LAG_P99_S:g} s",
                engine.get("lag_p99_s"),
                TARGET_LAG_P99_S,
                at_least=False,
            ),
        ],
        ratios={
            "msgs/s vs the concurrency cap": ratio(engine.get("msgs_per_s"), engine.get("cap_msgs_per_s"))
        },
        notes=["sends in flight are capped by FORVENT_DISPATCH_CONCURRENCY (--concurrency)"],
    )


def _lag(ctx: Context, latency: float) -> Figures:
    count = OFFERED_PER_S * ctx.sizes.lag_seconds
    url = sqlite_url(seeded(ctx, math.ceil(count / PER_BOOKING), due=count))
    clock = RunningClock(START)
    world = open_world(ctx.files, url, clock=clock, concurrency=ctx.concurrency)
    first = START + timedelta(seconds=PASS_SECONDS)  # the first message falls due on the first tick
    try:
        with world.engine.begin() as conn:
            due = spread(conn, due_ids(conn), start=first, per_second=OFFERED_PER_S)
        channels = null_channels(latency)
        dispatcher = Dispatcher(world.rt, channels)
        clock.origin = time.perf_counter()
        deadline = clock.origin + ctx.sizes.lag_seconds + 60
        tick = clock.origin
        try:
            while sum(len(c.log) for c in channels.values()) < count and time.perf_counter() < deadline:
                tick = _next_tick(tick, clock.origin)
                time.sleep(max(0.0, tick - time.perf_counter()))
                while dispatcher.run_pass().claimed:
                    pass
        finally:
            dispatcher.close()
    finally:
        world.close()
    lags = [
        (clock.at(at) - due[int(message_id)]).total_seconds()
        for channel in channels.values()
        for message_id, at in channel.log
    ]
    return {
        "lag_p50_s": percentile(lags, 50),
        "lag_p99_s": percentile(lags, 99),
        "lag_max_s": max(lags, default=None),
        "lost": count - len({m for c in channels.values() for m, _ in c.log}),
    }


def _next_tick(previous: float, origin: float) -> float:
    """The next tick after ``previous`` that is not already past: a tick missed during a long pass is
    skipped, as APScheduler skips a run while the previous one still holds ``max_instances=1``."""
    now = time.perf_counter()
    following = previous + PASS_SECONDS
    if following >= now:
        return following
    return origin + math.ceil((now - origin) / PASS_SECONDS) * PASS_SECONDS
