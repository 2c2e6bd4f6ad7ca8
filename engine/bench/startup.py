"""startup: how long ``forvent --help`` and the read commands take from exec to exit, against bare Python."""

from __future__ import annotations

import resource
import subprocess
import sys
import time

from engine.bench.child import environment
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import seeded
from engine.bench.world import Context, percentile, ratio, sqlite_url

TARGET_MS = 150.0
FORVENT = [sys.executable, "-m", "engine"]
# The seeded store holds one booking, S0. Each is timed against the target; help loads no store.
COMMANDS = {
    "help": [*FORVENT, "--help"],
    "messages": [*FORVENT, "messages"],
    "history": [*FORVENT, "history", "S0"],
    "report": [*FORVENT, "report"],
}
SHOWN = {"help": "--help", "messages": "messages", "history": "history REF", "report": "report"}
PYTHON = [sys.executable, "-c", "pass"]


def measure(ctx: Context) -> Scenario:
    runs = ctx.sizes.startup_runs
    env = environment(ctx.files.environment(sqlite_url(seeded(ctx, 1, due=None))))
    took: dict[str, list[float]] = {name: [] for name in [*COMMANDS, "python"]}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    ctx.progress(f"startup: {runs} run(s) of each command")
    for _ in range(runs):
        for name, command in [*COMMANDS.items(), ("python", PYTHON)]:  # interleaved: drift hits all alike
            used = _children_cpu_s()
            began = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
            took[name].append(1000 * (time.perf_counter() - began))
            if name in cpu:
                cpu[name].append(1000 * (_children_cpu_s() - used))
    figures: dict[str, float | None] = {}
    units: dict[str, str] = {}
    for name in COMMANDS:
        for q in (50, 99):
            figures[f"{name}_p{q}_ms"] = percentile(took[name], q)
            units[f"{name}_p{q}_ms"] = f"ms p{q} {SHOWN[name]}"
        # The command's own CPU time: what a busy machine inflates least.
        figures[f"{name}_cpu_p50_ms"] = percentile(cpu[name], 50)
        units[f"{name}_cpu_p50_ms"] = f"ms CPU p50 {SHOWN[name]}"
    engine = Side.of(f"{runs} run(s) each, python -m engine", [figures], units)
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
            Check(
                f"{SHOWN[name]} p50 <= {TARGET_MS:g} ms",
                engine.get(f"{name}_p50_ms"),
                TARGET_MS,
                at_least=False,
            )
            for name in COMMANDS
        ],
        ratios={
            f"{SHOWN[name]} vs floor": ratio(engine.get(f"{name}_p50_ms"), floor.get("p50_ms"))
            for name in COMMANDS
        },
    )


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
