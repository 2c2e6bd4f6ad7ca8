"""The ``forvent`` group holds every command SPEC names, each with the common options."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from engine.cli.main import cli

# SPEC, "Command line": the commands of its table; a sub-command after its group's name.
SPEC_COMMANDS = (
    "init-db",
    "lint",
    "preview",
    "book",
    "delay",
    "reschedule",
    "start",
    "no-show",
    "ready",
    "complete",
    "finding",
    "cancel",
    "messages",
    "history",
    "dispatch",
    "serve",
    "import",
    "report",
    "token create",
    "token revoke",
    "erase-customer",
    "demo",
    "bench",
)


def _command(path: str) -> click.Command:
    command: click.Command = cli
    for name in path.split():
        assert isinstance(command, click.Group), f"{path}: {command.name} has no sub-commands"
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"forvent {path}: not registered"
        command = found
    return command


@pytest.mark.parametrize("path", SPEC_COMMANDS)
def test_every_spec_command_is_registered_with_json_and_now(path: str) -> None:
    command = _command(path)
    options = {opt for param in command.params for opt in getattr(param, "opts", ())}
    assert {"--json", "--now"} <= options
    assert command.get_short_help_str()


def test_the_top_level_lists_only_commands_it_can_run() -> None:
    names = set(cli.list_commands(click.Context(cli)))
    assert {path.split()[0] for path in SPEC_COMMANDS} <= names
    assert all(cli.get_command(click.Context(cli), name) is not None for name in names)


@pytest.mark.parametrize("args", [["frobnicate"], ["messages", "--frobnicate"], ["history"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(cli, args).exit_code == 2


def test_a_user_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORVENT_NOW", raising=False)
    result = CliRunner().invoke(cli, ["messages", "--now", "soon"])
    assert result.exit_code == 1
    assert result.stderr == "error: --now: not an ISO 8601 time: 'soon'\n"
