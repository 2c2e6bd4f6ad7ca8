"""The report's figures computed from plain rows, whichever way they were read.

A playbook's ``promise`` names the event its window promises (``arrival``:
``job.started``; ``ready``: ``job.ready``). A booking is late when that event
came after ``promised_end``; a delay is announced in time when its first delay
notice was sent before the promised start, and for ``ready`` also when its
first ready-later notice (``job.ready_delayed``) was sent before
``promised_end``. Beside the metrics: each step's figures
(engine/store/step_figures.py) and how wide the promised windows would have
to be to be kept (engine/core/calibration.py).

Nothing here queries: the rows come from the ORM (``engine.store.report``) or
from a SQLite file through ``sqlite3`` (``engine.store.sqlite_report``), both
with the columns of ``engine.store.tables``, so ``forvent report`` starts
without SQLAlchemy and still counts with the one set of rules below.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.core import timing
from engine.core.calibration import MIN_BOOKINGS, TARGET_RATE, Kept, calibrate
from engine.core.pricing import price_figures
from engine.messages.report_text import calibration_sentence
from engine.store.step_figures import booking_tallies, step_rows

if TYPE_CHECKING:  # the rows' columns; at run time ORM rows or sqlite3's rows alike
    from engine.store.tables import BookingRow, HistoryRow, MessageRow

PROMISE_EVENT = {"arrival": "started", "ready": "ready"}
DEFAULT_PERIOD = timedelta(days=30)


@dataclass
class _Facts:
    """What one booking contributes to the metrics."""

    status: str
    confirmed: bool
    late_minutes: float | None  # None: the promised event has not happened
    notice_lead: float | None  # minutes before the promise the first delay (or ready-later) notice went
    notice_before_event: bool
    ready_lead: float | None
    over_estimate: bool
    score: int | None
    messages_sent: int
    delivered: int
    failures: Counter[str] = field(default_factory=Counter)
    opt_outs: int = 0


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def metrics(items: Iterable[_Facts]) -> dict[str, Any]:
    rows = list(items)
    happened = [r for r in rows if r.late_minutes is not None]
    late = [r for r in happened if (r.late_minutes or 0) > 0]
    announced = [r for r in late if r.notice_lead is not None and r.notice_lead > 0]
    unannounced = [r for r in late if not r.notice_before_event]
    scores = [r.score for r in rows if r.score is not None]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    sent = sum(r.messages_sent for r in rows)
    failures: Counter[str] = Counter()
    for r in rows:
        failures.update(r.failures)
    return {
        "bookings": len(rows),
        "cancelled": sum(1 for r in rows if r.status == "cancelled"),
        "no_shows": sum(1 for r in rows if r.status == "no_show"),
        "confirmed_rate": _rate(sum(1 for r in rows if r.confirmed), len(rows)),
        "kept_rate": _rate(len(happened) - len(late), len(happened)),
        "late": len(late),
        "late_announced_in_time_rate": _rate(len(announced), len(late)),
        "notice_lead_minutes_median": _median([r.notice_lead for r in late if r.notice_lead is not None]),
        "unannounced_late": len(unannounced),
        "unannounced_late_minutes": round(sum(r.late_minutes or 0 for r in unannounced), 1),
        "lateness_minutes_median": _median([r.late_minutes or 0 for r in late]),
        "ready_notice_lead_minutes_median": _median([r.ready_lead for r in rows if r.ready_lead is not None]),
        "over_estimate": sum(1 for r in rows if r.over_estimate),
        "messages_sent": sent,
        "delivery_rate": _rate(sum(r.delivered for r in rows), sent),
        "failures_by_reason": dict(sorted(failures.items())),
        "opt_outs": sum(r.opt_outs for r in rows),
        "scores": len(scores),
        "promoters": promoters,
        "passives": len(scores) - promoters - detractors,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / len(scores), 1) if scores else None,
    }


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def anchors(row: BookingRow) -> dict[str, datetime]:
    """The instants the booking reached each milestone, as ``engine.store.values.booking_anchors``."""
    return {k: datetime.fromisoformat(v) for k, v in (row.anchors or {}).items()}


@dataclass
class ReportBooking:
    """One booking's rows, read once for every section of the report."""

    row: BookingRow
    messages: list[MessageRow] = field(default_factory=list)
    history: dict[int, HistoryRow] = field(default_factory=dict)
    approved_prices: list[str | None] = field(default_factory=list)  # of its approved findings

    def promised_event(self, promise: str) -> datetime | None:
        return anchors(self.row).get(PROMISE_EVENT[promise])

    def kept(self, promise: str) -> Kept | None:
        """The promise and when its event came; None while it has not come."""
        actual = self.promised_event(promise)
        if actual is None:
            return None
        return Kept(promised_start=self.row.promised_start, promised_end=self.row.promised_end, actual=actual)

    def over_estimate(self) -> bool:
        """A final price above estimate + approved extras, whether or not staff confirmed it."""
        estimate = (self.row.facts or {}).get("estimate")
        if estimate is None or self.row.final_price is None:
            return False
        figures = price_figures(Decimal(self.row.final_price), estimate, self.approved_prices)
        return figures is not None and figures.over


def booking_facts(loaded: ReportBooking, promise: str) -> _Facts:
    booking, messages, history = loaded.row, loaded.messages, loaded.history
    milestones = anchors(booking)
    event_at = loaded.promised_event(promise)
    late = _minutes(event_at - booking.promised_end) if event_at else None

    def triggered_by(message: MessageRow, name: str) -> bool:
        event = history.get(message.event_id) if message.event_id else None
        return event is not None and event.kind == f"event:{name}"

    notices = sorted(m.sent_at for m in messages if m.sent_at and triggered_by(m, "booking.delayed"))
    readies = sorted(m.sent_at for m in messages if m.sent_at and triggered_by(m, "job.ready"))
    leads = [_minutes(booking.promised_start - notices[0])] if notices else []
    if promise == "ready":
        # A ready time moved while the job is in hand is told against the ready promise.
        later = sorted(m.sent_at for m in messages if m.sent_at and triggered_by(m, "job.ready_delayed"))
        if later:
            leads.append(_minutes(booking.promised_end - later[0]))
            notices = sorted([*notices, later[0]])
    first_notice = notices[0] if notices else None
    return _Facts(
        status=booking.status,
        confirmed=booking.confirmed or "confirmed" in milestones,
        late_minutes=late,
        notice_lead=max(leads) if leads else None,
        notice_before_event=bool(first_notice and event_at and first_notice <= event_at),
        ready_lead=_minutes(booking.promised_end - readies[0]) if readies else None,
        over_estimate=loaded.over_estimate(),
        score=booking.score,
        messages_sent=sum(1 for m in messages if m.sent_at is not None),
        delivered=sum(1 for m in messages if m.status == "delivered"),
        failures=Counter(m.reason or "unknown" for m in messages if m.status == "failed"),
        opt_outs=sum(
            1 for h in history.values() if h.kind == "reply" and (h.data or {}).get("class") == "stop"
        ),
    )


def _per_playbook(bookings: Iterable[ReportBooking]) -> dict[str, list[ReportBooking]]:
    grouped: dict[str, list[ReportBooking]] = {}
    for booking in bookings:
        grouped.setdefault(booking.row.playbook, []).append(booking)
    return dict(sorted(grouped.items()))


def _calibration(bookings: list[ReportBooking], promise: str, locale: str) -> dict[str, Any]:
    kept = [k for b in bookings if (k := b.kept(promise)) is not None]
    result = calibrate(kept)
    return {
        "promise": promise,
        "measured": result.measured,
        "enough": result.enough,
        "min_bookings": MIN_BOOKINGS,
        "target_rate": TARGET_RATE,
        "windows": [asdict(w) for w in result.windows],
        "suggested_window_minutes": result.suggested_minutes,
        "suggested_kept_rate": result.suggested_kept_rate,
        "sentence": calibration_sentence(result, promise, locale),
    }


def _per_assignee(
    per_playbook: Mapping[str, list[ReportBooking]],
    facts: Mapping[str, list[_Facts]],
    promises: Mapping[str, str],
    locale: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics of each assignee's bookings, and their promise calibration per playbook."""
    mine: dict[str, list[_Facts]] = {}
    theirs: dict[str, dict[str, list[ReportBooking]]] = {}
    for pid, bookings in per_playbook.items():
        for booking, fact in zip(bookings, facts[pid], strict=True):
            if name := booking.row.assignee:
                mine.setdefault(name, []).append(fact)
                theirs.setdefault(name, {}).setdefault(pid, []).append(booking)
    names = sorted(mine, key=str.casefold)
    return (
        {name: metrics(mine[name]) for name in names},
        {
            name: {
                pid: _calibration(bookings, promises.get(pid, "arrival"), locale)
                for pid, bookings in theirs[name].items()
            }
            for name in names
        },
    )


def figures(
    bookings: Iterable[ReportBooking],
    *,
    promises: Mapping[str, str],
    since: datetime,
    until: datetime,
    step_ids: Mapping[str, Sequence[str]] | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """Metrics per playbook, per assignee and overall for the bookings of [since, until), each
    playbook's figures per step (its ``step_ids`` first, in order), and its promise
    calibration (also per assignee) with a sentence in ``locale``."""
    per_playbook = _per_playbook(bookings)
    facts = {
        pid: [booking_facts(b, promises.get(pid, "arrival")) for b in items]
        for pid, items in per_playbook.items()
    }
    order = step_ids or {}
    assignees, assignee_calibration = _per_assignee(per_playbook, facts, promises, locale)
    return {
        "since": timing.utc_z(since),
        "until": timing.utc_z(until),
        "overall": metrics(f for items in facts.values() for f in items),
        "playbooks": {pid: metrics(items) for pid, items in facts.items()},
        "assignees": assignees,
        "steps": {
            pid: step_rows(
                (booking_tallies(b.messages, b.history.values()) for b in items), order.get(pid, ())
            )
            for pid, items in per_playbook.items()
        },
        "calibration": {
            pid: _calibration(items, promises.get(pid, "arrival"), locale)
            for pid, items in per_playbook.items()
        },
        "assignee_calibration": assignee_calibration,
    }


def weekly_figures(
    bookings: Sequence[ReportBooking],
    *,
    promises: Mapping[str, str],
    bounds: Sequence[tuple[date, datetime, datetime]],
) -> list[dict[str, Any]]:
    """The overall metrics of each week of ``bounds`` (``week_bounds``), oldest first."""
    out = []
    for first, since, until in bounds:
        facts = [
            booking_facts(b, promises.get(b.row.playbook, "arrival"))
            for b in bookings
            if since <= b.row.promised_start < until
        ]
        out.append({"week": first.isocalendar().week, "monday": first.isoformat(), **metrics(facts)})
    return out


def week_bounds(tz_name: str, now: datetime, weeks: int) -> list[tuple[date, datetime, datetime]]:
    """(Monday, since, until) of each of the last ``weeks`` local weeks, oldest first."""
    tz = timing.zone(tz_name)
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    out = []
    for back in range(weeks - 1, -1, -1):
        first = monday - timedelta(weeks=back)
        since = timing.wall(datetime.combine(first, datetime.min.time()), tz)
        until = timing.wall(datetime.combine(first + timedelta(weeks=1), datetime.min.time()), tz)
        out.append((first, since, until))
    return out
