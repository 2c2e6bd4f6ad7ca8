"""``/metrics`` in the Prometheus text exposition format (0.0.4), written by hand.

Three families, enough to alert on the silence this product exists to prevent:

* ``forvent_messages{status,channel}``: outbox rows now, per status and channel;
* ``forvent_dispatch_lag_seconds``: engine clock minus the oldest due,
  unclaimed message (0 when none waits): a stuck dispatcher shows here first;
* ``forvent_webhook_requests_total{route,outcome}``: Twilio callbacks seen by
  this process, by outcome (``delivered``, ``failed``, ``forbidden``, ...).

No client library: the format is four lines per family, and a dependency
would bring a process-global registry the tests would have to reset.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.store.tables import MessageRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WAITING = ("planned", "retrying")


class WebhookCounter:
    """A thread-safe counter the webhook router reports each outcome to."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, route: str, outcome: str) -> None:
        with self._lock:
            self._counts[(route, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def dispatch_lag(session: Session, business_id: str, now: datetime) -> float:
    oldest = session.scalar(
        select(func.min(MessageRow.ready_at)).where(
            MessageRow.business_id == business_id,
            MessageRow.status.in_(WAITING),
            MessageRow.ready_at <= now,
            or_(MessageRow.claimed_until.is_(None), MessageRow.claimed_until < now),
        )
    )
    if oldest is None:
        return 0.0
    # SQLite hands aggregates back as naive text-parsed values: they are UTC like every stored time.
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max((now - oldest).total_seconds(), 0.0)


def exposition(session: Session, business_id: str, now: datetime, webhooks: WebhookCounter) -> str:
    lines = _family("forvent_messages", "gauge", "Outbox messages by status and channel.")
    rows = session.execute(
        select(MessageRow.status, MessageRow.channel, func.count())
        .where(MessageRow.business_id == business_id)
        .group_by(MessageRow.status, MessageRow.channel)
        .order_by(MessageRow.status, MessageRow.channel)
    )
    for status, channel, count in rows:
        lines.append(f'forvent_messages{{status="{_label(status)}",channel="{_label(channel)}"}} {count}')
    lines += _family(
        "forvent_dispatch_lag_seconds", "gauge", "Engine clock minus the oldest due, unclaimed message."
    )
    lines.append(f"forvent_dispatch_lag_seconds {dispatch_lag(session, business_id, now):.3f}")
    lines += _family("forvent_webhook_requests_total", "counter", "Twilio callbacks by route and outcome.")
    for (route, outcome), count in sorted(webhooks.snapshot().items()):
        lines.append(
            f'forvent_webhook_requests_total{{route="{_label(route)}",outcome="{_label(outcome)}"}} {count}'
        )
    return "\n".join(lines) + "\n"
