"""Tables on stdout in the same characters rich draws, without importing rich when it is not needed.

Rich takes tens of milliseconds to import, as much as a read command's whole
budget. A table whose cells are plain one-column characters and which fits the
width is drawn here, character for character as ``rich.table.Table`` draws it
(tests/unit/test_cli_tables.py compares the two); anything else (a cell rich
would read as markup or an emoji code, a wide or control character, a table
wider than the screen, which rich folds) is handed to rich. The difference
is colour only: on a terminal rich would print the header in bold.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Literal

import click

Justify = Literal["left", "right"]

PIPED_WIDTH = 160  # engine.cli.app's console width when stdout is not a terminal
# Rich's emoji codes; the only ones of digits are :100: and :1234:, so a clock's ":30:" is plain.
_EMOJI_CODE = re.compile(r":(\S*?)(?:-(?:emoji|text))?:")


def _plain(cell: str) -> bool:
    if "[" in cell:  # rich markup
        return False
    if any(not (name.isdigit() and len(name) <= 2) for name in _EMOJI_CODE.findall(cell)):
        return False
    return all(
        char.isprintable()
        and (
            char.isascii()
            or (unicodedata.east_asian_width(char) not in "WF" and not unicodedata.combining(char))
        )
        for char in cell
    )


def _sides(justify: Sequence[Justify], count: int) -> list[Justify]:
    return [justify[i] if i < len(justify) else "left" for i in range(count)]


def _width() -> int:
    if not sys.stdout.isatty():
        return PIPED_WIDTH
    import shutil

    return shutil.get_terminal_size().columns


def draw(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    justify: Sequence[Justify] = (),
    title: str | None = None,
) -> str | None:
    """The table as rich draws it (heavy head, one space of padding, a title centred over it),
    or None where rich must draw it."""
    if not (sys.stdout.encoding or "").lower().startswith("utf"):
        return None  # rich draws the box in ASCII then
    if not all(_plain(cell) for row in (columns, *rows, [title or ""]) for cell in row):
        return None
    sides = _sides(justify, len(columns))
    widths = [max(len(cell) for cell in column) for column in zip(columns, *rows, strict=True)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > _width() or len(title or "") > total:  # rich folds the table, or the title
        return None

    def line(left: str, fill: str, between: str, right: str) -> str:
        return left + between.join(fill * (width + 2) for width in widths) + right

    def cells(edge: str, row: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if side == "right" else cell.ljust(width)
            for cell, width, side in zip(row, widths, sides, strict=True)
        ]
        return edge + edge.join(f" {cell} " for cell in padded) + edge

    if title:
        left = (total - len(title)) // 2
        heading = [" " * left + title + " " * (total - len(title) - left)]
    else:
        heading = []
    return "\n".join(
        [
            *heading,
            line("┏", "━", "┳", "┓"),
            cells("┃", columns),
            line("┡", "━", "╇", "┩"),
            *(cells("│", row) for row in rows),
            line("└", "─", "┴", "┘"),
        ]
    )


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    justify: Sequence[Justify] = (),
    title: str | None = None,
) -> None:
    """The table on stdout: drawn here when it can be, by rich otherwise."""
    drawn = draw(columns, rows, justify, title)
    if drawn is not None:
        click.echo(drawn)
        return
    from rich.table import Table

    from engine.cli.app import console

    table = Table(title=title)
    sides = _sides(justify, len(columns))
    for name, side in zip(columns, sides, strict=True):
        table.add_column(name, justify=side)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_line(text: str, *, markup: bool = False, soft_wrap: bool = True) -> None:
    """A line on stdout as ``console.print(text, highlight=False, ...)`` prints it: here when
    rich would print it unchanged (plain text, not folded), by rich otherwise."""
    if _plain(text) and (soft_wrap or len(text) <= _width()):
        click.echo(text)
        return
    from engine.cli.app import console

    console.print(text, highlight=False, markup=markup, soft_wrap=soft_wrap)
