"""What a sweep checks before it opens anything: that the space's largest point fits in memory.

A trial whose net cannot fit would open a run and die of OOM; the space's bounds are known up front,
so the sweep refuses them at once (exit 2) with the estimate in the line.
"""

from __future__ import annotations

from experiments.config import RunConfig
from experiments.data import load_dataset
from experiments.errors import BadInput
from experiments.sizing import check_run_fits
from sweeps.space import SweepSpec


def check_space_fits(cfg: RunConfig, spec: SweepSpec, *, workers: int) -> None:
    """Refuses a sweep whose widest, deepest, largest-batch point cannot fit ``workers`` times over.

    With ``workers == 0`` the trials train elsewhere, so this machine's memory says nothing. With
    several local workers the parent checks host memory only: initialising an accelerator here would
    make XLA preallocate it in a process that never trains.
    """
    if workers == 0:
        return
    try:
        ds = load_dataset(cfg.data, cfg.train.seed)
    except BadInput as e:
        raise BadInput(f"{cfg.source}: {e}") from None
    widest = [int(spec.space.width.high)] * int(spec.space.n_layers.high)
    batch = spec.space.largest_batch(cfg.train.batch_size)
    check_run_fits(
        cfg,
        ds,
        hidden=widest,
        batch_size=batch,
        processes=workers,
        backend=None if workers == 1 else "cpu",
    )
