"""What a customer can do on their page (``/b/<token>``), each one recorded in the history.

The page's link names the booking by row id; every function here takes that
id and works only on that booking, so one customer's link can never touch
another's booking or findings. Confirm and cancel go through
``BookingService`` (the same events as the CLI and the API); asking for
another time is a ``reply`` that alerts staff (it never moves the booking by
itself, as SPEC says of the SMS ``ENDRE``); finding decisions and option
choices are ``choice`` rows. Repeating an action with the same answer changes
nothing, so a double tap or the back button is harmless.

Every agreement is confirmed in writing, in the same transaction: a confirm,
a finding approved or declined, an option chosen and a request for another
time plan a ``reply_<class>`` acknowledgement (``engine.services.
acknowledgements``) by SMS, or by email to a customer SMS does not reach. A
cancel is confirmed by the cancellation notice the engine sends anyway (with
the calendar's cancel when an invite went out); it and a declined finding
alert staff too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.core import timing
from engine.core.contacts import address_hash
from engine.core.values import CLOSED, BookingStatus
from engine.exceptions import ConflictError, NotFoundError, UserInputError
from engine.messages.formatting import date_time
from engine.runtime import Runtime
from engine.services import findings
from engine.services.acknowledgements import acknowledge, written_channel
from engine.services.alerts import alert_text, raise_alert
from engine.services.bookings import BookingService
from engine.store import history
from engine.store.tables import BookingRow, CustomerRow, FindingRow, HistoryRow, OptOutRow
from engine.store.values import customer_name

DECISIONS = frozenset({"approved", "declined"})
WAITING = frozenset({BookingStatus.BOOKED, BookingStatus.CONFIRMED})
MAX_WISH = 500
SOURCE = "page"


class CustomerActions:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.service = BookingService(runtime)

    def booking(self, session: Session, booking_id: int) -> BookingRow:
        row = session.get(BookingRow, booking_id)
        if row is None or row.business_id != self.service.business_id:
            raise NotFoundError("this booking no longer exists", field="booking")
        return row

    def _open(self, session: Session, booking_id: int, action: str) -> BookingRow:
        """The booking, locked for this action's transaction, refused once closed."""
        row = self.service.lock_id(session, booking_id)
        if BookingStatus(row.status) in CLOSED:
            raise ConflictError(f"cannot {action}: the booking is {row.status}", field="booking")
        return row

    def confirm(self, booking_id: int) -> None:
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self.service.lock_id(session, booking_id)
            already = row.confirmed
            self.service.confirm(row.ref, source=SOURCE, session=session)
            if not already:
                self._in_writing(session, row, "confirm", now)

    def cancel(self, booking_id: int) -> None:
        """Only before the work starts: once started, cancelling is a conversation with staff.

        No reason is given: the cancellation notice would show it to the customer, who
        knows; staff read who cancelled in their alert.
        """
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self.service.lock_id(session, booking_id)
            status = BookingStatus(row.status)
            if status == BookingStatus.CANCELLED:
                return
            if status not in WAITING:
                raise ConflictError(f"cannot cancel: the booking is {status}", field="booking")
            self.service.cancel(row.ref, session=session)
            self._alert_cancelled(session, row, now)

    def _alert_cancelled(self, session: Session, row: BookingRow, now: datetime) -> None:
        business = self.rt.business
        start = date_time(row.start_at.astimezone(timing.zone(row.timezone)), business.default_locale)
        name = customer_name(session, row)
        alert = alert_text(business, "cancelled", name=name, ref=row.ref, start=start)
        raise_alert(session, business=business, booking_id=row.id, ref=row.ref, text=alert, now=now)

    def ask_other_time(self, booking_id: int, wish: str | None) -> None:
        """A ``reply`` (class ``change``) in the history and an alert to staff."""
        text = (wish or "").strip()
        if len(text) > MAX_WISH:
            raise UserInputError(f"text: longer than {MAX_WISH} characters", field="text")
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self._open(session, booking_id, "ask for another time")
            asked = text or "asked for another time"
            if self._repeated_wish(session, row, asked):
                return
            history.add(session, row, "reply", asked, at=now, data={"class": "change", "source": SOURCE})
            alert = alert_text(self.rt.business, "change", name=customer_name(session, row), ref=row.ref)
            raise_alert(
                session,
                business=self.rt.business,
                booking_id=row.id,
                ref=row.ref,
                text=f"{alert} «{text}»" if text else alert,
                now=now,
            )
            self._in_writing(session, row, "change", now, text=text or None)

    def _repeated_wish(self, session: Session, row: BookingRow, asked: str) -> bool:
        """The booking's last answer or event is this same wish from the page: a double tap."""
        last = session.scalar(
            select(HistoryRow)
            .where(
                HistoryRow.booking_id == row.id,
                or_(HistoryRow.kind.in_(("reply", "choice")), HistoryRow.kind.startswith("event:")),
            )
            .order_by(HistoryRow.id.desc())
            .limit(1)
        )
        if last is None or last.kind != "reply" or last.detail != asked:
            return False
        data = last.data or {}
        return data.get("class") == "change" and data.get("source") == SOURCE

    def decide_finding(self, booking_id: int, finding_id: int, decision: str) -> None:
        """Approve or decline one finding of this booking; a ``choice`` row records it."""
        if decision not in DECISIONS:
            raise UserInputError("decision: expected approved or declined", field="decision")
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self._open(session, booking_id, "answer")
            finding = session.get(FindingRow, finding_id)
            if finding is None or finding.booking_id != row.id:
                raise NotFoundError("no such finding on this booking", field="finding")
            if finding.decision == decision:
                return
            if finding.decision != "pending":
                raise ConflictError(f"this was already {finding.decision}", field="decision")
            findings.decide(
                session,
                business=self.rt.business,
                booking=row,
                finding=finding,
                decision=decision,
                now=now,
                source=SOURCE,
            )
            answer = "confirm" if decision == "approved" else "decline"
            self._in_writing(session, row, answer, now, **findings.finding_data(finding))

    def choose(self, booking_id: int, option_id: str, choice: str) -> None:
        """Store one of the playbook's ``options`` in ``BookingRow.choices``."""
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self._open(session, booking_id, "change a choice")
            playbook = self.rt.playbooks.get(row.playbook)
            option = next((o for o in playbook.options if o.id == option_id), None)
            if option is None:
                raise NotFoundError(f"no option {option_id!r}", field="option")
            if choice not in option.choices:
                raise UserInputError(f"choice: expected one of {', '.join(option.choices)}", field="choice")
            if (row.choices or {}).get(option_id) == choice:
                return
            row.choices = {**(row.choices or {}), option_id: choice}
            row.updated_at = now
            data = {"option": option_id, "choice": choice, "source": SOURCE}
            history.add(session, row, "choice", f"{option_id}: {choice}", at=now, data=data)
            self._in_writing(session, row, "choice", now, option=option_id, choice=choice)

    def unsubscribe(self, booking_id: int) -> None:
        """No more marketing messages (the ``List-Unsubscribe`` link); service messages still go."""
        now = self.rt.now()
        with self.rt.database.session() as session:
            row = self.service.lock_id(session, booking_id)
            customer = session.get(CustomerRow, row.customer_id)
            if customer is None:
                return
            customer.marketing_ok = False
            # Kept as hashes of the addresses, like STOP: it outlives this booking and an erasure.
            for address in filter(None, (customer.phone, customer.email)):
                digest = address_hash("marketing", address, self.rt.settings.secret)
                exists = session.scalar(
                    select(OptOutRow.id).where(
                        OptOutRow.business_id == row.business_id, OptOutRow.address_hash == digest
                    )
                )
                if exists is None:
                    session.add(
                        OptOutRow(
                            business_id=row.business_id,
                            channel="marketing",
                            address_hash=digest,
                            created_at=now,
                        )
                    )
            history.add(
                session,
                row,
                "choice",
                "no more offers (unsubscribed on the page)",
                at=now,
                data={"marketing_ok": False, "source": SOURCE},
            )

    def _in_writing(
        self, session: Session, row: BookingRow, answer: str, now: datetime, **answered: Any
    ) -> None:
        """Plan the written confirmation of ``answer``; a customer no channel reaches saw it on the page."""
        channel = written_channel(session, row, secret=self.rt.settings.secret)
        if channel is not None:
            data = {"source": SOURCE, **answered}
            acknowledge(session, row, answer, now=now, channel=channel, data=data)
