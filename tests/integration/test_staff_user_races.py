"""Staff logins under races: a disable is never outlived by a login, a name is never added twice.

Marking a person disabled (or giving them a new password) ends every session
they have open, and a login made at the same moment either comes first, and
is ended with the others, or is refused: no session of a disabled user stays
open. Two ``staff add`` of one name (spelt alike or not) add one user; the
other is refused with one line. Real SQLite and PostgreSQL; the logins go
through a real ``forvent serve``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import cast

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from engine.core.clock import FixedClock
from engine.exceptions import ConflictError
from engine.runtime import Runtime
from engine.services.staff_users import StaffUsers
from engine.store.tables import StaffSessionRow, StaffUserRow
from tests.conftest import Project
from tests.integration.test_races import NOW, RUN_TIMEOUT, START_TIMEOUT, deploy, serve, together
from tests.integration.workers import settings_for
from tests.web.conftest import form_csrf

PASSWORD = "correct horse battery"
LOGINS = 6  # each browser's logins in a row, the disable falling among them


@pytest.fixture
def project(database_url: str, tmp_path: Path) -> Project:
    return deploy(database_url, tmp_path / "deploy", [])


@pytest.fixture
def runtime(project: Project) -> Iterator[Runtime]:
    """The engine on the deployment's database, with its clock."""
    rt = Runtime(settings_for(project.env["FORVENT_DATABASE_URL"]), clock=FixedClock(NOW))
    yield rt
    rt.close()


def released(racer: Callable[[], object]) -> Callable[[threading.Barrier], object]:
    """``racer`` started at the barrier; what it returned or raised."""

    def run(barrier: threading.Barrier) -> object:
        barrier.wait()
        try:
            return racer()
        except Exception as exc:
            return exc

    return run


class MeetingHasher(PasswordHasher):
    """Hashes, then waits for the other adder: hashing holds the interpreter's lock, so without
    this meeting one add's transaction would be over before the other's began."""

    def __init__(self, meeting: threading.Barrier) -> None:
        super().__init__()
        self.meeting = meeting

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        hashed = super().hash(password, salt=salt)
        self.meeting.wait()
        return hashed


@pytest.mark.parametrize("spellings", [("Ola Nordmann", "Ola Nordmann"), ("Kari Hansen", "kari  hansen")])
def test_two_adds_of_one_name_at_once_add_one_user(runtime: Runtime, spellings: tuple[str, str]) -> None:
    users = StaffUsers(runtime, hasher=MeetingHasher(threading.Barrier(2, timeout=START_TIMEOUT)))
    results = together([released(partial(users.add, name, PASSWORD)) for name in spellings])
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    [error] = refused
    assert isinstance(error, ConflictError), repr(error)
    [user] = users.users()
    assert error.message == f"a staff user named {user.name!r} exists"


def test_a_login_racing_a_disable_never_leaves_a_session_open(project: Project, runtime: Runtime) -> None:
    """Four browsers log in as Ola again and again; `disable` runs once the first of them is in.
    Each login gets in or is refused, and once the disable is done none of Ola's sessions is open."""
    users = StaffUsers(runtime)
    users.add("Ola", PASSWORD)
    first_in = threading.Event()
    with serve(project) as server:

        def log_in() -> list[httpx.Response]:
            answers = []
            with httpx.Client(base_url=server.url, timeout=30.0) as browser:
                csrf = form_csrf(browser.get("/staff/login").text)
                for _ in range(LOGINS):
                    form = {"name": "Ola", "password": PASSWORD, "csrf": csrf}
                    answers.append(browser.post("/staff/login", data=form))
                    first_in.set()
            return answers

        def disable() -> int:
            assert first_in.wait(timeout=RUN_TIMEOUT)
            return users.disable("Ola")

        *runs, ended = together([released(r) for r in (log_in, log_in, log_in, log_in, disable)])
        assert server.errors() == []
    assert isinstance(ended, int), repr(ended)
    answers = [a for run in runs for a in cast(list[httpx.Response], run)]
    for answer in answers:
        assert (answer.status_code, answer.headers.get("location")) in {
            (303, "/staff"),
            (303, "/staff/login?failed=1"),
        } or answer.status_code == 429, answer.text[:300]
    got_in = sum(1 for a in answers if a.headers.get("location") == "/staff")
    assert 0 < got_in < len(answers)
    with runtime.database.session() as s:
        ola = s.scalars(select(StaffUserRow)).one()
        sessions = list(s.scalars(select(StaffSessionRow).where(StaffSessionRow.staff_user_id == ola.id)))
        assert ola.disabled_at is not None
        assert len(sessions) == got_in and ended == got_in  # each login that won was ended by the disable
        assert [row.id for row in sessions if row.ended_at is None] == []
