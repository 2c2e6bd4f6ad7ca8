"""A channel that keeps what it sends in memory, for tests and simulations."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.channels.base import BaseChannel, OutgoingMessage, SendResult

Fault = Callable[[OutgoingMessage], None]


class MemoryChannel(BaseChannel):
    """Records every message; ``fault`` may raise a channel error to simulate a provider."""

    def __init__(self, name: str = "sms", *, fault: Fault | None = None) -> None:
        self.name = name
        self.fault = fault
        self.sent: list[OutgoingMessage] = []
        self.calls = 0
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.calls += 1
        if self.fault is not None:
            self.fault(message)
        with self._lock:
            self.sent.append(message)
            return SendResult(provider_id=f"mem-{len(self.sent)}")
