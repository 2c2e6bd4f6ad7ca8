"""Message composition: a draft becomes the message a provider sends.

The text comes from the playbook's templates (``engine.messages.rendering``),
with freshly signed links and ``now`` as the send time. An email that starts a
calendar invite, or follows a change of one the customer already has, carries
the invite (``engine.messages.invites``). Staff alerts were written when they
were raised; they are only addressed here. The dispatch pass and ``forvent
preview`` both compose through a ``Composer``, so a preview shows what would
be sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from engine.channels.base import OutgoingMessage
from engine.core.context import Links, build_context
from engine.core.planner import INVITE_EVENTS
from engine.core.values import Booking, BookingStatus
from engine.dispatch.drafts import Draft
from engine.messages.invites import Invite, build_invite
from engine.runtime import Runtime
from engine.store.tables import MessageRow

# Steps that tell of a change to the booking: an invite the customer has follows them.
INVITE_STEPS = frozenset({"moved", "cancelled", "invite_update"})
InviteMethod = Literal["REQUEST", "CANCEL"]


class Composer:
    """Composes outbox rows with the runtime's renderer, business profile and link signer."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def compose(self, row: MessageRow, draft: Draft, *, now: datetime) -> OutgoingMessage:
        """The message ``row`` stands for, rendered as of ``now``.

        Raises ``TemplateRenderError`` when a template cannot be rendered. The
        message carries an invite exactly when its ``ics`` is set.
        """
        context = build_context(
            booking=draft.booking,
            title=draft.playbook.title_in(draft.booking.locale),
            business=self.rt.business,
            links=self.links(draft.booking, now),
            step_id=row.step,
            channel=row.channel,
            event=draft.event,
            now=now,
        )
        base = OutgoingMessage(
            id=str(row.id),
            channel=row.channel,
            booking_ref=draft.booking.ref,
            step=row.step,
            to="",
            to_name=draft.booking.customer.name,
            date=now,
        )
        if row.channel == "sms":
            return self._sms(base, row, draft, context)
        return self._email(base, row, draft, context, now)

    def staff_alert(self, row: MessageRow, *, ref: str, now: datetime) -> OutgoingMessage:
        """A staff alert as stored when raised; ``ref`` is its booking's, or ``-``."""
        business = self.rt.business
        return OutgoingMessage(
            id=str(row.id),
            channel=row.channel,
            booking_ref=ref,
            step=row.step,
            to=row.to_addr or "",
            body=row.body or "",
            subject=row.subject,
            sender=self._sms_sender(),
            from_addr=business.from_address,
            from_name=business.name,
            reply_to=business.email or business.from_address,
            headers=self._headers(row, ref),
            date=now,
            status_callback=self._status_callback(row),
        )

    def links(self, booking: Booking, now: datetime) -> Links:
        """The customer's links, signed afresh: a token lives ``link_ttl`` from the send time."""
        token = self.rt.signer.token(int(booking.id), now=now)
        page = f"{self.rt.settings.public_url}/b/{token}"
        return Links(
            page=page,
            invite=f"{page}/invite.ics",
            review=self.rt.business.review_url,
            unsubscribe=f"{page}/unsubscribe",
        )

    # --- channels --------------------------------------------------------------------

    def _sms(
        self, base: OutgoingMessage, row: MessageRow, draft: Draft, context: dict[str, Any]
    ) -> OutgoingMessage:
        playbook, booking = draft.playbook, draft.booking
        sms = self.rt.renderer.render_sms(
            playbook.playbook, _template(row, draft), booking.locale, playbook.default_locale, context
        )
        return replace(
            base,
            to=booking.customer.phone or "",
            sender=self._sms_sender(),
            body=sms.body,
            encoding=sms.encoding,
            segments=sms.segments,
            status_callback=self._status_callback(row),
        )

    def _email(
        self, base: OutgoingMessage, row: MessageRow, draft: Draft, context: dict[str, Any], now: datetime
    ) -> OutgoingMessage:
        playbook, booking, business = draft.playbook, draft.booking, self.rt.business
        email = self.rt.renderer.render_email(
            playbook.playbook, _template(row, draft), booking.locale, playbook.default_locale, context
        )
        method = invite_method(row, draft)
        headers = self._headers(row, booking.ref)
        if draft.step.marketing:
            headers["List-Unsubscribe"] = f"<{context['links']['unsubscribe']}>"
        return replace(
            base,
            to=booking.customer.email or "",
            body=email.text,
            subject=email.subject,
            html=email.html,
            from_addr=business.from_address,
            from_name=business.name,
            reply_to=business.email or business.from_address,
            ics=self._invite(draft, context, method, now) if method else None,
            ics_method=method,
            headers=headers,
        )

    def _invite(self, draft: Draft, context: dict[str, Any], method: InviteMethod, now: datetime) -> bytes:
        playbook, booking, business = draft.playbook, draft.booking, self.rt.business
        # The invite's own texts come from the step's template, whatever the row chose.
        ics = self.rt.renderer.render_ics(
            playbook.playbook, draft.step.template, booking.locale, playbook.default_locale, context
        )
        spec = draft.step.invite_spec
        links = context["links"]
        assert isinstance(links, dict)
        return build_invite(
            Invite(
                uid=draft.invite.uid,
                sequence=draft.invite.sequence,
                method=method,
                start=booking.start,
                end=booking.end,
                timezone=booking.timezone,
                summary=ics.summary if ics else f"{playbook.title_in(booking.locale)} - {business.name}",
                description=ics.description if ics else "",
                # A visit happens at the customer's; a drop-off (promise: ready) at the business.
                location=booking.location or (business.address if playbook.promise == "ready" else None),
                url=str(links["page"]),
                organizer_name=business.name,
                organizer_email=business.from_address,
                attendee_name=booking.customer.name,
                attendee_email=booking.customer.email,
                stamp=now,
                alarm=spec.alarm_delta() if spec else None,
            )
        )

    # --- addressing ------------------------------------------------------------------

    def _headers(self, row: MessageRow, ref: str) -> dict[str, str]:
        domain = self.rt.business.from_address.rpartition("@")[2] or "forvent.local"
        return {
            "X-Forvent-Booking": ref,
            "X-Forvent-Step": row.step,
            "X-Forvent-Message": str(row.id),
            "Message-ID": f"<forvent-{row.id}-{row.attempts}@{domain}>",
        }

    def _sms_sender(self) -> str | None:
        return self.rt.settings.twilio.sender or self.rt.business.sms_sender

    def _status_callback(self, row: MessageRow) -> str:
        return f"{self.rt.settings.public_url}/webhooks/twilio/status?m={row.id}"


def invite_method(row: MessageRow, draft: Draft) -> InviteMethod | None:
    """``REQUEST`` for a step that sends the invite or a change that follows one, ``CANCEL`` when
    the booking closed after an invite went out, None for a message without one."""
    cancelling = draft.booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)
    if draft.step.invite_spec is not None and not cancelling:
        return "REQUEST"
    follows = row.step in INVITE_STEPS or (draft.event is not None and draft.event.name in INVITE_EVENTS)
    if follows and draft.invite.sent:
        return "CANCEL" if cancelling else "REQUEST"
    return None


def _template(row: MessageRow, draft: Draft) -> str:
    """The row's own template (a fallback or an answer may name one), else the step's."""
    return row.template or draft.step.template
