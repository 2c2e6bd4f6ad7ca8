"""The report as staff and booking systems read it: ``GET /api/v1/report`` and ``/staff/report``,
over eight weeks of plumber visits driven through the engine on a fixed clock; and the page in
Chromium at a phone's and a desk's width, where every chart fills its column and no label is cut."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from engine.channels.factory import build_channels
from engine.dispatch.dispatcher import Dispatcher
from engine.services.booking_input import BookingInput
from engine.services.inbound import Inbound
from engine.services.on_my_way import on_my_way
from engine.web.report_page import Geometry
from tests.web.conftest import (
    MONDAY_MORNING,
    OSLO,
    REPO,
    STAFF_PASSWORD,
    Deployment,
    login,
)
from tests.web.test_browser import ARGS, CHROMIUM, PHONE, _free_port, _require_browser, serve, shot

# Plumber visits on Wednesdays and Thursdays, weeks 41-47: (day, window minutes from 10:00,
# minutes after 10:00 the plumber came). Ten 30-minute windows, then two 60-minute ones.
VISITS = (
    (date(2026, 10, 7), 30, 5),
    (date(2026, 10, 8), 30, 10),
    (date(2026, 10, 14), 30, 20),
    (date(2026, 10, 21), 30, 30),
    (date(2026, 10, 22), 30, 30),
    (date(2026, 10, 28), 30, 35),
    (date(2026, 10, 29), 30, 40),
    (date(2026, 11, 4), 30, 50),
    (date(2026, 11, 5), 30, 55),
    (date(2026, 11, 11), 30, 80),
    (date(2026, 11, 18), 60, 45),
    (date(2026, 11, 19), 60, 70),
)
MONDAYS = {
    "nb": ["5.10", "12.10", "19.10", "26.10", "2.11", "9.11", "16.11", "23.11"],
    "en": ["5 Oct", "12 Oct", "19 Oct", "26 Oct", "2 Nov", "9 Nov", "16 Nov", "23 Nov"],
}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def twelve_visits(world: Deployment) -> None:
    """Each visit as it happens, in time order: booked two days ahead, the day-before reminder
    at 17:00 (the first customer answers it "JA" at 17:30), the plumber on the way at 09:15, the start
    reported at 16:00. The dispatcher runs at each of those times."""
    dispatcher = Dispatcher(world.rt, build_channels(world.rt))
    happenings: list[tuple[datetime, Callable[[], object]]] = []
    for n, (day, window, came) in enumerate(VISITS):
        visit = BookingInput(
            ref=f"P-{n}",
            playbook="plumber_visit",
            name="Kari Nordmann",
            phone=f"+47912345{n:02d}",
            email=f"visit{n}@example.com",
            start=at(day, 10).isoformat(),
            end=(at(day, 10) + timedelta(minutes=window)).isoformat(),
            facts={"task": "Tett avløp"},
        )
        started = (at(day, 10) + timedelta(minutes=came)).isoformat()
        happenings += [
            (at(day - timedelta(days=2), 9), partial(world.service.book, visit)),
            (at(day, 9, 15), partial(on_my_way, world.service, visit.ref)),  # the plumber sets off
            (at(day, 16), partial(world.service.start, visit.ref, at=started)),
        ]
    first_evening = at(VISITS[0][0] - timedelta(days=1), 17, 30)
    happenings.append((first_evening, partial(Inbound(world.rt).reply, "+4791234500", "JA")))
    for day, _, _ in VISITS:
        happenings += [
            (at(day - timedelta(days=1), 17), dispatcher.run_until_idle),
            (at(day, 9, 15), dispatcher.run_until_idle),
        ]
    try:
        for when, happen in sorted(happenings, key=lambda item: item[0]):
            world.clock.set(when)
            happen()
            dispatcher.run_until_idle()  # confirmations and acknowledgements go at once
    finally:
        dispatcher.close()
    world.clock.set(MONDAY_MORNING)


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_the_api_report_carries_steps_and_calibration(deployment: Deployment, api: TestClient) -> None:
    twelve_visits(deployment)
    answer = api.get("/api/v1/report", params={"since": "2026-10-01T00:00", "until": "2026-12-01T00:00"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["overall"]["bookings"] == 12 and data["playbooks"]["plumber_visit"]["kept_rate"] == 0.5
    plumber = data["calibration"]["plumber_visit"]
    assert plumber["windows"] == [
        {"minutes": 30, "bookings": 10, "kept": 5, "kept_rate": 0.5},
        {"minutes": 60, "bookings": 2, "kept": 1, "kept_rate": 0.5},
    ]
    assert (plumber["suggested_window_minutes"], plumber["suggested_kept_rate"]) == (75, 0.9167)
    assert plumber["sentence"] == (  # business.yaml: default_locale nb
        "Ankomstvinduene på 30 minutter ble holdt i 50\u00a0% av tilfellene; "
        "vinduer på 75 minutter ville blitt holdt i 91\u00a0%."
    )
    steps = {row["step"]: row for row in data["steps"]["plumber_visit"]}
    assert list(steps)[:8] == [
        "confirmation",
        "reminder_day_before",
        "on_my_way",
        "delay_notice",
        "completion_summary",
        "review_request",
        "recovery_call_back",
        "review_link",
    ]
    sent = {"delivered": 0, "failed": 0, "failed_by_reason": {}, "skipped": 0, "skipped_by_reason": {}}
    sent |= {"cancelled": 0, "pending": 0}
    # Email and SMS for each visit; the file channels report no delivery.
    assert steps["confirmation"] == {"step": "confirmation", "planned": 24, "sent": 24, **sent, "replies": 0}
    # The first customer's "JA" answers the reminder, the last SMS before it.
    assert steps["reminder_day_before"] == {
        "step": "reminder_day_before",
        "planned": 12,
        "sent": 12,
        **sent,
        "replies": 1,
    }
    assert steps["on_my_way"] == {"step": "on_my_way", "planned": 12, "sent": 12, **sent, "replies": 0}
    assert steps["reply_confirm"] == {"step": "reply_confirm", "planned": 1, "sent": 1, **sent, "replies": 0}
    # Nobody scored, so neither a call-back offer nor the public review link went out.
    for quiet in ("recovery_call_back", "review_link"):
        assert steps[quiet] == {"step": quiet, "planned": 0, "sent": 0, **sent, "replies": 0}
    assert list(steps)[8:] == ["reply_confirm"]


@pytest.mark.parametrize("deployment", ["nb"], indirect=True)  # the business's Norwegian texts
def test_the_page_draws_dated_weeks_in_a_scalable_chart(deployment: Deployment, client: TestClient) -> None:
    twelve_visits(deployment)
    login(client)
    html = client.get("/staff/report").text
    g = Geometry()
    view_box = f'viewBox="0 0 {8 * g.slot} {g.label_y + g.bottom}"'
    assert html.count(view_box) == 6 and html.count("<rect") == 6 * 8
    weeks = re.findall(r'<text class="bar-week"[^>]*>([^<]*)</text>', html)
    assert weeks == MONDAYS["nb"] * 6
    assert "uke 41: 100%" in html  # 7 and 8 October: both plumbers within 30 minutes
    assert "uke 47: 50%" in html and "uke 48: -" in html  # one of two late; none this week
    assert "Ankomstvinduene på 30 minutter ble holdt i 50\u00a0% av tilfellene" in html
    assert '<tr class="suggested"><td>75 min</td><td colspan="2">ville holdt</td><td>91%</td></tr>' in html
    assert 'data-playbook="plumber_visit"' in html and '<td class="step">on_my_way</td>' in html


@pytest.fixture
def served_in(
    request: pytest.FixtureRequest, tmp_path: Path, migrated: Path
) -> Iterator[tuple[Deployment, str]]:
    """The app on a free port, for a business whose default locale is the test's parameter."""
    profile = yaml.safe_load((REPO / "business.yaml").read_text(encoding="utf-8"))
    profile["default_locale"] = request.param
    business = tmp_path / "business.yaml"
    business.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with serve(tmp_path / "deploy", migrated, business, _free_port()) as pair:
        yield pair


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "viewport", "served_in"),
    [
        ("phone", PHONE, "nb"),
        ("desk", {"width": 1280, "height": 900}, "nb"),
        ("narrow-en", {"width": 320, "height": 700}, "en"),  # the longest labels on the smallest screen
    ],
    indirect=["served_in"],
)
def test_the_charts_fill_the_page_and_cut_no_label(
    served_in: tuple[Deployment, str], name: str, viewport: dict[str, int]
) -> None:
    sync_playwright = _require_browser()
    world, url = served_in
    twelve_visits(world)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport=viewport, device_scale_factor=2).new_page()
            page.goto(f"{url}/staff/login")
            page.fill("#password", STAFF_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/staff")
            page.goto(f"{url}/staff/report")
            charts = _chart_layout(page)
            shot(page, f"20-staff-report-{name}")  # also: the page is no wider than the screen
        finally:
            browser.close()
    assert len(charts) == 6
    for chart in charts:
        # Each chart is as wide as its panel's content box: the drawing scales, never a fixed size.
        assert abs(chart["svg_width"] - chart["panel_width"]) <= 1, chart
        for text in chart["texts"]:
            assert text["x"] >= 0 and text["y"] >= 0, (chart["title"], text)
            assert text["right"] <= chart["view_width"] and text["bottom"] <= chart["view_height"], text
        week_labels = [t for t in chart["texts"] if t["week"]]
        assert [t["text"] for t in week_labels] == MONDAYS[world.rt.business.default_locale]
        for left, right in pairwise(week_labels):
            assert left["right"] < right["x"], f"{left['text']} overlaps {right['text']}"
    if name == "desk":  # two or more charts a row: the grid uses the page's width
        assert len({chart["top"] for chart in charts}) < len(charts)


def _chart_layout(page: Any) -> list[dict[str, Any]]:
    """Each chart's rendered width, its panel's content width, and every label's box in
    viewBox units (getBBox), to compare with the viewBox the SVG shows."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('.chart')].map(panel => {
                const svg = panel.querySelector('svg');
                const style = getComputedStyle(panel);
                const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
                const inner = panel.clientWidth - pad;
                return {
                    title: panel.querySelector('h2').textContent,
                    top: Math.round(panel.getBoundingClientRect().top + window.scrollY),
                    panel_width: inner,
                    svg_width: svg.getBoundingClientRect().width,
                    view_width: svg.viewBox.baseVal.width,
                    view_height: svg.viewBox.baseVal.height,
                    texts: [...svg.querySelectorAll('text')].map(t => {
                        const b = t.getBBox();
                        return {text: t.textContent, week: t.classList.contains('bar-week'),
                                x: b.x, y: b.y, right: b.x + b.width, bottom: b.y + b.height};
                    }),
                };
            })"""
        )
    )
