"""One XLA CPU thread per trial for small nets: splitting their matrix products across cores only costs.

JAX's CPU client runs programs on a pool of one thread per core and splits a large matrix product
across it. For a sweep's nets (digits: batch 10, widths up to 256) the split costs more than it saves,
and the pool's idle threads spin on the cores that the trial loop, the tracking writer and the
compile-ahead thread need. Measured with ``python -m benchmarks.cpu_threads`` on the 2-core machine
(ms per epoch of ``train_epoch``, best of 3, one process per setting)::

    net                    batch   largest product   2 threads   1 thread   1 / 2
    [64, 256, 10]             10            0.16 M        2.96       3.05    1.03
    [64, 256, 256, 10]        10            0.66 M       19.17      11.50    0.60
    [64, 512, 512, 10]        10            2.62 M       67.71      50.02    0.74
    [64, 256, 256, 10]       100            6.55 M       12.47       9.78    0.78
    [784, 384, 10]            32            9.63 M       53.71      60.26    1.12
    [784, 512, 10]            64           25.69 M       50.95      67.36    1.32
    [784, 1024, 1024, 10]    256          268.44 M      168.32     308.69    1.83

(the largest product: multiply-adds of one step's largest ``batch × n_{l−1} × n_l``). So a process
whose nets all stay under :data:`SMALL_PRODUCT` runs on one XLA thread; above it, on the default
pool. Whole warm 30-trial digits sweeps took 13.6 and 14.0 s on one thread against 16.2 and 16.1 s
on the pool (``--sweeps 2``, alternated). Measured on 2 cores only: where the threshold lies on a
machine with more cores (a larger pool splits a product further) is not known.

A process that trains several trials at once, each in its own Python thread (:mod:`sweeps.lanes`),
gets one pool thread per trial: each trial's products still run whole on one thread, and two trials'
programs run on two cores. Two such trials on two threads trained 16 digits trials in 1.87 and
1.93 s against 3.75 and 4.14 s one after the other; on one pool thread the two gained nothing
(3.82 → 3.56 s, 3.59 → 3.43 s).

The pool is made once, by the process's first JAX computation, with as many threads as XLA's
``NPROC`` environment variable says (else the cores); so :func:`pool_for` must run before
any, and the processes started afterwards (a sweep's workers) inherit it. A user's own ``NPROC``
wins, and nothing changes where JAX may use an accelerator.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import os
from collections.abc import Sequence

ENV = "NPROC"  # read by XLA's CPU client when it sizes its thread pool
SMALL_PRODUCT = 8_000_000  # multiply-adds; between the 6.6 M and 9.6 M rows above


def largest_product(sizes: Sequence[int], batch: int, population: int = 1) -> int:
    """Multiply-adds of one training step's largest matrix product, ``population × batch × n_{l−1} × n_l``
    over the layers of ``sizes = (n_0, …, n_L)`` (a population's members multiply in one product)."""
    return population * batch * max(a * b for a, b in itertools.pairwise(sizes))


def cpu_only() -> bool:
    """True when this process's JAX can run only on the CPU: ``JAX_PLATFORMS=cpu``, or neither an
    accelerator plugin nor ``libtpu`` is installed."""
    if os.environ.get("JAX_PLATFORMS", "").strip().lower() == "cpu":
        return True
    if importlib.util.find_spec("jax_plugins") is not None or importlib.util.find_spec("libtpu") is not None:
        return False
    return not importlib.metadata.entry_points(group="jax_plugins")


def pool_for(product: int, threads: int = 1) -> bool:
    """Gives XLA's CPU pool ``threads`` threads (``NPROC``) when ``product`` (:func:`largest_product` of
    the largest net this process will train) is under :data:`SMALL_PRODUCT`, JAX runs only on the CPU
    and ``NPROC`` is not set already (by the user; a value this function set counts as unset, so a
    process that runs several sweeps decides each alike); returns whether it did. ``threads`` is one
    per trial the process trains at once (each trial's products stay on one thread). Call it before
    the first JAX computation."""
    if os.environ.get(ENV, _ours[0]) != _ours[0] or product >= SMALL_PRODUCT or not cpu_only():
        return False
    os.environ[ENV] = _ours[0] = str(threads)
    return True


_ours = [None]  # the NPROC this process set, if any
