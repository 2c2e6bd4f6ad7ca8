"""Structured log lines: ``action=sent booking=P-100 message=42 channel=sms``.

Every dispatcher log line carries ``booking``, ``message``, ``channel`` and an
``action``; they are passed as ``extra={"fields": {...}}`` (``message`` is a
reserved LogRecord name) and printed as key=value pairs.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return line


def configure(level: str = "WARNING") -> None:
    """Forvent's lines to stderr at ``level`` (``FORVENT_LOG_LEVEL``, read by the settings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("forvent")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def fields(**values: Any) -> dict[str, Any]:
    return {"fields": values}
