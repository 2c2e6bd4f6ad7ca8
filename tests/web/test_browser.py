"""The staff board and the customer page in a real browser (Chromium through Playwright).

A uvicorn server runs the app in a thread on a free port; the dispatcher runs
in-process with the file channels, so the SMS the customer "gets" is a file in
the outbox, and the customer opens the link written in it. Screenshots of
each page go to ``tests/artifacts/``. Skips without Chromium unless
``FORVENT_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from engine.channels.factory import build_channels
from engine.dispatch.dispatcher import Dispatcher
from engine.store.tables import BookingRow, FindingRow
from tests.web.conftest import REPO, STAFF_PASSWORD, Deployment, make_deployment

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "tests" / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 400, "height": 860}
LINK = re.compile(r"https?://\S+/b/[A-Za-z0-9_-]+")


def _require_browser() -> Any:
    """``sync_playwright``; skips without it or Chromium (fails with FORVENT_REQUIRE_BROWSER=1)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing")
    return sync_playwright


def _missing(reason: str) -> None:
    if os.environ.get("FORVENT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test needs Chromium and Playwright (FORVENT_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, migrated: Path) -> Iterator[tuple[Deployment, str]]:
    """A deployment whose SMS sender is alphanumeric, so messages carry the page link; and its URL."""
    profile = yaml.safe_load((REPO / "business.yaml").read_text(encoding="utf-8"))
    profile["sms_sender"] = "Fjordbyen"
    profile["default_locale"] = "en"  # the staff pages in English; the customers' own pages in Norwegian
    business = tmp_path / "business.yaml"
    business.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with serve(tmp_path / "deploy", migrated, business, _free_port()) as pair:
        yield pair


@contextmanager
def serve(root: Path, migrated: Path, business: Path, port: int) -> Iterator[tuple[Deployment, str]]:
    """A deployment of ``business`` served by uvicorn in a thread on ``port``; and its URL."""
    url = f"http://127.0.0.1:{port}"
    world = make_deployment(root, migrated, public_url=url, business_file=business)
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # real-time: waiting for the server to listen
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)  # real-time: polling until uvicorn listens
    try:
        yield world, url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        world.rt.close()


def _dispatch(world: Deployment) -> None:
    channels = build_channels(world.rt)
    dispatcher = Dispatcher(world.rt, channels)
    try:
        dispatcher.run_until_idle()
    finally:
        dispatcher.close()


def _sms(world: Deployment, ref: str, step: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [json.loads(p.read_text()) for p in sorted(world.outbox.glob("*.sms.json"))]
    matching = [m for m in found if m["booking"] == ref and m["step"] == step]
    assert matching, f"no {step} SMS for {ref} in {[(m['booking'], m['step']) for m in found]}"
    return matching[-1]


def _seed(world: Deployment) -> None:
    world.book("C-1", name="Kari Nordmann", facts={"vehicle": "Toyota Corolla", "registration": "EK 12345"})
    world.book(
        "C-2",
        start="2026-11-23T08:00",
        end="2026-11-23T11:30",
        name="Oliver Smith",
        locale="en",
        phone="+4792345678",
        email="oliver@example.com",
        facts={"vehicle": "Volkswagen Golf"},
    )
    world.book(
        "P-1",
        playbook="plumber_visit",
        start="2026-11-23T12:00",
        end="2026-11-23T13:00",
        name="Mette Jensen",
        locale="da",
        phone="+4522334455",
        email="mette@example.com",
        facts={"task": "Utæt blandingsbatteri i køkkenet"},
    )
    world.book(
        "P-2",
        playbook="plumber_visit",
        start="2026-11-23T15:30",
        end="2026-11-23T16:30",
        name="Ola Hansen",
        phone="+4793456789",
        email="ola@example.com",
        facts={"task": "Tett avløp på badet"},
    )
    world.service.start("C-2", at="2026-11-23T08:05")
    world.service.confirm("P-2")
    _dispatch(world)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header would otherwise sit mid-picture
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_staff_delays_and_the_customer_approves_a_finding(served: tuple[Deployment, str]) -> None:
    sync_playwright = _require_browser()
    world, url = served
    _seed(world)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            staff = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
            _staff_flow(world, url, staff)
            customer = browser.new_context(
                viewport=PHONE, device_scale_factor=2, accept_downloads=True
            ).new_page()
            _customer_flow(world, customer)
            desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            _desktop_board(url, desk)
        finally:
            browser.close()


def _staff_flow(world: Deployment, url: str, page: Any) -> None:
    page.goto(f"{url}/staff")
    assert page.url.endswith("/staff/login")
    shot(page, "01-staff-login")
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/staff")
    shot(page, "02-staff-board")
    card = page.locator("article[data-ref='C-1']")
    card.get_by_role("link", name="+30 min").click()
    preview = page.get_by_test_id("preview")
    assert "14:30" in preview.inner_text() and "17:30" in preview.inner_text()
    shot(page, "03-staff-delay-preview")
    page.get_by_role("button", name=re.compile("^Send to Kari")).click()
    assert "Delay notice on its way" in page.inner_text(".flash")
    shot(page, "04-staff-board-after-delay")
    _dispatch(world)
    delay_sms = _sms(world, "C-1", "delay_notice")
    assert "14:30" in delay_sms["body"] and "17:30" in delay_sms["body"]
    page.locator("article[data-ref='C-1']").get_by_role("link", name="Kari Nordmann").click()
    page.get_by_role("button", name="Started").click()
    page.fill("#ftext", "Bremseklossene foran er slitt ned til 2 mm")
    page.fill("#fprice", "1890")
    page.check("input[name=must_fix]")
    page.get_by_role("button", name="Send for approval").click()
    assert "Finding sent for approval" in page.inner_text(".flash")
    _dispatch(world)
    page.reload()
    shot(page, "05-staff-booking")


def _customer_flow(world: Deployment, page: Any) -> None:
    link = LINK.search(_sms(world, "C-1", "delay_notice")["body"])
    assert link, "the delay SMS carries the customer's link"
    page.goto(link.group(0))
    assert "Bremseklossene" in page.inner_text("#findings")
    shot(page, "06-customer-page")
    page.get_by_role("button", name="Godkjenn").click()
    assert "Takk for svaret" in page.inner_text(".flash")
    shot(page, "07-customer-approved")
    with world.rt.database.session() as session:
        assert session.query(FindingRow).one().decision == "approved"
        booking = session.query(BookingRow).filter_by(ref="C-1").one()
        uid, sequence = booking.invite_uid, booking.invite_sequence
    with page.expect_download() as download:
        page.get_by_role("link", name="Legg til i kalender").click()
    ics = Path(download.value.path()).read_text()
    assert "METHOD:PUBLISH" in ics and f"UID:{uid}" in ics and f"SEQUENCE:{sequence}" in ics


def _desktop_board(url: str, page: Any) -> None:
    page.goto(f"{url}/staff/login")
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/staff")
    shot(page, "08-staff-board-desktop")
