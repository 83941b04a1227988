"""What a sweep settles from its space's largest point before it opens anything.

A trial whose net cannot fit would open a run and die of OOM; the space's bounds are known up front,
so the sweep refuses them at once (exit 2) with the estimate in the line. The same point says whether
the process trains on one XLA CPU thread (:mod:`experiments.cpu_threads`).
"""

from __future__ import annotations

from experiments.config import RunConfig
from experiments.cpu_threads import largest_product, one_thread_for
from experiments.run.preflight import load_data
from experiments.sizing import check_run_fits
from sweeps.population import default_population
from sweeps.space import SweepSpec


def largest_point(cfg: RunConfig, spec: SweepSpec) -> tuple[list[int], int]:
    """The space's widest, deepest point: its hidden widths and its largest batch size."""
    widest = [int(spec.space.width.high)] * int(spec.space.n_layers.high)
    return widest, spec.space.largest_batch(cfg.train.batch_size)


def fit_cpu_threads(cfg: RunConfig, spec: SweepSpec, *, population: int | None) -> bool:
    """One XLA CPU thread for this process when the space's largest net is small (see
    :func:`experiments.cpu_threads.one_thread_for`); before the first JAX computation. Returns
    whether it set it.

    Raises:
      BadInput: the data set cannot be loaded.
    """
    ds = load_data(cfg)
    widest, batch = largest_point(cfg, spec)
    members = population or default_population("cpu")  # the setting only applies where JAX is CPU-only
    return one_thread_for(largest_product((ds.n_inputs, *widest, ds.n_outputs), batch, members))


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
