"""``forvent`` starts light: help loads no database, templates, rich or web stack, and a read
command only what reading the outbox needs.

Each probe runs the command's own entry point in a fresh interpreter and lists
the modules loaded by the time it exits. Start-up times themselves are
measured, not asserted (CONTRIBUTING: figures are printed, never asserted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Project

PROBE = """
import json, sys
from engine.cli.main import main
sys.argv = ["forvent", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    status = exc.code
print(json.dumps({"exit": status, "modules": sorted(sys.modules)}))
"""
# What help must never load: each is tens of milliseconds or more of start-up.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "pydantic",
    "phonenumbers",
    "jinja2",
    "rich",
    "fastapi",
    "starlette",
    "uvicorn",
    "twilio",
    "httpx",
)
# A read command needs the database and the business profile, and nothing that sends or renders.
NOT_FOR_READING = ("phonenumbers", "jinja2", "rich", "fastapi", "starlette", "uvicorn", "twilio", "httpx")


def loaded(args: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> tuple[int, list[str]]:
    """The command's exit status and every module loaded by then."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = json.loads(result.stdout.splitlines()[-1])
    return last["exit"], last["modules"]


def among(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in packages})


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["messages", "--help"],
        ["history", "--help"],
        ["token", "create", "--help"],
        ["reply", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    status, modules = loaded(args)
    assert status == 0
    assert among(modules, HEAVY) == []


def test_reading_the_outbox_imports_no_templates_channels_web_or_rich(project: Project) -> None:
    project.run(
        "book", "--playbook", "plumber_visit", "--ref", "S-1", "--name", "Kari Nordmann",
        "--phone", "+4791234567", "--start", "2026-11-24T10:00:00+01:00", "--fact", "task=Leak",
        now="2026-11-23T09:00:00+01:00",
    )  # fmt: skip
    for args in (["--json", "messages"], ["--json", "history", "S-1"]):
        status, modules = loaded(args, env=project.env, cwd=project.root)
        assert status == 0
        assert among(modules, NOT_FOR_READING) == []
