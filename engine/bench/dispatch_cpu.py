"""dispatch-cpu: the dispatcher's own cost per message, to a null provider."""

from __future__ import annotations

from engine.bench.drains import engine_drain, floor_drain
from engine.bench.report import Check, Scenario, Side
from engine.bench.world import Context, ratio

TARGET_SHARE_OF_FLOOR = 0.5
UNITS = {
    "msgs_per_s": "msgs/s",
    "cpu_ms_per_msg": "ms CPU per message",
    "statements_per_msg": "SQL statements per message",
}


def measure(ctx: Context) -> Scenario:
    n = ctx.sizes.dispatch_cpu
    engine_runs, floor_runs = [], []
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"dispatch-cpu: repetition {rep + 1}")
        floor_runs.append(floor_drain(ctx, n))
        engine_runs.append(engine_drain(ctx, n))
    engine = Side.of(f"{n:,} due, null channel", engine_runs, UNITS)
    floor = Side.of(f"{n:,} due, Core claim/render/mark loop", floor_runs, UNITS)
    share = ratio(engine.get("msgs_per_s"), floor.get("msgs_per_s"))
    return Scenario(
        name="dispatch-cpu",
        title="dispatch-cpu: messages per second and their cost, null channel",
        target=f">= {TARGET_SHARE_OF_FLOOR:.0%} of the floor's msgs/s",
        engine=engine,
        floor=floor,
        checks=[Check(f"msgs/s >= {TARGET_SHARE_OF_FLOOR:.0%} of the floor's", share, TARGET_SHARE_OF_FLOOR)],
        ratios={
            "msgs/s vs floor": share,
            "CPU per msg vs floor": ratio(engine.get("cpu_ms_per_msg"), floor.get("cpu_ms_per_msg")),
        },
        notes=["the peer has no throughput of its own here: with its defaults it drops a burst (see burst)"],
    )
