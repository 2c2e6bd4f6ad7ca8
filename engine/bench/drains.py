"""Draining a set of due messages three ways: the engine's dispatcher, the floor's loop, the peer.

Each returns plain figures. "Lost" is counted against the set of messages
that were due before the drain began: due, not handed to the provider, and
not settled by the engine on purpose (a ``skipped``, ``cancelled`` or
``failed`` row carries its reason and is reported as ``skipped``).
Duplicates are counted at the recording channel.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from engine.bench.floor import Composer, Floor
from engine.bench.peer import Peer, jobs_for
from engine.bench.seed import MESSAGES, due_ids, seeded
from engine.bench.world import START, Context, delivery, null_channels, open_world, spending, sqlite_url
from engine.dispatch.dispatcher import Dispatcher

Figures = dict[str, Any]
SETTLED = ("skipped", "cancelled", "failed")
PER_BOOKING = 3  # due messages per seeded booking: two confirmations and the reminder


def engine_drain(ctx: Context, count: int, *, latency_s: float = 0.0) -> Figures:
    url = sqlite_url(seeded(ctx, math.ceil(count / PER_BOOKING), due=count))
    world = open_world(ctx.files, url, concurrency=ctx.concurrency)
    try:
        with world.engine.connect() as conn:
            due = set(due_ids(conn))
        channels = null_channels(latency_s)
        dispatcher = Dispatcher(world.rt, channels)
        try:
            with spending(world.engine) as spent:
                dispatcher.run_until_idle()
        finally:
            dispatcher.close()
        handed = delivery(due, list(channels.values()))
        with world.engine.connect() as conn:
            settled = conn.scalar(
                select(func.count())
                .select_from(MESSAGES)
                .where(MESSAGES.c.id.in_(handed.missing), MESSAGES.c.status.in_(SETTLED))
            )
    finally:
        world.close()
    return _figures(len(due), handed.delivered, spent.wall_s, spent.cpu_s, spent.statements) | {
        "lost": len(handed.missing) - (settled or 0),
        "duplicates": handed.duplicates,
        "skipped": settled or 0,
    }


def floor_drain(ctx: Context, count: int) -> Figures:
    url = sqlite_url(seeded(ctx, math.ceil(count / PER_BOOKING), due=count))
    channels = null_channels()
    floor = Floor(ctx.files, url, channels)
    try:
        with floor.engine.connect() as conn:
            due = set(due_ids(conn))
        with spending(floor.engine) as spent:
            floor.drain(START)
    finally:
        floor.close()
    handed = delivery(due, list(channels.values()))
    return _figures(len(due), handed.delivered, spent.wall_s, spent.cpu_s, spent.statements) | {
        "lost": len(handed.missing),
        "duplicates": handed.duplicates,
    }


def peer_drain(ctx: Context, count: int) -> Figures:
    """``count`` jobs due at one instant; the instant is set a little ahead, past the loading."""
    channels = null_channels()
    jobs = jobs_for(count, PER_BOOKING)
    lead = timedelta(seconds=1.0 + count * 0.0002)  # to pickle and insert the rows
    with Peer(ctx.path("peer-burst"), Composer(ctx.files), channels) as peer:
        due_at = peer.load(jobs, lead)
        late_by = (datetime.now(UTC) - due_at).total_seconds()
        due_perf = time.perf_counter() - late_by
        cpu = time.process_time()
        outcome = peer.run(count, timeout_s=lead.total_seconds() + 60 + count * 0.01)
        cpu = time.process_time() - cpu
    handed = delivery({j.message_id for j in jobs}, list(channels.values()))
    drained = outcome.last - due_perf if outcome.settled == count else None
    figures: Figures = {
        "due": count,
        "drain_s": drained,
        "msgs_per_s": handed.delivered / drained if drained else None,
        "sent": handed.delivered,
        "lost": len(handed.missing),
        "duplicates": handed.duplicates,
        "misfired": outcome.missed,
        "cpu_ms_per_msg": 1000 * cpu / max(handed.delivered, 1),
    }
    if late_by > 0:
        figures["loaded_late_s"] = late_by
    return figures


def _figures(due: int, sent: int, wall: float, cpu: float, statements: int) -> Figures:
    return {
        "due": due,
        "sent": sent,
        "drain_s": wall,
        "msgs_per_s": sent / wall if wall else None,
        "cpu_ms_per_msg": 1000 * cpu / max(sent, 1),
        "statements_per_msg": statements / max(sent, 1),
    }
