"""``forvent`` starts light: help loads no database, templates, rich or web stack, and a read
command (``messages``, ``history``, ``report``) on a SQLite store only ``sqlite3``: no
SQLAlchemy, pydantic, phone numbers or rich.

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
# A read command needs the SQLite file and the business's id (engine.cli.reading), nothing else heavy.
NOT_FOR_READING = HEAVY
# The report on the engine clock of the booking's day: the same period however long the run takes.
READ_COMMANDS = (
    ["messages"],
    ["messages", "S-1"],
    ["history", "S-1"],
    ["report", "--now", "2026-11-24T12:00:00+01:00"],
)


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
        ["report", "--help"],
        ["token", "create", "--help"],
        ["reply", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    status, modules = loaded(args)
    assert status == 0
    assert among(modules, HEAVY) == []


def book(project: Project) -> None:
    project.run(
        "book", "--playbook", "plumber_visit", "--ref", "S-1", "--name", "Kari Nordmann",
        "--phone", "+4791234567", "--start", "2026-11-24T10:00:00+01:00", "--fact", "task=Leak",
        now="2026-11-23T09:00:00+01:00",
    )  # fmt: skip


def test_reading_the_outbox_and_the_report_loads_no_orm_settings_phones_or_rich(project: Project) -> None:
    book(project)
    for command in READ_COMMANDS:
        for args in (command, ["--json", *command]):
            status, modules = loaded(args, env=project.env, cwd=project.root)
            assert status == 0
            assert among(modules, NOT_FOR_READING) == []


def test_reading_through_sqlalchemy_shows_the_same(project: Project) -> None:
    """A URL ``engine.store.sqlite_reads`` leaves to SQLAlchemy (here: a query string) reads the same rows."""
    book(project)
    project.run("dispatch", "--once", now="2026-11-23T09:00:00+01:00")
    through_orm = f"{project.env['FORVENT_DATABASE_URL']}?timeout=30"
    for command in READ_COMMANDS:
        for args in (command, ["--json", *command]):
            direct = project.run(*args)
            assert direct.stdout.strip()
            assert project.run("--db", through_orm, *args).stdout == direct.stdout
    status, modules = loaded(["--db", through_orm, "messages"], env=project.env, cwd=project.root)
    assert status == 0 and "sqlalchemy" in among(modules, HEAVY)
