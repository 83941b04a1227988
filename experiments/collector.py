"""Python's cyclic garbage collector, set for bplab's processes.

A bplab process holds JAX, MLflow, Optuna and pandas until it exits, and CPython's default threshold
(a collection every 700 allocations) has it rescan those live objects about a thousand times in a
short ``bplab train``: 0.8 s of 4.0 s. At 20,000 the same train collects 36 times (0.2 s). The numbers
and commands are in docs/PERFORMANCE.md ("Python's collector").

At exit, CPython collects once more, over every object still alive: 1.1-1.3 s of a ``bplab train``
of two xor epochs, whatever the thresholds. :func:`no_collection_at_exit` leaves those objects to the
operating system instead.

Both are process-wide, so entry points call them (``bplab``'s ``main`` and a spawned sweep worker), not
the library functions they call.
"""

from __future__ import annotations

import atexit
import functools
import gc

THRESHOLDS = (20_000, 20, 20)  # youngest, middle, oldest generation (CPython's default: 700, 10, 10)


def collect_less_often() -> None:
    """Sets this process's collector thresholds to :data:`THRESHOLDS`."""
    gc.set_threshold(*THRESHOLDS)


@functools.cache  # once per process
def no_collection_at_exit() -> None:
    """Freezes, at exit, every object alive then (``gc.freeze``), so that the interpreter's last
    collection has nothing to scan.

    That collection only finalizes garbage in reference cycles, which Python does not promise at
    exit anyway. Nothing bplab must write waits for it: the tracking writers drain and MLflow flushes
    in exit handlers, which run whether they come before or after this one (objects they make later
    are collected as usual), the interpreter flushes the standard streams, and ``weakref.finalize``
    callbacks (temporary folders) run from their own exit handler.
    """
    atexit.register(gc.freeze)
