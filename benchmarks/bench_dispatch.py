"""Every scenario of ``forvent bench``: the engine against the naive peer and the floor.

Run from the repository root:
``.venv/bin/python benchmarks/bench_dispatch.py [--quick] [--json] [--scale F] [--pg URL]``.
"""

from __future__ import annotations

import argparse

from engine.bench import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one repetition (under two minutes)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--pg", default=None, metavar="URL", help="also measure PostgreSQL scale-out")
    args = parser.parse_args()
    main(quick=args.quick, as_json=args.json, scale=args.scale, pg=args.pg)
