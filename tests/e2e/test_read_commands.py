"""``messages`` and ``history`` refuse a store they cannot read in the same words whichever way they read it.

On a SQLite file they read through sqlite3 (``engine.store.sqlite_reads``); a
URL with a query string goes through SQLAlchemy. Each refusal is one line,
exit 1, and the same line both ways.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Project
from tests.e2e.test_bad_input import one_line_error


def both_ways(project: Project, url: str, *args: str) -> str:
    """The error line through sqlite3, checked equal to the one through SQLAlchemy."""
    direct = one_line_error(project, "--db", url, *args)
    assert one_line_error(project, "--db", f"{url}?timeout=30", *args) == direct
    return direct


@pytest.mark.parametrize("command", [["messages"], ["history", "P-1"]])
def test_a_store_without_a_schema_asks_for_init_db(project: Project, command: list[str]) -> None:
    empty = project.root / "empty.db"
    line = both_ways(project, f"sqlite:///{empty}", *command)
    assert line == "error: the database has no schema yet: run `forvent init-db`"


def test_a_store_in_a_missing_folder_is_one_line_naming_db(project: Project) -> None:
    line = both_ways(project, f"sqlite:///{project.root / 'nowhere' / 'forvent.db'}", "messages")
    assert line == "error: --db: cannot reach the database: unable to open database file"


def test_an_unknown_ref_is_one_line(project: Project) -> None:
    project.run("init-db")
    line = both_ways(project, f"sqlite:///{project.root / 'forvent.db'}", "history", "P-404")
    assert line == "error: unknown booking ref 'P-404'"


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (None, "no business profile (give --business FILE or set FORVENT_BUSINESS_FILE)"),
        ("id: [1, 2]\n", "id: Input should be a valid string"),
        ("name: [unclosed\n", "business.yaml:2:"),
    ],
)
def test_a_business_profile_it_cannot_take_the_id_from_is_refused(
    project: Project, profile: str | None, expected: str
) -> None:
    project.run("init-db")
    business = Path(project.root / "business.yaml")
    if profile is None:
        business.unlink()
    else:
        business.write_text(profile, encoding="utf-8")
    line = both_ways(project, f"sqlite:///{project.root / 'forvent.db'}", "messages")
    assert expected in line
