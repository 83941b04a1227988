"""What a sweep settles from its space's largest point before it opens anything.

A trial whose net cannot fit would open a run and die of OOM; the space's bounds are known up front,
so the sweep refuses them at once (exit 2) with the estimate in the line. The same point says how
many XLA CPU threads the process gets, one per trial it trains at once (:mod:`experiments.cpu_threads`,
:mod:`sweeps.lanes`).
"""

from __future__ import annotations

import os

from experiments.config import RunConfig
from experiments.cpu_threads import largest_product, pool_for
from experiments.errors import BadInput
from experiments.run.preflight import load_data
from experiments.sizing import check_run_fits
from sweeps.population import default_population
from sweeps.space import SweepSpec

ENV_LANES = "BPLAB_LANES"


def largest_point(cfg: RunConfig, spec: SweepSpec) -> tuple[list[int], int]:
    """The space's widest, deepest point: its hidden widths and its largest batch size."""
    widest = [int(spec.space.width.high)] * int(spec.space.n_layers.high)
    return widest, spec.space.largest_batch(cfg.train.batch_size)


def fit_cpu_threads(cfg: RunConfig, spec: SweepSpec, *, population: int | None, lanes: int = 1) -> int:
    """Sizes this process's XLA CPU pool for the space's largest net (see
    :func:`experiments.cpu_threads.pool_for`), before the first JAX computation; returns how many trials
    the process should train at once: up to ``lanes`` (:func:`lanes_wanted`), each on one pool
    thread, where the nets are small; else 1.

    Raises:
      BadInput: the data set cannot be loaded.
    """
    ds = load_data(cfg)
    widest, batch = largest_point(cfg, spec)
    members = population or default_population("cpu")  # the setting only applies where JAX is CPU-only
    product = largest_product((ds.n_inputs, *widest, ds.n_outputs), batch, members)
    return lanes_for(product, lanes if members == 1 else 1)


def lanes_for(product: int, lanes: int) -> int:
    """How many trials whose largest matrix product is ``product`` train at once: ``lanes``, one pool
    thread each, where :func:`experiments.cpu_threads.pool_for` sizes the pool for them; else 1."""
    return lanes if pool_for(product, lanes) else 1


def lanes_wanted() -> int:
    """How many trials a one-process sweep of small nets trains at once: ``BPLAB_LANES``, else 1 (one
    after the other). Side by side is opt-in: the same trials train 20–25% faster two at a time on 2
    cores, but a TPE sweep sampled in pairs draws other trials, and whole TPE sweeps measured no
    faster (:mod:`sweeps.lanes`).

    Raises:
      BadInput: ``BPLAB_LANES`` is not a whole number from 1 up.
    """
    forced = os.environ.get(ENV_LANES, "").strip()
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise BadInput(f"{ENV_LANES} = {forced!r}: expected a whole number of trials from 1 up")
        return int(forced)
    return 1


def check_space_fits(cfg: RunConfig, spec: SweepSpec, *, workers: int) -> None:
    """Refuses a sweep whose widest, deepest, largest-batch point cannot fit ``workers`` times over.

    With ``workers == 0`` the trials train elsewhere, so this machine's memory says nothing. With
    several local workers the parent checks host memory only: initialising an accelerator here would
    make XLA preallocate it in a process that never trains.
    """
    if workers == 0:
        return
    widest, batch = largest_point(cfg, spec)
    check_run_fits(
        cfg,
        load_data(cfg),
        hidden=widest,
        batch_size=batch,
        processes=workers,
        backend=None if workers == 1 else "cpu",
    )
