"""Shared fixtures: a project copy with the seed playbooks, and a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.receiver import receiver  # noqa: F401  (the webhook receiver fixture, for every test)

# Two shared cores under load make wall-clock deadlines flaky; the properties are what matter.
settings.register_profile(
    "forvent", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("forvent")

REPO = Path(__file__).resolve().parent.parent
FORVENT = [sys.executable, "-m", "engine"]


@dataclass
class Project:
    """A throwaway deployment: its own database, outbox and copies of the seed files."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def run(self, *args: str, now: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if now is not None:
            env["FORVENT_NOW"] = now
        result = subprocess.run(
            [*FORVENT, *args], cwd=self.root, env=env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"forvent {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def json(self, *args: str, now: str | None = None) -> Any:
        return json.loads(self.run("--json", *args, now=now).stdout)

    def sms_files(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.outbox.glob("*.sms.json"))]

    def eml_files(self) -> list[Path]:
        return sorted(self.outbox.glob("*.eml"))


def make_project(root: Path) -> Project:
    """A deployment folder with copies of the seed files and a migrated SQLite database."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "playbooks", root / "playbooks")
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copy(REPO / "business.yaml", root / "business.yaml")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FORVENT_", "TWILIO_", "SMTP_", "SENDGRID_"))
    }
    env.update(
        FORVENT_SECRET="test-secret-not-for-production",
        FORVENT_DATABASE_URL=f"sqlite:///{root / 'forvent.db'}",
        PYTHONPATH=str(REPO),
    )
    project = Project(root=root, env=env)
    project.run("init-db")
    return project


@pytest.fixture(autouse=True)
def _untraced(request: pytest.FixtureRequest) -> Iterator[None]:
    """Coverage paused for an ``untraced`` test: under the tracer, work that a wall-clock limit
    lets finish (a million loop iterations in the 2 s of a render) runs several times slower."""
    import coverage

    tracer = coverage.Coverage.current()
    if tracer is None or request.node.get_closest_marker("untraced") is None:
        yield
        return
    tracer.stop()
    try:
        yield
    finally:
        tracer.start()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield make_project(tmp_path / "deploy")
