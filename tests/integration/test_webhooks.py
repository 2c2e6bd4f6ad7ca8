"""Twilio callbacks over HTTP: signed with Twilio's own RequestValidator, through the real app code.

The engine is real (SQLite file, seed playbooks, memory channels); requests are
signed exactly as Twilio signs them, and wrong or missing signatures are tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from engine.settings import TwilioSettings
from engine.store.tables import BookingRow, HistoryRow, OptOutRow
from engine.web.webhooks import webhook_router
from tests.integration.world import REPO, World
from tests.receiver import SECRET, Receiver, signed

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "http://127.0.0.1:8000"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    w.rt.settings = w.rt.settings.model_copy(update={"twilio": TwilioSettings(auth_token=TOKEN)})
    yield w
    w.close()


@pytest.fixture
def client(world: World) -> TestClient:
    app = FastAPI()
    app.include_router(webhook_router(world.rt))
    return TestClient(app)


def post(
    client: TestClient, path: str, form: dict[str, str], *, sign: bool = True, token: str = TOKEN
) -> int:
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers=headers).status_code


@pytest.fixture
def subscribed(world: World, receiver: Receiver, tmp_path: Path) -> Receiver:
    """The business's own system, listed in its business.yaml for the delivery reports."""
    business = tmp_path / "business.yaml"
    business.write_text(
        (REPO / "business.yaml").read_text(encoding="utf-8")
        + f"webhooks:\n  - url: {receiver.url}\n    secret: {SECRET}\n"
        + "    events: [message.delivered, message.failed]\n",
        encoding="utf-8",
    )
    # The runtime reads business.yaml at first use, which is the booking below.
    world.rt.settings = world.rt.settings.model_copy(update={"business_file": business})
    return receiver


def reply(client: TestClient, body: str, sender: str = "+4791234567") -> int:
    return post(client, "/webhooks/twilio/inbound", {"From": sender, "To": "+4759441122", "Body": body})


def test_missing_or_wrong_signature_is_403_and_changes_nothing(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    form = {"From": "+4791234567", "Body": "STOP"}
    assert post(client, "/webhooks/twilio/inbound", form, sign=False) == 403
    assert post(client, "/webhooks/twilio/inbound", form, token="not-the-token") == 403
    with world.rt.database.session() as s:
        assert s.query(OptOutRow).count() == 0


def test_ja_takk_confirms_and_is_acknowledged(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    assert reply(client, "Ja takk!") == 200
    with world.rt.database.session() as s:
        booking = s.query(BookingRow).one()
        assert booking.confirmed and booking.status == "confirmed"
    world.dispatcher.run_until_idle()
    [ack] = [m for m in world.sms.sent if m.step == "reply_confirm"]
    assert ack.to == "+4791234567"
    assert world.row("reminder_day_before").status == "planned"  # checked again at send time


def test_stop_then_a_reminder_goes_by_email_and_start_lifts_it(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    assert reply(client, "stopp") == 200
    world.dispatcher.run_until_idle()
    assert [m.step for m in world.sms.sent][-1] == "reply_stop"  # the last SMS that number gets
    world.at(2026, 11, 26, 8, 0)
    world.dispatcher.run_until_idle()
    two_hour = world.row("reminder_2h")
    assert (two_hour.status, two_hour.reason) == ("skipped", "opted_out")
    assert reply(client, "START") == 200
    with world.rt.database.session() as s:
        assert s.query(OptOutRow).count() == 0


def test_a_score_after_the_review_request_is_stored(world: World, client: TestClient) -> None:
    world.book()
    world.service.complete("C-1")
    world.at(2026, 11, 23, 14, 5)
    world.dispatcher.run_until_idle()
    assert any(m.step == "review_request" for m in world.sms.sent)
    assert reply(client, "7") == 200
    with world.rt.database.session() as s:
        assert s.query(BookingRow).one().score == 7


def test_other_text_is_stored_and_shown_to_staff(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    assert reply(client, "Kan dere se på vindusviskerne også?") == 200
    with world.rt.database.session() as s:
        kinds = [(h.kind, h.detail) for h in s.query(HistoryRow).order_by(HistoryRow.id)]
    assert ("reply", "Kan dere se på vindusviskerne også?") in kinds
    assert any(k == "staff" and d and d.startswith("alert:") for k, d in kinds)


def test_delivery_callbacks_in_any_order(world: World, client: TestClient) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    sms = world.row("confirmation")
    path = f"/webhooks/twilio/status?m={sms.id}"
    assert post(client, path, {"MessageSid": "SM1", "MessageStatus": "delivered"}) == 204
    assert post(client, path, {"MessageSid": "SM1", "MessageStatus": "sent"}) == 204
    assert post(client, path, {"MessageSid": "SM1", "MessageStatus": "delivered"}) == 204
    assert world.row("confirmation").status == "delivered"


def test_undelivered_sms_falls_back_to_email(world: World, client: TestClient) -> None:
    world.book()
    world.at(2026, 11, 25, 17, 0)
    world.dispatcher.run_until_idle()
    sms = world.row("reminder_day_before")
    path = f"/webhooks/twilio/status?m={sms.id}"
    assert (
        post(
            client,
            path,
            {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30003"},
        )
        == 204
    )
    failed = world.row("reminder_day_before")
    assert (failed.status, failed.reason) == ("failed", "sms:30003")
    world.dispatcher.run_until_idle()
    email = world.row("reminder_day_before", channel="email")
    assert email.status == "sent" and email.replaces_id == sms.id


def test_a_delivered_report_reaches_the_business_system_signed(
    world: World, client: TestClient, subscribed: Receiver
) -> None:
    world.book()
    world.dispatcher.run_until_idle()
    sms = world.row("confirmation")
    world.at(2026, 11, 23, 12, 1)
    delivered = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert post(client, f"/webhooks/twilio/status?m={sms.id}", delivered) == 204
    assert subscribed.received == []  # through the outbox: nothing before a dispatch pass
    world.dispatcher.run_until_idle()
    [report] = subscribed.received
    assert signed(report) and report.headers["X-Forvent-Event"] == "message.delivered"
    body = report.json
    assert (body["event"], body["at"], body["booking"]["ref"]) == (
        "message.delivered",
        "2026-11-23T12:01:00+01:00",
        "C-1",
    )
    message = body["message"]
    assert (message["id"], message["step"], message["channel"], message["status"]) == (
        str(sms.id),
        "confirmation",
        "sms",
        "delivered",
    )
    assert message["delivered_at"] == "2026-11-23T12:01:00+01:00"


def test_an_undelivered_report_reaches_it_as_message_failed_with_the_code(
    world: World, client: TestClient, subscribed: Receiver
) -> None:
    world.book()
    world.at(2026, 11, 25, 17, 0)
    world.dispatcher.run_until_idle()
    sms = world.row("reminder_day_before")
    undelivered = {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post(client, f"/webhooks/twilio/status?m={sms.id}", undelivered) == 204
    world.dispatcher.run_until_idle()
    [report] = subscribed.received  # the e-mail that replaced it was sent, not reported delivered
    assert signed(report) and report.headers["X-Forvent-Event"] == "message.failed"
    message = report.json["message"]
    assert (message["id"], message["step"], message["status"], message["reason"]) == (
        str(sms.id),
        "reminder_day_before",
        "failed",
        "sms:30003",
    )


def test_unmatched_sender_is_stored_for_staff(world: World, client: TestClient) -> None:
    assert reply(client, "Hei, hvem er dette?", sender="+4799999999") == 200
    with world.rt.database.session() as s:
        rows = s.query(HistoryRow).filter_by(kind="reply").all()
        assert [(r.booking_id, r.detail) for r in rows] == [(None, "Hei, hvem er dette?")]


def test_ja_answers_the_open_finding_before_the_confirmation(world: World, client: TestClient) -> None:
    from engine.store.tables import FindingRow

    world.book()
    world.at(2026, 11, 26, 10, 30)
    world.service.start("C-1")
    world.service.finding("C-1", text="Slitte bremseklosser", price="1890", must_fix=True)
    world.dispatcher.run_until_idle()
    assert any(m.step == "finding_request" for m in world.sms.sent)
    assert reply(client, "JA, gjør det") == 200
    with world.rt.database.session() as s:
        assert s.query(FindingRow).one().decision == "approved"
        assert not s.query(BookingRow).one().confirmed  # the finding was the open question
    world.service.finding("C-1", text="Vindusviskere", price="350")
    assert reply(client, "Nei takk") == 200
    with world.rt.database.session() as s:
        decisions = [f.decision for f in s.query(FindingRow).order_by(FindingRow.id)]
        alerts = [
            h.detail for h in s.query(HistoryRow).filter_by(kind="staff") if h.detail.startswith("alert:")
        ]
    assert decisions == ["approved", "declined"]
    assert any("NEI" in a for a in alerts)
