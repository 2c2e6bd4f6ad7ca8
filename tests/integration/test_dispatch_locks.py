"""The dispatcher renders and sends with no lock held: a staff action meanwhile does not wait for it.

On SQLite one connection writes at a time, and every user action begins with
``BEGIN IMMEDIATE``. The dispatcher takes that write lock only to claim a
batch and to record its outcomes; it reads what rendering needs in a deferred,
read-only transaction and renders with none open. Here a staff member delays
the very booking being rendered, from another connection whose busy timeout
is zero: had the dispatcher held the write lock, the delay would be refused
at once ("database is locked", a ``ConflictError``) instead of going through.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from engine.runtime import Runtime
from engine.services.bookings import BookingService
from engine.store.tables import BookingRow
from tests.integration.world import World


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=0")


def test_a_staff_delay_while_the_dispatcher_renders_goes_through_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(tmp_path)
    staff_rt = Runtime(world.rt.settings, clock=world.clock)
    try:
        world.book()
        event.listen(staff_rt.database.engine, "connect", _no_busy_wait)
        staff = BookingService(staff_rt)
        with world.rt.database.session() as s:
            start = world.service.get(s, "C-1").start_at
        delayed: list[BookingRow] = []
        render_sms = world.rt.renderer.render_sms

        def render_and_delay(*args: Any, **kwargs: Any) -> Any:
            if not delayed:  # inside the dispatcher's render phase, once
                delayed.append(staff.delay("C-1", minutes=30, reason="kø på E18"))
            return render_sms(*args, **kwargs)

        monkeypatch.setattr(world.rt.renderer, "render_sms", render_and_delay)
        stats = world.dispatcher.run_until_idle()

        assert delayed, "the renderer was not called: the test proves nothing"
        with world.rt.database.session() as s:
            assert world.service.get(s, "C-1").start_at == start + timedelta(minutes=30)
        confirmations = [r for r in world.rows() if r.step == "confirmation"]
        assert {(r.channel, r.status) for r in confirmations} == {("sms", "sent"), ("email", "sent")}
        assert stats.sent >= 2
    finally:
        staff_rt.close()
        world.close()
