"""Two customers tap the last free place at the same moment: one gets it, the other a 409 page.

A real ``forvent serve`` process on SQLite and on PostgreSQL; each customer's
browser (its own connection, cookie and CSRF token) has the page open, then
both post the same time together. Two different bookings race, so locking
each one's own row cannot keep them apart: taking a slot also takes the
business's row (``FOR UPDATE``), and the loser's check, made after, sees the
place gone. The demo business has room for two plumber visits at once; one
visit already holds Thursday 10:00.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from engine.core.links import LinkSigner
from engine.store.db import Database
from engine.store.tables import BookingRow
from tests.integration.test_races import NOW, OSLO, Planned, booking_ids, deploy, serve, together
from tests.integration.workers import SECRET
from tests.web.conftest import form_csrf

THURSDAY_10 = datetime(2026, 11, 26, 10, 0, tzinfo=OSLO)
RACERS = ("R-01", "R-02")


def test_two_customers_racing_for_the_last_place_one_wins_and_one_is_told_it_is_gone(
    database_url: str, tmp_path: Path
) -> None:
    bookings = [
        Planned("R-01", "plumber_visit", datetime(2026, 11, 24, 8, 0, tzinfo=OSLO)),
        Planned("R-02", "plumber_visit", datetime(2026, 11, 25, 8, 0, tzinfo=OSLO)),
        Planned("R-03", "plumber_visit", THURSDAY_10),
    ]
    project = deploy(database_url, tmp_path / "deploy", bookings)
    ids = booking_ids(database_url)
    signer = LinkSigner(SECRET)

    def customer(ref: str, url: str) -> Callable[[threading.Barrier], httpx.Response]:
        def tap(barrier: threading.Barrier) -> httpx.Response:
            token = signer.token(ids[ref], now=NOW)
            with httpx.Client(base_url=url, timeout=30.0) as browser:
                page = browser.get(f"/b/{token}")
                assert "10:00" in page.text  # Thursday 10:00 is offered: one place is left
                csrf = form_csrf(page.text)
                barrier.wait()
                start = THURSDAY_10.isoformat(timespec="minutes")
                return browser.post(f"/b/{token}/move", data={"csrf": csrf, "start": start})

        return tap

    with serve(project) as server:
        answers = dict(zip(RACERS, together([customer(ref, server.url) for ref in RACERS]), strict=True))
        assert server.errors() == []
    assert sorted(a.status_code for a in answers.values()) == [303, 409]
    [lost] = [a for a in answers.values() if a.status_code == 409]
    assert "Den tiden ble nettopp tatt. Velg en av de ledige tidene under." in lost.text
    [winner] = [ref for ref, a in answers.items() if a.status_code == 303]
    starts = booking_starts(database_url)
    assert starts[winner] == THURSDAY_10 and starts["R-03"] == THURSDAY_10
    assert sum(1 for s in starts.values() if s == THURSDAY_10) == 2  # never over capacity


def booking_starts(database_url: str) -> dict[str, datetime]:
    db = Database(database_url)
    try:
        with db.session() as s:
            return {row.ref: row.start_at for row in s.scalars(select(BookingRow))}
    finally:
        db.dispose()
