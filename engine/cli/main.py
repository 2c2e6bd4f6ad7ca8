"""The ``forvent`` command: the root group with every command registered on it, here and only here.

SPEC ("Command line") lists the commands; tests/unit/test_cli_commands.py
checks that each one is registered.
"""

from __future__ import annotations

import os

import click

from engine.cli import (
    attention,
    bookings,
    on_my_way,
    ops,
    outbox,
    playbooks,
    ready_delay,
    replies,
    report,
    staff,
    web,
)
from engine.cli.app import cli

COMMANDS: tuple[click.Command, ...] = (
    ops.init_db,
    playbooks.lint,
    playbooks.preview,
    bookings.book,
    bookings.delay,
    ready_delay.delay_ready,
    bookings.reschedule,
    bookings.start,
    bookings.no_show,
    bookings.confirm,
    bookings.ready,
    bookings.complete,
    bookings.finding,
    bookings.cancel,
    bookings.assign,
    on_my_way.on_my_way_command,
    replies.reply,
    attention.attention,
    outbox.messages,
    outbox.history,
    outbox.dispatch,
    web.serve,
    web.demo,
    web.token,
    staff.staff,
    ops.import_command,
    report.report_command,
    ops.erase_customer_command,
    ops.bench_command,
)

for command in COMMANDS:
    cli.add_command(command)

__all__ = ["cli", "main"]


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    cli(prog_name="forvent")
