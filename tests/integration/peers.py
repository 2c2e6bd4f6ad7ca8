"""Real peers for the channel tests: Prism mocks and a scriptable HTTP stub, on 127.0.0.1.

Prism (``prism mock``) serves a provider's published OpenAPI contract and
validates every request against it, so a request it accepts is one the
provider's contract accepts. It cannot produce the provider's error bodies
(Twilio's 21610, a 429 with ``Retry-After``, a 503, a hang): :class:`StubServer`
does, from a ``responder`` the test writes.

Tools are found through ``FORVENT_SHARED_DIR`` (default ``<repo>/../shared``)
and ``VALIDATORS_DIR`` (default ``/tmp/validators``); a missing tool skips
the test, or fails it when ``FORVENT_REQUIRE_PEERS=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("FORVENT_SHARED_DIR", REPO.parent / "shared"))
VALIDATORS_DIR = Path(os.environ.get("VALIDATORS_DIR", "/tmp/validators"))
CONTRACTS_DIR = SHARED_DIR / "contracts"
PRISM = VALIDATORS_DIR / "node_modules" / ".bin" / "prism"
PRISM_START_TIMEOUT = 60.0  # seconds; the 1.8 MB Twilio spec takes 1-25 s to load
HANG_LIMIT = 10.0  # seconds a "hang" reply holds its request at most


def missing_peer(reason: str) -> NoReturn:
    """Skip the test, or fail it when FORVENT_REQUIRE_PEERS=1."""
    if os.environ.get("FORVENT_REQUIRE_PEERS") == "1":
        pytest.fail(f"peer missing (FORVENT_REQUIRE_PEERS=1): {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)  # real-time: waiting for the server to listen
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def prism(contract: str, log: Path) -> Iterator[str]:
    """Prism mocking ``CONTRACTS_DIR/contract`` on a free port; yields its base URL."""
    spec = CONTRACTS_DIR / contract
    if not spec.is_file():
        missing_peer(f"contract {spec} not found (set FORVENT_SHARED_DIR)")
    if not PRISM.exists() or shutil.which("node") is None:
        missing_peer(f"prism or node not found under {VALIDATORS_DIR} (see shared/tools/setup.sh)")
    port = free_port()
    command = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, PRISM_START_TIMEOUT, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 refuses connections from a busy thread pool


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the request (until the server stops) instead of answering


Responder = Callable[[Request], Reply]


class StubServer:
    """A stdlib HTTP server on 127.0.0.1 that answers with ``responder`` and records requests."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        self.released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reply_in_turn(self, *replies: Reply) -> None:
        """Answer with ``replies`` one after the other."""
        queue = list(replies)
        self.responder = lambda request: queue.pop(0)

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request("POST", self.path, dict(self.headers), self.rfile.read(length))
                stub.requests.append(request)
                stub._answer(self, stub.responder(request))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.hang:
            # real-time: holds the request past the client's timeout; freed at shutdown
            self.released.wait(HANG_LIMIT)
            return
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
