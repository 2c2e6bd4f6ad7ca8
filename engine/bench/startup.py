"""startup: how long a ``forvent`` command takes from exec to exit, against a bare interpreter."""

from __future__ import annotations

import subprocess
import sys
import time

from engine.bench.child import environment
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import seeded
from engine.bench.world import Context, percentile, ratio, sqlite_url

TARGET_MS = 150.0
FORVENT = [sys.executable, "-m", "engine"]
COMMANDS = {
    "help": [*FORVENT, "--help"],
    "messages": [*FORVENT, "messages"],
    "python": [sys.executable, "-c", "pass"],
}


def measure(ctx: Context) -> Scenario:
    runs = ctx.sizes.startup_runs
    env = environment(ctx.files.environment(sqlite_url(seeded(ctx, 1, due=None))))
    took: dict[str, list[float]] = {name: [] for name in COMMANDS}
    ctx.progress(f"startup: {runs} run(s) of each command")
    for _ in range(runs):
        for name, command in COMMANDS.items():  # interleaved, so drift hits all three alike
            began = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
            took[name].append(1000 * (time.perf_counter() - began))
    engine = Side.of(
        f"{runs} run(s) each, python -m engine",
        [
            {
                "help_p50_ms": percentile(took["help"], 50),
                "help_p99_ms": percentile(took["help"], 99),
                "messages_p50_ms": percentile(took["messages"], 50),
                "messages_p99_ms": percentile(took["messages"], 99),
            }
        ],
        {
            "help_p50_ms": "ms p50 --help",
            "help_p99_ms": "ms p99 --help",
            "messages_p50_ms": "ms p50 messages",
            "messages_p99_ms": "ms p99 messages",
        },
    )
    floor = Side.of(
        f"{runs} run(s), python -c pass",
        [{"p50_ms": percentile(took["python"], 50), "p99_ms": percentile(took["python"], 99)}],
        {"p50_ms": "ms p50", "p99_ms": "ms p99"},
    )
    return Scenario(
        name="startup",
        title="CLI start-up",
        target=f"<= {TARGET_MS:g} ms for --help and read commands",
        engine=engine,
        floor=floor,
        checks=[
            Check(f"--help p50 <= {TARGET_MS:g} ms", engine.get("help_p50_ms"), TARGET_MS, at_least=False),
            Check(
                f"messages p50 <= {TARGET_MS:g} ms", engine.get("messages_p50_ms"), TARGET_MS, at_least=False
            ),
        ],
        ratios={
            "--help vs floor": ratio(engine.get("help_p50_ms"), floor.get("p50_ms")),
            "messages vs floor": ratio(engine.get("messages_p50_ms"), floor.get("p50_ms")),
        },
    )
