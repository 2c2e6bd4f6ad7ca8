"""Customers choose their own time: move a booking to a free slot, or book the next visit.

The free slots come from the pure ``engine.core.slots`` on the business's
hours, closed dates and capacity (``business.yaml``; a playbook may set its
own ``capacity``); bookings of the same playbook that are still to happen or
under way (not cancelled, no-show or completed) are what is busy.

Taking a slot is one transaction: the booking is locked first, then the
business row (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers), so two customers racing for the last place are
served one after the other, and the slot is checked again under that lock.
The loser gets ``SlotTakenError`` (HTTP 409) and nothing changes. The move
itself is ``BookingService.reschedule`` (the ``moved`` notice with the updated
invite, which is the customer's written confirmation) followed by a confirm:
the customer chose the time, so nobody asks them to confirm it again. A next
visit is ``BookingService.book`` (its confirmation and invite) for the same
customer under a reference derived from the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import slots, timing
from engine.core.playbooks import Playbook
from engine.core.values import BookingStatus
from engine.exceptions import ConflictError, UserInputError
from engine.runtime import Runtime
from engine.services.booking_input import BookingInput
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow, BusinessRow, CustomerRow

B = BookingStatus
ACTIVE = (str(B.BOOKED), str(B.CONFIRMED), str(B.STARTED), str(B.READY))
MOVABLE = frozenset({B.BOOKED, B.CONFIRMED})
NEXT_SUFFIX = "-next"
MAX_REF = 100


class SlotTakenError(ConflictError):
    """The chosen time was taken (or left the offer) since the page showed it."""


@dataclass(frozen=True)
class Moved:
    booking: BookingRow
    changed: bool  # False: it already was at that time (a double tap)


class SelfService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.service = BookingService(runtime)

    # --- what is free ----------------------------------------------------------------

    def rules(self, playbook: Playbook) -> slots.SlotRules:
        business = self.rt.business
        return slots.SlotRules(
            hours=business.opening_hours,
            closed_dates=frozenset(business.closed_dates),
            tz=timing.zone(business.timezone),
            step=timedelta(minutes=business.slot_minutes),
            capacity=playbook.capacity or business.capacity,
        )

    def busy(
        self, session: Session, playbook: str, *, now: datetime, besides: int | None = None
    ) -> list[slots.Interval]:
        """The current windows of the playbook's bookings that still take a place, ``besides`` one."""
        until = now + timedelta(days=slots.HORIZON_DAYS + 2)
        query = select(BookingRow.start_at, BookingRow.end_at).where(
            BookingRow.business_id == self.rt.business.id,
            BookingRow.playbook == playbook,
            BookingRow.status.in_(ACTIVE),
            BookingRow.end_at > now,
            BookingRow.start_at < until,
        )
        if besides is not None:
            query = query.where(BookingRow.id != besides)
        return [(start, end) for start, end in session.execute(query)]

    def free_for(self, session: Session, row: BookingRow) -> list[datetime]:
        """Where ``row`` could move: its own length, the places its own window frees counted."""
        if B(row.status) not in MOVABLE:
            return []
        now = self.rt.now()
        playbook = self.rt.playbooks.get(row.playbook)
        busy = self.busy(session, row.playbook, now=now, besides=row.id)
        free = slots.free_slots(self.rules(playbook), duration=_length(row), busy=busy, now=now)
        return [s for s in free if s != row.start_at]

    def free_next(self, session: Session, playbook_id: str) -> list[datetime]:
        """Where a new booking of ``playbook_id`` could start, for the playbook's usual length."""
        now = self.rt.now()
        playbook = self.rt.playbooks.get(playbook_id)
        busy = self.busy(session, playbook_id, now=now)
        rules = self.rules(playbook)
        return slots.free_slots(rules, duration=self.usual_length(playbook, rules), busy=busy, now=now)

    @staticmethod
    def usual_length(playbook: Playbook, rules: slots.SlotRules) -> timedelta:
        duration = playbook.duration
        return timedelta(days=duration.days, seconds=duration.seconds) or rules.step

    # --- taking a slot ---------------------------------------------------------------

    def move(self, booking_id: int, start: str) -> Moved:
        """Move the booking to ``start`` (ISO 8601 with offset, as the page offers it), confirmed."""
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self.service.lock_id(session, booking_id)
            if B(row.status) not in MOVABLE:
                raise ConflictError(f"cannot change the time: the booking is {row.status}", field="booking")
            when = _instant(start)
            if when == row.start_at:
                return Moved(row, changed=False)
            self._serialise(session)
            playbook = self.rt.playbooks.get(row.playbook)
            busy = self.busy(session, row.playbook, now=now, besides=row.id)
            self._check_free(playbook, when, _length(row), busy, now)
            self.service.reschedule(row.ref, start=when, end=when + _length(row), session=session)
            self.service.confirm(row.ref, source="page", session=session)
            return Moved(row, changed=True)

    def book_next(self, booking_id: int, start: str) -> BookingRow:
        """A new booking of the same playbook for the customer of ``booking_id``, at ``start``.

        One next visit per booking: while the one booked from it is still to come,
        another tap (the back button, a second message) answers with that one.
        """
        now = self.rt.now()
        with self.rt.database.session() as session:
            old = self.service.lock_id(session, booking_id)
            booked = self.next_booked(session, old)
            if booked is not None:
                return booked
            when = _instant(start)
            self._serialise(session)
            playbook = self.rt.playbooks.get(old.playbook)
            rules = self.rules(playbook)
            length = self.usual_length(playbook, rules)
            self._check_free(playbook, when, length, self.busy(session, old.playbook, now=now), now)
            customer = session.get(CustomerRow, old.customer_id)
            if customer is None or not customer.name:
                raise ConflictError("the customer of this booking is no longer on file", field="booking")
            data = BookingInput(
                ref=self._next_ref(session, old),
                playbook=old.playbook,
                name=customer.name,
                phone=customer.phone or None,
                email=customer.email or None,
                start=when,
                end=when + length,
                timezone=old.timezone,
                locale=old.locale,
                location=old.location,
                facts=_lasting_facts(playbook, old),
                marketing_ok=customer.marketing_ok,
            )
            return self.service.book(data, session=session).booking

    def next_booked(self, session: Session, old: BookingRow) -> BookingRow | None:
        """The visit already booked from ``old`` that is still to come, if any."""
        family = _next_base(old.ref)
        return session.scalar(
            select(BookingRow)
            .where(
                BookingRow.business_id == self.rt.business.id,
                BookingRow.playbook == old.playbook,
                BookingRow.ref.startswith(family, autoescape=True),
                BookingRow.status.in_((str(B.BOOKED), str(B.CONFIRMED))),
                BookingRow.start_at > self.rt.now(),
            )
            .order_by(BookingRow.start_at)
            .limit(1)
        )

    def _next_ref(self, session: Session, old: BookingRow) -> str:
        base = _next_base(old.ref)
        taken = set(
            session.scalars(
                select(BookingRow.ref).where(
                    BookingRow.business_id == self.rt.business.id,
                    BookingRow.ref.startswith(base, autoescape=True),
                )
            )
        )
        return next(ref for n in range(1, len(taken) + 2) if (ref := _numbered(base, n)) not in taken)

    def _serialise(self, session: Session) -> None:
        """Take the business's slot lock: one slot-taking transaction at a time (see module doc)."""
        session.execute(select(BusinessRow.id).where(BusinessRow.id == self.rt.business.id).with_for_update())

    def _check_free(
        self,
        playbook: Playbook,
        when: datetime,
        length: timedelta,
        busy: list[slots.Interval],
        now: datetime,
    ) -> None:
        if not slots.is_free(self.rules(playbook), when, duration=length, busy=busy, now=now):
            raise SlotTakenError("start: that time is no longer free; choose another", field="start")


def _length(row: BookingRow) -> timedelta:
    return row.promised_end - row.promised_start


def _instant(text: str) -> datetime:
    """A slot as the page offers it: ISO 8601 with its offset."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserInputError(f"start: not a time the page offers: {text[:40]!r}", field="start") from None
    if value.tzinfo is None:
        raise UserInputError("start: the time needs its offset", field="start")
    return value


def _next_base(ref: str) -> str:
    """``C-1`` -> ``C-1-next``; a next visit's next is ``C-1-next-next`` (kept within 100 characters)."""
    return ref[: MAX_REF - len(NEXT_SUFFIX) - 4] + NEXT_SUFFIX


def _numbered(base: str, n: int) -> str:
    return base if n == 1 else f"{base}-{n}"


def _lasting_facts(playbook: Playbook, old: BookingRow) -> dict[str, object]:
    """The facts the playbook requires (the car itself); the rest belonged to the last visit."""
    facts = old.facts or {}
    return {k: facts[k] for k, spec in playbook.facts.items() if spec.required and k in facts}
