"""Outbound webhooks: the business's own system hears of a booking's events, signed, through the outbox.

A real HTTP receiver on 127.0.0.1 (http.server in a thread) answers what each
test scripts and records every request; the deployment is driven through the
real CLI with the engine clock set (Monday 23 November 2026, Oslo).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Project

MONDAY_NOON = "2026-11-23T12:00:00+01:00"
A_MINUTE_LATER = "2026-11-23T12:01:00+01:00"
AN_HOUR_LATER = "2026-11-23T13:00:00+01:00"
SECRET = "whsec-fjordbyen-7f3a"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """Answers ``script``'s statuses in turn (then 200) and keeps what it was sent."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def events(self) -> list[str]:
        return [r.json["event"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                found.received.append(Received(dict(self.headers.items()), body))
                status = found.script.pop(0) if found.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/forvent"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def subscribe(project: Project, url: str, events: list[str]) -> None:
    with (project.root / "business.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"webhooks:\n  - url: {url}\n    secret: {SECRET}\n    events: {json.dumps(events)}\n")


def book_and_cancel(project: Project) -> None:
    project.run(
        "book", "--playbook", "plumber_visit", "--ref", "P-300", "--name", "Kari Nordmann",
        "--phone", "912 34 567", "--email", "kari@example.com",
        "--start", "2026-11-26T10:00", "--end", "2026-11-26T10:30", "--fact", "task=Tett avløp",
        now=MONDAY_NOON,
    )  # fmt: skip
    project.run("cancel", "P-300", "--reason", "Kunden har fikset det selv", now=MONDAY_NOON)


def signed(received: Received) -> bool:
    """What the README tells a receiver to do."""
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["X-Forvent-Signature"])


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
