"""The template filters ``date``, ``time``, ``weekday``, ``datetime``, ``window``,
``money`` and ``relative`` (pure; docs/templates.md, "Filters").

Each reads what it needs from the template context: the customer's locale,
the booking's zone, the business's currency, ``now``, and whether the message
is an SMS (then the text is made GSM-7 friendly). The words and patterns
themselves are engine/messages/formatting.py's, shared with the web pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from time import monotonic
from typing import Any, Concatenate, Final, ParamSpec
from zoneinfo import ZoneInfo

from babel import Locale
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from engine.core.limits import current
from engine.messages import formatting
from engine.messages.sms import gsm_friendly


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfoNotFoundError is a KeyError: reported with file:line


@dataclass(frozen=True, slots=True)
class _Voice:
    """What a filter needs from the template context."""

    locale: Locale
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
    zone = _field(ctx, "booking", "timezone")
    return _Voice(
        locale=formatting.locale_of(str(code)),
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
        budget = current()  # mapped over a long list, these alone could take seconds
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
    return formatting.formatted_date(_moment(voice, value), voice.locale, format)


def _time(voice: _Voice, value: object) -> str:
    return formatting.clock(_instant(voice, value), voice.locale)


def _weekday(voice: _Voice, value: object) -> str:
    return formatting.weekday(_moment(voice, value), voice.locale)


def _datetime(voice: _Voice, value: object) -> str:
    return formatting.date_time(_instant(voice, value), voice.locale)


def _window(voice: _Voice, start: object, end: object) -> str:
    return formatting.window(_instant(voice, start), _instant(voice, end), voice.locale)


def _relative(voice: _Voice, value: object) -> str:
    """Yesterday, today or tomorrow as seen from ``now``; else the weekday and date."""
    moment = _moment(voice, value)
    day = moment.date() if isinstance(moment, datetime) else moment
    if not isinstance(voice.now, datetime):
        raise ValueError("relative needs now (a datetime) in the context")
    return formatting.relative_day(day, _instant(voice, voice.now).date(), voice.locale)


def _money(voice: _Voice, value: object) -> str:
    if not voice.currency:
        raise ValueError("money needs business.currency in the context")
    return formatting.money(value, str(voice.currency), voice.locale)


#: The filters by name. They check the render clock themselves and return a short
#: text, so the bounded environment writes their output without a size check.
FILTERS: Final[Mapping[str, Callable[..., str]]] = {
    "date": _filter(_date),
    "time": _filter(_time),
    "weekday": _filter(_weekday),
    "datetime": _filter(_datetime),
    "window": _filter(_window),
    "money": _filter(_money),
    "relative": _filter(_relative),
}
