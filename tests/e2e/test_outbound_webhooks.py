"""Outbound webhooks: the business's own system hears of a booking's events, signed, through the outbox.

A real HTTP receiver on 127.0.0.1 (``tests.receiver``) answers what each test
scripts and records every request; the deployment is driven through the real
CLI with the engine clock set (Monday 23 November 2026, Oslo).
"""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Project
from tests.receiver import SECRET, Receiver, signed

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
A_MINUTE_LATER = "2026-11-23T12:01:00+01:00"
AN_HOUR_LATER = "2026-11-23T13:00:00+01:00"


def subscribe(project: Project, url: str, events: list[str]) -> None:
    with (project.root / "business.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"webhooks:\n  - url: {url}\n    secret: {SECRET}\n    events: {json.dumps(events)}\n")


def book(project: Project) -> None:
    project.run(
        "book", "--playbook", "plumber_visit", "--ref", "P-300", "--name", "Kari Nordmann",
        "--phone", "912 34 567", "--email", "kari@example.com",
        "--start", "2026-11-26T10:00", "--end", "2026-11-26T10:30", "--fact", "task=Tett avløp",
        now=MONDAY_NOON,
    )  # fmt: skip


def book_and_cancel(project: Project) -> None:
    book(project)
    project.run("cancel", "P-300", "--reason", "Kunden har fikset det selv", now=MONDAY_NOON)


def webhook_lines(project: Project, now: str) -> list[str]:
    return [h["detail"] for h in project.json("history", "P-300", now=now) if h["kind"] == "webhook"]


def test_a_cancel_reaches_the_business_system_signed(project: Project, receiver: Receiver) -> None:
    subscribe(project, receiver.url, [])
    book_and_cancel(project)
    assert receiver.received == []  # through the outbox: nothing before a dispatch pass
    project.run("dispatch", "--once", now=MONDAY_NOON)
    assert all(signed(r) for r in receiver.received)
    assert receiver.events()[:2] == ["booking.created", "booking.cancelled"]
    cancelled = receiver.received[1]
    body = cancelled.json
    assert body["event"] == "booking.cancelled" and body["at"] == MONDAY_NOON
    assert body["data"] == {"reason": "Kunden har fikset det selv"}
    assert body["booking"] == {
        "ref": "P-300",
        "playbook": "plumber_visit",
        "status": "cancelled",
        "confirmed": False,
        "start": "2026-11-26T10:00:00+01:00",
        "end": "2026-11-26T10:30:00+01:00",
        "promised_start": "2026-11-26T10:00:00+01:00",
        "promised_end": "2026-11-26T10:30:00+01:00",
        "timezone": "Europe/Oslo",
        "delay_minutes": 0,
    }
    assert cancelled.headers["X-Forvent-Delivery"] == body["id"]
    assert cancelled.headers["X-Forvent-Event"] == "booking.cancelled"
    assert cancelled.headers["Content-Type"] == "application/json"
    # The cancellation notice went too, and the receiver heard that as message.sent.
    sent = [r.json["message"] for r in receiver.received if r.json["event"] == "message.sent"]
    assert {(m["step"], m["channel"], m["status"]) for m in sent} >= {("cancelled", "sms", "sent")}
    assert f"booking.cancelled to {receiver.url}: sent (200)" in webhook_lines(project, MONDAY_NOON)


def test_only_the_listed_events_are_sent(project: Project, receiver: Receiver) -> None:
    subscribe(project, receiver.url, ["booking.cancelled"])
    book_and_cancel(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    assert receiver.events() == ["booking.cancelled"]


def test_a_receiver_that_is_down_gets_it_again_later(project: Project, receiver: Receiver) -> None:
    subscribe(project, receiver.url, ["booking.cancelled"])
    receiver.script = [503]
    book_and_cancel(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    assert webhook_lines(project, MONDAY_NOON) == [
        f"booking.cancelled to {receiver.url}: retrying (webhook:503)"
    ]
    project.run("dispatch", "--once", now=A_MINUTE_LATER)  # past the first backoff (at most 45 s)
    first, again = receiver.received
    assert again.body == first.body and signed(again)  # the same delivery, byte for byte
    assert webhook_lines(project, A_MINUTE_LATER)[-1] == f"booking.cancelled to {receiver.url}: sent (200)"


def test_a_receiver_that_refuses_is_not_asked_again(project: Project, receiver: Receiver) -> None:
    subscribe(project, receiver.url, ["booking.cancelled"])
    receiver.script = [410]
    book_and_cancel(project)
    project.run("dispatch", "--once", now=MONDAY_NOON)
    project.run("dispatch", "--once", now=AN_HOUR_LATER)
    assert len(receiver.received) == 1
    assert webhook_lines(project, AN_HOUR_LATER) == [
        f"booking.cancelled to {receiver.url}: failed (webhook:410)"
    ]


def test_an_unknown_event_name_in_business_yaml_is_one_clear_line(project: Project) -> None:
    subscribe(project, "https://example.com/hook", ["booking.canceled"])
    result = project.run("dispatch", "--once", check=False, now=MONDAY_NOON)
    assert result.returncode == 1
    assert "webhooks.0.events" in result.stderr and "unknown event 'booking.canceled'" in result.stderr
    assert "Traceback" not in result.stderr


def waiting_deliveries(project: Project) -> list[tuple[str, str, str | None, str | None]]:
    with sqlite3.connect(project.root / "forvent.db") as db:
        rows = db.execute("SELECT event, status, reason, body FROM webhook_deliveries ORDER BY id")
        return list(rows)


def test_erasure_cancels_waiting_deliveries_and_forgets_their_bodies(
    project: Project, receiver: Receiver
) -> None:
    subscribe(project, receiver.url, [])
    book(project)
    project.run(
        "reply", "--from", "912 34 567", "--text", "Kari her, ring meg på 912 34 567", now=MONDAY_NOON
    )
    replied = [body for event, _, _, body in waiting_deliveries(project) if event == "customer.replied"]
    assert replied and "Kari her" in (replied[0] or "")  # the reply is quoted, waiting to go

    result = project.json("erase-customer", "--phone", "+47 912 34 567", now=MONDAY_NOON)
    assert (result["customers"], result["webhooks_cancelled"]) == (1, len(waiting_deliveries(project)))
    assert {(status, reason, body) for _, status, reason, body in waiting_deliveries(project)} == {
        ("cancelled", "erased", None)
    }

    project.run("dispatch", "--once", now=AN_HOUR_LATER)
    assert receiver.received == []
