"""Erasing a customer while one of their webhook deliveries is being POSTed.

The worker's claim stands, so it can still record the answer, but the body is
gone: a retry has nothing to send, and the delivery ends ``failed``
(``webhook:erased``) without a second POST.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.store import webhook_outbox as wo
from engine.store.privacy import erase_customer
from engine.store.tables import WebhookDeliveryRow
from tests.integration.world import REPO, World
from tests.receiver import SECRET, Receiver


@pytest.fixture
def world(tmp_path: Path, receiver: Receiver) -> Iterator[World]:
    w = World(tmp_path)
    business = tmp_path / "business.yaml"
    business.write_text(
        (REPO / "business.yaml").read_text(encoding="utf-8")
        + f"webhooks:\n  - url: {receiver.url}\n    secret: {SECRET}\n    events: [booking.created]\n",
        encoding="utf-8",
    )
    w.rt.settings = w.rt.settings.model_copy(update={"business_file": business})
    yield w
    w.close()


def test_a_delivery_in_flight_at_erasure_is_not_posted_again(world: World, receiver: Receiver) -> None:
    world.book()
    now = world.rt.now()
    with world.rt.database.session() as s:
        [claimed] = wo.claim_due(
            s,
            business_id=world.rt.business.id,
            now=now,
            worker="w1",
            lease=timedelta(minutes=5),
            limit=10,
            skip_locked=False,
        )
        s.expunge(claimed)
    with world.rt.database.session() as s:
        result = erase_customer(
            s, business_id=world.rt.business.id, playbooks=world.rt.playbooks, now=now, phone="+4791234567"
        )
    assert result.webhooks_cancelled == 0  # in flight: not waiting, but its body is gone
    with world.rt.database.session() as s:
        assert s.query(WebhookDeliveryRow).one().body is None
    with world.rt.database.session() as s:  # the POST timed out: the worker asks for a retry
        assert wo.settle(
            s, claimed, wo.RETRYING, worker="w1", now=now, reason="webhook:timeout", retry_at=now
        )
    world.dispatcher.run_until_idle()
    assert receiver.received == []
    with world.rt.database.session() as s:
        row = s.query(WebhookDeliveryRow).one()
        assert (row.status, row.reason, row.body) == ("failed", "webhook:erased", None)
