"""Named staff logins: ``forvent staff add|list|passwd|disable``.

A password is read from a hidden prompt (typed twice), or with
``--password-stdin`` from the first line of standard input, so it never
shows in the shell's history or the process list.
"""

from __future__ import annotations

import sys

import click

from engine.cli.app import State, common, console, emit, open_store


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    text: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return text


@click.group()
def staff() -> None:
    """Named staff logins for the board: each person's actions carry their name."""


@staff.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@common
def staff_add(state: State, name: str, password_stdin: bool) -> None:
    """Add the staff user NAME (a hidden prompt asks for the password)."""
    from engine.services.staff_users import StaffUsers, check_name, check_password

    users = StaffUsers(open_store(state))
    check_name(name)  # a bad name is refused before anyone types a password
    user = users.add(name, check_password(_password(password_stdin)))
    emit(
        state,
        {"name": user.name, "active": True},
        lambda: console.print(f"staff user {user.name} added: they log in at /staff/login", highlight=False),
    )


@staff.command("list")
@common
def staff_list(state: State) -> None:
    """The staff users, and whether they may log in."""
    from engine.core import timing
    from engine.services.staff_users import StaffUsers

    rt = open_store(state)
    tz = timing.zone(rt.business.timezone)
    users = StaffUsers(rt).users()
    data = [
        {
            "name": u.name,
            "active": u.active,
            "created_at": timing.local_iso(u.created_at, tz),
            "disabled_at": timing.local_iso(u.disabled_at, tz) if u.disabled_at else None,
        }
        for u in users
    ]

    def human() -> None:
        if not data:
            console.print("no staff users yet: forvent staff add NAME")
        for u in data:
            status = "active" if u["active"] else f"disabled {u['disabled_at']}"
            console.print(f"{u['name']}  {status}", highlight=False, markup=False)

    emit(state, data, human)


@staff.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@common
def staff_passwd(state: State, name: str, password_stdin: bool) -> None:
    """A new password for NAME; their open sessions end."""
    from engine.services.staff_users import StaffUsers, check_password

    users = StaffUsers(open_store(state))
    ended = users.set_password(name, check_password(_password(password_stdin)))
    emit(
        state,
        {"name": name, "sessions_ended": ended},
        lambda: console.print(f"password of {name} changed; {ended} session(s) ended", highlight=False),
    )


@staff.command("disable")
@click.argument("name")
@common
def staff_disable(state: State, name: str) -> None:
    """NAME can no longer log in; their open sessions end at once."""
    from engine.services.staff_users import StaffUsers

    ended = StaffUsers(open_store(state)).disable(name)
    emit(
        state,
        {"name": name, "disabled": True, "sessions_ended": ended},
        lambda: console.print(f"{name} disabled; {ended} session(s) ended", highlight=False),
    )
