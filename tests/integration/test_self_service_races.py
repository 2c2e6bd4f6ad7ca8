"""A customer's own move and next-visit booking race staff and a second tap cleanly.

A real ``forvent serve`` on SQLite and PostgreSQL; each customer's browser has
its page open (own connection, cookie and CSRF token), then the taps and the
staff's API call are released together. The move locks the customer's booking
first, so it comes wholly before a cancel or is refused by it (409); the next
visit is booked once however many taps arrive together.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from engine.core.links import LinkSigner
from engine.store.db import Database
from engine.store.tables import BookingRow, HistoryRow
from tests.integration.test_races import NOW, OSLO, Planned, booking_ids, deploy, serve, together
from tests.integration.workers import SECRET
from tests.web.conftest import form_csrf

OFFERED = re.compile(r'name="start" value="([^"]+)"')


def visits(count: int) -> list[Planned]:
    """Plumber visits, Tuesday from 08:00, one every two hours."""
    return [
        Planned(f"R-{i:02d}", "plumber_visit", datetime(2026, 11, 24, 8 + 2 * i, 0, tzinfo=OSLO))
        for i in range(count)
    ]


def state(database_url: str) -> dict[str, tuple[str, datetime, list[str]]]:
    """Each booking's status, start and event names in recording order."""
    db = Database(database_url)
    try:
        with db.session() as s:
            found = {}
            for row in s.scalars(select(BookingRow)):
                kinds = s.scalars(
                    select(HistoryRow.kind)
                    .where(HistoryRow.booking_id == row.id, HistoryRow.kind.startswith("event:"))
                    .order_by(HistoryRow.id)
                )
                found[row.ref] = (row.status, row.start_at, [k.removeprefix("event:") for k in kinds])
            return found
    finally:
        db.dispose()


def customer_tap(url: str, token: str, path: str, pick: int) -> Callable[[threading.Barrier], httpx.Response]:
    """A customer with ``/b/<token>{path}`` open who taps the ``pick``-th time offered."""

    def tap(barrier: threading.Barrier) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30.0) as browser:
            page = browser.get(f"/b/{token}{path}").text
            start = OFFERED.findall(page)[pick]
            csrf = form_csrf(page)
            barrier.wait()
            return browser.post(f"/b/{token}{path or '/move'}", data={"csrf": csrf, "start": start})

    return tap


def test_a_customer_moving_while_staff_cancel_moves_first_or_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    bookings = visits(4)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    ids = booking_ids(database_url)
    signer = LinkSigner(SECRET)
    with serve(project) as server:

        def cancel(ref: str) -> Callable[[threading.Barrier], httpx.Response]:
            def staff(barrier: threading.Barrier) -> httpx.Response:
                with server.client() as http:
                    http.get("/healthz").raise_for_status()
                    barrier.wait()
                    return http.post(f"/api/v1/bookings/{ref}/cancel", json={})

            return staff

        racers = []
        for i, b in enumerate(bookings):
            racers += [customer_tap(server.url, signer.token(ids[b.ref], now=NOW), "", 7 * i), cancel(b.ref)]
        answers = together(racers)
        assert server.errors() == []
    seen = state(database_url)
    for i, b in enumerate(bookings):
        moved, cancelled = answers[2 * i], answers[2 * i + 1]
        assert cancelled.status_code == 200, (b.ref, cancelled.text)
        status, start, events = seen[b.ref]
        assert status == "cancelled", b.ref
        if moved.status_code == 303:  # the move came first, whole
            assert events == [
                "booking.created",
                "booking.rescheduled",
                "booking.confirmed",
                "booking.cancelled",
            ]
            assert start != b.start, b.ref
        else:
            assert moved.status_code == 409, (b.ref, moved.status_code, moved.text[:300])
            assert "cannot change the time: the booking is cancelled" in moved.text, b.ref
            assert (events, start) == (["booking.created", "booking.cancelled"], b.start), b.ref


def test_two_taps_on_book_next_at_once_book_one_visit(database_url: str, tmp_path: Path) -> None:
    """The next-service page open in two tabs, a different time tapped in each at the same moment."""
    bookings = visits(4)
    project = deploy(database_url, tmp_path / "deploy", bookings)
    ids = booking_ids(database_url)
    signer = LinkSigner(SECRET)
    with serve(project) as server:
        racers = []
        for i, b in enumerate(bookings):
            token = signer.token(ids[b.ref], now=NOW)
            racers += [customer_tap(server.url, token, "/next", 11 * i + tab) for tab in (0, 5)]
        answers = together(racers)
        assert server.errors() == []
    seen = state(database_url)
    for i, b in enumerate(bookings):
        first, second = answers[2 * i : 2 * i + 2]
        assert (first.status_code, second.status_code) == (303, 303), (
            b.ref,
            first.text[:300],
            second.text[:300],
        )
        assert first.headers["location"] == second.headers["location"], b.ref  # both lead to the one visit
        made = sorted(ref for ref in seen if ref.startswith(f"{b.ref}-next"))
        assert made == [f"{b.ref}-next"], b.ref
        assert seen[f"{b.ref}-next"][2] == ["booking.created"], b.ref
