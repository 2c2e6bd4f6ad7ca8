"""Rendering: resolution, the locale filters, SMS in GSM-7, the sandbox, errors with file:line, lint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.exceptions import TemplateRenderError
from engine.rendering import Renderer, check_template_source

OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)  # a Tuesday
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=OSLO)  # the Monday before
FACTS = {"vehicle", "estimate", "rental_car"}


def context(locale: str = "nb", currency: str = "NOK", **changes: Any) -> dict[str, Any]:
    """A template context as engine/context.py builds it; ``booking={...}`` updates the booking."""
    end = START + timedelta(minutes=30)
    booking = dict(
        ref="B-1", playbook="car_service", title="Service", start=START, end=end,
        promised_start=START, promised_end=end, timezone="Europe/Oslo", location=None,
        status="booked", confirmed=False, delay_minutes=0, delay_reason=None,
        facts={"vehicle": "Tesla Model 3"}, findings=[], final_price=None, pickup_at=None,
        choices={}, score=None,
    )  # fmt: skip
    booking.update(changes.pop("booking", {}))
    customer = dict(
        name="Kari Nordmann", first_name="Kari", phone="+4791234567", email="kari@example.com",
        locale=locale, marketing_ok=False,
    )  # fmt: skip
    return {
        "customer": customer,
        "booking": booking,
        "business": {"name": "Fjordbyen Bil", "currency": currency, "sms_two_way": True},
        "links": {"page": "https://x.example/b/1?s=a&t=b", "invite": "", "review": None},
        "step": {"id": "reminder", "channel": "email"},
        "event": None,
        "now": NOW,
        **changes,
    }


def write(root: Path, files: dict[str, str]) -> Renderer:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return Renderer(root)


def sms(root: Path, source: str, ctx: dict[str, Any]) -> str:
    locale = ctx["customer"]["locale"]
    renderer = write(root, {f"p/{locale}/t.sms.j2": source})
    return renderer.render_sms("p", "t", locale, "nb", ctx).body


def email_text(root: Path, source: str, ctx: dict[str, Any]) -> str:
    locale = ctx["customer"]["locale"]
    body = f"{{% block subject %}}s{{% endblock %}}{{% block text %}}{source}{{% endblock %}}"
    renderer = write(root, {f"p/{locale}/t.email.j2": body})
    return renderer.render_email("p", "t", locale, "nb", ctx).text


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("nb", "tirsdag 24. november kl. 10:00"),
        ("da", "tirsdag den 24. november kl. 10:00"),
        ("en", "Tuesday 24 November at 10:00"),
    ],
)
def test_datetime(tmp_path: Path, locale: str, expected: str) -> None:
    assert email_text(tmp_path, "{{ booking.start | datetime }}", context(locale)) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("nb", "24. november|tirsdag 24. november 2026|tirsdag|10:00"),
        ("da", "24. november|tirsdag den 24. november 2026|tirsdag|10:00"),
        ("en", "24 November|Tuesday 24 November 2026|Tuesday|10:00"),
    ],
)
def test_date_weekday_and_time(tmp_path: Path, locale: str, expected: str) -> None:
    source = "{{ s | date }}|{{ s | date('full') }}|{{ s | weekday }}|{{ s | time }}"
    assert email_text(tmp_path, source.replace("s |", "booking.start |"), context(locale)) == expected


def test_datetimes_are_shown_in_the_bookings_zone(tmp_path: Path) -> None:
    ctx = context(booking={"start": datetime(2026, 11, 24, 9, 0, tzinfo=UTC)})
    assert email_text(tmp_path, "{{ booking.start | datetime }}", ctx) == ("tirsdag 24. november kl. 10:00")


def test_a_date_fact_is_formatted_like_a_date(tmp_path: Path) -> None:
    ctx = context(booking={"facts": {"due": "2026-12-01"}})
    assert email_text(tmp_path, "{{ booking.facts.due | date }}", ctx) == "1. desember"


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("sms", "10:00-10:30 / 10:00 - 25. november kl. 09:00"),
        ("email", "10:00\u201310:30 / 10:00 \u2013 25. november kl. 09:00"),
    ],
)
def test_window(tmp_path: Path, channel: str, expected: str) -> None:
    ctx = context(late=START + timedelta(hours=23))
    source = "{{ booking.start | window(booking.end) }} / {{ booking.start | window(late) }}"
    render = sms if channel == "sms" else email_text
    assert render(tmp_path, source, ctx) == expected


@pytest.mark.parametrize(
    ("locale", "currency", "expected"),
    [
        ("nb", "NOK", "3\u00a0450,00\u00a0kr|1\u00a0200,50\u00a0kr"),
        ("da", "DKK", "3.450,00\u00a0kr.|1.200,50\u00a0kr."),
        ("en", "NOK", "NOK\u00a03,450.00|NOK\u00a01,200.50"),
        ("en", "DKK", "DKK\u00a03,450.00|DKK\u00a01,200.50"),
    ],
)
def test_money_in_email(tmp_path: Path, locale: str, currency: str, expected: str) -> None:
    # An estimate fact is a Decimal; a price in event data is text.
    ctx = context(locale, currency, booking={"facts": {"estimate": Decimal("3450.00")}})
    source = "{{ booking.facts.estimate | money }}|{{ '1200.50' | money }}"
    assert email_text(tmp_path, source, ctx) == expected


@pytest.mark.parametrize(
    ("locale", "currency", "expected"),
    [
        ("nb", "NOK", "Pris: 3 450,00 kr"),
        ("da", "DKK", "Pris: 3.450,00 kr."),
        ("en", "NOK", "Pris: NOK 3,450.00"),
    ],
)
def test_money_in_sms_uses_plain_spaces(tmp_path: Path, locale: str, currency: str, expected: str) -> None:
    assert sms(tmp_path, "Pris: {{ 3450 | money }}", context(locale, currency)) == expected


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("nb", "i går|i dag|i morgen|onsdag 25. november"),
        ("da", "i går|i dag|i morgen|onsdag den 25. november"),
        ("en", "yesterday|today|tomorrow|Wednesday 25 November"),
    ],
)
def test_relative(tmp_path: Path, locale: str, words: str) -> None:
    days = ("yesterday", "today", "tomorrow", "later")
    ctx = context(locale)
    ctx.update({day: NOW + timedelta(days=n) for n, day in enumerate(days, -1)})
    source = "|".join(f"{{{{ {day} | relative }}}}" for day in days)
    assert email_text(tmp_path, source, ctx) == words


def test_relative_compares_local_dates(tmp_path: Path) -> None:
    # 23:30 and 00:30 in Oslo are the same UTC date, yet tomorrow for the customer.
    late_evening = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
    just_after_midnight = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    ctx = context(now=late_evening, booking={"start": just_after_midnight})
    assert email_text(tmp_path, "{{ booking.start | relative }}", ctx) == "i morgen"


@pytest.mark.parametrize("locale", ["nb", "da", "en"])
def test_sms_filters_emit_gsm7(tmp_path: Path, locale: str) -> None:
    source = (
        "{{ booking.start | datetime }}, {{ booking.start | window(booking.end) }}, "
        "{{ booking.start | relative }}: {{ 12345.5 | money }}"
    )
    renderer = write(tmp_path, {f"p/{locale}/t.sms.j2": source})
    rendered = renderer.render_sms("p", "t", locale, "nb", context(locale))
    assert "\u00a0" not in rendered.body and "\u202f" not in rendered.body
    assert "\u2013" not in rendered.body
    assert (rendered.encoding, rendered.segments) == ("GSM-7", 1)


# --- rendering ----------------------------------------------------------------------------


def test_sms_body_is_stripped_and_blank_lines_collapse(tmp_path: Path) -> None:
    source = (
        "\n  Hei {{ customer.first_name }}!\n"
        "{% if booking.facts.estimate is defined %}\nPris: {{ booking.facts.estimate }}\n{% endif %}"
        "\n\n\n\nHilsen {{ business.name }}\n\n"
    )
    assert sms(tmp_path, source, context()) == "Hei Kari!\n\nHilsen Fjordbyen Bil"


def test_email_escapes_only_the_html_block(tmp_path: Path) -> None:
    renderer = write(
        tmp_path,
        {
            "p/nb/t.email.j2": (
                "{% block subject %}\n  Timen   din\n{{ booking.start | relative }} <ok>\n{% endblock %}\n"
                "{% block text %}\nGå til {{ links.page }} & {{ business.name }}\n{% endblock %}\n"
                '{% block html %}\n<a href="{{ links.page }}">{{ "<b>" }}</a>\n{% endblock %}\n'
            )
        },
    )
    email = renderer.render_email("p", "t", "nb", "nb", context())
    assert email.subject == "Timen din i morgen <ok>"
    assert email.text == "Gå til https://x.example/b/1?s=a&t=b & Fjordbyen Bil"
    assert email.html == '<a href="https://x.example/b/1?s=a&amp;t=b">&lt;b&gt;</a>'


def test_email_without_html_block(tmp_path: Path) -> None:
    source = "{% block subject %}Hei{% endblock %}{% block text %}Tekst{% endblock %}"
    renderer = write(tmp_path, {"p/nb/t.email.j2": source})
    assert renderer.render_email("p", "t", "nb", "nb", context()).html is None


def test_ics_blocks_or_none(tmp_path: Path) -> None:
    source = (
        "{% block summary %}Service - {{ business.name }}{% endblock %}\n"
        "{% block description %}\nLever bilen {{ booking.start | datetime }}.\n{% endblock %}"
    )
    renderer = write(tmp_path, {"p/nb/t.ics.j2": source})
    ics = renderer.render_ics("p", "t", "nb", "nb", context())
    assert ics is not None
    assert (ics.summary, ics.description) == (
        "Service - Fjordbyen Bil",
        "Lever bilen tirsdag 24. november kl. 10:00.",
    )
    assert renderer.render_ics("p", "other", "nb", "nb", context()) is None


def test_resolution_order(tmp_path: Path) -> None:
    files = {
        "p/da/a.sms.j2": "p/da",
        "p/nb/a.sms.j2": "p/nb",
        "_shared/da/a.sms.j2": "_shared/da",
        "p/nb/b.sms.j2": "p/nb",
        "_shared/da/b.sms.j2": "_shared/da",
        "_shared/da/c.sms.j2": "_shared/da",
        "_shared/nb/c.sms.j2": "_shared/nb",
        "_shared/nb/d.sms.j2": "_shared/nb",
    }
    renderer = write(tmp_path, files)
    found = {t: renderer.resolve("p", t, "sms", "da", "nb") for t in "abcde"}
    assert found == {
        "a": "p/da/a.sms.j2",  # the playbook's template in the customer's locale
        "b": "p/nb/b.sms.j2",  # the playbook's default locale beats _shared
        "c": "_shared/da/c.sms.j2",
        "d": "_shared/nb/d.sms.j2",
        "e": None,
    }
    assert renderer.render_sms("p", "b", "da", "nb", context("da")).body == "p/nb"


def test_missing_template_names_what_was_looked_for(tmp_path: Path) -> None:
    renderer = write(tmp_path, {"p/nb/other.sms.j2": "x"})
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render_email("p", "reminder", "da", "nb", context("da"))
    for part in ("reminder.email.j2", "playbook p", "locale da", "_shared/nb/"):
        assert part in str(caught.value)


def test_paths_outside_the_templates_dir_do_not_resolve(tmp_path: Path) -> None:
    renderer = write(tmp_path / "t", {"p/nb/x.sms.j2": "x", "../secret.sms.j2": "no"})
    assert renderer.resolve("p", "../../secret", "sms", "nb", "nb") is None
    assert renderer.resolve("..", "secret", "sms", "nb", "nb") is None


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    renderer = write(tmp_path, {"p/nb/t.sms.j2": "Hei {{ customer.first_name }}\n\n{{ bookng.start }}"})
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render_sms("p", "t", "nb", "nb", context())
    assert str(caught.value) == f"{tmp_path / 'p/nb/t.sms.j2'}:3: 'bookng' is undefined"


def test_filter_error_names_file_and_line(tmp_path: Path) -> None:
    source = "{% block subject %}x{% endblock %}\n{% block text %}\n\n{{ 'gratis' | money }}\n{% endblock %}"
    renderer = write(tmp_path, {"p/nb/t.email.j2": source})
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render_email("p", "t", "nb", "nb", context())
    assert str(caught.value).startswith(f"{tmp_path / 'p/nb/t.email.j2'}:4: ")
    assert "'gratis'" in str(caught.value)


def test_syntax_error_at_render_names_file_and_line(tmp_path: Path) -> None:
    renderer = write(tmp_path, {"p/nb/t.sms.j2": "Hei\n{% if %}"})
    with pytest.raises(TemplateRenderError, match=r"t\.sms\.j2:2: "):
        renderer.render_sms("p", "t", "nb", "nb", context())


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    renderer = write(tmp_path, {"p/nb/t.sms.j2": "{{ ''.__class__.__mro__ }}"})
    with pytest.raises(TemplateRenderError, match=r"t\.sms\.j2:1: .*unsafe"):
        renderer.render_sms("p", "t", "nb", "nb", context())


def test_templates_cannot_change_the_context(tmp_path: Path) -> None:
    ctx = context()
    renderer = write(tmp_path, {"p/nb/t.sms.j2": "{{ booking.facts.update({'vehicle': 'x'}) }}"})
    with pytest.raises(TemplateRenderError, match="unsafe"):
        renderer.render_sms("p", "t", "nb", "nb", ctx)
    assert ctx["booking"]["facts"] == {"vehicle": "Tesla Model 3"}


def test_absent_facts_are_undefined_but_testable(tmp_path: Path) -> None:
    source = (
        "{% if booking.facts.rental_car is defined %}leiebil{% else %}ingen leiebil{% endif %}"
        " til {{ booking.facts.vehicle }}"
    )
    assert sms(tmp_path, source, context()) == "ingen leiebil til Tesla Model 3"


# --- lint ---------------------------------------------------------------------------------


def lint(source: str, kind: str = "sms") -> list[tuple[int, str]]:
    return check_template_source(Path("t.j2"), source, declared_facts=FACTS, kind=kind)


def test_lint_passes_a_good_template() -> None:
    source = (
        "{% set who = customer.first_name %}Hei {{ who }}!\n"
        "{% for f in booking.findings if f.decision == 'approved' %}{{ loop.index }} {{ f.text }}"
        "{% endfor %}\n"
        "{% if booking.facts.rental_car is defined %}{{ booking.facts['estimate'] | money }}{% endif %}"
        "{{ booking.start | window(booking.end) }} {{ now | relative }} {{ links.page }}"
    )
    assert lint(source) == []


def test_lint_syntax_error() -> None:
    [(line, message)] = lint("Hei\n\n{% if booking.confirmed %}\nJA")
    assert line == 4
    assert message.startswith("template syntax error: Unexpected end of template.")


def test_lint_unknown_filter() -> None:
    assert lint("{{ 3 | price }}") == [(1, "template syntax error: No filter named 'price'.")]


def test_lint_undeclared_fact() -> None:
    [(line, message)] = lint("Hei\n{{ booking.facts.colour }}")
    assert line == 2
    assert message == (
        "booking.facts.colour is not declared in the playbook's facts"
        " (declared: estimate, rental_car, vehicle)"
    )


def test_lint_unknown_variable_and_attribute() -> None:
    problems = lint("{{ bookng.start }}\n{{ booking.strat }}\n{{ customer.first_name }}")
    assert [(line, message.split(" (")[0]) for line, message in problems] == [
        (1, "unknown variable 'bookng'"),
        (2, "unknown attribute booking.strat"),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "{{ booking._private }}",
        "{{ ''.__class__ }}",
        "{{ booking['_private'] }}",
        "{{ booking | attr('start') }}",
        "{{ booking.findings | map(attribute='__class__') | list }}",
        "{{ booking.findings | selectattr('_x') | list }}",
    ],
)
def test_lint_unsafe_constructs(source: str) -> None:
    [(line, message)] = lint("ok\n" + source)
    assert line == 2
    assert message.startswith("unsafe template construct: ")


def test_lint_missing_email_blocks() -> None:
    problems = lint("{% block subject %}Hei{% endblock %}\n{% block body %}x{% endblock %}", "email")
    assert problems == [
        (1, "missing {% block text %} (email templates need subject and text)"),
        (2, "unknown block 'body' (email templates have html, subject, text)"),
    ]


def test_lint_missing_ics_blocks() -> None:
    assert lint("{% block summary %}x{% endblock %}", "ics") == [
        (1, "missing {% block description %} (ics templates need summary and description)")
    ]
