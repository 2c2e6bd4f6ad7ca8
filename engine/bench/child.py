"""Work a scenario runs in a process of its own: a dispatcher draining beside a staff member, the
memory probe, the scale-out workers.

``python -m engine.bench.child SPEC`` (SPEC is JSON with a ``role``). A
drainer prints ``ready`` once it is set up and starts when it reads a line,
so that the parent times the work and not the imports; every role ends by
printing one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import engine
from engine.bench.floor import Floor
from engine.bench.world import START, SeedFiles, null_channels, open_world
from engine.dispatch.dispatcher import Dispatcher

Spec = dict[str, Any]


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def _finish(spec: Spec, ids: list[str], began: float) -> dict[str, Any]:
    ended = time.time()
    if spec.get("ids_file"):
        Path(spec["ids_file"]).write_text("\n".join(ids))
    return {"sent": len(ids), "began": began, "ended": ended}


def drain(spec: Spec) -> dict[str, Any]:
    """The engine's dispatcher until nothing due is left, on the engine clock at ``START``."""
    world = open_world(SeedFiles.from_json(spec["files"]), spec["url"], concurrency=spec.get("concurrency"))
    channels = null_channels()
    dispatcher = Dispatcher(world.rt, channels)
    try:
        _wait_for_go()
        began = time.time()
        dispatcher.run_until_idle()
    finally:
        dispatcher.close()
        world.close()
    return _finish(spec, [m for c in channels.values() for m, _ in c.log], began)


def floor_drain(spec: Spec) -> dict[str, Any]:
    channels = null_channels()
    floor = Floor(SeedFiles.from_json(spec["files"]), spec["url"], channels)
    try:
        _wait_for_go()
        began = time.time()
        floor.drain(START)
    finally:
        floor.close()
    return _finish(spec, [m for c in channels.values() for m, _ in c.log], began)


def memory(spec: Spec) -> dict[str, Any]:
    """Peak RSS of a process that runs a dispatch pass over a pending outbox and delays bookings.

    The outboxes come smallest first: the peak after each is what that size took.
    """
    files = SeedFiles.from_json(spec["files"])
    peaks = []
    for outbox in spec["outboxes"]:
        world = open_world(files, outbox["url"])
        dispatcher = Dispatcher(world.rt, null_channels())
        try:
            dispatcher.run_until_idle()
            for ref in outbox["refs"]:
                world.service.delay(ref, minutes=15)
        finally:
            dispatcher.close()
            world.close()
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB
    return {"rss_mb": peaks}


ROLES: dict[str, Callable[[Spec], dict[str, Any]]] = {"drain": drain, "floor": floor_drain, "memory": memory}


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, less any Forvent settings, with this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORVENT_")}
    root = str(Path(engine.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env | (extra or {})


class Child:
    """One child process running one role."""

    def __init__(self, spec: Spec) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in result()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.bench.child", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=environment(),
        )

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.result()  # raises with the child's error
            raise RuntimeError(f"bench child: expected 'ready', got {line!r}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self, timeout_s: float = 600) -> dict[str, Any]:
        out, _ = self.proc.communicate(timeout=timeout_s)
        self._stderr.seek(0)
        errors = self._stderr.read()
        self._stderr.close()
        if self.proc.returncode != 0:
            raise RuntimeError(f"bench child failed ({self.proc.returncode}):\n{errors[-3000:]}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result


def main() -> None:
    spec: Spec = json.loads(sys.argv[1])
    print(json.dumps(ROLES[spec["role"]](spec)), flush=True)


if __name__ == "__main__":
    main()
