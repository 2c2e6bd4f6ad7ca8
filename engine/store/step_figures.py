"""Per-step figures of the report: what each playbook step planned, sent, lost and got back.

Every outbox row counts once under its step as ``planned`` (the plan made
it), then by where it ended: ``sent`` (handed to the provider, as the
report's ``messages_sent``: a later delivery failure still counts as sent),
``delivered``, ``failed`` and ``skipped`` by reason, ``cancelled``, and
``pending`` (planned, sending or retrying: not decided yet).

A reply answers the last SMS the customer got before it: customers reply to
the text in front of them. Acknowledgements of replies (``reply_<class>``)
and staff alerts are not what customers answer, so they never take a reply.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the rows' columns; at run time ORM rows or sqlite3's rows alike
    from engine.store.tables import HistoryRow, MessageRow

PENDING = {"planned", "sending", "retrying"}
STAFF_ALERT_STEP = "staff_alert"
ACKNOWLEDGEMENT_PREFIX = "reply_"


@dataclass
class StepTally:
    planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    pending: int = 0
    replies: int = 0

    def count(self, message: MessageRow) -> None:
        self.planned += 1
        self.sent += message.sent_at is not None
        self.delivered += message.status == "delivered"
        self.cancelled += message.status == "cancelled"
        self.pending += message.status in PENDING
        if message.status == "failed":
            self.failed[message.reason or "unknown"] += 1
        elif message.status == "skipped":
            self.skipped[message.reason or "unknown"] += 1

    def add(self, other: StepTally) -> None:
        for name in ("planned", "sent", "delivered", "cancelled", "pending", "replies"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed.update(other.failed)
        self.skipped.update(other.skipped)

    def as_json(self, step: str) -> dict[str, Any]:
        return {
            "step": step,
            "planned": self.planned,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed.total(),
            "failed_by_reason": dict(sorted(self.failed.items())),
            "skipped": self.skipped.total(),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "cancelled": self.cancelled,
            "pending": self.pending,
            "replies": self.replies,
        }


def _answerable(message: MessageRow) -> bool:
    return (
        message.channel == "sms"
        and message.sent_at is not None
        and message.step != STAFF_ALERT_STEP
        and not message.step.startswith(ACKNOWLEDGEMENT_PREFIX)
    )


def answered_steps(
    messages: Iterable[MessageRow], replies: Iterable[HistoryRow], sent_lines: Mapping[int, int] | None = None
) -> list[str]:
    """The step each reply answers; a reply before any SMS answers none. ``sent_lines`` (a
    message's ``message:sent`` history id) orders a text and a reply recorded at the same
    instant, as they are on a frozen engine clock: an answer sent after the reply is not
    what the customer replied to."""
    order = sent_lines or {}
    texts = sorted(
        ((m.sent_at, order.get(m.id, 0)), m.step) for m in messages if _answerable(m) and m.sent_at
    )
    times: list[tuple[datetime, int]] = [when for when, _ in texts]
    steps = []
    for reply in replies:
        before = bisect_right(times, (reply.at, reply.id))
        if before:
            steps.append(texts[before - 1][1])
    return steps


def booking_tallies(messages: Sequence[MessageRow], history: Iterable[HistoryRow]) -> dict[str, StepTally]:
    """One booking's figures per step."""
    tallies: dict[str, StepTally] = {}
    for message in messages:
        tallies.setdefault(message.step, StepTally()).count(message)
    lines = list(history)
    sent_lines = {h.message_id: h.id for h in lines if h.kind == "message:sent" and h.message_id is not None}
    for step in answered_steps(messages, (h for h in lines if h.kind == "reply"), sent_lines):
        tallies.setdefault(step, StepTally()).replies += 1
    return tallies


def step_rows(tallies: Iterable[dict[str, StepTally]], order: Sequence[str]) -> list[dict[str, Any]]:
    """A playbook's figures per step: its steps in playbook order (also those that planned
    nothing), then the shared ones (``cancelled``, ``moved``, acknowledgements...) by name."""
    total: dict[str, StepTally] = {step: StepTally() for step in order}
    for booking in tallies:
        for step, tally in booking.items():
            total.setdefault(step, StepTally()).add(tally)
    others = sorted(step for step in total if step not in order)
    return [total[step].as_json(step) for step in [*order, *others]]
