"""What a customer thinks after the job: scores, unhappy words, and a person who follows them up.

A score is recorded the same way whether it comes by SMS ("4", "3 dårlig
service") or from the customer's page (``/b/<token>/score``, where the review
request email's 0-10 links lead): ``customer.scored`` in the history and
``bookings.score`` (the latest score counts, so the report's NPS reads the
customer's last word). Then, by band (``engine.core.sentiment``):

- 0-6, or a free-text reply that reads unhappy within 14 days of the review
  request or the completion: staff are alerted at once with the customer's
  words, an ``attention`` item stays on the board until someone marks it
  handled, and ``customer.detractor`` plays the playbook's recovery step (the
  seeds offer a call back). While the booking's item is open, more words
  alert staff again and are added to it, but the customer is not offered a
  second call back.
- 9-10: ``customer.promoter`` plays the playbook's step with the public review
  link (once per booking). Nobody is sent the review link before they score.
- 7-8: the ``reply_score`` thank-you (SMS replies only; the page says it).

When the playbook has no step for the band's event, the SMS reply gets the
``reply_score`` acknowledgement instead, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import sentiment
from engine.core.values import BookingStatus
from engine.exceptions import ConflictError, NotFoundError, UserInputError
from engine.runtime import Runtime
from engine.services.alerts import raise_alert
from engine.services.bookings import BookingService
from engine.store import actors, attention, history
from engine.store.tables import BookingRow, CustomerRow, HistoryRow, MessageRow

DETRACTOR_EVENT = "customer.detractor"
PROMOTER_EVENT = "customer.promoter"
#: A score or unhappy words count within this long after the review request (or completion).
FEEDBACK_WINDOW = timedelta(days=14)
REVIEW_STEP = "review_request"
SHARED_STAFF = "staff"

TEXTS = {
    "nb": {
        "scored": "Forvent: {name} ({ref}) ga {score} av 10{words}. Kontakt kunden: {contact}.",
        "unhappy": "Forvent: {name} ({ref}) er misfornøyd: «{text}». Kontakt kunden: {contact}.",
    },
    "da": {
        "scored": "Forvent: {name} ({ref}) gav {score} ud af 10{words}. Kontakt kunden: {contact}.",
        "unhappy": "Forvent: {name} ({ref}) er utilfreds: «{text}». Kontakt kunden: {contact}.",
    },
    "en": {
        "scored": "Forvent: {name} ({ref}) scored {score} out of 10{words}. Contact the customer: {contact}.",
        "unhappy": "Forvent: {name} ({ref}) is unhappy: '{text}'. Contact the customer: {contact}.",
    },
}
QUOTES = {"nb": ": «{}»", "da": ": «{}»", "en": ": '{}'"}
MAX_WORDS = 300  # of the customer's text quoted in an alert


@dataclass(frozen=True)
class Answer:
    """What a score or an unhappy reply led to."""

    band: sentiment.Band
    step: str | None = None  # the playbook step planned to answer the customer, if any
    attention_id: int | None = None


class Feedback:
    def __init__(self, runtime: Runtime, service: BookingService | None = None) -> None:
        self.rt = runtime
        self.service = service or BookingService(runtime)

    # --- when feedback counts --------------------------------------------------------

    def review_requested(self, session: Session, booking_id: int, now: datetime) -> bool:
        """The review request went out within the last 14 days: a score is what it asked for."""
        sent = session.scalar(
            select(MessageRow.sent_at)
            .where(
                MessageRow.booking_id == booking_id,
                MessageRow.step == REVIEW_STEP,
                MessageRow.sent_at.is_not(None),
            )
            .order_by(MessageRow.sent_at.desc())
            .limit(1)
        )
        return sent is not None and now - sent <= FEEDBACK_WINDOW

    def after_the_job(self, session: Session, booking: BookingRow, now: datetime) -> bool:
        """Words now are about the job: the review request or the completion was less than 14 days ago."""
        completed = (booking.anchors or {}).get("completed")
        if completed and now - datetime.fromisoformat(completed) <= FEEDBACK_WINDOW:
            return True
        return self.review_requested(session, booking.id, now)

    # --- in the caller's transaction, on its locked booking ----------------------------

    def scored(
        self, session: Session, booking: BookingRow, score: int, *, words: str, source: str, now: datetime
    ) -> Answer:
        """Record ``score`` (``words``: what the customer wrote with it) and act on its band."""
        self.service.customer_event(booking.ref, "customer.scored", {"score": score}, session=session)
        band = sentiment.band(score)
        if band == "detractor":
            alert = self._text(
                "scored",
                name=self._name(session, booking),
                ref=booking.ref,
                score=score,
                words=self._quote(words) if words else "",
                contact=self._contact(session, booking),
            )
            detail = f"{score}/10: {words}" if words else f"{score}/10"
            data = {"score": score, "text": words or None, "source": source}
            return self._detractor(session, booking, alert=alert, detail=detail, data=data, now=now)
        if band == "promoter":
            return Answer(band, self._promoter(session, booking, score, source, now))
        return Answer(band)

    def unhappy(
        self, session: Session, booking: BookingRow, text: str, *, source: str, now: datetime
    ) -> Answer:
        """Free text that reads unhappy after the job: the same follow-up as a low score."""
        words = text[:MAX_WORDS]
        alert = self._text(
            "unhappy",
            name=self._name(session, booking),
            ref=booking.ref,
            text=words,
            contact=self._contact(session, booking),
        )
        data = {"score": None, "text": words, "source": source}
        return self._detractor(session, booking, alert=alert, detail=words, data=data, now=now)

    def _detractor(
        self,
        session: Session,
        booking: BookingRow,
        *,
        alert: str,
        detail: str,
        data: Mapping[str, object],
        now: datetime,
    ) -> Answer:
        business = self.rt.business
        raise_alert(session, business=business, booking_id=booking.id, ref=booking.ref, text=alert, now=now)
        item = attention.open_for(session, booking.id, attention.DETRACTOR)
        if item is not None:  # someone is already on it: they read the new words, no second offer
            item.detail = f"{item.detail}\n{detail}" if item.detail else detail
            return Answer("detractor", None, item.id)
        item = attention.add(session, booking, kind=attention.DETRACTOR, detail=detail, now=now)
        step = self._play(session, booking, DETRACTOR_EVENT, data, now)
        return Answer("detractor", step, item.id)

    def _promoter(
        self, session: Session, booking: BookingRow, score: int, source: str, now: datetime
    ) -> str | None:
        already = session.scalar(
            select(HistoryRow.id)
            .where(HistoryRow.booking_id == booking.id, HistoryRow.kind == f"event:{PROMOTER_EVENT}")
            .limit(1)
        )
        if already is not None:
            return None
        return self._play(session, booking, PROMOTER_EVENT, {"score": score, "source": source}, now)

    def _play(
        self, session: Session, booking: BookingRow, event: str, data: Mapping[str, object], now: datetime
    ) -> str | None:
        """Record ``event`` and plan its steps; the first step's id, or None when the playbook has none."""
        self.service.apply_event(session, booking, event, data, at=now, now=now)
        steps = self.rt.planner(booking.playbook).steps_for(event)
        return steps[0].id if steps else None

    # --- from the customer's page -------------------------------------------------------

    def score_from_page(self, booking_id: int, value: int) -> Answer | None:
        """One transaction on the locked booking; the same score again (a double tap) changes nothing."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
            raise UserInputError("value: expected a whole number 0-10", field="value")
        now = self.rt.now()
        with self.rt.database.session(actor=actors.CUSTOMER_PAGE) as session:
            row = self.service.lock_id(session, booking_id)
            if BookingStatus(row.status) in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
                raise ConflictError(f"cannot score: the booking is {row.status}", field="value")
            if not self.review_requested(session, row.id, now):
                raise ConflictError(
                    "value: scores are taken for 14 days after the review request", field="value"
                )
            if row.score == value:
                return None
            return self.scored(session, row, value, words="", source="page", now=now)

    # --- staff ------------------------------------------------------------------------

    def handle(self, item_id: int, *, by: str | None = None) -> attention.Item:
        """Mark an attention item handled, in one transaction that locks its booking first.

        ``by``: who, else the transaction's actor, else ``staff``. Marking again by the
        same person changes nothing; an item someone else handled is a ConflictError
        naming them.
        """
        now = self.rt.now()
        business_id = self.rt.business.id
        with self.rt.database.session(actor=by) as session:
            found = attention.get(session, business_id, item_id)
            if found is None:
                raise NotFoundError(f"no attention item {item_id}", field="id")
            booking = self.service.lock_id(session, found.booking_id) if found.booking_id else None
            who = _handler(session, by)
            actors.bind(session, who)  # the history line names who handled it
            current = attention.get(session, business_id, item_id)  # read again under the booking's lock
            assert current is not None
            if current.handled_at is not None:
                if current.handled_by == who:
                    return current
                raise ConflictError(
                    f"attention item {item_id} was already handled by {current.handled_by}", field="id"
                )
            if not attention.mark_handled(session, item_id, by=who, now=now):
                # Only an item with no booking to lock gets here: the compare-and-set decided.
                won = attention.get(session, business_id, item_id)
                if won is not None and won.handled_by == who:
                    return won
                by_whom = won.handled_by if won is not None else "someone else"
                raise ConflictError(f"attention item {item_id} was already handled by {by_whom}", field="id")
            if booking is not None:
                data = {"attention": item_id, "kind": current.kind, "by": who}
                history.add(
                    session, booking, "staff", f"attention handled: {current.kind}", at=now, data=data
                )
            done = attention.get(session, business_id, item_id)
            assert done is not None
            return done

    # --- words ------------------------------------------------------------------------

    def _text(self, key: str, **values: object) -> str:
        texts = TEXTS.get(self.rt.business.default_locale, TEXTS["en"])
        return texts[key].format(**values)

    def _quote(self, words: str) -> str:
        return QUOTES.get(self.rt.business.default_locale, QUOTES["en"]).format(words[:MAX_WORDS])

    @staticmethod
    def _name(session: Session, booking: BookingRow) -> str:
        customer = session.get(CustomerRow, booking.customer_id)
        return customer.name if customer else "?"

    @staticmethod
    def _contact(session: Session, booking: BookingRow) -> str:
        customer = session.get(CustomerRow, booking.customer_id)
        if customer is None:
            return "?"
        return " / ".join(filter(None, (customer.phone, customer.email))) or "?"


def _handler(session: Session, by: str | None) -> str:
    actor = by or actors.of(session)
    return SHARED_STAFF if actor == actors.SYSTEM else actor


def play(service: BookingService, ref: str, name: str, data: dict[str, str]) -> Answer:
    """``customer.scored``, ``customer.detractor`` or ``customer.promoter`` on booking ``ref``, as a
    reply would bring it (``forvent preview --event customer.scored@ISO,score=3``)."""
    feedback = Feedback(service.rt, service)
    now = service.rt.now()
    words = data.get("text", "")
    with service.transaction() as session:
        row = service.lock(session, ref)
        if name == DETRACTOR_EVENT and not data.get("score"):
            return feedback.unhappy(session, row, words or "-", source="preview", now=now)
        raw = data.get("score") or ("10" if name == PROMOTER_EVENT else "")
        try:
            score = int(raw)
        except ValueError:
            raise UserInputError("score: expected a whole number 0-10", field="score") from None
        if not 0 <= score <= 10:
            raise UserInputError("score: expected a whole number 0-10", field="score")
        return feedback.scored(session, row, score, words=words, source="preview", now=now)
