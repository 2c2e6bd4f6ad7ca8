"""The floor: the least any outbox must do, written with bare SQLAlchemy Core in one process.

Dispatch is claim (one transaction: select due ids, mark them ``sending``),
render outside any transaction (the engine's ``Renderer`` on the seed
templates, ``build_invite`` for the invite steps), send, then mark (one
transaction: an executemany UPDATE and the history rows). Booking is one
transaction of Core inserts (customer, booking, its messages, its history),
with no planning. A delay is one UPDATE. It uses the engine's own connection
settings (``make_engine``: WAL, busy timeout, ``BEGIN IMMEDIATE``), so the
gap to the engine is the engine's own overhead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select, update

from engine.bench.seed import BOOKINGS, CUSTOMERS, HISTORY, MESSAGES
from engine.bench.world import SeedFiles, bench_settings
from engine.channels.base import BaseChannel, OutgoingMessage
from engine.core.context import Links, build_context
from engine.core.values import Booking, BookingStatus, Customer
from engine.messages.invites import Invite, build_invite
from engine.runtime import Runtime
from engine.store.db import make_engine

BATCH = 200  # the dispatcher's default batch, so both pay the same per-batch overhead
LEASE = timedelta(minutes=5)
PUBLIC_URL = "http://127.0.0.1:8000"
WORKER = "floor"


class Composer:
    """Render one message and, for an invite step's email, its invite: pure, values in and out."""

    def __init__(self, files: SeedFiles) -> None:
        # The engine's own renderer, playbooks, business profile and link signer; no database.
        rt = Runtime(bench_settings(files, "sqlite://"))
        self.renderer = rt.renderer
        self.playbooks = rt.playbooks
        self.business = rt.business
        self.signer = rt.signer

    def compose(
        self,
        message_id: int,
        booking: Booking,
        step_id: str,
        channel: str,
        uid: str,
        sequence: int,
        now: datetime,
    ) -> OutgoingMessage:
        playbook = self.playbooks.get(booking.playbook)
        step = playbook.step(step_id)
        assert step is not None
        page = f"{PUBLIC_URL}/b/{self.signer.token(int(booking.id), now=now)}"
        links = Links(
            page=page, invite=f"{page}/invite.ics", review=self.business.review_url, unsubscribe=page
        )
        context = build_context(
            booking=booking,
            title=playbook.title_in(booking.locale),
            business=self.business,
            links=links,
            step_id=step_id,
            channel=channel,
            event=None,
            now=now,
        )
        locale, default = booking.locale, playbook.default_locale
        base = OutgoingMessage(
            id=str(message_id), channel=channel, booking_ref=booking.ref, step=step_id, to=""
        )
        if channel == "sms":
            sms = self.renderer.render_sms(playbook.playbook, step.template, locale, default, context)
            return replace(base, to=booking.customer.phone or "", body=sms.body)
        email = self.renderer.render_email(playbook.playbook, step.template, locale, default, context)
        ics = None
        if step.invite_spec is not None:
            text = self.renderer.render_ics(playbook.playbook, step.template, locale, default, context)
            ics = build_invite(
                Invite(
                    uid=uid,
                    sequence=sequence,
                    method="REQUEST",
                    start=booking.start,
                    end=booking.end,
                    timezone=booking.timezone,
                    summary=text.summary if text else playbook.title_in(locale),
                    description=text.description if text else "",
                    location=booking.location,
                    url=page,
                    organizer_name=self.business.name,
                    organizer_email=self.business.from_address,
                    attendee_name=booking.customer.name,
                    attendee_email=booking.customer.email,
                    stamp=now,
                    alarm=step.invite_spec.alarm_delta(),
                )
            )
        return replace(
            base,
            to=booking.customer.email or "",
            subject=email.subject,
            body=email.text,
            html=email.html,
            ics=ics,
        )


def booking_of(row: Row[Any] | Mapping[str, Any]) -> Booking:
    """A booking value from the joined columns the claim reads."""
    r = row._mapping if isinstance(row, Row) else row
    return Booking(
        id=str(r["booking_id"]),
        ref=r["ref"],
        playbook=r["playbook"],
        customer=Customer(name=r["name"], phone=r["phone"], email=r["email"], locale=r["c_locale"]),
        start=r["start_at"],
        end=r["end_at"],
        promised_start=r["promised_start"],
        promised_end=r["promised_end"],
        timezone=r["timezone"],
        locale=r["locale"],
        created_at=r["created_at"],
        status=BookingStatus(r["status"]),
        location=r["location"],
        facts=r["facts"] or {},
    )


class Floor:
    def __init__(self, files: SeedFiles, url: str, channels: Mapping[str, BaseChannel] | None = None) -> None:
        self.engine = make_engine(url)
        self.composer = Composer(files)
        self.channels = channels or {}

    def close(self) -> None:
        self.engine.dispose()

    # --- dispatch ------------------------------------------------------------------

    def drain(self, now: datetime) -> int:
        """Claim, render, send and mark until nothing due is left; returns how many were sent."""
        sent = 0
        while rows := self._claim(now):
            out = [self._compose(row, now) for row in rows]
            for message in out:
                self.channels[message.channel].send(message)
            self._mark(rows, out, now)
            sent += len(out)
        return sent

    def _claim(self, now: datetime) -> Sequence[Row[Any]]:
        m, b, c = MESSAGES.c, BOOKINGS.c, CUSTOMERS.c
        due = and_(m.status.in_(["planned", "retrying"]), m.ready_at <= now)
        with self.engine.begin() as conn:
            ids = list(conn.scalars(select(m.id).where(due).order_by(m.ready_at, m.id).limit(BATCH)))
            if not ids:
                return []
            conn.execute(
                update(MESSAGES)
                .where(m.id.in_(ids), due)
                .values(
                    status="sending",
                    claimed_by=WORKER,
                    claimed_until=now + LEASE,
                    attempts=m.attempts + 1,
                    updated_at=now,
                )
            )
            joined = MESSAGES.join(BOOKINGS, b.id == m.booking_id).join(CUSTOMERS, c.id == b.customer_id)
            columns = [
                m.id,
                m.step,
                m.channel,
                m.booking_id,
                m.business_id,
                *(b[k] for k in _BOOKING_COLUMNS),
            ]
            query = select(*columns, c.name, c.phone, c.email, c.locale.label("c_locale")).select_from(joined)
            claimed = query.where(m.id.in_(ids), m.claimed_by == WORKER, m.status == "sending")
            return list(conn.execute(claimed))

    def _compose(self, row: Row[Any], now: datetime) -> OutgoingMessage:
        r = row._mapping
        return self.composer.compose(
            r["id"], booking_of(row), r["step"], r["channel"], r["invite_uid"], r["invite_sequence"], now
        )

    def _mark(self, rows: Sequence[Row[Any]], out: Sequence[OutgoingMessage], now: datetime) -> None:
        m = MESSAGES.c
        sent = (
            update(MESSAGES)
            .where(m.id == bindparam("b_id"), m.status == "sending", m.claimed_by == WORKER)
            .values(
                status="sent",
                sent_at=now,
                updated_at=now,
                claimed_by=None,
                claimed_until=None,
                ready_at=None,
                provider_id=bindparam("b_provider"),
                to_addr=bindparam("b_to"),
                body=bindparam("b_body"),
                subject=bindparam("b_subject"),
            )
        )
        with self.engine.begin() as conn:
            conn.execute(
                sent,
                [
                    {
                        "b_id": int(o.id),
                        "b_provider": f"null-{o.id}",
                        "b_to": o.to,
                        "b_body": o.body,
                        "b_subject": o.subject,
                    }
                    for o in out
                ],
            )
            conn.execute(
                insert(HISTORY),
                [
                    {
                        "business_id": r.business_id,
                        "booking_id": r.booking_id,
                        "message_id": r.id,
                        "at": now,
                        "kind": "message:sent",
                        "data": {},
                    }
                    for r in rows
                ],
            )

    # --- user actions ----------------------------------------------------------------

    def move(self, booking_id: int, to: datetime, now: datetime) -> None:
        """A delay at its least: one UPDATE of the booking's pending, start-anchored rows."""
        m = MESSAGES.c
        with self.engine.begin() as conn:
            conn.execute(
                update(MESSAGES)
                .where(m.booking_id == booking_id, m.status == "planned", m.moves_with_start.is_(True))
                .values(due_at=to, ready_at=to, updated_at=now)
            )

    def book(self, template: BookingRows, ref: str) -> None:
        """One booking's rows as the service writes them, in one transaction of Core inserts."""
        with self.engine.begin() as conn:
            customer_id = conn.execute(
                insert(CUSTOMERS).returning(CUSTOMERS.c.id), template.customer
            ).scalar_one()
            booking = {
                **template.booking,
                "ref": ref,
                "customer_id": customer_id,
                "invite_uid": f"{ref}@floor",
            }
            booking_id = conn.execute(insert(BOOKINGS).returning(BOOKINGS.c.id), booking).scalar_one()
            messages = [{**row, "booking_id": booking_id} for row in template.messages]
            ids = conn.execute(
                insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), messages
            ).scalars()
            fresh = iter(ids.all())
            history = [
                {**row, "booking_id": booking_id, "message_id": row["message_id"] and next(fresh)}
                for row in template.history
            ]
            conn.execute(insert(HISTORY), history)


_BOOKING_COLUMNS = (
    "ref",
    "playbook",
    "timezone",
    "locale",
    "location",
    "status",
    "start_at",
    "end_at",
    "promised_start",
    "promised_end",
    "created_at",
    "facts",
    "invite_uid",
    "invite_sequence",
)


class BookingRows:
    """One booking's rows read back from the database, ids dropped: what ``Floor.book`` inserts."""

    def __init__(self, url: str, ref: str) -> None:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                booking = conn.execute(select(BOOKINGS).where(BOOKINGS.c.ref == ref)).one()._asdict()
                customer = conn.execute(
                    select(CUSTOMERS).where(CUSTOMERS.c.id == booking["customer_id"])
                ).one()
                by_booking = [MESSAGES.c.booking_id == booking["id"]]
                messages = conn.execute(select(MESSAGES).where(*by_booking).order_by(MESSAGES.c.id)).all()
                history = conn.execute(
                    select(HISTORY).where(HISTORY.c.booking_id == booking["id"]).order_by(HISTORY.c.id)
                ).all()
        finally:
            engine.dispose()
        self.customer = _without_id(customer._asdict())
        self.booking = _without_id(booking)
        self.messages = [_without_id(r._asdict()) for r in messages]
        # The booking's event first, then one "planned" line per message, as the service records them.
        events = [_without_id(r._asdict()) for r in history if r.message_id is None][:1]
        self.history = events + [_without_id(r._asdict()) for r in history if r.message_id is not None]
        for row in self.messages:
            row["event_id"] = None  # the copy's own event would need its id first: a floor skips it


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}
