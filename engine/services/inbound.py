"""What comes back: delivery status callbacks and customers' SMS replies.

Replies are matched by the sender's number to the booking that most recently
sent that number an SMS, else the one with the nearest upcoming start, else
stored unmatched for staff. Keywords work in every locale and match the first
word after trimming case, whitespace, punctuation and emoji.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core import sentiment
from engine.core.contacts import address_hash
from engine.core.values import BookingStatus, MessageStatus
from engine.dispatch.fallback import plan_fallback
from engine.runtime import Runtime
from engine.services import findings
from engine.services.acknowledgements import acknowledge
from engine.services.alerts import alert_text, alert_undelivered, raise_alert
from engine.services.bookings import BookingService
from engine.services.feedback import Feedback
from engine.services.webhooks_out import message_event
from engine.store import actors, history, outbox
from engine.store.tables import (
    BookingRow,
    BusinessRow,
    CustomerRow,
    FindingRow,
    HistoryRow,
    MessageRow,
    OptOutRow,
)
from engine.store.values import customer_name

S = MessageStatus
KEYWORDS = {
    "confirm": {"JA", "YES", "OK", "C"},
    "decline": {"NEI", "NEJ", "NO"},
    "change": {"ENDRE", "ÆNDR", "ÆNDRE", "CHANGE"},
    "stop": {"STOP", "STOPP", "UNSUBSCRIBE", "AVMELD", "AFMELD"},
    "start": {"START"},
}
SCORE_WINDOW = timedelta(days=14)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
DELIVERED, FAILED_STATUSES = "delivered", {"undelivered", "failed"}


def classify(text: str) -> tuple[str | None, int | None]:
    """(reply class, score): "Ja takk!" is confirm; "7" and "3 dårlig service" are scores; else Nones."""
    score = sentiment.read_score(text)
    if score is not None:
        return "score", score[0]
    cleaned = "".join(c for c in text if unicodedata.category(c)[0] in "LNZ" or c in "-'")
    match = _WORD.search(cleaned)
    if not match:
        return None, None
    word = match.group(0).upper()
    for name, words in KEYWORDS.items():
        if word in words:
            return name, None
    return None, None


@dataclass(frozen=True)
class ReplyOutcome:
    reply_class: str | None
    booking_ref: str | None
    action: str
    acknowledgement: str | None = None  # the step of the answer planned to the customer


class Inbound:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.service = BookingService(runtime)
        self.feedback = Feedback(runtime, self.service)

    # --- delivery status ---------------------------------------------------------------

    def status_callback(self, message_id: str, status: str, error_code: str | None) -> str:
        """Apply a Twilio status; repeated and out-of-order callbacks are harmless."""
        # isdigit() alone takes "²" (int() then fails) and "١" (int() reads 1); past 18
        # digits the id overflows PostgreSQL's bigint. None of those is a message of ours.
        if not (message_id.isascii() and message_id.isdigit()) or len(message_id) > 18:
            return "ignored"
        now = self.rt.now()
        status = status.lower()
        with self.rt.database.session() as session:
            row = session.get(MessageRow, int(message_id))
            if row is None or row.status != S.SENT:
                return "ignored"  # a late sent/queued never overwrites delivered or failed
            if status == DELIVERED:
                outbox.transition(session, row, S.DELIVERED, now=now, expect=[S.SENT], delivered_at=now)
                message_event(session, self.rt.business, row, "message.delivered", now=now)
                return "delivered"
            if status in FAILED_STATUSES:
                reason = f"sms:{error_code or status}"
                outbox.transition(
                    session,
                    row,
                    S.FAILED,
                    now=now,
                    reason=reason,
                    expect=[S.SENT],
                    detail=f"provider reported {status}",
                )
                message_event(session, self.rt.business, row, "message.failed", now=now, reason=reason)
                fallback = plan_fallback(self.rt, self.service, session, row, now)
                if fallback is None and row.urgent and row.booking_id:
                    self._alert_undelivered(session, row, reason, now)
                return "failed"
        return "ignored"

    def _alert_undelivered(self, session: Session, row: MessageRow, reason: str, now: datetime) -> None:
        alert_undelivered(session, business=self.rt.business, message=row, reason=reason, now=now)

    # --- replies -----------------------------------------------------------------------

    def normalise(self, number: str) -> str:
        try:
            parsed = phonenumbers.parse(number, self.rt.business.country)
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return number.strip()

    def reply(self, sender: str, text: str, sid: str | None = None) -> ReplyOutcome:
        """Act on an inbound SMS in one transaction; ``sid`` (Twilio's ``MessageSid``) makes a
        replayed request a no-op.

        One transaction, so a crash midway leaves nothing recorded and Twilio's retry
        is processed in full instead of being dropped as a duplicate.
        """
        now = self.rt.now()
        number = self.normalise(sender)
        text = text.strip()[:1600]
        reply_class, score = classify(text)
        with self.rt.database.session(actor=actors.CUSTOMER_SMS) as session:
            self.service.ensure_business(session, now)
            matched = self._match(session, number, now)
            # The booking is locked before the duplicate check: a retry arriving while the
            # first delivery is still being processed waits here, then sees it on record.
            # With no booking to lock, the business's row serialises the copies instead.
            booking = self.service.lock_id(session, matched.id) if matched is not None else None
            if booking is None:
                self._serialise_unmatched(session)
            if sid and self._seen(session, sid):
                return ReplyOutcome(None, None, "duplicate")
            self._opt(session, reply_class, number, now)
            if booking is None:
                self._store(session, None, text, reply_class, number, sid, now)
                raise_alert(
                    session,
                    business=self.rt.business,
                    booking_id=None,
                    ref=None,
                    now=now,
                    text=alert_text(self.rt.business, "unmatched", sender=number, text=text),
                )
                return ReplyOutcome(reply_class, None, "unmatched")
            if reply_class == "score" and not self._review_requested(session, booking.id, now):
                reply_class = None
            self._store(session, booking.id, text, reply_class, number, sid, now)
            if BookingStatus(booking.status) in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW) and (
                reply_class not in ("stop", "start")
            ):
                self._alert_closed(session, booking, text, now)
                return ReplyOutcome(reply_class, booking.ref, "closed")
            if reply_class is None and self._unhappy_after_the_job(session, booking, text, now):
                self.service.customer_event(booking.ref, "customer.replied", {"text": text}, session=session)
                answer = self.feedback.unhappy(session, booking, text, source="sms", now=now)
                return ReplyOutcome(None, booking.ref, "detractor", answer.step)
            action, decided = self._act(session, booking, reply_class, text, now)
            if action == "confirm":
                self.service.confirm(booking.ref, source="sms", session=session)
            elif action == "score" and score is not None:
                words = (sentiment.read_score(text) or (score, ""))[1]
                answer = self.feedback.scored(session, booking, score, words=words, source="sms", now=now)
                if answer.step is not None:  # the playbook's own answer (call-back offer, review link)
                    return ReplyOutcome(reply_class, booking.ref, action, answer.step)
            elif action == "other":
                self.service.customer_event(booking.ref, "customer.replied", {"text": text}, session=session)
            if reply_class is None:
                return ReplyOutcome(reply_class, booking.ref, action)
            ack = self._acknowledge(session, booking, reply_class, decided, now)
            return ReplyOutcome(reply_class, booking.ref, action, ack.step)

    def _store(
        self,
        session: Session,
        booking_id: int | None,
        text: str,
        reply_class: str | None,
        number: str,
        sid: str | None,
        now: datetime,
    ) -> None:
        history.record(
            session,
            business_id=self.rt.business.id,
            booking_id=booking_id,
            at=now,
            kind="reply",
            detail=text,
            data={"class": reply_class, "from": number, "sid": sid},
        )

    def _alert_closed(self, session: Session, booking: BookingRow, text: str, now: datetime) -> None:
        """A reply to a cancelled booking (often "but I still need you!"): a person must read it."""
        alert = alert_text(
            self.rt.business,
            "closed",
            name=customer_name(session, booking),
            ref=booking.ref,
            status=booking.status,
            text=text[:300],
        )
        raise_alert(
            session, business=self.rt.business, booking_id=booking.id, ref=booking.ref, now=now, text=alert
        )

    def _serialise_unmatched(self, session: Session) -> None:
        """Take the business's row (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already holds the
        file), the lock slot-taking takes (decision 0017). No booking is locked before it here, so
        the order booking, then business, still holds and cannot deadlock."""
        session.execute(select(BusinessRow.id).where(BusinessRow.id == self.rt.business.id).with_for_update())

    def _seen(self, session: Session, sid: str) -> bool:
        """A reply with this provider id is already on record: Twilio retried, or someone replayed it."""
        found = session.scalar(
            select(HistoryRow.id)
            .where(
                HistoryRow.business_id == self.rt.business.id,
                HistoryRow.kind == "reply",
                HistoryRow.data["sid"].as_string() == sid,
            )
            .limit(1)
        )
        return found is not None

    def _opt(self, session: Session, reply_class: str | None, number: str, now: datetime) -> None:
        if reply_class not in ("stop", "start"):
            return
        digest = address_hash("sms", number, self.rt.settings.secret)
        existing = session.scalar(
            select(OptOutRow).where(
                OptOutRow.business_id == self.rt.business.id,
                OptOutRow.channel == "sms",
                OptOutRow.address_hash == digest,
            )
        )
        if reply_class == "stop" and existing is None:
            session.add(
                OptOutRow(
                    business_id=self.rt.business.id,
                    channel="sms",
                    address_hash=digest,
                    created_at=now,
                )
            )
        elif reply_class == "start" and existing is not None:
            session.delete(existing)

    def _match(self, session: Session, number: str, now: datetime) -> BookingRow | None:
        business_id = self.rt.business.id
        recent = session.scalar(
            select(MessageRow.booking_id)
            .where(
                MessageRow.business_id == business_id,
                MessageRow.channel == "sms",
                MessageRow.to_addr == number,
                MessageRow.sent_at.is_not(None),
                MessageRow.booking_id.is_not(None),
                MessageRow.step != "staff_alert",
            )
            .order_by(MessageRow.sent_at.desc(), MessageRow.id.desc())
            .limit(1)
        )
        if recent is not None:
            return session.get(BookingRow, recent)
        return session.scalar(
            select(BookingRow)
            .join(CustomerRow, CustomerRow.id == BookingRow.customer_id)
            .where(
                BookingRow.business_id == business_id,
                CustomerRow.phone == number,
                BookingRow.start_at >= now,
            )
            .order_by(BookingRow.start_at)
            .limit(1)
        )

    def _unhappy_after_the_job(self, session: Session, booking: BookingRow, text: str, now: datetime) -> bool:
        """Words that read unhappy (``engine.core.sentiment``), about a job just done."""
        return sentiment.reads_negative(text, booking.locale) and self.feedback.after_the_job(
            session, booking, now
        )

    def _review_requested(self, session: Session, booking_id: int, now: datetime) -> bool:
        sent = session.scalar(
            select(MessageRow.sent_at)
            .where(
                MessageRow.booking_id == booking_id,
                MessageRow.step == "review_request",
                MessageRow.sent_at.is_not(None),
            )
            .order_by(MessageRow.sent_at.desc())
            .limit(1)
        )
        return sent is not None and now - sent <= SCORE_WINDOW

    def _act(
        self,
        session: Session,
        booking: BookingRow,
        reply_class: str | None,
        text: str,
        now: datetime,
    ) -> tuple[str, FindingRow | None]:
        """What the reply means for the booking: the follow-up action, and the finding it decided."""
        name = customer_name(session, booking)
        finding = session.scalar(
            select(FindingRow)
            .where(FindingRow.booking_id == booking.id, FindingRow.decision == "pending")
            .order_by(FindingRow.id.desc())
        )
        if reply_class in ("confirm", "decline") and finding is not None:
            decision = "approved" if reply_class == "confirm" else "declined"
            findings.decide(
                session,
                business=self.rt.business,
                booking=booking,
                finding=finding,
                decision=decision,
                now=now,
                source="sms",
            )
            return "finding", finding
        if reply_class in ("decline", "change", None):
            # Words that need a person: staff are told, nothing is cancelled by itself.
            kind = reply_class or "reply"
            alert = alert_text(self.rt.business, kind, name=name, ref=booking.ref, text=text[:300])
            raise_alert(
                session,
                business=self.rt.business,
                booking_id=booking.id,
                ref=booking.ref,
                now=now,
                text=alert,
            )
            return reply_class or "other", None
        return reply_class, None

    def _acknowledge(
        self,
        session: Session,
        booking: BookingRow,
        reply_class: str,
        decided: FindingRow | None,
        now: datetime,
    ) -> MessageRow:
        """``reply_<class>`` at once, naming the finding the reply decided, if any."""
        answered = {"source": "sms", **(findings.finding_data(decided) if decided is not None else {})}
        return acknowledge(session, booking, reply_class, now=now, data=answered)
