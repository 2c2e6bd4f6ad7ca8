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
starts with ``<template file>:<line>:``. A Renderer is a snapshot: it reads,
resolves and compiles each template once and keeps it, so a render costs tens
of microseconds; build a new Renderer to pick up edited templates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Concatenate, Final, Literal, ParamSpec
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, get_currency_symbol
from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.exceptions import TemplateRenderError
from engine.sms import gsm_friendly, sms_info

Kind = Literal["sms", "email", "ics"]

#: Blocks an email and an invite template must define; an email may add ``html``.
REQUIRED_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("subject", "text"),
    "ics": ("summary", "description"),
}
OPTIONAL_BLOCKS: Final[Mapping[str, tuple[str, ...]]] = {"email": ("html",), "ics": ()}


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: What templates can read (docs/templates.md, built by engine/context.py). ``now``
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


def _environment(loader: BaseLoader | None) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=False,  # plain text; the html block renders through an escaping overlay
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # a Renderer is a snapshot: no stat() per render
        cache_size=-1,  # bounded by the files on disk: never evict and recompile
    )
    env.filters.update(FILTERS)
    return env


# --- rendering ----------------------------------------------------------------------------

# What a template can raise while rendering: Jinja's own errors, and what
# filters and operators raise on values of the wrong kind.
_RENDER_ERRORS: Final = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


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
        raise TemplateRenderError(f"{_where(exc, str(root / name))}: {exc}") from exc


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

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        with _reported(self.templates_dir, name):
            template = self._env.get_template(name)
            return "".join(template.root_render_func(template.new_context(dict(context))))

    def _blocks(
        self, html: bool, name: str, context: Mapping[str, Any], blocks: tuple[str, ...]
    ) -> dict[str, str | None]:
        """The named blocks of template ``name``, None for an absent one."""
        with _reported(self.templates_dir, name):
            template = (self._html_env if html else self._env).get_template(name)
            ctx = template.new_context(dict(context))
            return {
                block: "".join(template.blocks[block](ctx)) if block in template.blocks else None
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
        """The SMS body: stripped, at most one blank line in a row, filters in GSM-7."""
        name = self._require(playbook, template, "sms", locale, default_locale)
        body = _tidy(self._render(name, _on_channel(context, "sms")))
        info = sms_info(body)
        return RenderedSms(body=body, encoding=info.encoding, segments=info.segments)

    def render_email(
        self,
        playbook: str,
        template: str,
        locale: str,
        default_locale: str,
        context: Mapping[str, Any],
    ) -> RenderedEmail:
        """Subject on one line, tidied text, and the autoescaped ``html`` block or None."""
        name = self._require(playbook, template, "email", locale, default_locale)
        context = _on_channel(context, "email")
        text = self._required(name, "email", self._blocks(False, name, context, ("subject", "text")))
        html = (self._blocks(True, name, context, ("html",))["html"] or "").strip()
        return RenderedEmail(subject=_one_line(text["subject"]), text=_tidy(text["text"]), html=html or None)

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
        found = self._blocks(False, name, context, REQUIRED_BLOCKS["ics"])
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
        env.compile(tree, filename=str(path))  # unknown filters and tests fail here
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
