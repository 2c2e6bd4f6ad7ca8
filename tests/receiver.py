"""A business's own system for outbound webhooks: a real HTTP receiver on 127.0.0.1.

``http.server`` in a thread answers what a test scripts and records every
request; ``signed`` checks a request the way the README tells a receiver to.
The ``receiver`` fixture is registered in ``tests/conftest.py``.
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


def signed(received: Received) -> bool:
    """What the README tells a receiver to do."""
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["X-Forvent-Signature"])
