"""Print the cost of one calendar invite, in microseconds (not a test).

Run: .venv/bin/python benchmarks/bench_invites.py [COUNT]
The first call builds and caches the zone's VTIMEZONE; the loop measures the
steady state every booking after the first sees. The machine drifts between
runs: compare numbers from one run only.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.messages.invites import Invite, build_invite

OSLO = ZoneInfo("Europe/Oslo")
ROUNDS = 5


def _invite(n: int) -> Invite:
    start = datetime(2026, 7, 14, 8, tzinfo=OSLO) + timedelta(minutes=15 * (n % 40))
    return Invite(
        uid=f"bench-{n}@forvent",
        sequence=n % 3,
        method="REQUEST",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/Oslo",
        summary="EU-kontroll hos Ærlig Bil",
        description="Lever bilen før 08:00.\nRing oss på 22 00 00 00 om du blir forsinket.",
        location="Storgata 1, 0155 Oslo",
        url=f"https://forvent.example.com/b/{n}",
        organizer_name="Ærlig Bil AS",
        organizer_email="post@aerligbil.no",
        attendee_name="Åse Øvre",
        attendee_email="ase@example.com",
        stamp=datetime(2026, 7, 1, 9, tzinfo=UTC),
        alarm=timedelta(hours=1),
    )


def main(count: int) -> None:
    invites = [_invite(n) for n in range(count)]
    started = time.perf_counter()
    build_invite(invites[0])
    print(f"first invite (builds the VTIMEZONE): {(time.perf_counter() - started) * 1e6:.0f} us")
    per_round = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for invite in invites:
            build_invite(invite)
        per_round.append((time.perf_counter() - started) / count * 1e6)
    print(f"per invite, median of {ROUNDS} rounds of {count}: {statistics.median(per_round):.0f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
