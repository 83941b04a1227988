"""The sampler and pruner of a ``[sweep]`` table. Optuna does not store them: every worker makes its
own, with its own seed, when it opens the study."""

from __future__ import annotations

import importlib.util

import optuna

from experiments.errors import BadInput
from sweeps.grid import grid_space
from sweeps.space import SweepSpec


class GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus its ``study.stop()`` when the grid is used up: that call is only
    legal inside ``study.optimize``, and our ask-and-tell loop ends on the study's budget instead."""

    def after_trial(self, study, trial, state, values) -> None:
        try:
            super().after_trial(study, trial, state, values)
        except RuntimeError as e:
            if "Study.stop" not in str(e):
                raise


def make_sampler(spec: SweepSpec, *, worker_index: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of ``spec``. Workers get distinct seeds so they do not propose the same points.

    Raises:
      BadInput: ``cmaes`` without the package Optuna's CMA-ES sampler needs.
    """
    seed = None if spec.seed is None else spec.seed + worker_index
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return GridSampler(grid_space(spec), seed=seed)
    if spec.sampler == "cmaes":
        if importlib.util.find_spec("cmaes") is None:
            raise BadInput("sweep.sampler = cmaes needs the `cmaes` package: pip install cmaes")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: SweepSpec, *, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner of ``spec``; the step it sees is the epoch."""
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))
    # Let a few trials finish and every trial train a little before comparing medians.
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, max_epochs // 5))
