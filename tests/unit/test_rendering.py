"""Rendering: resolution, the locale filters, SMS in GSM-7, the sandbox, errors with file:line, lint."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.core import limits as core_limits
from engine.exceptions import TemplateRenderError
from engine.messages import limits
from engine.messages.renderer import Renderer
from engine.messages.template_lint import check_template_source

OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)  # a Tuesday
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=OSLO)  # the Monday before
FACTS = {"vehicle", "estimate", "rental_car"}


def context(locale: str = "nb", currency: str = "NOK", **changes: Any) -> dict[str, Any]:
    """A template context as engine/core/context.py builds it; ``booking={...}`` updates the booking."""
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


# --- limits: hostile templates fail as template errors with file:line, never hang -------

RUNAWAY = "{% for i in range(99999) %}{% for j in range(99999) %}{{ i }}{% endfor %}{% endfor %}"


def refused(tmp_path: Path, source: str, kind: str = "sms") -> str:
    """The message of the ``TemplateRenderError`` rendering ``source`` raises, relative to ``tmp_path``."""
    name = f"p/nb/t.{kind}.j2"
    if kind == "email":
        source = f"{{% block subject %}}s{{% endblock %}}{{% block text %}}{source}{{% endblock %}}"
    renderer = write(tmp_path, {name: source})
    with pytest.raises(TemplateRenderError) as caught:
        if kind == "email":
            renderer.render_email("p", "t", "nb", "nb", context())
        else:
            renderer.render_sms("p", "t", "nb", "nb", context())
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix(f"{tmp_path}/")


@pytest.mark.untraced
@pytest.mark.parametrize("body", ["{{ i }}", ""])
def test_a_runaway_loop_is_stopped_and_names_its_line(tmp_path: Path, body: str) -> None:
    source = "Hei {{ customer.first_name }}\n" + RUNAWAY.replace("{{ i }}", body)
    assert refused(tmp_path, source) == (
        f"p/nb/t.sms.j2:2: loops ran more than {core_limits.MAX_LOOP_ITERATIONS} times in one message"
    )


def test_the_time_budget_is_checked_as_the_template_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_RENDER_SECONDS", 0.0)  # spent before the first check
    message = refused(tmp_path, "Hei\n\n{% for i in range(3) %}{{ i }}{% endfor %}")
    assert message.startswith("p/nb/t.sms.j2:3: rendering took longer than 0 s and was stopped")


def test_the_time_budget_is_per_render(tmp_path: Path) -> None:
    renderer = write(
        tmp_path, {"p/nb/bad.sms.j2": RUNAWAY, "p/nb/t.sms.j2": "{% for i in range(3) %}{{ i }}{% endfor %}"}
    )
    with pytest.raises(TemplateRenderError):
        renderer.render_sms("p", "bad", "nb", "nb", context())
    assert renderer.render_sms("p", "t", "nb", "nb", context()).body == "012"


def test_an_sms_of_more_than_ten_segments_is_a_template_error(tmp_path: Path) -> None:
    limit = limits.MAX_SMS_SEGMENTS * 153  # GSM-7 septets in 10 segments
    renderer = write(tmp_path, {"p/nb/t.sms.j2": "{{ 'x' * n }}"})
    sms = renderer.render_sms("p", "t", "nb", "nb", context(n=limit))
    assert sms.segments == limits.MAX_SMS_SEGMENTS
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render_sms("p", "t", "nb", "nb", context(n=limit + 1))
    assert str(caught.value) == (
        f"{tmp_path / 'p/nb/t.sms.j2'}:1: the SMS is 11 segments (1531 GSM-7 units); at most 10 are sent"
    )


def test_an_email_over_1_mb_is_a_template_error(tmp_path: Path) -> None:
    # 600 000 characters, 1.2 MB in UTF-8 (and the subject's "s"): within the output limit,
    # over the email limit.
    message = refused(tmp_path, "{% for i in range(6000) %}{{ 'ø' * 100 }}{% endfor %}", "email")
    assert (
        message == f"p/nb/t.email.j2:1: the email is 1200001 bytes; at most {limits.MAX_EMAIL_BYTES} are sent"
    )


def test_output_over_the_limit_names_the_line_that_wrote_it(tmp_path: Path) -> None:
    source = "\nHei {{ customer.first_name }}\n{% for i in range(99999) %}{{ 'x' * 100 }}{% endfor %}\n"
    message = refused(tmp_path, source, "email")
    assert message == f"p/nb/t.email.j2:3: the message is longer than {limits.MAX_OUTPUT_CHARS} characters"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("{{ 'x' * 1000000000 }}", "the repetition would be 1000000000 characters"),
        ("{{ [1, 2] * 1000000000 }}", "the repetition would be 2000000000 characters or items"),
        ("{{ 9 ** 999999 }}", "a power of more than"),
        ("{{ 'x'.ljust(1000000000) }}", "str.ljust() would be"),
        ("{{ '{:>999999999}'.format(1) }}", "the formatted text would be"),
        ("{{ '%999999999s' % 'a' }}", "the formatted text would be"),
        ("{{ 'x' | center(1000000000) }}", "the centred text would be"),
        ("{% set s = 'x' * 100000 %}{{ s | replace('x', s) }}", "the replaced text would be"),
        ("{% set s = 'x' * 100000 %}{{ ([s] * 1000) | join }}", "the joined text would be"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "the joined text would be",
        ),
        (
            "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
            "{{ ns.l }}",
            "the output would be",
        ),
        (
            "{% set ns = namespace(l=[]) %}{% for i in range(99999) %}{% set ns.l = ns.l + ['x' * 900000] %}"
            "{% endfor %}",
            "the values built add up to more than",
        ),
        (
            "{% set s = 'x' * 900000 %}"
            "{% macro m() %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endmacro %}{{ m() }}",
            "the block's output would be",
        ),
        ("{{ lipsum(1000000) }}", "lipsum of more than"),
        ("{{ ([[1] * 1000] * 3000) | sum(start=[]) }}", "sum of 3000 lists or texts: too many copies"),
    ],
)
def test_values_too_large_to_build_are_refused_before_they_are_built(
    tmp_path: Path, source: str, says: str
) -> None:
    message = refused(tmp_path, "Hei\n" + source)
    assert message.startswith("p/nb/t.sms.j2:2: ")
    assert says in message


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Hei\n{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}\n{{ again(0) }}", 2),
        ("Hei\n{% include 'p/nb/t.sms.j2' %}", 2),
        ("{% extends 'p/nb/t.sms.j2' %}", 1),
        ("Hei\n{% import 'p/nb/t.sms.j2' as me %}", 2),
    ],
    ids=["recursive-macro", "self-include", "self-extends", "self-import"],
)
def test_endless_recursion_is_a_template_error_with_file_and_line(
    tmp_path: Path, source: str, line: int
) -> None:
    message = refused(tmp_path, source)
    assert message.startswith(f"p/nb/t.sms.j2:{line}: recursion too deep: a macro that calls itself")


def test_a_template_nested_too_deeply_to_compile_is_a_template_error(tmp_path: Path) -> None:
    assert refused(tmp_path, "Hei\n{{ " + "(" * 300 + "1" + ")" * 300 + " }}") == (
        "p/nb/t.sms.j2:2: nested too deeply"
    )
    fors = "{% for i in [1] %}\n" * 25 + "{% endfor %}" * 25
    assert refused(tmp_path / "fors", fors).startswith("p/nb/t.sms.j2:")


@pytest.mark.untraced
def test_limits_hold_in_worker_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop count, not the clock, must stop the runaway here: a loaded machine may take
    # longer than the time budget to run a million iterations.
    monkeypatch.setattr(limits, "MAX_RENDER_SECONDS", 600.0)
    renderer = write(
        tmp_path, {"p/nb/bad.sms.j2": RUNAWAY, "p/nb/ok.sms.j2": "Hei {{ customer.first_name }}"}
    )

    def render(template: str) -> str:
        try:
            return renderer.render_sms("p", template, "nb", "nb", context()).body
        except TemplateRenderError as exc:
            return str(exc).removeprefix(f"{tmp_path}/")

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(render, ["bad", "ok", "bad", "ok"]))
    loops = f"p/nb/bad.sms.j2:1: loops ran more than {core_limits.MAX_LOOP_ITERATIONS} times in one message"
    assert results == [loops, "Hei Kari", loops, "Hei Kari"]


def test_ordinary_loops_output_and_operators_are_unchanged(tmp_path: Path) -> None:
    source = (
        "{% for f in booking.findings %}{{ loop.index }}/{{ loop.length }} {{ f.text ~ '!' }}{% endfor %}"
        "{% for x in [] %}{% else %} none{% endfor %}"
        "{% for x in [[1, [2]]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %} {{ x }}{% endif %}"
        "{% endfor %} {{ '%s-%d' % ('a', 3) }} {{ '{}/{}'.format(1, 2) }} {{ [1, 2] + [3] }}"
        " {{ 'ab' * 2 }} {{ 2 ** 10 }} {{ ['a', 'b'] | join(', ') }} {{ booking.facts | tojson }}"
        " {{ [[1], [2]] | sum(start=[]) }}"
    )
    findings = [{"text": "Bremser", "price": "100", "decision": "approved"}]
    assert sms(tmp_path, source, context(booking={"findings": findings})) == (
        '1/1 Bremser! none 1 2 a-3 1/2 [1, 2, 3] abab 1024 a, b {"vehicle": "Tesla Model 3"} [1, 2]'
    )


def test_html_still_escapes_joined_values(tmp_path: Path) -> None:
    source = (
        "{% block subject %}s{% endblock %}{% block text %}{{ '<b>' ~ customer.first_name }}{% endblock %}"
        "{% block html %}<p>{{ '<b>' ~ customer.first_name }}</p>{% endblock %}"
    )
    email = write(tmp_path, {"p/nb/t.email.j2": source}).render_email("p", "t", "nb", "nb", context())
    assert (email.text, email.html) == ("<b>Kari", "<p>&lt;b&gt;Kari</p>")


def test_lint_reports_a_template_nested_too_deeply_as_a_syntax_error() -> None:
    [(line, message)] = lint("ok\n{{ " + "[" * 300 + "]" * 300 + " }}")
    assert (line, message) == (2, "template syntax error: nested too deeply")
