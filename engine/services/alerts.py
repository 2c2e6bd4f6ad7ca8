"""Staff alerts: the silence this product exists to prevent.

An alert is an outbox row (step ``staff_alert``) to the business's
``staff_phone`` and ``staff_email``, its text written when it is raised, plus a
history row the staff board shows. Alerts never alert about themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.core.business import BusinessProfile
from engine.store import history
from engine.store.tables import BookingRow, MessageRow
from engine.store.values import customer_name

STAFF_ALERT = "staff_alert"
URGENT_SKIP_REASONS = frozenset({"opted_out", "no_channel"})

TEXTS = {
    "nb": {
        "closed": "Forvent: svar fra {name} ({ref}), som er {status}: «{text}». Ta kontakt.",
        "undelivered": "Forvent: «{step}» til {name} ({ref}) ble ikke levert: {reason}. Kontakt kunden.",
        "reply": "Forvent: svar fra {name} ({ref}): «{text}»",
        "decline": "Forvent: {name} ({ref}) svarte NEI. Ta kontakt.",
        "change": "Forvent: {name} ({ref}) vil endre tid. Ta kontakt.",
        "finding_declined": "Forvent: {name} ({ref}) takket nei til ekstraarbeidet «{text}». Ta kontakt.",
        "cancelled": "Forvent: {name} ({ref}) avlyste avtalen {start} på siden sin.",
        "unmatched": "Forvent: SMS fra {sender} uten kjent bestilling: «{text}»",
        "subject": "Forvent: trenger oppfølging ({ref})",
    },
    "da": {
        "closed": "Forvent: svar fra {name} ({ref}), som er {status}: «{text}». Tag kontakt.",
        "undelivered": "Forvent: «{step}» til {name} ({ref}) blev ikke leveret: {reason}. Kontakt kunden.",
        "reply": "Forvent: svar fra {name} ({ref}): «{text}»",
        "decline": "Forvent: {name} ({ref}) svarede NEJ. Tag kontakt.",
        "change": "Forvent: {name} ({ref}) vil ændre tid. Tag kontakt.",
        "finding_declined": "Forvent: {name} ({ref}) sagde nej tak til ekstraarbejdet «{text}». Tag kontakt.",
        "cancelled": "Forvent: {name} ({ref}) aflyste aftalen {start} på sin side.",
        "unmatched": "Forvent: SMS fra {sender} uden kendt booking: «{text}»",
        "subject": "Forvent: kræver opfølgning ({ref})",
    },
    "en": {
        "closed": "Forvent: reply from {name} ({ref}), which is {status}: '{text}'. Please get in touch.",
        "undelivered": (
            "Forvent: '{step}' to {name} ({ref}) was not delivered: {reason}. Contact the customer."
        ),
        "reply": "Forvent: reply from {name} ({ref}): '{text}'",
        "decline": "Forvent: {name} ({ref}) replied NO. Please get in touch.",
        "change": "Forvent: {name} ({ref}) wants another time. Please get in touch.",
        "finding_declined": "Forvent: {name} ({ref}) declined the extra work '{text}'. Please get in touch.",
        "cancelled": "Forvent: {name} ({ref}) cancelled the appointment {start} on their page.",
        "unmatched": "Forvent: SMS from {sender} with no known booking: '{text}'",
        "subject": "Forvent: needs follow-up ({ref})",
    },
}


def alert_text(business: BusinessProfile, kind: str, **values: object) -> str:
    texts = TEXTS.get(business.default_locale, TEXTS["en"])
    return texts[kind].format(**{k: ("" if v is None else v) for k, v in values.items()})


def raise_alert(
    session: Session,
    *,
    business: BusinessProfile,
    booking_id: int | None,
    ref: str | None,
    text: str,
    now: datetime,
) -> list[MessageRow]:
    """Record the alert in the history and queue it to the staff phone and email."""
    line = history.record(
        session,
        business_id=business.id,
        booking_id=booking_id,
        at=now,
        kind="staff",
        detail=f"alert: {text}",
        data={"alert": True},
    )
    session.flush()
    rows = []
    targets = (("sms", business.staff_phone), ("email", business.staff_email))
    for channel, address in targets:
        if not address:
            continue
        row = MessageRow(
            business_id=business.id,
            booking_id=booking_id,
            key=f"{STAFF_ALERT}:{channel}:{line.id}",
            step=STAFF_ALERT,
            template=None,
            channel=channel,
            status="planned",
            due_at=now,
            ready_at=now,
            urgent=True,
            attempts=0,
            to_addr=address,
            body=text,
            subject=alert_text(business, "subject", ref=ref or "-") if channel == "email" else None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def alert_undelivered(
    session: Session, *, business: BusinessProfile, message: MessageRow, reason: str | None, now: datetime
) -> None:
    """An urgent message ended failed or skipped: tell staff who was not told what."""
    booking = session.get(BookingRow, message.booking_id) if message.booking_id else None
    ref = booking.ref if booking else None
    text = alert_text(
        business,
        "undelivered",
        step=message.step,
        reason=reason,
        name=customer_name(session, booking) if booking else "?",
        ref=ref or "-",
    )
    raise_alert(session, business=business, booking_id=message.booking_id, ref=ref, text=text, now=now)
