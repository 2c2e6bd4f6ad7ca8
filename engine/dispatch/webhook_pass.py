"""The webhook pass: claim due deliveries, POST them signed, record what the receiver answered.

Run at the end of every dispatch drain (``dispatch --once``, the scheduler's
tick), after the messages, so a ``message.sent`` recorded by the drain goes in
the same run. Claims, leases and retries work as for messages: a claim in one
short write transaction, the POSTs with none open, the outcomes in another;
``RetryPolicy`` decides (2xx sent; timeouts, 408, 429 and 5xx retried with
backoff up to ``FORVENT_MAX_ATTEMPTS``; any other status ``failed``,
``webhook:<status>``).
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engine.channels.base import BaseChannel, OutgoingMessage
from engine.channels.webhook import WebhookChannel
from engine.core.retry import GiveUp, RetryPolicy
from engine.core.webhook_events import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature
from engine.exceptions import ChannelError, PermanentChannelError, TransientChannelError
from engine.logs import fields
from engine.runtime import Runtime
from engine.store import webhook_outbox as wo
from engine.store.db import is_sqlite
from engine.store.tables import WebhookDeliveryRow

log = logging.getLogger("forvent.webhooks")
BATCH = 100
MAX_PASSES = 1000  # a drain's bound: a retried delivery waits its backoff, so passes end long before


@dataclass
class _Attempt:
    delivery: WebhookDeliveryRow
    code: int | None = None
    error: ChannelError | None = None


class WebhookPass:
    def __init__(
        self,
        runtime: Runtime,
        channel: BaseChannel | None,
        *,
        worker: str,
        pool: ThreadPoolExecutor,
        rng: random.Random,
    ) -> None:
        self.rt = runtime
        self._channel = channel
        self._owned: BaseChannel | None = None  # built on first need when none was given
        self.worker = worker
        self.pool = pool
        self.rng = rng
        self.policy = RetryPolicy(max_attempts=runtime.settings.max_attempts)

    @property
    def channel(self) -> BaseChannel:
        if self._channel is None:
            self._owned = self._channel = WebhookChannel()
        return self._channel

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def drain(self) -> int:
        """Deliver what is due on the engine clock; returns the attempts made."""
        attempts = 0
        for _ in range(MAX_PASSES):
            now = self.rt.now()
            claimed = self._claim(now)
            if not claimed:
                break
            # One booking's deliveries one after another, in the order they happened; bookings side by side.
            groups: dict[int | None, list[WebhookDeliveryRow]] = {}
            for delivery in claimed:
                groups.setdefault(delivery.booking_id, []).append(delivery)
            done = [a for posted in self.pool.map(self._post_in_order, groups.values()) for a in posted]
            self._record(done)
            attempts += len(done)
        return attempts

    def _claim(self, now: datetime) -> list[WebhookDeliveryRow]:
        database = self.rt.database
        if not self._any_due(now):  # a read first: no write lock taken for nothing, every second
            return []
        with database.session() as session:
            rows = wo.claim_due(
                session,
                business_id=self.rt.business.id,
                now=now,
                worker=self.worker,
                lease=self.rt.settings.claim_lease,
                limit=BATCH,
                skip_locked=not is_sqlite(database.engine),
            )
            session.expunge_all()
            return rows

    def _any_due(self, now: datetime) -> bool:
        with self.rt.database.read_session() as session:
            return wo.any_due(session, business_id=self.rt.business.id, now=now)

    def _post_in_order(self, deliveries: list[WebhookDeliveryRow]) -> list[_Attempt]:
        return [self._post(delivery) for delivery in deliveries]

    def _post(self, delivery: WebhookDeliveryRow) -> _Attempt:
        attempt = _Attempt(delivery)
        spec = next((w for w in self.rt.business.webhooks if w.url == delivery.url), None)
        if spec is None:
            attempt.error = PermanentChannelError(
                "no such receiver in business.yaml any more", channel="webhook", provider_code="removed"
            )
            return attempt
        if delivery.body is None:  # the customer was erased while an earlier attempt was out
            attempt.error = PermanentChannelError("erased", channel="webhook", provider_code="erased")
            return attempt
        body = delivery.body.encode("utf-8")
        outgoing = OutgoingMessage(
            id=delivery.delivery_id,
            channel="webhook",
            booking_ref="-",
            step=delivery.event,
            to=delivery.url,
            body=delivery.body,
            headers={
                SIGNATURE_HEADER: signature(spec.secret, body),
                DELIVERY_HEADER: delivery.delivery_id,
                EVENT_HEADER: delivery.event,
            },
        )
        try:
            result = self.channel.send(outgoing)
            attempt.code = int(result.provider_id) if result.provider_id else None
        except ChannelError as exc:
            attempt.error = exc
        except Exception as exc:  # a bug must not lose the delivery: retry it
            log.exception("webhook delivery %s raised", delivery.id)
            attempt.error = TransientChannelError(str(exc), channel="webhook", provider_code="exception")
        return attempt

    def _record(self, attempts: list[_Attempt]) -> None:
        now = self.rt.now()
        with self.rt.database.session() as session:
            for attempt in attempts:
                if not self._settle(session, attempt, now):
                    log.warning(
                        "webhook outcome not recorded: claim lost",
                        extra=fields(
                            action="lost_claim", booking=attempt.delivery.booking_id, channel="webhook"
                        ),
                    )

    def _settle(self, session: Session, attempt: _Attempt, now: datetime) -> bool:
        delivery, error = attempt.delivery, attempt.error
        if error is None:
            return wo.settle(
                session, delivery, wo.SENT, worker=self.worker, now=now, response_code=attempt.code
            )
        provider_code = error.provider_code or ""
        code = int(provider_code) if provider_code.isdigit() else None
        decision = self.policy.decide(error, delivery.attempts, now, self.rng)
        if isinstance(decision, GiveUp):
            return wo.settle(
                session,
                delivery,
                wo.FAILED,
                worker=self.worker,
                now=now,
                reason=decision.reason,
                response_code=code,
            )
        return wo.settle(
            session,
            delivery,
            wo.RETRYING,
            worker=self.worker,
            now=now,
            reason=error.reason,
            response_code=code,
            retry_at=decision.at,
        )
