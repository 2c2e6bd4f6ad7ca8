"""The template context: what every template and condition can use (pure).

Plain dicts, so Jinja's attribute access works and the sandbox has nothing
to call. Facts a booking does not carry are absent, hence undefined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.core import timing
from engine.core.business import BusinessProfile
from engine.core.values import Booking, Event


@dataclass(frozen=True, kw_only=True)
class Links:
    page: str
    invite: str
    review: str | None
    unsubscribe: str

    @property
    def reschedule(self) -> str:
        """The page's free times, where the customer moves the booking in one tap."""
        return f"{self.page}#time"

    @property
    def book_next(self) -> str:
        """The free times of the same playbook, where the customer books the next visit."""
        return f"{self.page}/next"

    @classmethod
    def placeholder(cls, business: BusinessProfile) -> Links:
        """Links for planning and linting, before anything is signed."""
        base = "http://127.0.0.1:8000/b/sample"
        return cls(
            page=base,
            invite=f"{base}/invite.ics",
            review=business.review_url,
            unsubscribe=f"{base}/unsubscribe",
        )


def booking_context(booking: Booking, title: str) -> dict[str, Any]:
    tz = timing.zone(booking.timezone)
    return {
        "ref": booking.ref,
        "playbook": booking.playbook,
        "title": title,
        "start": booking.start.astimezone(tz),
        "end": booking.end.astimezone(tz),
        "promised_start": booking.promised_start.astimezone(tz),
        "promised_end": booking.promised_end.astimezone(tz),
        "timezone": booking.timezone,
        "location": booking.location,
        "status": str(booking.status),
        "confirmed": booking.confirmed,
        "delay_minutes": booking.delay_minutes,
        "delay_reason": booking.delay_reason,
        "facts": dict(booking.facts),
        "findings": [
            {
                "text": f.text,
                "price": f.price,
                "must_fix": f.must_fix,
                "decision": f.decision,
                "at": f.at.astimezone(tz),
            }
            for f in booking.findings
        ],
        "final_price": booking.final_price,
        "pickup_at": booking.pickup_at.astimezone(tz) if booking.pickup_at else None,
        # The arrival staff gave when they set off (staff.on_my_way), else none.
        "eta": eta.astimezone(tz) if (eta := booking.anchors.get("eta")) else None,
        "choices": dict(booking.choices),
        "score": booking.score,
    }


def business_context(business: BusinessProfile) -> dict[str, Any]:
    data = business.model_dump(
        include={
            "name",
            "phone",
            "email",
            "address",
            "website",
            "review_url",
            "logo_url",
            "currency",
            "sms_sender",
            "timezone",
            "country",
            "prices_include_vat",
        }
    )
    data["sms_two_way"] = business.sms_two_way
    return data


def build_context(
    *,
    booking: Booking,
    title: str,
    business: BusinessProfile,
    links: Links,
    step_id: str,
    channel: str,
    event: Event | None,
    now: datetime,
) -> dict[str, Any]:
    tz = timing.zone(booking.timezone)
    customer = booking.customer
    return {
        "customer": {
            "name": customer.name,
            "first_name": customer.first_name,
            "phone": customer.phone,
            "email": customer.email,
            "locale": booking.locale,
            "marketing_ok": customer.marketing_ok,
        },
        "booking": booking_context(booking, title),
        "business": business_context(business),
        "links": {
            "page": links.page,
            "invite": links.invite,
            "review": links.review,
            "unsubscribe": links.unsubscribe,
            "reschedule": links.reschedule,
            "book_next": links.book_next,
        },
        "step": {"id": step_id, "channel": channel},
        "event": _event_context(event, tz),
        "now": now.astimezone(tz),
    }


def _event_context(event: Event | None, tz: Any) -> Mapping[str, Any] | None:
    if event is None:
        return None
    return {"name": event.name, "at": event.at.astimezone(tz), "data": dict(event.data)}
