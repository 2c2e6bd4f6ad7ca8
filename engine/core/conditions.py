"""``if:`` / ``unless:`` expressions, compiled once and evaluated in Jinja's sandbox (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class ConditionError(ValueError):
    """An expression that does not compile or cannot be evaluated."""


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
        return bool(_compiled(expression)(**context))
    except UndefinedError:
        return False
    except SecurityError as exc:
        raise ConditionError(f"unsafe condition {expression!r}: {exc}") from exc
