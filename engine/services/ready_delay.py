"""``delay-ready``: a job already under way will be ready later than promised.

For a ``promise: ready`` playbook the window promises when the work is done
(``promised_end``), and staff learn it will slip while the job is in hand,
after ``delay`` is refused (SPEC: a delay is refused once started). This
moves the expected ready time (``end_at``) instead; ``promised_end`` never
changes, as ``promised_start`` does not on a delay. It mirrors the delay's
rules: ``job.ready_delayed`` plans the playbook's step for it (else the
built-in ``ready_delayed`` notice), pending steps anchored on ``end`` move in
place, the invite follows (``INVITE_EVENTS``), and a change smaller than
``min_delay_notice`` from the ready time last told (``told_end``) updates
silently until the untold change reaches it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.values import BookingStatus
from engine.exceptions import ConflictError
from engine.runtime import Runtime
from engine.services import booking_input
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow

EVENT = "job.ready_delayed"
#: The job is not ready yet: its ready time can still move.
OPEN = frozenset({BookingStatus.BOOKED, BookingStatus.CONFIRMED, BookingStatus.STARTED})
SILENT = "ready time updated without a message: below min_delay_notice"


class ReadyDelays:
    """``delay_ready``: one transaction on the locked booking, like every action."""

    def __init__(self, runtime: Runtime, bookings: BookingService | None = None) -> None:
        self.rt = runtime
        self.bookings = bookings or BookingService(runtime)

    def delay_ready(
        self,
        ref: str,
        *,
        minutes: int | None = None,
        until: str | datetime | None = None,
        reason: str | None = None,
        at: str | datetime | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        now = self.rt.now()
        booking_input.check_delay_amount("delay-ready", minutes, until)
        reason = booking_input.text(reason, "reason", 500)
        with self.bookings.transaction(session) as tx:
            row = self.bookings.lock(tx, ref)
            self.check(row)
            new_end = self._new_end(row, minutes, until)
            shift = new_end - row.end_at
            row.end_at = new_end
            self.bookings.tell_moved(
                tx, row, EVENT, anchor="end", shift=shift, reason=reason, at=at, now=now, silent=SILENT
            )
            return row

    def check(self, row: BookingRow) -> None:
        """Refuse (409) a booking whose ready time cannot move: no ready promise, or not open."""
        promise = self.rt.playbooks.get(row.playbook).promise
        if promise != "ready":
            raise ConflictError(
                f"cannot delay the ready time of booking {row.ref}: its playbook {row.playbook} promises "
                f"{promise}, not a ready time; use delay",
                field="ref",
            )
        if BookingStatus(row.status) not in OPEN:
            raise ConflictError(
                f"cannot delay the ready time of booking {row.ref}: it is {row.status}", field="ref"
            )

    def _new_end(self, row: BookingRow, minutes: int | None, until: str | datetime | None) -> datetime:
        if minutes is not None:
            return row.end_at + timedelta(minutes=minutes)
        assert until is not None
        new_end = booking_input.instant(until, timing.zone(row.timezone), "until")
        self.check_later(row, new_end)
        return new_end

    @staticmethod
    def check_later(row: BookingRow, new_end: datetime) -> None:
        """Refuse (409) a ready time not later than the one expected now."""
        booking_input.check_later(new_end, row.end_at, timing.zone(row.timezone), "ready time")
