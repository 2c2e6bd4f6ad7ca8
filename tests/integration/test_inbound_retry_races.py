"""Twilio posts one inbound SMS several times at once (its retries): the reply is stored once.

A real ``forvent serve`` process on SQLite and on PostgreSQL. The sender's
number belongs to no booking, so there is no booking row to lock: the reply
takes the business's row (``FOR UPDATE``) before looking for its
``MessageSid``, and every copy but the first finds it on record. Every copy
is answered 200 with empty TwiML, as Twilio expects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from engine.store.db import Database
from engine.store.tables import HistoryRow, MessageRow
from tests.integration.test_races import OSLO, Planned, deploy, serve, together

TOKEN = "twilio-auth-token-for-races"
PUBLIC = "https://verksted.example.com"
PATH = "/webhooks/twilio/inbound"
COPIES = 6
STRANGER = "+4799887766"
FORM = {
    "MessageSid": "SM5f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "From": STRANGER,
    "To": "+4759441122",
    "Body": "Hei, hvem er dette?",
}


def test_copies_of_one_unmatched_sms_at_once_are_stored_once_and_alert_staff_once(
    database_url: str, tmp_path: Path
) -> None:
    project = deploy(
        database_url,
        tmp_path / "deploy",
        [Planned("R-01", "plumber_visit", datetime(2026, 11, 24, 8, 0, tzinfo=OSLO))],
    )
    project.env.update(TWILIO_AUTH_TOKEN=TOKEN, FORVENT_PUBLIC_URL=PUBLIC)
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + PATH, FORM)

    def twilio(url: str) -> Callable[[threading.Barrier], httpx.Response]:
        def post(barrier: threading.Barrier) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=30.0) as http:
                http.get("/healthz")  # connected before the barrier, so the posts leave together
                barrier.wait()
                return http.post(PATH, data=FORM, headers={"X-Twilio-Signature": signature})

        return post

    with serve(project) as server:
        answers = together([twilio(server.url) for _ in range(COPIES)])
        assert server.errors() == []
    assert [a.status_code for a in answers] == [200] * COPIES
    assert all("<Response" in a.text for a in answers)  # empty TwiML, as for the first copy
    replies, alerts, staff_sms = stored(database_url)
    assert replies == [(None, "Hei, hvem er dette?", STRANGER)]
    assert len(alerts) == 1 and STRANGER in alerts[0]
    assert len(staff_sms) == 1 and "Hei, hvem er dette?" in staff_sms[0]


def stored(database_url: str) -> tuple[list[tuple[int | None, str | None, str]], list[str], list[str]]:
    """The replies on record (booking, text, sender), the staff alerts' lines and the alert SMS bodies."""
    db = Database(database_url)
    try:
        with db.session() as s:
            history = s.scalars(select(HistoryRow).order_by(HistoryRow.id)).all()
            replies = [(h.booking_id, h.detail, h.data["from"]) for h in history if h.kind == "reply"]
            alerts = [h.detail or "" for h in history if h.kind == "staff" and (h.data or {}).get("alert")]
            staff_sms = list(
                s.scalars(
                    select(MessageRow.body).where(
                        MessageRow.step == "staff_alert", MessageRow.channel == "sms"
                    )
                )
            )
            return replies, alerts, [b or "" for b in staff_sms]
    finally:
        db.dispose()
