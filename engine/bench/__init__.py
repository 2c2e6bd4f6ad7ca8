"""``forvent bench``: the engine measured against a naive peer and a floor, in one run.

Every scenario runs the engine, the naive peer (APScheduler 3.x, one job per
message, ``peer.py``) and the floor (bare SQLAlchemy Core, ``floor.py``)
interleaved on throwaway databases, and reports each one's figures, the
target and the ratios. Figures are printed, never asserted in tests: this
machine drifts between runs, so compare figures from one run only.

``run(quick=...)`` returns a ``Report``; ``main(...)`` prints it as a table or JSON.
"""

from engine.bench.report import Report
from engine.bench.runner import main, run

__all__ = ["Report", "main", "run"]
