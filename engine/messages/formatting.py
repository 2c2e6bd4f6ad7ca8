"""Dates, times and money in the customer's language, one way everywhere (pure).

The template filters (engine/messages/filters.py) and the web pages
(engine/web/i18n.py) both print through these functions, so a price or a
day reads the same in a message and on the page it links to. Values come
in already in the booking's zone; ``locale`` is a code (``nb``, ``da``,
``en``, ``nb-NO``) or a Babel ``Locale``. Unknown codes are a ``ValueError``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, get_currency_symbol

EN_DASH: Final = "\u2013"  # the range dash; gsm_friendly turns it into "-" in SMS
NBSP: Final = "\u00a0"
TIME: Final = "HH:mm"  # 24-hour in every locale: customers of a Nordic business read it so


@dataclass(frozen=True)
class DatePatterns:
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
        return " ".join(part for part in (self.weekday_day_month, self.at, TIME) if part)

    @property
    def day_month_time(self) -> str:
        return " ".join(part for part in (self.day_month, self.at, TIME) if part)


_PATTERNS: Final[Mapping[str, DatePatterns]] = {
    "nb": DatePatterns("d. MMMM", "EEEE d. MMMM", "EEEE d. MMMM y", "'kl.'", ("i går", "i dag", "i morgen")),
    "da": DatePatterns(
        "d. MMMM",
        "EEEE 'den' d. MMMM",
        "EEEE 'den' d. MMMM y",
        "'kl.'",
        ("i går", "i dag", "i morgen"),
    ),
    "en": DatePatterns("d MMMM", "EEEE d MMMM", "EEEE d MMMM y", "'at'", ("yesterday", "today", "tomorrow")),
}


@lru_cache(maxsize=64)
def _parse(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError) as exc:
        raise ValueError(f"unknown locale {code!r} in customer.locale") from exc


def locale_of(code: str | Locale) -> Locale:
    """The Babel locale of ``code``; ``ValueError`` naming it when Babel has none."""
    return code if isinstance(code, Locale) else _parse(code)


@cache
def patterns(locale: Locale) -> DatePatterns:
    known = _PATTERNS.get("nb" if locale.language == "no" else locale.language)
    if known is not None:
        return known
    # Another language: CLDR's own day-month pattern, and no relative day names.
    skeleton = locale.datetime_skeletons.get("MMMMd")
    day_month = skeleton.pattern if skeleton else locale.date_formats["long"].pattern
    return DatePatterns(day_month, f"EEEE {day_month}", locale.date_formats["full"].pattern, "", None)


def formatted_date(value: date, locale: str | Locale, format: str = "default") -> str:
    """Day and month; ``format="full"`` adds weekday and year; other formats go to Babel."""
    babel = locale_of(locale)
    known = {"default": patterns(babel).day_month, "full": patterns(babel).full}
    return format_date(value, known.get(format, format), locale=babel)


def weekday(value: date, locale: str | Locale) -> str:
    return format_date(value, "EEEE", locale=locale_of(locale))


def weekday_date(value: date, locale: str | Locale) -> str:
    """``tirsdag 24. november``: the day, as a message names it and the page heads it."""
    babel = locale_of(locale)
    return format_date(value, patterns(babel).weekday_day_month, locale=babel)


def clock(value: datetime, locale: str | Locale) -> str:
    return format_time(value, TIME, locale=locale_of(locale))


def date_time(value: datetime, locale: str | Locale) -> str:
    """``tirsdag 24. november kl. 10:00``."""
    babel = locale_of(locale)
    return format_datetime(value, patterns(babel).weekday_day_month_time, locale=babel)


def window(start: datetime, end: datetime, locale: str | Locale) -> str:
    """``10:00–10:30``; when the window ends on a later day, that day is named."""
    babel = locale_of(locale)
    begins = clock(start, babel)
    if start.date() == end.date():
        return f"{begins}{EN_DASH}{clock(end, babel)}"
    ends = format_datetime(end, patterns(babel).day_month_time, locale=babel)
    return f"{begins} {EN_DASH} {ends}"


def relative_day(day: date, today: date, locale: str | Locale) -> str:
    """Yesterday, today or tomorrow as seen from ``today``; else the weekday and date."""
    babel = locale_of(locale)
    names = patterns(babel).days
    offset = (day - today).days
    if names and -1 <= offset <= 1:
        return names[offset + 1]
    return weekday_date(day, babel)


def amount(value: object) -> Decimal:
    """``value`` (a number, or a number as text) as a finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"money expects an amount, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"money expects an amount, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"money expects an amount, got {value!r}")
    return number


def money(value: object, currency: str, locale: str | Locale) -> str:
    """The CLDR currency format, always with the currency's decimals ("3 450,00 kr")."""
    babel = locale_of(locale)
    text = format_currency(amount(value), currency, locale=babel)
    return _currency_spacing(text, get_currency_symbol(currency, locale=babel))


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR's currency spacing rule, which Babel does not apply: a symbol that
    does not end in a symbol or space character gets a no-break space before a
    digit ("NOK3,450.00" becomes "NOK 3,450.00"; "$3,450.00" stays)."""
    if symbol and unicodedata.category(symbol[-1])[0] not in "SZ":
        text = re.sub(rf"{re.escape(symbol)}(?=\d)", symbol + NBSP, text)
    if symbol and unicodedata.category(symbol[0])[0] not in "SZ":
        text = re.sub(rf"(?<=\d){re.escape(symbol)}", NBSP + symbol, text)
    return text


def capitalised(text: str) -> str:
    """``text`` with its first letter upper case, as a heading or a line starts."""
    return text[:1].upper() + text[1:]
