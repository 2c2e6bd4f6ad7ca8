"""``if:`` / ``unless:`` expressions, compiled once and evaluated in the bounded sandbox (pure).

Planning evaluates every condition of every step it plans, so a condition runs
under the same limits as a template (engine/core/limits.py): a value too large
to build (``'x' * 10**10``) is refused before it is built, and an evaluation
that runs past ``MAX_CONDITION_SECONDS`` is stopped. Either is a
``ConditionError`` naming the expression (a user error: one line from the
CLI, a 4xx from the API, nothing stored), never a hung planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from engine.core.limits import Budget, LimitExceeded
from engine.core.sandbox import BoundedEnvironment
from engine.exceptions import UserInputError

#: Wall-clock budget of one evaluation. A condition reads a few fields and compares
#: them in microseconds; anything near this long is a condition gone wrong.
MAX_CONDITION_SECONDS: Final = 0.5

_ENV = BoundedEnvironment(undefined=StrictUndefined)


class ConditionError(UserInputError, ValueError):
    """An expression that does not compile or cannot be evaluated: the playbook is at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="condition")


@lru_cache(maxsize=512)
def _compiled(expression: str) -> Any:
    try:
        return _ENV.compile_expression(expression, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ConditionError(f"bad condition {expression!r}: {exc.message}") from exc


def check(expression: str) -> None:
    """Raise ``ConditionError`` when ``expression`` does not compile."""
    _compiled(expression)


def evaluate(expression: str, context: Mapping[str, Any]) -> bool:
    """The truth of ``expression``; an undefined name counts as false, never as an error."""
    try:
        with Budget(seconds=MAX_CONDITION_SECONDS, activity="the condition"):
            return bool(_compiled(expression)(**context))
    except UndefinedError:
        return False
    except SecurityError as exc:
        raise ConditionError(f"unsafe condition {expression!r}: {exc}") from exc
    except LimitExceeded as exc:
        raise ConditionError(f"condition {expression!r} stopped: {exc}") from exc
