"""Python's cyclic garbage collector, set for bplab's processes.

A bplab process imports JAX, MLflow, Optuna and pandas, and nearly all of those objects stay alive until
it exits. CPython starts a collection every 700 net allocations of container objects, so a process
spends much of its time scanning objects that are still in use: about 1,090 collections and 0.8 s in a
5-epoch ``bplab train`` of xor (4.0 s in all), and 1,650 collections and 1.1–1.3 s in a 30-trial digits
sweep (17 s). With the youngest generation's threshold at 20,000 the same commands run 36 and 46
collections, 0.2 and 0.4 s: the train takes 3.2–3.4 s instead of 3.9–4.0 s, while a long sweep's wall
time does not move measurably (its host thread mostly waits on the device). Reference counting still
frees every object outside a cycle at once; only cyclic garbage waits a little longer. Measured on 2
cores; docs/PERFORMANCE.md has the commands.

It is process-wide, so entry points call it (``bplab``'s ``main`` and a spawned sweep worker), not the
library functions they call.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 20)  # youngest, middle, oldest generation (CPython's default: 700, 10, 10)


def collect_less_often() -> None:
    """Sets this process's collector thresholds to :data:`THRESHOLDS`."""
    gc.set_threshold(*THRESHOLDS)
