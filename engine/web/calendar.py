"""The booking's current invite as an ``.ics`` file, for the API and the customer page.

Same UID and SEQUENCE as the invites the dispatcher mails, so a calendar
that imports this file updates the event it already has. The API gives
``METHOD:REQUEST`` (``CANCEL`` once the booking is cancelled or a no-show);
the customer page gives ``METHOD:PUBLISH``, which names no attendee.
Summary and description come from the playbook's invite template (the first
step with ``invite:``), else ``_shared/cancelled`` for a cancelled booking.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from engine.core.context import build_context
from engine.core.values import BookingStatus
from engine.messages.invites import Invite, Method, build_invite
from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow
from engine.web.notices import links_for

CLOSING = frozenset({BookingStatus.CANCELLED, BookingStatus.NO_SHOW})
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")


def method_for(row: BookingRow, *, publish: bool) -> Method:
    if publish:
        return "PUBLISH"
    return "CANCEL" if BookingStatus(row.status) in CLOSING else "REQUEST"


def filename(row: BookingRow) -> str:
    return f"{_UNSAFE_FILENAME.sub('-', row.ref)[:60] or 'booking'}.ics"


def current_invite(runtime: Runtime, session: Session, row: BookingRow, method: Method) -> bytes:
    booking = BookingService(runtime).value(session, row)
    playbook = runtime.playbooks.get(row.playbook)
    business = runtime.business
    now = runtime.now()
    cancelling = BookingStatus(row.status) in CLOSING
    step = next((s for s in playbook.steps if s.invite_spec is not None), None)
    template = "cancelled" if cancelling or step is None else step.template
    links = links_for(runtime, row.id, now)
    context = build_context(
        booking=booking,
        title=playbook.title_in(booking.locale),
        business=business,
        links=links,
        step_id=step.id if step else "invite_update",
        channel="email",
        event=None,
        now=now,
    )
    ics = runtime.renderer.render_ics(
        playbook.playbook, template, booking.locale, playbook.default_locale, context
    )
    # A REQUEST/CANCEL names its attendee; a customer without email gets the attendee-free PUBLISH.
    if method != "PUBLISH" and not booking.customer.email:
        method = "PUBLISH"
    return build_invite(
        Invite(
            uid=row.invite_uid,
            sequence=row.invite_sequence,
            method=method,
            start=booking.start,
            end=booking.end,
            timezone=booking.timezone,
            summary=ics.summary if ics else f"{playbook.title_in(booking.locale)} - {business.name}",
            description=ics.description if ics else "",
            location=booking.location or business.address,
            url=links.page,
            organizer_name=business.name,
            organizer_email=business.from_address,
            attendee_name=booking.customer.name,
            attendee_email=booking.customer.email if method != "PUBLISH" else None,
            stamp=now,
            alarm=step.invite_spec.alarm_delta() if step and step.invite_spec else None,
        )
    )
