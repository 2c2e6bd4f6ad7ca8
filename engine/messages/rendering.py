"""Sandboxed Jinja rendering with Babel filters, in the customer's language (pure).

A :class:`Renderer` renders the templates of one directory (SPEC "Playbooks",
"Templates"; docs/templates.md). Templates resolve, first hit wins, from
``<playbook>/<locale>/``, ``<playbook>/<default_locale>/``,
``_shared/<locale>/`` and ``_shared/<default_locale>/``. They run in Jinja's
immutable sandbox with ``StrictUndefined``: a typo is an error, an absent fact
is undefined (test it with ``is defined``), and a template can neither reach
Python internals nor change the context it was given.

SMS bodies, email subjects and text, and invite texts are plain text: nothing
is HTML-escaped. Only the ``html`` block of an email renders with
autoescaping, through an overlay of the same environment.

Every error raised while rendering is a ``TemplateRenderError`` whose message
starts with ``<template file>:<line>:``. That includes going over a limit
("limits" below, docs/templates.md): a template that loops or recurses without
end, or builds a huge text, fails its one message within seconds instead of
hanging the dispatcher, ``lint`` or ``preview``. A Renderer is a snapshot: it reads,
resolves and compiles each template once and keeps it, so a render costs tens
of microseconds; build a new Renderer to pick up edited templates.
"""

from __future__ import annotations

import builtins
import re
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache, wraps
from pathlib import Path
from string import Formatter
from time import monotonic
from types import CodeType
from typing import Any, Concatenate, Final, Literal, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, get_currency_symbol
from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
    pass_context,
    pass_eval_context,
)
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from engine.exceptions import TemplateRenderError
from engine.messages.sms import gsm_friendly, sms_info

Kind = Literal["sms", "email", "ics"]
_T = TypeVar("_T")

#: Blocks an email and an invite template must define; an email may add ``html``.
REQUIRED_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("subject", "text"),
    "ics": ("summary", "description"),
}
OPTIONAL_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {"email": ("html",), "ics": ()}


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: What templates can read (docs/templates.md, built by engine/core/context.py). ``now``
#: is a datetime and ``event.data`` depends on the event, so neither is listed.
CONTEXT_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "customer": _names("name first_name phone email locale marketing_ok"),
    "booking": _names(
        "ref playbook title start end promised_start promised_end timezone location status"
        " confirmed delay_minutes delay_reason facts findings final_price pickup_at choices"
        " score"
    ),
    "business": _names(
        "name phone email address website review_url currency sms_sender sms_two_way"
        " timezone country prices_include_vat"
    ),
    "links": _names("page invite review unsubscribe"),
    "step": _names("id channel"),
    "event": _names("name at data"),
}
CONTEXT_NAMES: Final = frozenset({*CONTEXT_ATTRIBUTES, "now"})
# ``booking.facts`` is a dict: these read it without naming a fact.
_DICT_READERS: Final = frozenset({"get", "items", "keys", "values"})
# Filters whose argument names an attribute to read from each item.
_ATTRIBUTE_FILTERS: Final = frozenset({"selectattr", "rejectattr", "groupby"})

_BLANK_LINES: Final = re.compile(r"\n(?:[ \t]*\n){2,}")
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_EN_DASH: Final = "\u2013"  # the range dash; gsm_friendly turns it into "-" in SMS
_NBSP: Final = "\u00a0"


@dataclass(frozen=True, kw_only=True)
class RenderedSms:
    body: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int


@dataclass(frozen=True, kw_only=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, kw_only=True)
class RenderedIcs:
    summary: str
    description: str


# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    """Per-language CLDR patterns (Babel fills in month and day names) and the
    words CLDR data in Babel lacks: the connector before a time, and the names of
    yesterday, today and tomorrow."""

    day_month: str  # "24. november"
    weekday_day_month: str  # "tirsdag 24. november"
    full: str  # "tirsdag 24. november 2026"
    at: str  # quoted, joins a date and a time: "'kl.'"
    days: tuple[str, str, str] | None  # yesterday, today, tomorrow

    @property
    def weekday_day_month_time(self) -> str:
        return " ".join(part for part in (self.weekday_day_month, self.at, "HH:mm") if part)

    @property
    def day_month_time(self) -> str:
        return " ".join(part for part in (self.day_month, self.at, "HH:mm") if part)


_WORDS: Final[Mapping[str, _Words]] = {
    "nb": _Words("d. MMMM", "EEEE d. MMMM", "EEEE d. MMMM y", "'kl.'", ("i går", "i dag", "i morgen")),
    "da": _Words(
        "d. MMMM",
        "EEEE 'den' d. MMMM",
        "EEEE 'den' d. MMMM y",
        "'kl.'",
        ("i går", "i dag", "i morgen"),
    ),
    "en": _Words("d MMMM", "EEEE d MMMM", "EEEE d MMMM y", "'at'", ("yesterday", "today", "tomorrow")),
}
_TIME: Final = "HH:mm"  # 24-hour in every locale: customers of a Nordic business read it so


@lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError) as exc:
        raise ValueError(f"unknown locale {code!r} in customer.locale") from exc


@cache
def _words(locale: Locale) -> _Words:
    known = _WORDS.get("nb" if locale.language == "no" else locale.language)
    if known is not None:
        return known
    # Another language: CLDR's own day-month pattern, and no relative day names.
    skeleton = locale.datetime_skeletons.get("MMMMd")
    day_month = skeleton.pattern if skeleton else locale.date_formats["long"].pattern
    return _Words(day_month, f"EEEE {day_month}", locale.date_formats["full"].pattern, "", None)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfoNotFoundError is a KeyError: reported with file:line


@dataclass(frozen=True, slots=True)
class _Voice:
    """What a filter needs from the template context."""

    locale: Locale
    words: _Words
    zone: ZoneInfo | None
    sms: bool
    currency: Any
    now: Any


def _field(ctx: Context, section: str, key: str) -> Any:
    holder = ctx.get(section)
    return holder.get(key) if isinstance(holder, Mapping) else None


def _voice(ctx: Context) -> _Voice:
    code = _field(ctx, "customer", "locale")
    if not code:
        raise ValueError("the context has no customer.locale")
    locale = _locale(str(code))
    zone = _field(ctx, "booking", "timezone")
    return _Voice(
        locale=locale,
        words=_words(locale),
        zone=_zone(zone) if zone else None,
        sms=_field(ctx, "step", "channel") == "sms",
        currency=_field(ctx, "business", "currency"),
        now=ctx.get("now"),
    )


_P = ParamSpec("_P")


def _filter(func: Callable[Concatenate[_Voice, _P], str]) -> Callable[..., str]:
    """A filter that speaks the customer's locale, and GSM-7 in an SMS."""

    @pass_context
    def run(ctx: Context, /, *args: _P.args, **kwargs: _P.kwargs) -> str:
        budget = _BUDGET.get()  # mapped over a long list, these alone could take seconds
        if budget is not None and monotonic() > budget.deadline:
            budget.overtime()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, Undefined):  # let StrictUndefined say what is missing
                arg._fail_with_undefined_error()
        voice = _voice(ctx)
        text = func(voice, *args, **kwargs)
        return gsm_friendly(text) if voice.sms else text

    return run


def _parse_iso(text: str, zone: ZoneInfo | None) -> date:
    """A date fact ("2026-11-24") or an event time; a time without offset is local (SPEC "Time")."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO date or time") from exc
    return moment if moment.tzinfo or zone is None else moment.replace(tzinfo=zone)


def _moment(voice: _Voice, value: object) -> date:
    """``value`` as a date, or as an aware datetime in the booking's zone."""
    if isinstance(value, str):
        value = _parse_iso(value, voice.zone)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: templates get aware datetimes")
        return value.astimezone(voice.zone) if voice.zone else value
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {value!r}")


def _instant(voice: _Voice, value: object) -> datetime:
    moment = _moment(voice, value)
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a date and time, got the date {moment.isoformat()}")
    return moment


def _date(voice: _Voice, value: object, format: str = "default") -> str:
    """Day and month; ``date("full")`` adds weekday and year; other formats go to Babel."""
    patterns = {"default": voice.words.day_month, "full": voice.words.full}
    return format_date(_moment(voice, value), patterns.get(format, format), locale=voice.locale)


def _time(voice: _Voice, value: object) -> str:
    return format_time(_instant(voice, value), _TIME, locale=voice.locale)


def _weekday(voice: _Voice, value: object) -> str:
    return format_date(_moment(voice, value), "EEEE", locale=voice.locale)


def _datetime(voice: _Voice, value: object) -> str:
    return format_datetime(_instant(voice, value), voice.words.weekday_day_month_time, locale=voice.locale)


def _window(voice: _Voice, start: object, end: object) -> str:
    """ "10:00–10:30"; when the window ends on a later day, that day is named."""
    first, last = _instant(voice, start), _instant(voice, end)
    begins = format_time(first, _TIME, locale=voice.locale)
    if first.date() == last.date():
        return f"{begins}{_EN_DASH}{format_time(last, _TIME, locale=voice.locale)}"
    ends = format_datetime(last, voice.words.day_month_time, locale=voice.locale)
    return f"{begins} {_EN_DASH} {ends}"


def _relative(voice: _Voice, value: object) -> str:
    """Yesterday, today or tomorrow as seen from ``now``; else the weekday and date."""
    moment = _moment(voice, value)
    day = moment.date() if isinstance(moment, datetime) else moment
    if not isinstance(voice.now, datetime):
        raise ValueError("relative needs now (a datetime) in the context")
    offset = (day - _instant(voice, voice.now).date()).days
    if voice.words.days and -1 <= offset <= 1:
        return voice.words.days[offset + 1]
    return format_date(day, voice.words.weekday_day_month, locale=voice.locale)


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"money expects an amount, got {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"money expects an amount, got {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"money expects an amount, got {value!r}")
    return amount


def _money(voice: _Voice, value: object) -> str:
    """The CLDR currency format, always with the currency's decimals ("3 450,00 kr")."""
    if not voice.currency:
        raise ValueError("money needs business.currency in the context")
    currency = str(voice.currency)
    text = format_currency(_amount(value), currency, locale=voice.locale)
    return _currency_spacing(text, get_currency_symbol(currency, locale=voice.locale))


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR's currency spacing rule, which Babel does not apply: a symbol that
    does not end in a symbol or space character gets a no-break space before a
    digit ("NOK3,450.00" becomes "NOK 3,450.00"; "$3,450.00" stays)."""
    if symbol and unicodedata.category(symbol[-1])[0] not in "SZ":
        text = re.sub(rf"{re.escape(symbol)}(?=\d)", symbol + _NBSP, text)
    if symbol and unicodedata.category(symbol[0])[0] not in "SZ":
        text = re.sub(rf"(?<=\d){re.escape(symbol)}", _NBSP + symbol, text)
    return text


FILTERS: Final[Mapping[str, Callable[..., str]]] = {
    "date": _filter(_date),
    "time": _filter(_time),
    "weekday": _filter(_weekday),
    "datetime": _filter(_datetime),
    "window": _filter(_window),
    "money": _filter(_money),
    "relative": _filter(_relative),
}


# --- limits -------------------------------------------------------------------------------

#: Wall-clock budget of one render call (an SMS, an email, an invite's texts). Jinja
#: cannot be interrupted from outside and a dispatcher renders in worker threads (no
#: signals), so the template checks the clock as it runs: at every loop iteration,
#: call, filter and intercepted operator.
MAX_RENDER_SECONDS: Final = 2.0
#: Iterations of all the loops of one render call together. Stops a runaway loop in
#: a fraction of the time budget, and the same on a fast machine as on a slow one.
MAX_LOOP_ITERATIONS: Final = 1_000_000
#: An SMS body of more segments than this is a template error.
MAX_SMS_SEGMENTS: Final = 10
#: An email whose subject, text and html come to more than this in UTF-8 is a template error.
MAX_EMAIL_BYTES: Final = 1_000_000
#: Characters one render call may output, before tidying.
MAX_OUTPUT_CHARS: Final = MAX_EMAIL_BYTES
#: Characters of a string, or items of a list or dict, that a template may build:
#: no message needs a value larger than the largest message.
MAX_VALUE_SIZE: Final = MAX_EMAIL_BYTES
#: Characters and items of all the values one render call builds, added up. What a
#: template keeps (in a namespace, a list) cannot outgrow this, whatever the clock says.
MAX_BUILT_SIZE: Final = 10 * MAX_VALUE_SIZE
#: Bits of an integer a template may compute (30 000 decimal digits).
MAX_INT_BITS: Final = 100_000
_MAX_JSON_INDENT: Final = 16
_MAX_LIPSUM_WORDS: Final = 10_000


class _LimitExceeded(Exception):
    """A template went over a limit above; reported as a ``TemplateRenderError`` with file:line."""


class _Budget:
    """The limits above, for the renders inside ``with _Budget():`` (one message)."""

    __slots__ = ("_token", "built", "deadline", "loops", "output", "seconds")

    def __init__(self) -> None:
        self.seconds = MAX_RENDER_SECONDS
        self.deadline = monotonic() + self.seconds
        self.loops = MAX_LOOP_ITERATIONS
        self.output = MAX_OUTPUT_CHARS
        self.built = MAX_BUILT_SIZE

    def __enter__(self) -> _Budget:
        self._token = _BUDGET.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self._token)

    def overtime(self) -> None:
        if monotonic() > self.deadline:
            raise _LimitExceeded(
                f"rendering took longer than {self.seconds:g} s and was stopped"
                " (a loop or a recursion too long?)"
            )

    def overbuilt(self) -> None:
        raise _LimitExceeded(f"the values built add up to more than {MAX_BUILT_SIZE} characters or items")


# A ContextVar rather than state on the shared environment: a Renderer is used
# from several threads at once, each with its own render in progress.
_BUDGET: Final[ContextVar[_Budget | None]] = ContextVar("forvent_render_budget", default=None)


def _tick() -> _Budget | None:
    budget = _BUDGET.get()
    if budget is not None and monotonic() > budget.deadline:
        budget.overtime()
    return budget


def _refuse(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise _LimitExceeded(
            f"{what} would be {size} characters or items; a template may build at most {MAX_VALUE_SIZE}"
        )


_SIZED: Final = (str, bytes, list, tuple, dict, set, frozenset)
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)


def _sized(value: _T, budget: _Budget | None) -> _T:
    """``value``, a template has built: refused when too large, else counted."""
    if isinstance(value, _SIZED):
        size = len(value)
        if size > MAX_VALUE_SIZE:
            _refuse(size, "the result")
        if budget is not None:
            budget.built -= size
            if budget.built < 0:
                budget.overbuilt()
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _LimitExceeded(f"a number of more than {MAX_INT_BITS} bits")
    return value


def _weight(value: object, limit: int = MAX_VALUE_SIZE) -> int:
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


def _text_of(value: object) -> str:
    """``str(value)``, refused before it is written when it would be too long."""
    if isinstance(value, str):
        return value
    if isinstance(value, _CONTAINERS):
        _refuse(_weight(value), "the text")
    return str(value)


def _int_arg(value: object) -> int:
    return value if isinstance(value, int) else 0


def _product(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _LimitExceeded(f"a product of more than {MAX_INT_BITS} bits")
        return
    count, sequence = (left, right) if isinstance(left, int) else (right, left)
    if isinstance(count, int) and isinstance(sequence, _SIZED):
        _refuse(len(sequence) * count, "the repetition")


def _power(base: object, exponent: object) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1):
        return
    if exponent * base.bit_length() > MAX_INT_BITS:
        raise _LimitExceeded(f"a power of more than {MAX_INT_BITS} bits")


_DIGITS: Final = re.compile(r"\d+")
# A %-conversion with its mapping key, flags, width and precision.
_PERCENT_SPEC: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")


def _formatting(template: str, values: list[object], *, braces: bool) -> None:
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
        widest = max([widest, *(_int_arg(value) for value in values)])
    largest = max((_weight(value) for value in values), default=0)
    _refuse(len(template) + fields * (widest + largest), "the formatted text")


def _format_values(args: object) -> list[object]:
    if isinstance(args, Mapping):
        return list(args.values())
    return list(args) if isinstance(args, tuple) else [args]


def _replacing(text: str, old: object, new: object, count: object) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _refuse(len(text) + found * (len(new) - len(old)), "the replaced text")


def _joining(separator: str, items: list[Any]) -> None:
    total = len(separator) * len(items)
    for item in items:
        total += _weight(item)
        _refuse(total, "the joined text")


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


# Pre-checks of the filters whose result can be much larger than their input: each
# refuses before the filter allocates it. One returns the value to filter instead
# when it had to read an iterator to check it.
_Check = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], Any]


def _check_center(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _refuse(_int_arg(_arg(args, kwargs, 0, "width", 80)), "the centred text")


def _check_indent(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text = _text_of(value)
    width = _arg(args, kwargs, 0, "width", 4)
    prefix = len(width) if isinstance(width, str) else _int_arg(width)
    _refuse(len(text) + (text.count("\n") + 1) * prefix, "the indented text")


def _check_wordwrap(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text = _text_of(value)
    width = max(_int_arg(_arg(args, kwargs, 0, "width", 79)), 1)
    wrap = _arg(args, kwargs, 2, "wrapstring")
    _refuse(len(text) + (len(text) // width + 1) * len(wrap or "\n"), "the wrapped text")


def _check_replace(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    old, new = _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new")
    _replacing(_text_of(value), old, new, _arg(args, kwargs, 2, "count"))


def _check_join(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    items = list(value)
    _joining(str(_arg(args, kwargs, 0, "d", "")), items)
    return items


def _check_format(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _formatting(_text_of(value), list(kwargs.values()) or list(args), braces=False)


def _check_count(name: str, what: str) -> _Check:
    def check(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        _refuse(_int_arg(_arg(args, kwargs, 0, name)), what)

    return check


def _check_sum(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    items = list(value)
    start = _arg(args, kwargs, 1, "start", 0)
    if not isinstance(start, int | float | Decimal) and items:
        # Adding lists or texts copies the sum so far at every step.
        copies = len(items) * _weight([start, items], MAX_BUILT_SIZE // len(items))
        if copies > MAX_BUILT_SIZE:
            raise _LimitExceeded(f"sum of {len(items)} lists or texts: too many copies to make")
    return items


def _check_tojson(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    indent = _int_arg(_arg(args, kwargs, 0, "indent"))
    if indent > _MAX_JSON_INDENT:
        raise _LimitExceeded(f"tojson indent {indent}: at most {_MAX_JSON_INDENT}")
    _refuse(_weight(value) * (indent + 1), "the JSON text")


def _check_text(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _text_of(value)


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
        budget = _BUDGET.get()
        if budget is not None and monotonic() > budget.deadline:
            budget.overtime()
        if check is not None and len(args) > skip:
            replaced = check(args[skip], args[skip + 1 :], kwargs)
            if replaced is not None:
                args = (*args[:skip], replaced, *args[skip + 1 :])
        return _sized(func(*args, **kwargs), budget)

    return guarded


def _check_str_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Pre-check a call of a ``str`` method that can grow a text; ``args`` to call it with."""
    text = getattr(method, "__self__", None)
    if not isinstance(text, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _refuse(_int_arg(args[0]), f"str.{name}()")
    elif name == "expandtabs":
        size = _int_arg(_arg(args, kwargs, 0, "tabsize", 8))
        _refuse(len(text) + text.count("\t") * size, "the expanded text")
    elif name == "replace" and len(args) >= 2:
        _replacing(text, args[0], args[1], _arg(args, kwargs, 2, "count"))
    elif name == "join" and args:
        items = list(args[0])
        _joining(text, items)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((_weight(new) for new in args[0].values()), default=1)
        _refuse(len(text) * longest, "the translated text")
    return args


@pass_context
def _counted_loop(context: Context, iterable: Any) -> Any:
    budget = _BUDGET.get()
    return iterable if budget is None else _iterations(budget, iterable)


def _iterations(budget: _Budget, iterable: Any) -> Iterator[Any]:
    for item in iterable:
        budget.loops -= 1
        if budget.loops < 0:
            raise _LimitExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS} times in one message")
        budget.overtime()
        yield item


@pass_context
def _checked_output(context: Context, value: Any) -> Any:
    """``{{ value }}``, refused when it is a list or dict too long to write out."""
    if isinstance(value, _CONTAINERS):
        _refuse(_weight(value), "the output")
    return value


@pass_eval_context
def _checked_concat(eval_ctx: EvalContext, parts: list[Any]) -> str:
    """The ``~`` operator, refusing a too long result before joining it."""
    texts, total = [], 0
    for part in parts:
        text = _text_of(part)
        total += len(text)
        _refuse(total, "the joined text")
        texts.append(text)
    return _sized(markup_join(texts) if eval_ctx.autoescape else str_join(texts), _BUDGET.get())


def _checked_join(parts: Iterable[str]) -> str:
    """What macros, ``{% set %}`` and ``{% filter %}`` blocks join their output with."""
    parts = parts if isinstance(parts, list) else list(parts)
    _refuse(sum(map(len, parts)), "the block's output")
    return _sized("".join(parts), _BUDGET.get())


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if _int_arg(n) * builtins.max(_int_arg(min), _int_arg(max)) > _MAX_LIPSUM_WORDS:
        raise _LimitExceeded(f"lipsum of more than {_MAX_LIPSUM_WORDS} words")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# Names a template cannot spell (a filter name is one or more dotted identifiers), so
# only the rewrite below uses them.
_LOOP: Final = "forvent loop"
_OUTPUT: Final = "forvent output"
_CONCAT: Final = "forvent concat"


class _Guard(NodeTransformer):
    """Routes every loop, ``~`` and output of a value of a template through the checks above."""

    def __init__(self, environment: Environment) -> None:
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

    @staticmethod
    def _text(node: nodes.Node) -> bool:
        """True when ``node`` is text already, or cannot be a list or dict (nothing to check)."""
        if isinstance(node, nodes.TemplateData | nodes.Const):
            return True
        return isinstance(node, nodes.Filter) and (node.name in FILTERS or node.name == _OUTPUT)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(_CONCAT, nodes.List(node.nodes, lineno=node.lineno))


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


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, checking the render budget and refusing values too large to build."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(_checked_join)

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
        return _sized(value, _BUDGET.get()) if isinstance(argument, slice) else value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _tick()
        if operator == "*":
            _product(left, right)
        elif operator == "**":
            _power(left, right)
        elif operator == "%" and isinstance(left, str):
            _formatting(left, _format_values(right), braces=False)
        return _sized(super().call_binop(context, operator, left, right), budget)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _tick()
        args = _check_str_method(obj, args, kwargs)
        return _sized(super().call(context, obj, *args, **kwargs), budget)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        template: str = value.__self__
        mapping = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            values = _format_values(args[0]) if mapping and args else [*args, *kwargs.values()]
            _formatting(template, values, braces=True)
            return sandboxed(*args, **kwargs)  # counted by call()

        return checked


def _streamed(chunks: Iterator[str], budget: _Budget) -> str:
    """The output of a template or block, up to ``MAX_OUTPUT_CHARS`` for the message."""
    parts: list[str] = []
    append, left = parts.append, budget.output
    for chunk in chunks:
        left -= len(chunk)
        if left < 0:
            exc = _LimitExceeded(f"the message is longer than {MAX_OUTPUT_CHARS} characters")
            if isinstance(chunks, Generator):  # raised inside: the traceback names the line
                chunks.throw(exc)
            raise exc
        append(chunk)
    budget.output = left
    return "".join(parts)


def _environment(loader: BaseLoader | None) -> _BoundedEnvironment:
    env = _BoundedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,  # plain text; the html block renders through an escaping overlay
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # a Renderer is a snapshot: no stat() per render
        cache_size=-1,  # bounded by the files on disk: never evict and recompile
    )
    # FILTERS check the clock themselves and return a short text: no wrapper to pay for.
    env.filters.update({name: _guard_filter(name, func) for name, func in env.filters.items()})
    env.filters.update(FILTERS)
    env.filters.update({_LOOP: _counted_loop, _OUTPUT: _checked_output, _CONCAT: _checked_concat})
    env.globals["lipsum"] = _lipsum
    return env


# --- rendering ----------------------------------------------------------------------------

# What a template can raise while rendering: Jinja's own errors, and what
# filters and operators raise on values of the wrong kind.
_RENDER_ERRORS: Final = (
    TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    _LimitExceeded,
)
_RECURSION: Final = (
    "recursion too deep: a macro that calls itself without end,"
    " or a template that includes, imports or extends itself"
)


def _where(exc: BaseException, fallback: str) -> str:
    """``file:line`` of the innermost template frame of ``exc``'s traceback."""
    where = fallback
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, Template):
            line = template.get_corresponding_lineno(tb.tb_lineno)
            where = f"{template.filename or template.name}:{line}"
        tb = tb.tb_next
    return where


@contextmanager
def _reported(root: Path, name: str) -> Iterator[None]:
    """Errors of rendering template ``name`` under ``root`` as ``TemplateRenderError``."""
    try:
        yield
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or root / name}:{exc.lineno}"
        raise TemplateRenderError(f"{where}: {exc.message}") from exc
    except _RENDER_ERRORS as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: {exc}") from exc
    except RecursionError as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: {_RECURSION}") from exc
    except MemoryError as exc:
        raise TemplateRenderError(f"{_where(exc, f'{root / name}:1')}: out of memory") from exc


def _tidy(text: str) -> str:
    """Strip, and collapse the runs of blank lines that skipped ``{% if %}`` blocks leave."""
    return _BLANK_LINES.sub("\n\n", text.strip())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _on_channel(context: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """``context`` whose ``step.channel`` is the channel being rendered, which the filters read."""
    step = context.get("step")
    return {**context, "step": {**(step if isinstance(step, Mapping) else {}), "channel": channel}}


class Renderer:
    """Renders the templates under ``templates_dir``; safe to share between threads.

    ``playbook`` is a playbook id or ``_shared``; ``template`` a template name
    from a step (``confirmation``). ``context`` is the template context of
    docs/templates.md: plain dicts, lists and aware datetimes.
    """

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self._env = _environment(FileSystemLoader(self.templates_dir))
        self._html_env = self._env.overlay(autoescape=True)
        self._resolved: dict[tuple[str, str, str, str, str], str | None] = {}

    def resolve(
        self, playbook: str, template: str, kind: Kind, locale: str, default_locale: str
    ) -> str | None:
        """The loader name (``car_service/nb/reminder.sms.j2``) of the first file found, or None."""
        key = (playbook, template, kind, locale, default_locale)
        if key not in self._resolved:
            self._resolved[key] = self._find(*key)
        return self._resolved[key]

    def _find(self, playbook: str, template: str, kind: str, locale: str, default: str) -> str | None:
        # Names come from playbooks and bookings: only plain names may become paths.
        if not all(_PLAIN_NAME.fullmatch(part) for part in (template, locale, default)):
            return None
        if playbook != "_shared" and not _PLAIN_NAME.fullmatch(playbook):
            return None
        for folder in dict.fromkeys((playbook, "_shared")):
            for language in dict.fromkeys((locale, default)):
                name = f"{folder}/{language}/{template}.{kind}.j2"
                if (self.templates_dir / name).is_file():
                    return name
        return None

    def _require(self, playbook: str, template: str, kind: Kind, locale: str, default_locale: str) -> str:
        name = self.resolve(playbook, template, kind, locale, default_locale)
        if name is None:
            raise TemplateRenderError(
                f"no template {template}.{kind}.j2 for playbook {playbook}, locale {locale}: "
                f"looked in {playbook}/{locale}/, {playbook}/{default_locale}/, "
                f"_shared/{locale}/ and _shared/{default_locale}/ under {self.templates_dir}",
                field="template",
            )
        return name

    def _render(self, name: str, context: Mapping[str, Any], budget: _Budget) -> str:
        with _reported(self.templates_dir, name):
            template = self._env.get_template(name)
            return _streamed(template.root_render_func(template.new_context(dict(context))), budget)

    def _blocks(
        self, html: bool, name: str, context: Mapping[str, Any], blocks: tuple[str, ...], budget: _Budget
    ) -> dict[str, str | None]:
        """The named blocks of template ``name``, None for an absent one."""
        with _reported(self.templates_dir, name):
            template = (self._html_env if html else self._env).get_template(name)
            ctx = template.new_context(dict(context))
            return {
                block: _streamed(template.blocks[block](ctx), budget) if block in template.blocks else None
                for block in blocks
            }

    def _required(self, name: str, kind: Kind, found: Mapping[str, str | None]) -> dict[str, str]:
        for block in REQUIRED_BLOCKS[kind]:
            if found[block] is None:
                path = self.templates_dir / name
                raise TemplateRenderError(f"{path}:1: missing {{% block {block} %}} in {kind} template")
        return {block: text or "" for block, text in found.items()}

    def render_sms(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedSms:
        """The SMS body: stripped, at most one blank line in a row, filters in GSM-7.

        A body of more than ``MAX_SMS_SEGMENTS`` segments is a ``TemplateRenderError``.
        """
        name = self._require(playbook, template, "sms", locale, default_locale)
        with _Budget() as budget:
            body = _tidy(self._render(name, _on_channel(context, "sms"), budget))
        info = sms_info(body)
        if info.segments > MAX_SMS_SEGMENTS:
            raise TemplateRenderError(
                f"{self.templates_dir / name}:1: the SMS is {info.segments} segments "
                f"({info.units} {info.encoding} units); at most {MAX_SMS_SEGMENTS} are sent",
                field="template",
            )
        return RenderedSms(body=body, encoding=info.encoding, segments=info.segments)

    def render_email(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedEmail:
        """Subject on one line, tidied text, and the autoescaped ``html`` block or None.

        An email of more than ``MAX_EMAIL_BYTES`` is a ``TemplateRenderError``.
        """
        name = self._require(playbook, template, "email", locale, default_locale)
        context = _on_channel(context, "email")
        with _Budget() as budget:
            found = self._blocks(False, name, context, ("subject", "text"), budget)
            html = (self._blocks(True, name, context, ("html",), budget)["html"] or "").strip()
        text = self._required(name, "email", found)
        email = RenderedEmail(subject=_one_line(text["subject"]), text=_tidy(text["text"]), html=html or None)
        parts = (email.subject, email.text, html)
        if 4 * sum(map(len, parts)) > MAX_EMAIL_BYTES:  # else it fits: UTF-8 takes at most 4 bytes
            size = sum(len(part.encode("utf-8", "surrogatepass")) for part in parts)
            if size > MAX_EMAIL_BYTES:
                raise TemplateRenderError(
                    f"{self.templates_dir / name}:1: the email is {size} bytes; "
                    f"at most {MAX_EMAIL_BYTES} are sent",
                    field="template",
                )
        return email

    def render_ics(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedIcs | None:
        """The invite's summary and description, or None when there is no ``.ics.j2``."""
        name = self.resolve(playbook, template, "ics", locale, default_locale)
        if name is None:
            return None
        with _Budget() as budget:
            found = self._blocks(False, name, context, REQUIRED_BLOCKS["ics"], budget)
        blocks = self._required(name, "ics", found)
        return RenderedIcs(summary=_one_line(blocks["summary"]), description=_tidy(blocks["description"]))


# --- lint ---------------------------------------------------------------------------------


@cache
def _lint_environment() -> ImmutableSandboxedEnvironment:
    return _environment(None)


def check_template_source(
    path: Path, source: str, *, declared_facts: set[str], kind: str
) -> list[tuple[int, str]]:
    """Problems of one template as ``(line, message)``, sorted by line.

    Reports syntax errors and unknown filters (alone: nothing else can be
    checked then), missing or unknown blocks of an email or invite template,
    variables no booking provides, facts the playbook does not declare,
    unknown attributes of the context, and unsafe constructs: any name or
    attribute starting with ``_`` and the ``attr`` filter.
    """
    env = _lint_environment()
    try:
        tree = env.parse(source, filename=str(path))
        # From the source: compiling rewrites the tree it is given, and the checks
        # below read the template as written.
        env.compile(source, filename=str(path))  # unknown filters and tests fail here
    except TemplateSyntaxError as exc:
        return [(exc.lineno, f"template syntax error: {exc.message}")]
    problems = [
        *_block_problems(tree, kind),
        *_name_problems(tree),
        *_attribute_problems(tree, declared_facts),
        *_unsafe_problems(tree),
    ]
    return sorted(dict.fromkeys(problems), key=lambda problem: problem[0])


def _block_problems(tree: nodes.Template, kind: str) -> Iterator[tuple[int, str]]:
    required = REQUIRED_BLOCKS.get(kind)
    if required is None:
        return
    found = {block.name: block.lineno for block in tree.find_all(nodes.Block)}
    needed = " and ".join(required)
    for block in required:
        if block not in found:
            yield 1, f"missing {{% block {block} %}} ({kind} templates need {needed})"
    known = sorted({*required, *OPTIONAL_BLOCKS[kind]})
    for block, line in found.items():
        if block not in known:
            yield line, f"unknown block {block!r} ({kind} templates have {', '.join(known)})"


def _name_problems(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    unknown = meta.find_undeclared_variables(tree) - CONTEXT_NAMES
    for node in tree.find_all(nodes.Name):
        if node.name in unknown and not node.name.startswith("_"):
            unknown.discard(node.name)  # once, at its first use
            names = ", ".join(sorted(CONTEXT_NAMES))
            yield node.lineno, f"unknown variable {node.name!r} (templates get {names})"


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """``("booking", "facts", "x")`` for ``booking.facts.x`` or ``booking["facts"]["x"]``."""
    parts: list[str] = []
    while not isinstance(node, nodes.Name):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node, nodes.Getitem) and _text(node.arg) is not None:
            parts.append(str(_text(node.arg)))
        else:
            return None
        node = node.node
    return (node.name, *reversed(parts))


def _text(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _attribute_problems(tree: nodes.Template, facts: set[str]) -> Iterator[tuple[int, str]]:
    known_facts = facts | _DICT_READERS
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _path(node)
        if path is None or any(part.startswith("_") for part in path):
            continue  # unsafe names are reported once, by _unsafe_problems
        if len(path) == 2 and path[0] in CONTEXT_ATTRIBUTES:
            root, attr = path
            if attr not in CONTEXT_ATTRIBUTES[root]:
                known = ", ".join(sorted(CONTEXT_ATTRIBUTES[root]))
                yield node.lineno, f"unknown attribute {root}.{attr} ({root} has {known})"
        elif path[:2] == ("booking", "facts") and len(path) == 3 and path[2] not in known_facts:
            declared = ", ".join(sorted(facts)) or "none"
            message = f"booking.facts.{path[2]} is not declared in the playbook's facts"
            yield node.lineno, f"{message} (declared: {declared})"


def _unsafe_problems(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    rule = "names starting with '_' are not allowed"
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Name) and node.name.startswith("_"):
            yield node.lineno, f"unsafe template construct: variable {node.name!r} ({rule})"
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            yield node.lineno, f"unsafe template construct: attribute {node.attr!r} ({rule})"
        elif isinstance(node, nodes.Getitem) and (_text(node.arg) or "x").startswith("_"):
            yield node.lineno, f"unsafe template construct: item {_text(node.arg)!r} ({rule})"
        elif isinstance(node, nodes.Filter):
            yield from _unsafe_filter(node, rule)


def _unsafe_filter(node: nodes.Filter, rule: str) -> Iterator[tuple[int, str]]:
    if node.name == "attr":
        yield node.lineno, "unsafe template construct: the attr filter"
        return
    named = [kw.value for kw in node.kwargs if kw.key == "attribute"]
    positional = node.args[:1] if node.name in _ATTRIBUTE_FILTERS else []
    for arg in (*named, *positional):
        if (_text(arg) or "x").startswith("_"):
            yield node.lineno, f"unsafe template construct: attribute {_text(arg)!r} in {node.name} ({rule})"
