"""The car is the customer's car, not a person: in Norwegian and Danish every car service message
that names the model says "bilen din (Toyota Corolla)" / "din bil (Toyota Corolla)"."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from engine.core.business import load_business
from engine.core.context import Links, build_context
from engine.core.playbooks import load_playbook
from engine.messages.lint import sample_booking, sample_event
from engine.messages.renderer import Renderer

REPO = Path(__file__).resolve().parents[2]
MODEL = "Toyota Corolla"
#: How the model may stand: as the customer's car, or as the value of a "Bil:" line.
AS_A_CAR = {
    "nb": re.compile(rf"(bilen din|Bilen din) \({MODEL}\)|Bil: {MODEL}|class=\"value\"[^>]*>{MODEL}"),
    "da": re.compile(rf"(din bil|Din bil) \({MODEL}\)|Bil: {MODEL}|class=\"value\"[^>]*>{MODEL}"),
}


def texts(locale: str) -> dict[str, str]:
    """Every car service step's SMS, email subject, text and html, rendered with a real model."""
    business = load_business(REPO / "business.yaml")
    playbook = load_playbook(REPO / "playbooks" / "car_service.yaml").playbook
    renderer = Renderer(REPO / "templates")
    booking = sample_booking(playbook, business, locale)
    booking = replace(booking, facts={**booking.facts, "vehicle": MODEL})
    out: dict[str, str] = {}
    for step in playbook.steps:
        context = build_context(
            booking=booking,
            title=playbook.title_in(locale),
            business=business,
            links=Links.placeholder(business),
            step_id=step.id,
            channel="sms",
            event=sample_event(step.when, booking.created_at),
            now=booking.created_at,
        )
        for channel in playbook.step_channels(step):
            if channel == "sms":
                sms = renderer.render_sms("car_service", step.template, locale, "nb", context)
                out[f"{step.id}.sms"] = sms.body
            else:
                email = renderer.render_email("car_service", step.template, locale, "nb", context)
                out[f"{step.id}.email"] = f"{email.subject}\n{email.text}\n{email.html}"
    return out


@pytest.mark.parametrize("locale", ["nb", "da"])
def test_the_model_is_named_as_the_customers_car(locale: str) -> None:
    rendered = texts(locale)
    named = {name: text for name, text in rendered.items() if MODEL in text}
    assert {"reminder_day_before.sms", "reminder_2h.sms", "ready_notice.email"} <= set(named)
    for name, text in named.items():
        bare = AS_A_CAR[locale].sub("", text)
        assert MODEL not in bare, (name, text[max(0, bare.find(MODEL) - 60) :][:160])


def test_the_reminders_read_naturally() -> None:
    nb, da = texts("nb"), texts("da")
    assert "vi venter deg og bilen din (Toyota Corolla) " in nb["reminder_day_before.sms"]
    assert "med bilen din (Toyota Corolla)." in nb["reminder_2h.sms"]
    assert "Bilen din (Toyota Corolla) er klar til henting" in nb["ready_notice.email"]
    assert "til service på din bil (Toyota Corolla)." in da["reminder_day_before.sms"]
    assert "Din bil (Toyota Corolla) er klar til afhentning" in da["ready_notice.email"]
