"""memory: peak RSS of a process that works on the pending outbox (a dispatch pass, a few delays),
with the small and the large outbox of the delay scenario."""

from __future__ import annotations

from engine.bench.child import Child
from engine.bench.report import Scenario, Side
from engine.bench.seed import booking_refs, seeded
from engine.bench.world import Context, ratio, sqlite_url
from engine.store.db import make_engine

PER_BOOKING = 4
DELAYS = 20


def measure(ctx: Context) -> Scenario:
    small, large = ctx.sizes.outbox_small, ctx.sizes.outbox_large
    ctx.progress("memory: peak RSS over the pending outbox")
    rss = {size: _rss(ctx, size) for size in (small, large)}
    engine = Side.of(
        f"dispatch pass + {DELAYS} delays, own process",
        [{"rss_mb": rss[large], "rss_mb_small": rss[small]}],
        {"rss_mb": f"MB peak RSS at {large:,} pending", "rss_mb_small": f"MB peak RSS at {small:,} pending"},
    )
    return Scenario(
        name="memory",
        title=f"memory at {large:,} pending",
        target="bounded by the work, not the outbox (met in the issue: 101 MB at 1M pending)",
        engine=engine,
        ratios={"large vs small": ratio(rss[large], rss[small])},
        notes=["memory has no numeric target in the issue: reported, not judged"],
    )


def _rss(ctx: Context, size: int) -> float:
    url = sqlite_url(seeded(ctx, size // PER_BOOKING, due=None, copy=False))
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            refs = booking_refs(conn, DELAYS)
    finally:
        engine.dispose()
    result = Child({"role": "memory", "url": url, "files": ctx.files.as_json(), "refs": refs}).result()
    return float(result["rss_mb"])
