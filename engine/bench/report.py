"""What ``forvent bench`` reports: per scenario the engine's figures, the naive peer's and the floor's
from the same run, the target, the ratios, and whether the target is met.

A ``Report`` prints as a rich table or as JSON (``as_json``); nothing here measures.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

WORST_OF = frozenset({"lost", "duplicates", "failed"})  # the highest repetition's
WORST_LOW = frozenset({"sent"})  # the lowest repetition's


@dataclass(frozen=True)
class Figure:
    """One measured number: ``key`` names it in JSON (unit in the name), ``unit`` in the table."""

    key: str
    value: float | None
    unit: str

    def text(self) -> str:
        return f"{_number(self.value)} {self.unit}"


@dataclass(frozen=True)
class Side:
    """The engine, the peer or the floor in one scenario: how it was set up and what it did."""

    setup: str
    figures: list[Figure]

    @classmethod
    def of(cls, setup: str, runs: Sequence[Mapping[str, Any]], units: Mapping[str, str]) -> Side:
        """The median of each figure over the repetitions, in the order ``units`` names them.

        Losses, duplicates and messages sent take the worst repetition instead: one bad run must show.
        """
        figures = []
        for key, unit in units.items():
            values = [run[key] for run in runs if run.get(key) is not None]
            if values and key in WORST_OF:
                figures.append(Figure(key, max(values), unit))
            elif values and key in WORST_LOW:
                figures.append(Figure(key, min(values), unit))
            else:
                figures.append(Figure(key, _median(values), unit))
        return cls(setup, figures)

    def get(self, key: str) -> float | None:
        for figure in self.figures:
            if figure.key == key:
                return figure.value
        return None

    def as_json(self) -> dict[str, Any]:
        return {"setup": self.setup, **{f.key: _rounded(f.value) for f in self.figures}}


@dataclass(frozen=True)
class Check:
    """One part of a target: ``value`` compared with ``goal`` (at least, or at most)."""

    label: str
    value: float | None
    goal: float
    at_least: bool = True

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.goal if self.at_least else self.value <= self.goal

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "value": _rounded(self.value), "goal": self.goal, "met": self.met}


@dataclass
class Scenario:
    name: str
    title: str
    target: str
    engine: Side | None = None
    peer: Side | None = None
    floor: Side | None = None
    checks: list[Check] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ran: bool = True
    elapsed_s: float = 0.0  # the scenario's own wall time, set-up included

    @property
    def met(self) -> bool | None:
        """True when every check is met, False when one is not, None when nothing could be judged."""
        verdicts = [c.met for c in self.checks]
        if False in verdicts:
            return False
        if not verdicts or None in verdicts:
            return None
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "ran": self.ran,
            "engine": self.engine.as_json() if self.engine else None,
            "peer": self.peer.as_json() if self.peer else None,
            "floor": self.floor.as_json() if self.floor else None,
            "target": self.target,
            "checks": [c.as_json() for c in self.checks],
            "ratios": {k: _rounded(v) for k, v in self.ratios.items()},
            "met": self.met,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 1),
        }


@dataclass
class Report:
    quick: bool
    scale: float
    repetitions: int
    machine: dict[str, Any]
    scenarios: list[Scenario] = field(default_factory=list)
    elapsed_s: float = 0.0

    def scenario(self, name: str) -> Scenario:
        return next(s for s in self.scenarios if s.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "scale": self.scale,
            "repetitions": self.repetitions,
            "machine": self.machine,
            "elapsed_s": round(self.elapsed_s, 1),
            "scenarios": {s.name: s.as_json() for s in self.scenarios},
        }

    def print(self, console: Console) -> None:
        mode = "quick" if self.quick else "full"
        scale = f", scale {self.scale:g}" if self.scale != 1 else ""
        table = Table(
            title=(
                f"forvent bench ({mode}{scale}, {self.repetitions} repetition(s), "
                f"{self.machine.get('cpus')} cores, {self.elapsed_s:.0f} s)"
            ),
            show_lines=True,
        )
        for column in ("scenario", "Forvent", "naive peer", "floor", "target", "ratios", "met"):
            table.add_column(column, overflow="fold")
        for s in self.scenarios:
            table.add_row(
                s.title,
                _cell(s.engine),
                _cell(s.peer),
                _cell(s.floor),
                s.target,
                "\n".join(f"{k}: {_ratio(v)}" for k, v in s.ratios.items()) or "-",
                {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[s.met],
            )
        console.print(table)
        for s in self.scenarios:
            for note in s.notes:
                console.print(f"[dim]{s.name}: {note}[/]")


def _cell(side: Side | None) -> str:
    if side is None:
        return "-"
    return "\n".join([f"[dim]{side.setup}[/]", *(f.text() for f in side.figures)])


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _rounded(value: float | None) -> float | None:
    if value is None or isinstance(value, int):
        return value
    return round(value, 4)


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    middle = statistics.median(values)
    return int(middle) if all(isinstance(v, int) for v in values) and float(middle).is_integer() else middle
