"""Dispatch throughput and burst drain; the same as ``forvent bench``.

Run from the repository root: ``.venv/bin/python benchmarks/bench_dispatch.py [bookings] [latency_ms]``.
"""

from __future__ import annotations

import sys

from engine.bench import main

if __name__ == "__main__":
    bookings = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    main(bookings, latency)
