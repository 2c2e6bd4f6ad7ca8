"""The customer page and the staff page print money, days and times as the messages do."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.messages.renderer import Renderer
from tests.web.conftest import OSLO, Deployment, login

START = datetime(2026, 11, 23, 14, 0, tzinfo=OSLO)
END = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)  # the next morning: the window names its day
PRICE = "3450"
TEMPLATE = (
    "{% block subject %}s{% endblock %}{% block text %}"
    "{{ booking.final_price | money }}|{{ booking.start | relative }}"
    "|{{ booking.start | window(booking.end) }}"
    "{% endblock %}"
)


def message(root: Path, locale: str, currency: str) -> list[str]:
    """Money, day and window as an email's text prints them (no-break spaces kept)."""
    (root / "p" / locale).mkdir(parents=True)
    (root / "p" / locale / "t.email.j2").write_text(TEMPLATE, encoding="utf-8")
    context: dict[str, Any] = {
        "customer": {"locale": locale, "first_name": "Kari"},
        "booking": {"start": START, "end": END, "timezone": "Europe/Oslo", "final_price": Decimal(PRICE)},
        "business": {"name": "Verksted", "currency": currency},
        "step": {"id": "t", "channel": "email"},
        "now": START - timedelta(days=7),  # far enough for the weekday and date, not "today"
    }
    return Renderer(root).render_email("p", "t", locale, locale, context).text.split("|")


@pytest.mark.parametrize("locale", ["nb", "da", "en"])
def test_the_customer_page_prints_money_day_and_window_as_the_message(
    deployment: Deployment, client: TestClient, tmp_path: Path, locale: str
) -> None:
    deployment.book("C-1", locale=locale, end=END.isoformat())
    deployment.service.start("C-1")
    deployment.service.ready("C-1", price=PRICE)
    page = client.get(f"/b/{deployment.link('C-1')}").text
    money, day, window = message(tmp_path, locale, deployment.rt.business.currency)
    expected = {
        "nb": ("3\u00a0450,00\u00a0kr", "mandag 23. november", "14:00 \u2013 24. november kl. 10:00"),
        "da": ("3.450,00\u00a0NOK", "mandag den 23. november", "14:00 \u2013 24. november kl. 10:00"),
        "en": ("NOK\u00a03,450.00", "Monday 23 November", "14:00 \u2013 24 November at 10:00"),
    }
    assert (money, day, window) == expected[locale]
    assert money in page
    assert day[:1].upper() + day[1:] in page  # the page heads with the day: capitalised
    assert window in page


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_the_staff_page_prints_money_as_the_message_in_the_business_locale(
    deployment: Deployment, client: TestClient, tmp_path: Path
) -> None:
    deployment.book("C-1")
    deployment.service.start("C-1")
    deployment.service.ready("C-1", price=PRICE)
    login(client)
    page = client.get("/staff/b/C-1").text
    business = deployment.rt.business
    money, _, _ = message(tmp_path, business.default_locale, business.currency)
    assert money == "3\u00a0450,00\u00a0kr" and money in page
