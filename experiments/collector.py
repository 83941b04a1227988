"""Python's cyclic garbage collector, set for bplab's processes.

A bplab process holds JAX, MLflow, Optuna and pandas until it exits, and CPython's default threshold
(a collection every 700 allocations) has it rescan those live objects about a thousand times in a
short ``bplab train``: 0.8 s of 4.0 s. At 20,000 the same train collects 36 times (0.2 s). The numbers
and commands are in docs/PERFORMANCE.md ("Python's collector").

It is process-wide, so entry points call it (``bplab``'s ``main`` and a spawned sweep worker), not the
library functions they call.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 20)  # youngest, middle, oldest generation (CPython's default: 700, 10, 10)


def collect_less_often() -> None:
    """Sets this process's collector thresholds to :data:`THRESHOLDS`."""
    gc.set_threshold(*THRESHOLDS)
