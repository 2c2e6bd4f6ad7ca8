"""``forvent bench --quick --json`` reports every scenario with the engine's, the peer's and the floor's
figures and the target. Timings are never asserted: they depend on the machine and its load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "plan",
    "burst",
    "dispatch-cpu",
    "dispatch-io",
    "delay",
    "staff-delay",
    "startup",
    "memory",
    "pg-scaleout",
]


def test_bench_reports_every_scenario_against_the_peer_and_the_floor() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORVENT_")}
    result = subprocess.run(
        [sys.executable, "-m", "engine", "bench", "--quick", "--scale", "0.05", "--json"],
        cwd=REPO,
        env=env | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    assert report["quick"] is True and report["scale"] == 0.05
    assert list(report["scenarios"]) == SCENARIOS
    for name, scenario in report["scenarios"].items():
        assert {"engine", "peer", "floor", "target", "ratios", "checks", "met"} <= scenario.keys(), name
        assert scenario["target"], name
    ran = {name: s for name, s in report["scenarios"].items() if name != "pg-scaleout"}
    for name, scenario in ran.items():
        assert scenario["ran"], (name, scenario["notes"])
        assert scenario["engine"] is not None, name
    # "Lost" is counted against the messages that were due, at the provider, for every side.
    burst = report["scenarios"]["burst"]
    for side in ("engine", "peer", "floor"):
        figures = burst[side]
        assert figures["sent"] + figures["lost"] + figures.get("skipped", 0) == figures["due"], side
    assert burst["engine"]["lost"] == 0 and burst["engine"]["duplicates"] == 0
    assert burst["floor"]["lost"] == 0 and burst["floor"]["duplicates"] == 0
    # Without --pg the PostgreSQL scale-out is reported as not run, and says why.
    assert report["scenarios"]["pg-scaleout"]["ran"] is False
    assert "--pg" in report["scenarios"]["pg-scaleout"]["notes"][0]
