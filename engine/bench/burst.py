"""burst: N messages due at one instant (one in three with an invite) to a null provider."""

from __future__ import annotations

from engine.bench.drains import engine_drain, floor_drain, peer_drain
from engine.bench.report import Check, Scenario, Side
from engine.bench.world import Context, ratio

TARGET_TIMES_FLOOR = 1.5
UNITS = {
    "due": "due",
    "drain_s": "s to drain",
    "msgs_per_s": "msgs/s",
    "sent": "sent",
    "lost": "lost",
    "duplicates": "duplicates",
}


def measure(ctx: Context) -> Scenario:
    n = ctx.sizes.burst
    engine_runs, peer_runs, floor_runs = [], [], []
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"burst: repetition {rep + 1}")
        peer_runs.append(peer_drain(ctx, n))
        floor_runs.append(floor_drain(ctx, n))
        engine_runs.append(engine_drain(ctx, n))
    engine = Side.of(
        f"{n:,} due, Dispatcher.run_until_idle", engine_runs, UNITS | {"skipped": "skipped on purpose"}
    )
    peer = Side.of(
        f"{n:,} date jobs due at once, default settings",
        peer_runs,
        UNITS | {"misfired": "misfired (dropped)"},
    )
    floor = Side.of(f"{n:,} due, Core claim/render/mark loop", floor_runs, UNITS)
    times_floor = ratio(engine.get("drain_s"), floor.get("drain_s"))
    return Scenario(
        name="burst",
        title=f"burst: {n:,} due at one instant, null channel, 1 in 3 with invite",
        target=f"drain <= {TARGET_TIMES_FLOOR}x the floor, 0 lost, 0 duplicates",
        engine=engine,
        peer=peer,
        floor=floor,
        checks=[
            Check(
                f"drain <= {TARGET_TIMES_FLOOR}x the floor's", times_floor, TARGET_TIMES_FLOOR, at_least=False
            ),
            Check("0 lost", engine.get("lost"), 0, at_least=False),
            Check("0 duplicates", engine.get("duplicates"), 0, at_least=False),
        ],
        ratios={
            "drain vs floor": times_floor,
            "sent vs peer": ratio(engine.get("sent"), peer.get("sent")),
        },
    )
