"""Jinja's immutable sandbox, bounded by engine/core/limits.py (pure).

:class:`BoundedEnvironment` is the one environment playbook conditions and
message templates run in. On top of Jinja's immutable sandbox it checks the
current :class:`~engine.core.limits.Budget` at every loop iteration, call,
filter and intercepted operator, refuses values too large to build before
building them, and turns parser and compiler recursion into a
``TemplateSyntaxError`` at the line it was at ("nested too deeply").
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from functools import wraps
from time import monotonic
from types import CodeType
from typing import Any, Final

from jinja2 import TemplateSyntaxError, nodes, pass_context, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from engine.core.limits import (
    CONTAINERS,
    MAX_BUILT_SIZE,
    MAX_JSON_INDENT,
    MAX_LIPSUM_WORDS,
    MAX_LOOP_ITERATIONS,
    Budget,
    LimitExceeded,
    current,
    format_values,
    formatting,
    int_arg,
    joining,
    power,
    product,
    refuse,
    replacing,
    sized,
    text_of,
    tick,
    weight,
)

# --- filters ------------------------------------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


# Pre-checks of the filters whose result can be much larger than their input: each
# refuses before the filter allocates it. One returns the value to filter instead
# when it had to read an iterator to check it.
_Check = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], Any]


def _check_center(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    refuse(int_arg(_arg(args, kwargs, 0, "width", 80)), "the centred text")


def _check_indent(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text = text_of(value)
    width = _arg(args, kwargs, 0, "width", 4)
    prefix = len(width) if isinstance(width, str) else int_arg(width)
    refuse(len(text) + (text.count("\n") + 1) * prefix, "the indented text")


def _check_wordwrap(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text = text_of(value)
    width = max(int_arg(_arg(args, kwargs, 0, "width", 79)), 1)
    wrap = _arg(args, kwargs, 2, "wrapstring")
    refuse(len(text) + (len(text) // width + 1) * len(wrap or "\n"), "the wrapped text")


def _check_replace(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    old, new = _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new")
    replacing(text_of(value), old, new, _arg(args, kwargs, 2, "count"))


def _check_join(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    items = list(value)
    joining(str(_arg(args, kwargs, 0, "d", "")), items)
    return items


def _check_format(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    formatting(text_of(value), list(kwargs.values()) or list(args), braces=False)


def _check_count(name: str, what: str) -> _Check:
    def check(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        refuse(int_arg(_arg(args, kwargs, 0, name)), what)

    return check


def _check_sum(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    items = list(value)
    start = _arg(args, kwargs, 1, "start", 0)
    if not isinstance(start, int | float | Decimal) and items:
        # Adding lists or texts copies the sum so far at every step.
        copies = len(items) * weight([start, items], MAX_BUILT_SIZE // len(items))
        if copies > MAX_BUILT_SIZE:
            raise LimitExceeded(f"sum of {len(items)} lists or texts: too many copies to make")
    return items


def _check_tojson(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    indent = int_arg(_arg(args, kwargs, 0, "indent"))
    if indent > MAX_JSON_INDENT:
        raise LimitExceeded(f"tojson indent {indent}: at most {MAX_JSON_INDENT}")
    refuse(weight(value) * (indent + 1), "the JSON text")


def _check_text(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text_of(value)


def _names(words: str) -> list[str]:
    return words.split()


_FILTER_CHECKS: Final[Mapping[str, _Check]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "replace": _check_replace,
    "join": _check_join,
    "format": _check_format,
    "batch": _check_count("linecount", "the batch"),
    "slice": _check_count("slices", "the slices"),
    "sum": _check_sum,
    "tojson": _check_tojson,
    # Filters that turn a list or dict into text first.
    **dict.fromkeys(_names("string escape e forceescape urlencode urlize pprint safe"), _check_text),
    **dict.fromkeys(_names("truncate trim striptags title upper lower capitalize wordcount"), _check_text),
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` checking the clock, pre-checked if listed above, its result counted."""
    check = _FILTER_CHECKS.get(name)
    skip = 0 if getattr(func, "jinja_pass_arg", None) is None else 1  # the context comes first

    @wraps(func)  # keeps jinja_pass_arg
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        if budget is not None and monotonic() > budget.deadline:
            budget.overtime()
        if check is not None and len(args) > skip:
            replaced = check(args[skip], args[skip + 1 :], kwargs)
            if replaced is not None:
                args = (*args[:skip], replaced, *args[skip + 1 :])
        return sized(func(*args, **kwargs), budget)

    return guarded


# --- calls, loops, output -----------------------------------------------------------------


def _check_str_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Pre-check a call of a ``str`` method that can grow a text; ``args`` to call it with."""
    text = getattr(method, "__self__", None)
    if not isinstance(text, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        refuse(int_arg(args[0]), f"str.{name}()")
    elif name == "expandtabs":
        size = int_arg(_arg(args, kwargs, 0, "tabsize", 8))
        refuse(len(text) + text.count("\t") * size, "the expanded text")
    elif name == "replace" and len(args) >= 2:
        replacing(text, args[0], args[1], _arg(args, kwargs, 2, "count"))
    elif name == "join" and args:
        items = list(args[0])
        joining(text, items)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((weight(new) for new in args[0].values()), default=1)
        refuse(len(text) * longest, "the translated text")
    return args


@pass_context
def _counted_loop(context: Context, iterable: Any) -> Any:
    budget = current()
    return iterable if budget is None else _iterations(budget, iterable)


def _iterations(budget: Budget, iterable: Any) -> Iterator[Any]:
    for item in iterable:
        budget.loops -= 1
        if budget.loops < 0:
            raise LimitExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS} times in one message")
        budget.overtime()
        yield item


@pass_context
def _checked_output(context: Context, value: Any) -> Any:
    """``{{ value }}``, refused when it is a list or dict too long to write out."""
    if isinstance(value, CONTAINERS):
        refuse(weight(value), "the output")
    return value


@pass_eval_context
def _checked_concat(eval_ctx: EvalContext, parts: list[Any]) -> str:
    """The ``~`` operator, refusing a too long result before joining it."""
    texts, total = [], 0
    for part in parts:
        text = text_of(part)
        total += len(text)
        refuse(total, "the joined text")
        texts.append(text)
    return sized(markup_join(texts) if eval_ctx.autoescape else str_join(texts), current())


def _checked_join(parts: Iterable[str]) -> str:
    """What macros, ``{% set %}`` and ``{% filter %}`` blocks join their output with."""
    parts = parts if isinstance(parts, list) else list(parts)
    refuse(sum(map(len, parts)), "the block's output")
    return sized("".join(parts), current())


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if int_arg(n) * builtins.max(int_arg(min), int_arg(max)) > MAX_LIPSUM_WORDS:
        raise LimitExceeded(f"lipsum of more than {MAX_LIPSUM_WORDS} words")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# Names code in the sandbox cannot spell (a filter name is one or more dotted
# identifiers), so only the rewrite below uses them.
_LOOP: Final = "forvent loop"
_OUTPUT: Final = "forvent output"
_CONCAT: Final = "forvent concat"


class _Guard(NodeTransformer):
    """Routes every loop, ``~`` and output of a value of a template through the checks above."""

    def __init__(self, environment: BoundedEnvironment) -> None:
        self.environment = environment

    def _wrap(self, name: str, node: nodes.Node) -> nodes.Filter:
        wrapped = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
        wrapped.set_environment(self.environment)
        return wrapped

    @staticmethod
    def _wrapped(node: nodes.Node, name: str) -> bool:
        return isinstance(node, nodes.Filter) and node.name == name

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        if not self._wrapped(node.iter, _LOOP):
            node.iter = self._wrap(_LOOP, node.iter)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [child if self._text(child) else self._wrap(_OUTPUT, child) for child in node.nodes]
        return node

    def _text(self, node: nodes.Node) -> bool:
        """True when ``node`` is text already, or cannot be a list or dict (nothing to check)."""
        if isinstance(node, nodes.TemplateData | nodes.Const):
            return True
        return isinstance(node, nodes.Filter) and (
            node.name in self.environment.text_filters or node.name == _OUTPUT
        )

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(_CONCAT, nodes.List(node.nodes, lineno=node.lineno))


# --- compiling ----------------------------------------------------------------------------


def _compile_line(exc: BaseException) -> int:
    """The template line the parser or code generator was at when ``exc`` (a recursion) hit it."""
    line = 1
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        parser, node = local.get("self"), local.get("node")
        if isinstance(parser, Parser):
            line = parser.stream.current.lineno
        elif isinstance(node, nodes.Node) and node.lineno:
            line = node.lineno
        tb = tb.tb_next
    return line


def _generated_line(code: str, code_line: int | None) -> int:
    """The template line of line ``code_line`` of generated Python ``code`` (its debug_info)."""
    found = re.search(r"^debug_info = '([^']*)'$", code, re.MULTILINE)
    pairs = [tuple(map(int, pair.split("="))) for pair in found.group(1).split("&")] if found else []
    lines = [template_line for template_line, line in pairs if code_line is None or line <= code_line]
    return lines[-1] if lines else 1


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, checking the current budget and refusing values too large to build.

    ``text_filters`` names filters added later that check the clock themselves
    and return a short text: their output is written without a size check.
    Jinja's own filters are wrapped here; add yours after construction.
    """

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(_checked_join)

    def __init__(self, *, text_filters: Iterable[str] = (), **options: Any) -> None:
        super().__init__(**options)
        self.text_filters = frozenset(text_filters)
        self.filters.update({name: _guard_filter(name, func) for name, func in self.filters.items()})
        self.filters.update({_LOOP: _counted_loop, _OUTPUT: _checked_output, _CONCAT: _checked_concat})
        self.globals["lipsum"] = _lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            return super()._parse(source, name, filename)
        except RecursionError as exc:
            raise TemplateSyntaxError("nested too deeply", _compile_line(exc), name, filename) from None

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        """Python code of ``source``, which is rewritten in place by ``_Guard``."""
        try:
            return super()._generate(_Guard(self).visit(source), name, filename, defer_init)
        except RecursionError as exc:
            raise TemplateSyntaxError("nested too deeply", _compile_line(exc), name, filename) from None

    def _compile(self, source: str, filename: str) -> CodeType:
        try:
            return super()._compile(source, filename)
        except (SyntaxError, RecursionError, MemoryError) as exc:
            line = _generated_line(source, getattr(exc, "lineno", None))
            reason = f" ({exc.msg})" if isinstance(exc, SyntaxError) else ""
            raise TemplateSyntaxError(f"nested too deeply to compile{reason}", line, None, filename) from None

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        return sized(value, current()) if isinstance(argument, slice) else value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = tick()
        if operator == "*":
            product(left, right)
        elif operator == "**":
            power(left, right)
        elif operator == "%" and isinstance(left, str):
            formatting(left, format_values(right), braces=False)
        return sized(super().call_binop(context, operator, left, right), budget)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = tick()
        args = _check_str_method(obj, args, kwargs)
        return sized(super().call(context, obj, *args, **kwargs), budget)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        template: str = value.__self__
        mapping = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            values = format_values(args[0]) if mapping and args else [*args, *kwargs.values()]
            formatting(template, values, braces=True)
            return sandboxed(*args, **kwargs)  # counted by call()

        return checked
