"""The pages' words in Norwegian, Danish and English (the customer's; staff's in staff_words), dates, prices.

Dates, times and money print through engine/messages/formatting.py, as the
messages do: a price or a day on the page reads as in the SMS or email that
linked to it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from markupsafe import Markup, escape

from engine.core.playbooks import OptionSpec, Playbook
from engine.messages import formatting
from engine.web.staff_words import STAFF

LOCALES = ("nb", "da", "en")

STRINGS: dict[str, dict[str, str]] = {
    "nb": {
        "title": "Din avtale",
        "when": "Når",
        "where": "Hvor",
        "ref": "Referanse",
        "promised": "Avtalt",
        "expected": "Ny forventet tid",
        "late": "Vi er dessverre {minutes} min forsinket.",
        "reason": "Årsak",
        "status_booked": "Bestilt – bekreft gjerne at tiden passer",
        "status_confirmed": "Bekreftet – vi sees!",
        "status_started": "Vi er i gang",
        "status_ready": "Ferdig – klar til henting",
        "status_completed": "Fullført – takk for oppdraget!",
        "status_cancelled": "Avlyst",
        "status_no_show": "Ikke møtt",
        "confirm": "Bekreft tiden",
        "confirmed_note": "Du har bekreftet tiden.",
        "calendar": "Legg til i kalender",
        "other_time": "Be om en annen tid",
        "other_time_hint": "Skriv gjerne når det passer bedre. Vi tar kontakt.",
        "send": "Send",
        "cancel": "Avlys avtalen",
        "cancel_sure": "Vil du avlyse? Dette kan ikke angres her.",
        "cancel_yes": "Ja, avlys",
        "findings": "Trenger ditt svar",
        "extra_work": "Ekstra arbeid",
        "must_fix": "Må utbedres",
        "can_wait": "Kan vente",
        "price": "Pris",
        "final_price": "Totalpris",
        "pickup": "Kan hentes fra",
        "approve": "Godkjenn",
        "decline": "Nei takk",
        "approved": "Godkjent",
        "declined": "Avslått",
        "choices": "Dine valg",
        "option_cleanup": "Skal vi rydde og ta med emballasje etterpå?",
        "choice_yes": "Ja",
        "choice_no": "Nei",
        "done_confirm": "Takk! Tiden er bekreftet.",
        "done_cancel": "Avtalen er avlyst.",
        "done_change": "Takk! Vi tar kontakt om en ny tid.",
        "done_finding": "Takk for svaret!",
        "done_choice": "Valget er lagret.",
        "done_unsubscribe": "Du får ikke flere tilbud fra oss.",
        "contact": "Spørsmål? Ring {phone}",
        "unsubscribe": "Ingen flere tilbud",
        "unsubscribe_ask": (
            "Vil du slutte å få tilbud fra {business}? Beskjeder om avtalene dine får du fortsatt."
        ),
        "unsubscribe_yes": "Ja, ingen flere tilbud",
        "bad_link": "Lenken er ikke gyldig lenger.",
        "bad_link_hint": "Den kan være utløpt eller kopiert feil. Ta kontakt med oss, så hjelper vi deg.",
        "error": "Det gikk ikke",
        "back": "Tilbake",
    },
    "da": {
        "title": "Din aftale",
        "when": "Hvornår",
        "where": "Hvor",
        "ref": "Reference",
        "promised": "Aftalt",
        "expected": "Ny forventet tid",
        "late": "Vi er desværre {minutes} min forsinket.",
        "reason": "Årsag",
        "status_booked": "Booket – bekræft gerne, at tiden passer",
        "status_confirmed": "Bekræftet – vi ses!",
        "status_started": "Vi er i gang",
        "status_ready": "Færdig – klar til afhentning",
        "status_completed": "Afsluttet – tak for opgaven!",
        "status_cancelled": "Aflyst",
        "status_no_show": "Udeblevet",
        "confirm": "Bekræft tiden",
        "confirmed_note": "Du har bekræftet tiden.",
        "calendar": "Tilføj til kalender",
        "other_time": "Bed om en anden tid",
        "other_time_hint": "Skriv gerne, hvornår det passer bedre. Vi kontakter dig.",
        "send": "Send",
        "cancel": "Aflys aftalen",
        "cancel_sure": "Vil du aflyse? Det kan ikke fortrydes her.",
        "cancel_yes": "Ja, aflys",
        "findings": "Kræver dit svar",
        "extra_work": "Ekstra arbejde",
        "must_fix": "Skal udbedres",
        "can_wait": "Kan vente",
        "price": "Pris",
        "final_price": "Samlet pris",
        "pickup": "Kan afhentes fra",
        "approve": "Godkend",
        "decline": "Nej tak",
        "approved": "Godkendt",
        "declined": "Afslået",
        "choices": "Dine valg",
        "option_cleanup": "Skal vi rydde op og tage emballagen med bagefter?",
        "choice_yes": "Ja",
        "choice_no": "Nej",
        "done_confirm": "Tak! Tiden er bekræftet.",
        "done_cancel": "Aftalen er aflyst.",
        "done_change": "Tak! Vi kontakter dig om en ny tid.",
        "done_finding": "Tak for svaret!",
        "done_choice": "Valget er gemt.",
        "done_unsubscribe": "Du får ikke flere tilbud fra os.",
        "contact": "Spørgsmål? Ring {phone}",
        "unsubscribe": "Ingen flere tilbud",
        "unsubscribe_ask": "Vil du stoppe tilbud fra {business}? Beskeder om dine aftaler får du stadig.",
        "unsubscribe_yes": "Ja, ingen flere tilbud",
        "bad_link": "Linket er ikke gyldigt længere.",
        "bad_link_hint": "Det kan være udløbet eller kopieret forkert. Kontakt os, så hjælper vi dig.",
        "error": "Det lykkedes ikke",
        "back": "Tilbage",
    },
    "en": {
        "title": "Your appointment",
        "when": "When",
        "where": "Where",
        "ref": "Reference",
        "promised": "Booked",
        "expected": "New expected time",
        "late": "Sorry, we are running {minutes} min late.",
        "reason": "Reason",
        "status_booked": "Booked – please confirm the time suits you",
        "status_confirmed": "Confirmed – see you then!",
        "status_started": "Work in progress",
        "status_ready": "Ready for pick-up",
        "status_completed": "Completed – thank you!",
        "status_cancelled": "Cancelled",
        "status_no_show": "Missed",
        "confirm": "Confirm the time",
        "confirmed_note": "You have confirmed the time.",
        "calendar": "Add to calendar",
        "other_time": "Ask for another time",
        "other_time_hint": "Tell us when suits you better. We will get in touch.",
        "send": "Send",
        "cancel": "Cancel the appointment",
        "cancel_sure": "Cancel the appointment? This cannot be undone here.",
        "cancel_yes": "Yes, cancel",
        "findings": "Needs your answer",
        "extra_work": "Extra work",
        "must_fix": "Must be fixed",
        "can_wait": "Can wait",
        "price": "Price",
        "final_price": "Total price",
        "pickup": "Ready for pick-up from",
        "approve": "Approve",
        "decline": "No thanks",
        "approved": "Approved",
        "declined": "Declined",
        "choices": "Your choices",
        "option_cleanup": "Shall we clean up and take the packaging away afterwards?",
        "choice_yes": "Yes",
        "choice_no": "No",
        "done_confirm": "Thank you! The time is confirmed.",
        "done_cancel": "The appointment is cancelled.",
        "done_change": "Thank you! We will get in touch about a new time.",
        "done_finding": "Thank you for your answer!",
        "done_choice": "Your choice is saved.",
        "done_unsubscribe": "You will get no more offers from us.",
        "contact": "Questions? Call {phone}",
        "unsubscribe": "No more offers",
        "unsubscribe_ask": "Stop offers from {business}? You will still hear about your appointments.",
        "unsubscribe_yes": "Yes, no more offers",
        "bad_link": "This link is no longer valid.",
        "bad_link_hint": "It may have expired or been copied wrongly. Get in touch and we will help.",
        "error": "That did not work",
        "back": "Back",
    },
}


def words(locale: str) -> dict[str, str]:
    return STRINGS.get(locale, STRINGS["en"])


class StaffWords:
    """The staff pages' words in one locale: ``t.log_in`` in a template, ``t("send_to", name=...)``
    to fill fields, ``t.plural("bookings", n)`` for a count (CLDR's plural rule, through babel)."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in STAFF else "en"
        self._words = {**STAFF["en"], **STAFF[self.locale]}
        self._plural = Locale.parse(self.locale).plural_form

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self(key)

    def __call__(self, key: str, default: str | None = None, **fields: object) -> str:
        """The catalog's text is the project's own markup; a default or a field is escaped."""
        if key not in self._words:
            return escape(key if default is None else default)
        text = Markup(self._words[key])
        return text.format(**fields) if fields else text

    def plural(self, key: str, n: int, **fields: object) -> str:
        return self(f"{key}_{self._plural(n)}", None, n=n, **fields)


def staff_words(locale: str) -> StaffWords:
    return StaffWords(locale)


def day(value: date, locale: str) -> str:
    """``Tirsdag 24. november``: the message's weekday and date, capitalised as a heading."""
    return formatting.capitalised(formatting.weekday_date(value, locale))


def clock(value: datetime, locale: str) -> str:
    return formatting.clock(value, locale)


def window(start: datetime, end: datetime, locale: str) -> str:
    """``10:00–14:00``; with the end's day when it ends on another day."""
    return formatting.window(start, end, locale)


def money(amount: str | Decimal | None, currency: str, locale: str) -> str:
    return "" if amount is None else formatting.money(amount, currency, locale)


def option_label(playbook: Playbook, option: OptionSpec, locale: str) -> str:
    """The playbook's own text for ``locale``; a plain label (or none) may name a key of the words,
    as ``label: option_cleanup`` did before labels could be written per locale."""
    label = option.label
    if label is not None and not label.is_plain:
        return playbook.text_in(label, locale)
    key = label.plain if label is not None and label.plain else f"option_{option.id}"
    plain = label.plain if label is not None and label.plain else option.id.replace("_", " ").capitalize()
    return words(locale).get(key, plain)


def choice_label(choice: str, locale: str) -> str:
    return words(locale).get(f"choice_{choice}", choice)
