"""The report's words in the business's language (pure): the calibration sentence, week labels.

Percentages are rounded down: a report that says 90% means at least 90%, so
a window shown as meeting the target does.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Final

from babel.dates import format_date
from babel.numbers import format_percent

from engine.core.calibration import MIN_BOOKINGS, TARGET_RATE, Calibration
from engine.messages import formatting

WEEK_LABEL: Final = {"nb": "d.M", "da": "d.M", "en": "d MMM"}  # 23.11 / 23 Nov

SENTENCES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "widen": "Your {width} {promise} windows were kept {rate} of the time; "
        "{suggested} windows would have been kept {suggested_rate}.",
        "right": "Your {width} {promise} windows were kept {rate} of the time: "
        "the narrowest width that keeps {target}.",
        "too_few": "Too few bookings to calibrate the {promise} windows yet: "
        "{measured} measured, {needed} needed.",
        "arrival": "arrival",
        "ready": "ready-by",
        "minutes": "{n}-minute",
        "hours": "{n}-hour",
    },
    "nb": {
        "widen": "{Promise} på {width} ble holdt i {rate} av tilfellene; "
        "vinduer på {suggested} ville blitt holdt i {suggested_rate}.",
        "right": "{Promise} på {width} ble holdt i {rate} av tilfellene: "
        "den smaleste bredden som holder {target}.",
        "too_few": "For få avtaler til å kalibrere {promise} ennå: {measured} målt, {needed} trengs.",
        "arrival": "ankomstvinduene",
        "ready": "ferdigtidsvinduene",
        "minutes": "{n} minutter",
        "hours": "{n} timer",
    },
    "da": {
        "widen": "{Promise} på {width} blev overholdt i {rate} af tilfældene; "
        "vinduer på {suggested} ville være blevet overholdt i {suggested_rate}.",
        "right": "{Promise} på {width} blev overholdt i {rate} af tilfældene: "
        "den smalleste bredde, der holder {target}.",
        "too_few": "For få aftaler til at kalibrere {promise} endnu: {measured} målt, {needed} kræves.",
        "arrival": "ankomstvinduerne",
        "ready": "færdigtidsvinduerne",
        "minutes": "{n} minutter",
        "hours": "{n} timer",
    },
}


def language(locale: str) -> str:
    """``nb``, ``da`` or ``en`` for a locale code (``no`` and ``nb-NO`` read as ``nb``)."""
    code = formatting.locale_of(locale).language
    code = "nb" if code == "no" else code
    return code if code in SENTENCES else "en"


def percent(rate: float, locale: str) -> str:
    """``91 %`` / ``91%``, rounded down."""
    whole = math.floor(rate * 100 + 1e-6)
    return format_percent(whole / 100, locale=formatting.locale_of(locale))


def width(minutes: int, locale: str) -> str:
    """``30 minutter`` / ``30-minute``; whole hours from two hours up (``4 timer``, ``4-hour``)."""
    words = SENTENCES[language(locale)]
    if minutes >= 120 and minutes % 60 == 0:
        return words["hours"].format(n=minutes // 60)
    return words["minutes"].format(n=minutes)


def calibration_sentence(calibration: Calibration, promise: str, locale: str) -> str:
    """What the business's own history says about its windows, in one sentence."""
    words = SENTENCES[language(locale)]
    promise_words = words[promise]
    fields = {"promise": promise_words, "Promise": formatting.capitalised(promise_words)}
    usual = calibration.usual
    suggested = calibration.suggested_minutes
    if not calibration.enough or usual is None or usual.kept_rate is None or suggested is None:
        return words["too_few"].format(**fields, measured=calibration.measured, needed=MIN_BOOKINGS)
    fields |= {"width": width(usual.minutes, locale), "rate": percent(usual.kept_rate, locale)}
    if suggested == usual.minutes and usual.kept_rate >= TARGET_RATE:
        return words["right"].format(**fields, target=percent(TARGET_RATE, locale))
    return words["widen"].format(
        **fields,
        suggested=width(suggested, locale),
        suggested_rate=percent(calibration.suggested_kept_rate or 0, locale),
    )


def week_label(monday: date, locale: str) -> str:
    """A week by its Monday's date: ``23.11`` (nb, da), ``23 Nov`` (en)."""
    return format_date(monday, WEEK_LABEL[language(locale)], locale=formatting.locale_of(locale))
