"""How big each scenario is: the full run, ``--quick`` (under two minutes here) and ``--scale``."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, kw_only=True)
class Sizes:
    repetitions: int
    plan_bookings: int  # through the booking service, and as Core inserts for the floor
    peer_jobs: int  # add_job calls for the peer's throughput
    burst: int  # messages due at one instant
    dispatch_cpu: int  # messages for the CPU-bound throughput
    dispatch_io: int  # messages behind a slow provider
    lag_seconds: int  # how long the offered load runs
    outbox_small: int  # pending rows when a booking is delayed: the small end...
    outbox_large: int  # ...and the large end, which must cost the same
    delays: int  # delays measured at each outbox size
    staff_burst: int  # the burst a staff member's delays wait behind
    startup_runs: int  # each command, in its own process

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            repetitions=3,
            plan_bookings=1000,
            peer_jobs=2000,
            burst=10_000,
            dispatch_cpu=3000,
            dispatch_io=2000,
            lag_seconds=10,
            outbox_small=10_000,
            outbox_large=1_000_000,
            delays=200,
            staff_burst=10_000,
            startup_runs=10,
        )

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            repetitions=1,
            plan_bookings=200,
            peer_jobs=400,
            burst=1000,
            dispatch_cpu=600,
            dispatch_io=400,
            lag_seconds=3,
            outbox_small=1000,
            outbox_large=20_000,
            delays=50,
            staff_burst=1000,
            startup_runs=3,
        )

    def scaled(self, factor: float) -> Sizes:
        """Every count times ``factor``, none below what still yields a figure (the test's smoke run)."""
        if factor == 1:
            return self
        floors = {"repetitions": 1, "lag_seconds": 1, "startup_runs": 1, "delays": 5}
        changes = {}
        for f in fields(self):
            if f.name == "repetitions":
                continue
            value = getattr(self, f.name)
            changes[f.name] = max(floors.get(f.name, 20), round(value * factor))
        return replace(self, **changes)
