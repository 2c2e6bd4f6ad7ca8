"""How much a template or a condition may compute: the budget and the size checks (pure).

Playbook conditions (engine/core/conditions.py) and message templates
(engine/messages/) run in the same bounded sandbox (engine/core/sandbox.py).
It checks the clock as the code runs and refuses a value too large to build
before building it: ``'x' * 10**10`` is an error, not an hour of swapping.

A :class:`Budget` holds what one evaluation may still spend. It is entered
with ``with``; the sandbox finds the current one through a ContextVar, so
threads rendering at the same time each spend their own. Without a budget
the size checks still apply; only the clock and the counters are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from string import Formatter
from time import monotonic
from typing import Any, Final, Self, TypeVar

#: Iterations of all the loops of one budget together. Stops a runaway loop in a
#: fraction of the time budget, and the same on a fast machine as on a slow one.
MAX_LOOP_ITERATIONS: Final = 1_000_000
#: Characters of a string, or items of a list or dict, that a template may build:
#: no message needs a value larger than the largest message (1 MB of email).
MAX_VALUE_SIZE: Final = 1_000_000
#: Characters and items of all the values one budget builds, added up. What a
#: template keeps (in a namespace, a list) cannot outgrow this, whatever the clock says.
MAX_BUILT_SIZE: Final = 10 * MAX_VALUE_SIZE
#: Bits of an integer a template may compute (30 000 decimal digits).
MAX_INT_BITS: Final = 100_000
MAX_JSON_INDENT: Final = 16
MAX_LIPSUM_WORDS: Final = 10_000

_T = TypeVar("_T")


class LimitExceeded(Exception):
    """Code in the sandbox went over a limit; its caller reports it with file:line or the expression."""


class Budget:
    """What the code run inside ``with Budget(seconds=...):`` may still spend."""

    __slots__ = ("_token", "activity", "built", "deadline", "loops", "seconds")

    def __init__(self, *, seconds: float, activity: str = "rendering") -> None:
        self.seconds = seconds
        self.activity = activity  # what overtime() says took too long
        self.deadline = monotonic() + seconds
        self.loops = MAX_LOOP_ITERATIONS
        self.built = MAX_BUILT_SIZE

    def __enter__(self) -> Self:
        self._token = _BUDGET.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self._token)

    def overtime(self) -> None:
        if monotonic() > self.deadline:
            raise LimitExceeded(
                f"{self.activity} took longer than {self.seconds:g} s and was stopped"
                " (a loop or a recursion too long?)"
            )

    def overbuilt(self) -> None:
        raise LimitExceeded(f"the values built add up to more than {MAX_BUILT_SIZE} characters or items")


# A ContextVar rather than state on the shared environment: one environment is
# used from several threads at once, each with its own evaluation in progress.
_BUDGET: Final[ContextVar[Budget | None]] = ContextVar("forvent_budget", default=None)


def current() -> Budget | None:
    return _BUDGET.get()


def tick() -> Budget | None:
    """The current budget, after checking its clock."""
    budget = _BUDGET.get()
    if budget is not None and monotonic() > budget.deadline:
        budget.overtime()
    return budget


def refuse(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise LimitExceeded(
            f"{what} would be {size} characters or items; a template may build at most {MAX_VALUE_SIZE}"
        )


_SIZED: Final = (str, bytes, list, tuple, dict, set, frozenset)
CONTAINERS: Final = (list, tuple, dict, set, frozenset)


def sized(value: _T, budget: Budget | None) -> _T:
    """``value``, which the sandboxed code has built: refused when too large, else counted."""
    if isinstance(value, _SIZED):
        size = len(value)
        if size > MAX_VALUE_SIZE:
            refuse(size, "the result")
        if budget is not None:
            budget.built -= size
            if budget.built < 0:
                budget.overbuilt()
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(f"a number of more than {MAX_INT_BITS} bits")
    return value


def weight(value: object, limit: int = MAX_VALUE_SIZE) -> int:
    """A lower bound of ``len(str(value))`` that stops counting past ``limit``.

    A part shared by several containers counts each time, as ``str`` writes it:
    a list nested in itself forty times is small in memory and huge as text.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 1
    return total


def text_of(value: object) -> str:
    """``str(value)``, refused before it is written when it would be too long."""
    if isinstance(value, str):
        return value
    if isinstance(value, CONTAINERS):
        refuse(weight(value), "the text")
    return str(value)


def int_arg(value: object) -> int:
    return value if isinstance(value, int) else 0


def product(left: object, right: object) -> None:
    """Refuse ``left * right`` when the number or the repetition would be too large."""
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"a product of more than {MAX_INT_BITS} bits")
        return
    count, sequence = (left, right) if isinstance(left, int) else (right, left)
    if isinstance(count, int) and isinstance(sequence, _SIZED):
        refuse(len(sequence) * count, "the repetition")


def power(base: object, exponent: object) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1):
        return
    if exponent * base.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(f"a power of more than {MAX_INT_BITS} bits")


_DIGITS: Final = re.compile(r"\d+")
# A %-conversion with its mapping key, flags, width and precision.
_PERCENT_SPEC: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")


def formatting(template: str, values: list[object], *, braces: bool) -> None:
    """Refuse ``%`` or ``str.format`` formatting whose result could be too large: every
    field as wide as the widest width or precision in it, holding the largest value."""
    fields, widths, passed = 0, [], False
    if braces:
        for _, field, spec, _ in Formatter().parse(template):
            if field is not None:
                fields += 1
                passed = passed or "{" in (spec or "")
                widths += _DIGITS.findall(spec or "")
    else:
        for match in _PERCENT_SPEC.finditer(template):
            fields += 1
            passed = passed or "*" in match.group(0)
            widths += [group for group in match.groups() if group and group != "*"]
    widest = max((int(run) if len(run) < 8 else MAX_VALUE_SIZE + 1 for run in widths), default=0)
    if passed:  # a width or precision given as an argument
        widest = max([widest, *(int_arg(value) for value in values)])
    largest = max((weight(value) for value in values), default=0)
    refuse(len(template) + fields * (widest + largest), "the formatted text")


def format_values(args: object) -> list[object]:
    """The values ``%`` or ``format_map`` formats, from its right operand."""
    if isinstance(args, Mapping):
        return list(args.values())
    return list(args) if isinstance(args, tuple) else [args]


def replacing(text: str, old: object, new: object, count: object) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    refuse(len(text) + found * (len(new) - len(old)), "the replaced text")


def joining(separator: str, items: list[Any]) -> None:
    total = len(separator) * len(items)
    for item in items:
        total += weight(item)
        refuse(total, "the joined text")
