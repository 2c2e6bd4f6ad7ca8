"""One bench run: every scenario in turn, on throwaway databases, then the report."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from engine.bench import burst, delay, dispatch_cpu, dispatch_io, memory, plan, scaleout, staff_delay, startup
from engine.bench.report import Report, Scenario
from engine.bench.sizes import Sizes
from engine.bench.world import Context, SeedFiles
from engine.settings import Settings


class _Measures(Protocol):
    def measure(self, ctx: Context) -> Scenario: ...


SCENARIOS: tuple[_Measures, ...] = (
    plan,
    burst,
    dispatch_cpu,
    dispatch_io,
    delay,
    staff_delay,
    startup,
    memory,
    scaleout,
)


def run(
    *,
    quick: bool = False,
    scale: float = 1.0,
    pg: str | None = None,
    bookings: int | None = None,
    latency_ms: float | None = None,
    concurrency: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Measure every scenario: engine, peer and floor interleaved, medians over the repetitions.

    ``quick`` takes the small sizes (under two minutes on two cores), ``scale``
    multiplies every size (the test runs at 0.05). ``bookings`` overrides the
    plan scenario's size, ``latency_ms`` the slow provider's round trip and
    ``concurrency`` the dispatcher's sends in flight (default: the settings').
    """
    sizes = (Sizes.quick() if quick else Sizes.full()).scaled(scale)
    if bookings:
        sizes = replace(sizes, plan_bookings=bookings)
    settings = settings or Settings.from_env()
    files = SeedFiles.from_settings(settings)
    report = Report(quick=quick, scale=scale, repetitions=sizes.repetitions, machine=machine())
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="forvent-bench-") as tmp:
        ctx = Context(
            files=files,
            sizes=sizes,
            root=Path(tmp),
            latency_ms=100.0 if latency_ms is None else latency_ms,
            concurrency=concurrency or settings.dispatch_concurrency,
            pg_url=pg,
            progress=progress or (lambda _: None),
        )
        for scenario in SCENARIOS:
            report.scenarios.append(_measured(scenario, ctx))
    report.elapsed_s = time.perf_counter() - began
    return report


def _measured(scenario: _Measures, ctx: Context) -> Scenario:
    """A scenario that breaks is reported as not run, with why, and the others still run."""
    began = time.perf_counter()
    try:
        result = scenario.measure(ctx)
    except Exception as exc:
        name = getattr(scenario, "__name__", "?").rsplit(".", 1)[-1].replace("_", "-")
        result = Scenario(name=name, title=name, target="-", ran=False, notes=[f"failed: {exc!r}"])
    result.elapsed_s = time.perf_counter() - began
    return result


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": version("sqlalchemy"),
        "apscheduler": version("apscheduler"),
    }


def main(
    bookings: int | None = None,
    latency_ms: float | None = None,
    concurrency: int | None = None,
    *,
    quick: bool = False,
    as_json: bool = False,
    scale: float = 1.0,
    pg: str | None = None,
    settings: Settings | None = None,
) -> Report:
    """``forvent bench``: run, then print the table (or JSON); progress goes to stderr."""

    def progress(step: str) -> None:
        print(f"bench: {step}", file=sys.stderr, flush=True)

    report = run(
        quick=quick,
        scale=scale,
        pg=pg,
        bookings=bookings,
        latency_ms=latency_ms,
        concurrency=concurrency,
        settings=settings,
        progress=progress,
    )
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        # A terminal gets its own width; a file or a pipe a table wide enough to read.
        report.print(Console() if sys.stdout.isatty() else Console(width=160))
    return report
