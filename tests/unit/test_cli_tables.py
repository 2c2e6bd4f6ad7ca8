"""The read commands' tables: drawn without rich, character for character as rich draws them."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from rich.table import Table

from engine.cli import tables
from engine.cli.tables import Justify, draw

ROWS = [
    [
        "1",
        "CS-1001",
        "reminder_day_before",
        "sms",
        "skipped (too_late)",
        "2026-11-30T17:00:00+01:00",
        "-",
        "",
    ],
    ["12", "P-100", "on_my_way", "email", "sent", "-", "2026-12-01T08:00:00+01:00", "kari@example.no"],
    [
        "345",
        "Ø-7",
        "finding_request",
        "sms",
        "failed (sms:21211)",
        "2026-12-01T08:00:00+01:00",
        "-",
        "+4791234567",
    ],
]
COLUMNS = ["id", "booking", "step", "channel", "status", "due", "sent", "to"]


def rich_draws(columns: list[str], rows: list[list[str]], justify: list[Justify]) -> str:
    table = Table()
    for i, name in enumerate(columns):
        table.add_column(name, justify=justify[i] if i < len(justify) else "left")
    for row in rows:
        table.add_row(*row)
    out = io.StringIO()
    Console(file=out, width=tables.PIPED_WIDTH).print(table)
    return out.getvalue().rstrip("\n")


@pytest.fixture(autouse=True)
def _piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


@pytest.mark.parametrize(
    ("columns", "rows", "justify"),
    [
        (COLUMNS, ROWS, []),
        (COLUMNS, [], []),
        (["at", "kind", "detail", "by"], [["12:30:00", "note", "kl. 12:30: ringer først", "Kari"]], []),
        (
            ["step", "sent", "failed"],
            [["reminder", "3", "1 (sms:30003 1)"], ["x", "10", ""]],
            ["left", "right"],
        ),
        (["a"], [[""], ["æøå ÆØÅ"]], []),
    ],
)
def test_a_plain_table_is_drawn_as_rich_draws_it(
    columns: list[str], rows: list[list[str]], justify: list[Justify]
) -> None:
    assert draw(columns, rows, justify) == rich_draws(columns, rows, justify)


@pytest.mark.parametrize(
    "cell",
    [
        "[bold]Kari[/bold]",  # markup
        "thanks :thumbs_up:",  # an emoji code
        "宮本",  # two columns a character
        "line\nbreak",
        "x" * tables.PIPED_WIDTH,  # rich folds it
    ],
)
def test_what_rich_would_change_is_left_to_rich(cell: str) -> None:
    assert draw(["detail"], [[cell]]) is None


@pytest.mark.parametrize(
    ("title", "columns", "rows"),
    [
        (
            "2026-10-25T23:00:00Z - 2026-11-24T23:00:00Z",
            ["metric", "overall", "car_service"],
            [["ready_notice_lead_minutes_median", "-", "30.0"]],
        ),
        ("per assignee", ["metric", "Ola", "Kari"], [["lateness_minutes_median", "30.0", "-"]]),
        ("abcde", ["metric", "overall"], [["1", "1"]]),  # an odd margin: one more space on the right
        ("abcd", ["metric", "overall"], [["1", "1"]]),
    ],
)
def test_a_title_is_centred_over_the_table_as_rich_centres_it(
    title: str, columns: list[str], rows: list[list[str]]
) -> None:
    table = Table(title=title)
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    out = io.StringIO()
    Console(file=out, width=tables.PIPED_WIDTH).print(table)
    assert draw(columns, rows, title=title) == out.getvalue().rstrip("\n")


@pytest.mark.parametrize("title", ["a title wider than its table", "[bold]markup[/bold]"])
def test_a_title_rich_would_fold_or_read_is_left_to_rich(title: str) -> None:
    assert draw(["m", "n"], [["1", "2"]], title=title) is None
