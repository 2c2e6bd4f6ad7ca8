"""pg-scaleout: one dispatcher process against two on PostgreSQL (``--pg URL``), the same burst.

Each run gets a scratch database on that server (created, then dropped), so
nothing already there is touched. Duplicates are counted across the
processes' providers.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from engine.bench.child import Child
from engine.bench.drains import PER_BOOKING, Figures
from engine.bench.report import Check, Scenario, Side
from engine.bench.seed import build
from engine.bench.world import Context, ratio

NAME = "pg-scaleout"
TITLE = "PostgreSQL scale-out: 2 dispatcher processes against 1"
TARGET = "0 duplicates, 0 lost; 2 processes send faster than 1 (the issue: 1.89x)"
UNITS = {
    "one_msgs_per_s": "msgs/s, 1 process",
    "msgs_per_s": "msgs/s, 2 processes",
    "drain_s": "s to drain, 2 processes",
    "lost": "lost",
    "duplicates": "duplicates",
}


def measure(ctx: Context) -> Scenario:
    if not ctx.pg_url:
        return Scenario(
            name=NAME,
            title=TITLE,
            target=TARGET,
            ran=False,
            notes=["not run: give --pg URL (a PostgreSQL server where a scratch database may be created)"],
        )
    n = ctx.sizes.burst
    one: list[Figures] = []
    two: list[Figures] = []
    for rep in range(ctx.sizes.repetitions):
        ctx.progress(f"{NAME}: repetition {rep + 1}")
        one.append(_run(ctx, ctx.pg_url, n, 1))
        two.append(_run(ctx, ctx.pg_url, n, 2))
    runs = [
        {**pair, "one_msgs_per_s": single["msgs_per_s"], "lost": single["lost"] + pair["lost"]}
        for single, pair in zip(one, two, strict=True)
    ]
    engine = Side.of(f"{n:,} due, 1 process then 2, dispatch on PostgreSQL", runs, UNITS)
    speedup = ratio(engine.get("msgs_per_s"), engine.get("one_msgs_per_s"))
    return Scenario(
        name=NAME,
        title=TITLE,
        target=TARGET,
        engine=engine,
        checks=[
            Check("0 duplicates", engine.get("duplicates"), 0, at_least=False),
            Check("0 lost", engine.get("lost"), 0, at_least=False),
            Check("2 processes faster than 1", speedup, 1.0),
        ],
        ratios={"2 processes vs 1": speedup},
    )


def _run(ctx: Context, server: str, n: int, processes: int) -> Figures:
    with scratch_database(server) as url:
        build(ctx.files, url, math.ceil(n / PER_BOOKING), due=n)
        files = [ctx.path(f"ids-{i}", ".txt") for i in range(processes)]
        children = [
            Child({"role": "drain", "url": url, "files": ctx.files.as_json(), "ids_file": str(f)})
            for f in files
        ]
        for child in children:
            child.wait_ready()
        for child in children:
            child.go()
        results = [child.result() for child in children]
    ids = [line for f in files for line in f.read_text().split()]
    wall = max(r["ended"] for r in results) - min(r["began"] for r in results)
    return {
        "msgs_per_s": len(set(ids)) / wall if wall else None,
        "drain_s": wall,
        "lost": n - len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
    }


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    base = make_url(server)
    name = f"forvent_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
