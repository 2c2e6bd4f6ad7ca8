"""Booking commands: book, delay, reschedule, job events, cancel; each one transaction.

Each command reads its input (``booking_input``, naming the field at fault),
locks the booking, changes it, records the event in the history, asks the
pure planner what the messages should now be, and lets the outbox insert or
move rows. A refused command changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.event import listen
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.facts import check_facts, parse_money
from engine.core.planner import alerts_staff
from engine.core.playbooks import Playbook
from engine.core.values import CLOSED, UNDER_WAY_OR_ENDED, Booking, BookingStatus, Event
from engine.exceptions import ConflictError, NotFoundError, UserInputError
from engine.runtime import Runtime
from engine.services import booking_input, webhooks_out
from engine.services.alerts import URGENT_SKIP_REASONS, alert_undelivered
from engine.services.booking_input import BookingInput
from engine.services.price_check import hold_if_over_estimate
from engine.store import history, outbox
from engine.store.inserts import insert_loaded
from engine.store.tables import BookingRow, BusinessRow, CustomerRow, FindingRow, MessageRow
from engine.store.values import booking_value

B = BookingStatus
SUPERSEDE_WINDOW = timedelta(minutes=2)
#: The businesses each database is known to hold a row for: looked up until a commit shows it.
_KNOWN_BUSINESSES: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()
# Built once: building a statement costs more than SQLite takes to run it.
_BY_REF = select(BookingRow).where(
    BookingRow.business_id == bindparam("business_id"), BookingRow.ref == bindparam("ref")
)
_LOCKED_BY_REF = _BY_REF.with_for_update().execution_options(populate_existing=True)
_RECENT_NOTICES = (
    select(MessageRow)
    .where(
        MessageRow.booking_id == bindparam("booking_id"),
        MessageRow.step.in_(bindparam("steps", expanding=True)),
        MessageRow.status == "planned",
        MessageRow.created_at >= bindparam("since"),
    )
    .order_by(MessageRow.id)
    .with_for_update()
)


@dataclass(frozen=True)
class BookResult:
    booking: BookingRow
    created: bool
    changed: bool


_HELD_LOCKS = "forvent.held_locks"


def _held_locks(session: Session) -> dict[tuple[str, object], BookingRow]:
    """The bookings this session's current transaction has locked; a new transaction starts empty."""
    transaction = session.get_transaction()
    memo = session.info.get(_HELD_LOCKS)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info[_HELD_LOCKS] = memo
    held: dict[tuple[str, object], BookingRow] = memo[1]
    return held


class BookingService:
    def __init__(self, runtime: Runtime, *, actor: str | None = None) -> None:
        self.rt = runtime
        self.actor = actor  # who the transactions it opens are written as (engine.store.actors)

    @property
    def business_id(self) -> str:
        return self.rt.business.id

    # --- loading -------------------------------------------------------------------

    def ensure_business(self, session: Session, now: datetime) -> None:
        engine = session.get_bind().engine
        known = _KNOWN_BUSINESSES.setdefault(engine, set())
        if self.business_id in known:
            return
        if session.get(BusinessRow, self.business_id) is None:
            # Two first bookings at once both find no row: the loser's insert does nothing.
            insert_: Any = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
            session.execute(
                insert_(BusinessRow)
                .values(
                    id=self.business_id,
                    business_id=self.business_id,
                    name=self.rt.business.name,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
        # Known from this transaction's commit on: a first booking rolled back takes the row with it.
        business_id = self.business_id
        listen(session, "after_commit", lambda _: known.add(business_id), once=True)

    @contextmanager
    def transaction(self, session: Session | None = None) -> Iterator[Session]:
        """The caller's unit of work if it has one, else a new transaction of its own."""
        if session is not None:
            yield session
            return
        with self.rt.database.session(actor=self.actor) as own:
            yield own

    def find(self, session: Session, ref: str, *, lock: bool = False) -> BookingRow | None:
        query = _LOCKED_BY_REF if lock else _BY_REF
        return session.scalar(query, {"business_id": self.business_id, "ref": ref})

    def lock(self, session: Session, ref: str) -> BookingRow:
        """The booking, locked for this transaction and read afresh: the first step of every action.

        ``FOR UPDATE`` on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already holds the
        write lock). A concurrent action on the same booking waits here, then sees
        what the other one committed, so its checks judge the current state. Asked
        again in the same transaction (a front door locks, then the command it
        calls), the row already held is returned without another query.
        """
        held = _held_locks(session)
        row = held.get(("ref", ref)) or self.find(session, ref, lock=True)
        if row is None:
            raise NotFoundError(f"unknown booking ref {ref!r}", field="ref")
        held[("ref", ref)] = held[("id", row.id)] = row
        return row

    def lock_id(self, session: Session, booking_id: int) -> BookingRow:
        """``lock`` by row id (the customer's page names its booking by id)."""
        held = _held_locks(session)
        row = held.get(("id", booking_id)) or session.scalar(
            select(BookingRow)
            .where(BookingRow.business_id == self.business_id, BookingRow.id == booking_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise NotFoundError("this booking no longer exists", field="booking")
        held[("ref", row.ref)] = held[("id", row.id)] = row
        return row

    def get(self, session: Session, ref: str) -> BookingRow:
        row = self.find(session, ref)
        if row is None:
            raise NotFoundError(f"unknown booking ref {ref!r}", field="ref")
        return row

    def value(self, session: Session, row: BookingRow, *, new_customer: CustomerRow | None = None) -> Booking:
        """The booking as the pure core sees it (``new_customer``: see ``apply_event``)."""
        playbook = self.rt.playbooks.get(row.playbook)
        return booking_value(
            session,
            row,
            playbook=playbook,
            secret=self.rt.settings.secret,
            customer=new_customer,
            created=new_customer is not None,
        )

    # --- book ----------------------------------------------------------------------

    def book(
        self, data: BookingInput, *, allow_past: bool = False, session: Session | None = None
    ) -> BookResult:
        """Create the booking, or update it if ``ref`` exists (locked first, like every action)."""
        now = self.rt.now()
        ref = booking_input.check_ref(data.ref)
        playbook = self.rt.playbooks.get(data.playbook)
        try:
            with self.transaction(session) as tx:
                return self._book(tx, data, ref, playbook, now, allow_past)
        except IntegrityError as exc:
            # Another request created the same ref between our look-up and our insert.
            raise ConflictError(
                f"ref {ref!r} was created by another request at the same moment; send it again to update",
                field="ref",
            ) from exc

    def _book(
        self,
        session: Session,
        data: BookingInput,
        ref: str,
        playbook: Playbook,
        now: datetime,
        allow_past: bool,
    ) -> BookResult:
        self.ensure_business(session, now)
        existing = self.find(session, ref, lock=True)
        if existing is not None and existing.playbook != playbook.playbook:
            raise ConflictError(
                f"ref {ref!r} is a {existing.playbook} booking, not {playbook.playbook}",
                field="playbook",
            )
        tz_name = (
            data.timezone
            or (existing.timezone if existing else None)
            or playbook.timezone
            or self.rt.business.timezone
        )
        tz = timing.zone(tz_name)
        if existing is None:
            return self._create(session, data, ref, playbook, tz, now, allow_past)
        return self._update(session, existing, data, playbook, tz, now, allow_past)

    def _customer_fields(self, data: BookingInput) -> dict[str, Any]:
        return booking_input.customer_fields(data, country=self.rt.business.country)

    def _locale(self, requested: str | None, playbook: Playbook, current: str | None) -> str:
        return booking_input.locale(
            requested, current=current, playbook=playbook, fallback=self.rt.business.default_locale
        )

    def _create(
        self,
        session: Session,
        data: BookingInput,
        ref: str,
        playbook: Playbook,
        tz: ZoneInfo,
        now: datetime,
        allow_past: bool,
    ) -> BookResult:
        if not data.name:
            raise UserInputError("name: required", field="name")
        start, end = booking_input.window(
            data.start, data.end, tz=tz, duration=playbook.duration, now=now, allow_past=allow_past
        )
        contact = self._customer_fields(data)
        if not contact.get("phone") and not contact.get("email"):
            raise UserInputError("phone: a booking needs a phone number or an email address", field="phone")
        facts = check_facts(playbook, data.facts, require=True)
        locale = self._locale(data.locale, playbook, None)
        location = booking_input.text(data.location, "location")
        customer = insert_loaded(
            session,
            CustomerRow,
            {
                "business_id": self.business_id,
                "name": contact["name"],
                "phone": contact.get("phone"),
                "email": contact.get("email"),
                "locale": locale,
                "marketing_ok": contact.get("marketing_ok", False),
                "created_at": now,
            },
        )
        row = insert_loaded(
            session,
            BookingRow,
            {
                "business_id": self.business_id,
                "ref": ref,
                "playbook": playbook.playbook,
                "customer_id": customer.id,
                "timezone": tz.key,
                "locale": locale,
                "location": location,
                "status": str(B.BOOKED),
                "confirmed": False,
                "start_at": start,
                "end_at": end,
                "promised_start": start,
                "promised_end": end,
                "told_start": start,
                "assignee": booking_input.assignee(data.assignee),
                "schedule_version": 1,
                "facts": {k: v for k, v in facts.items() if v is not None},
                "choices": {},
                "anchors": {"created": now.isoformat()},
                "invite_uid": f"{uuid.uuid4()}@forvent",
                "invite_sequence": 0,
                "invite_sent": False,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.apply_event(session, row, "booking.created", {}, at=now, now=now, new_customer=customer)
        return BookResult(booking=row, created=True, changed=True)

    def _update(
        self,
        session: Session,
        row: BookingRow,
        data: BookingInput,
        playbook: Playbook,
        tz: ZoneInfo,
        now: datetime,
        allow_past: bool,
    ) -> BookResult:
        changed = False
        customer = session.get(CustomerRow, row.customer_id)
        assert customer is not None
        for key, value in self._customer_fields(data).items():
            if getattr(customer, key) != value:
                setattr(customer, key, value)
                changed = True
        facts = dict(row.facts or {})
        for key, value in check_facts(playbook, data.facts, require=False).items():
            if value is None:
                facts.pop(key, None)
            else:
                facts[key] = value
        check_facts(playbook, facts, require=True)
        if facts != (row.facts or {}):
            row.facts = facts
            changed = True
        location = booking_input.text(data.location, "location")
        if data.location is not None and location != row.location:
            row.location = location
            changed = True
        if data.assignee is not None and (assignee := booking_input.assignee(data.assignee)) != row.assignee:
            row.assignee = assignee
            changed = True
        if (
            data.locale is not None
            and (locale := self._locale(data.locale, playbook, row.locale)) != row.locale
        ):
            row.locale = customer.locale = locale
            changed = True
        if data.start is not None:
            start, end = booking_input.window(
                data.start, data.end, tz=tz, duration=playbook.duration, now=now, allow_past=allow_past
            )
            if data.end is None:
                end = start + (row.promised_end - row.promised_start)
            if start != row.promised_start or end != row.promised_end:
                self._reschedule(session, row, start, end, at=now, now=now)
                return BookResult(booking=row, created=False, changed=True)
        if changed:
            row.updated_at = now
            history.add(session, row, "staff", "booking details updated", at=now)
            self.replan(session, row, now=now)
        return BookResult(booking=row, created=False, changed=changed)

    # --- events --------------------------------------------------------------------

    def apply_event(
        self,
        session: Session,
        row: BookingRow,
        name: str,
        data: Mapping[str, Any],
        *,
        at: datetime,
        now: datetime,
        notify: bool = True,
        new_customer: CustomerRow | None = None,
    ) -> Event:
        """Record ``name`` in the history, then plan its steps and any newly anchored ones.

        ``new_customer``: this transaction created the booking and this customer
        row for it, so what is stored about them is known and not read back.
        """
        detail = ", ".join(f"{k}={v}" for k, v in data.items() if v is not None) or None
        line_id = history.add_at_once(session, row, f"event:{name}", detail, at=at, data=dict(data))
        event = Event(id=str(line_id), name=name, at=at, data=dict(data))
        planner = self.rt.planner(row.playbook)
        value = self.value(session, row, new_customer=new_customer)
        planned = planner.timed(value, now=now)
        if notify:
            planned += planner.for_event(value, event, now=now, invite_sent=row.invite_sent)
        touched = outbox.enqueue(
            session,
            business_id=self.business_id,
            booking_id=row.id,
            planned=planned,
            now=now,
            schedule_version=row.schedule_version,
            tz_name=row.timezone,
            new_booking=new_customer is not None,
        )
        for message in touched:
            plan = message.plan
            skipped_unheard = plan.status == "skipped" and plan.reason in URGENT_SKIP_REASONS
            if skipped_unheard and alerts_staff(plan.step, urgent=plan.urgent):
                skipped = session.get(MessageRow, message.id)
                assert skipped is not None
                alert_undelivered(
                    session, business=self.rt.business, message=skipped, reason=plan.reason, now=now
                )
        webhooks_out.booking_event(session, self.rt.business, row, event, now=now)
        return event

    def replan(self, session: Session, row: BookingRow, *, now: datetime) -> None:
        planner = self.rt.planner(row.playbook)
        outbox.enqueue(
            session,
            business_id=self.business_id,
            booking_id=row.id,
            planned=planner.timed(self.value(session, row), now=now),
            now=now,
            schedule_version=row.schedule_version,
            tz_name=row.timezone,
        )

    def _event_time(self, at: str | datetime | None, row: BookingRow, now: datetime) -> datetime:
        return booking_input.event_time(at, timing.zone(row.timezone), now)

    def refuse(self, row: BookingRow, action: str, statuses: AbstractSet[BookingStatus]) -> None:
        """Refuse ``action`` on ``row`` while it is in one of ``statuses``: a 409 naming why."""
        if B(row.status) in statuses:
            raise ConflictError(f"cannot {action} booking {row.ref}: it is {row.status}", field="ref")

    def delay(
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
        booking_input.check_delay_amount("delay", minutes, until)
        reason = booking_input.text(reason, "reason", 500)
        with self.transaction(session) as session:
            row = self.lock(session, ref)
            self.refuse(row, "delay", UNDER_WAY_OR_ENDED)
            tz = timing.zone(row.timezone)
            if until is not None:
                new_start = booking_input.instant(until, tz, "until")
                booking_input.check_later(new_start, row.start_at, tz, "start")
            else:
                assert minutes is not None
                new_start = row.start_at + timedelta(minutes=minutes)
            shift = new_start - row.start_at
            row.start_at, row.end_at = new_start, row.end_at + shift
            row.delay_reason = reason or row.delay_reason
            self.tell_moved(
                session,
                row,
                "booking.delayed",
                anchor="start",
                shift=shift,
                reason=reason,
                at=at,
                now=now,
                silent="ETA updated without a message: below min_delay_notice",
            )
            return row

    def tell_moved(
        self,
        session: Session,
        row: BookingRow,
        event: str,
        *,
        anchor: Literal["start", "end"],
        shift: timedelta,
        reason: str | None,
        at: str | datetime | None,
        now: datetime,
        silent: str,
    ) -> None:
        """A delay's ``event`` once the expected ``anchor`` (``start_at`` or ``end_at``) moved by ``shift``.

        The customer is told when the change from the time last told (``told_<anchor>``,
        else the promise) reaches ``min_delay_notice``; a smaller one is noted as ``silent``.
        """
        new: datetime = getattr(row, f"{anchor}_at")
        row.invite_sequence += 1
        row.updated_at = now
        told: datetime = getattr(row, f"told_{anchor}") or getattr(row, f"promised_{anchor}")
        notify = new - told >= self.rt.playbooks.get(row.playbook).min_delay
        if notify:
            # Set with the other changes: one UPDATE of the booking. Planning does not read it.
            setattr(row, f"told_{anchor}", new)
            self._supersede_recent_notices(session, row, event, now=now)
        data = {
            "minutes": int(shift.total_seconds() // 60),
            "until": timing.local_iso(new, timing.zone(row.timezone)),
            "reason": reason,
        }
        self.apply_event(session, row, event, data, at=self._event_time(at, row, now), now=now, notify=notify)
        if not notify:
            history.add(session, row, "staff", silent, at=now)

    def _supersede_recent_notices(
        self, session: Session, row: BookingRow, event: str, *, now: datetime
    ) -> None:
        """A second delay within minutes replaces ``event``'s notice (and invite) not sent yet."""
        planner = self.rt.planner(row.playbook)
        steps = [s.id for s in planner.steps_for(event)] + ["invite_update"]
        recent = session.scalars(
            _RECENT_NOTICES, {"booking_id": row.id, "steps": steps, "since": now - SUPERSEDE_WINDOW}
        )
        for message in recent:
            # Claimed meanwhile: it is on its way, and the new notice follows it.
            with suppress(outbox.TransitionError):
                outbox.transition(
                    session, message, outbox.S.CANCELLED, now=now, reason="superseded", ready_at=None
                )

    def reschedule(
        self,
        ref: str,
        *,
        start: str | datetime,
        end: str | datetime | None = None,
        at: str | datetime | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        now = self.rt.now()
        with self.transaction(session) as session:
            row = self.lock(session, ref)
            self.refuse(row, "reschedule", {B.COMPLETED, B.CANCELLED, B.NO_SHOW})
            tz = timing.zone(row.timezone)
            new_start = booking_input.instant(start, tz, "start")
            new_end = (
                booking_input.instant(end, tz, "end")
                if end is not None
                else new_start + (row.promised_end - row.promised_start)
            )
            booking_input.check_window(new_start, new_end, now=now)
            self._reschedule(session, row, new_start, new_end, at=self._event_time(at, row, now), now=now)
            return row

    def _reschedule(
        self,
        session: Session,
        row: BookingRow,
        start: datetime,
        end: datetime,
        *,
        at: datetime,
        now: datetime,
    ) -> None:
        outbox.cancel_pending(session, booking_id=row.id, reason="superseded", now=now, only_schedule=True)
        row.start_at = row.promised_start = row.told_start = start
        row.end_at = row.promised_end = end
        row.confirmed = False
        row.delay_reason = None
        if row.status == B.CONFIRMED:
            row.status = str(B.BOOKED)
        anchors = dict(row.anchors or {})
        anchors.pop("confirmed", None)
        row.anchors = anchors
        row.schedule_version += 1
        row.invite_sequence += 1
        row.updated_at = now
        tz = timing.zone(row.timezone)
        data = {"start": timing.local_iso(start, tz), "end": timing.local_iso(end, tz)}
        self.apply_event(session, row, "booking.rescheduled", data, at=at, now=now)

    def _set_anchor(self, row: BookingRow, anchor: str, at: datetime) -> None:
        anchors = dict(row.anchors or {})
        anchors[anchor] = at.isoformat()
        row.anchors = anchors

    def _status_event(
        self,
        ref: str,
        *,
        name: str,
        to: BookingStatus,
        anchor: str | None,
        refuse: AbstractSet[BookingStatus],
        at: str | datetime | None,
        data: dict[str, Any] | None = None,
        cancel_reason: str | None = None,
        update: Mapping[str, Any] | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        now = self.rt.now()
        with self.transaction(session) as session:
            row = self.lock(session, ref)
            self.refuse(row, name.split(".")[-1].replace("_", "-"), refuse)
            when = self._event_time(at, row, now)
            if cancel_reason:
                outbox.cancel_pending(session, booking_id=row.id, reason=cancel_reason, now=now)
                row.invite_sequence += 1
                # Messages planned before this instant must not go even if already claimed.
                self._set_anchor(row, "closed_at", now)
            for key, value in (update or {}).items():
                setattr(row, key, value)
            row.status = str(to)
            if anchor:
                self._set_anchor(row, anchor, when)
            row.updated_at = now
            self.apply_event(session, row, name, data or {}, at=when, now=now)
            return row

    def start(
        self, ref: str, *, at: str | datetime | None = None, session: Session | None = None
    ) -> BookingRow:
        return self._status_event(
            ref,
            name="job.started",
            to=B.STARTED,
            anchor="started",
            refuse=UNDER_WAY_OR_ENDED,
            at=at,
            session=session,
        )

    def ready(
        self,
        ref: str,
        *,
        price: str | None = None,
        pickup: str | datetime | None = None,
        at: str | datetime | None = None,
        confirm_price: bool = False,
        session: Session | None = None,
    ) -> BookingRow:
        amount = str(parse_money(price, field="price")) if price is not None else None
        with self.transaction(session) as tx:
            row = self.lock(tx, ref)  # the pickup time is read in the booking's zone
            if amount is not None and not confirm_price:
                self._hold_price(tx, row, amount, "ready", {B.READY, *CLOSED})
            update: dict[str, Any] = {}
            data: dict[str, Any] = {}
            if amount is not None:
                update["final_price"] = data["price"] = amount
            if pickup is not None:
                tz = timing.zone(row.timezone)
                update["pickup_at"] = booking_input.instant(pickup, tz, "pickup")
                data["pickup"] = timing.local_iso(update["pickup_at"], tz)
            return self._status_event(
                ref,
                name="job.ready",
                to=B.READY,
                anchor="ready",
                refuse={B.READY, *CLOSED},
                at=at,
                data=data,
                update=update,
                session=tx,
            )

    def complete(
        self,
        ref: str,
        *,
        price: str | None = None,
        at: str | datetime | None = None,
        confirm_price: bool = False,
        session: Session | None = None,
    ) -> BookingRow:
        update: dict[str, Any] = {}
        data: dict[str, Any] = {}
        if price is not None:
            update["final_price"] = data["price"] = str(parse_money(price, field="price"))
        with self.transaction(session) as tx:
            row = self.lock(tx, ref)
            # With no ready notice, the completion summary is where the customer first sees the price.
            if (
                price is not None
                and not confirm_price
                and not self.rt.playbooks.get(row.playbook).steps_for("job.ready")
            ):
                self._hold_price(tx, row, update["final_price"], "complete", set(CLOSED))
            return self._status_event(
                ref,
                name="job.completed",
                to=B.COMPLETED,
                anchor="completed",
                refuse=set(CLOSED),
                at=at,
                data=data,
                update=update,
                session=tx,
            )

    def _hold_price(
        self, session: Session, row: BookingRow, amount: str, action: str, refuse: AbstractSet[BookingStatus]
    ) -> None:
        """A refused state is said first; then a price above what the customer agreed to is held."""
        self.refuse(row, action, refuse)
        hold_if_over_estimate(session, row, Decimal(amount), self.rt.business)

    def no_show(
        self, ref: str, *, at: str | datetime | None = None, session: Session | None = None
    ) -> BookingRow:
        return self._status_event(
            ref,
            name="booking.no_show",
            to=B.NO_SHOW,
            anchor=None,
            refuse=UNDER_WAY_OR_ENDED,
            at=at,
            cancel_reason="booking_cancelled",
            session=session,
        )

    def cancel(
        self,
        ref: str,
        *,
        reason: str | None = None,
        at: str | datetime | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        reason = booking_input.text(reason, "reason", 500)
        return self._status_event(
            ref,
            name="booking.cancelled",
            to=B.CANCELLED,
            anchor="cancelled",
            refuse=set(CLOSED),
            at=at,
            data={"reason": reason},
            cancel_reason="booking_cancelled",
            session=session,
        )

    def confirm(
        self,
        ref: str,
        *,
        at: str | datetime | None = None,
        source: str = "customer",
        session: Session | None = None,
    ) -> BookingRow:
        now = self.rt.now()
        with self.transaction(session) as tx:
            row = self.lock(tx, ref)
            self.refuse(row, "confirm", set(CLOSED))
            if row.confirmed:
                return row
            when = self._event_time(at, row, now)
            row.confirmed = True
            if row.status == B.BOOKED:
                row.status = str(B.CONFIRMED)
            self._set_anchor(row, "confirmed", when)
            row.updated_at = now
            self.apply_event(tx, row, "booking.confirmed", {"source": source}, at=when, now=now)
            return row

    def finding(
        self,
        ref: str,
        *,
        text: str,
        price: str | None = None,
        must_fix: bool = False,
        at: str | datetime | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        now = self.rt.now()
        clean = booking_input.text(text, "text", 1000)
        if not clean:
            raise UserInputError("text: describe what was found", field="text")
        amount = str(parse_money(price, field="price")) if price is not None else None
        with self.transaction(session) as tx:
            row = self.lock(tx, ref)
            self.refuse(row, "add a finding to", set(CLOSED))
            when = self._event_time(at, row, now)
            finding = FindingRow(
                business_id=self.business_id,
                booking_id=row.id,
                text=clean,
                price=amount,
                must_fix=must_fix,
                decision="pending",
                created_at=when,
            )
            tx.add(finding)
            tx.flush()
            data = {"text": clean, "price": amount, "must_fix": must_fix, "finding_id": finding.id}
            row.updated_at = now
            self.apply_event(tx, row, "job.finding", data, at=when, now=now)
            return row

    def customer_event(
        self,
        ref: str,
        name: str,
        data: dict[str, Any],
        *,
        at: str | datetime | None = None,
        session: Session | None = None,
    ) -> BookingRow:
        """``customer.replied`` (``text``) or ``customer.scored`` (``score`` 0-10)."""
        now = self.rt.now()
        with self.transaction(session) as tx:
            row = self.lock(tx, ref)
            when = self._event_time(at, row, now)
            if name == "customer.scored":
                try:
                    score = int(str(data.get("score")))
                except ValueError as exc:
                    raise UserInputError("score: expected a whole number 0-10", field="score") from exc
                if not 0 <= score <= 10:
                    raise UserInputError("score: expected a whole number 0-10", field="score")
                row.score = score
                data = {"score": score}
            elif name == "customer.replied":
                data = {"text": booking_input.text(str(data.get("text", "")), "text", 1600)}
            else:
                raise UserInputError(f"event: unknown customer event {name!r}", field="event")
            row.updated_at = now
            self.apply_event(tx, row, name, data, at=when, now=now)
            return row
