"""The sampler and pruner of a ``[sweep]`` table. Optuna does not store them: every worker makes its
own, with its own seed, when it opens the study."""

from __future__ import annotations

import hashlib
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


def derive_seed(seed: int, *, n_existing: int, sequence: int) -> int:
    """A process's sampler seed, from the sweep's ``seed``, the trials already in the study and the
    process's place among the study's samplers (``sequence``, claimed under the study lock).

    Each process gets its own random stream: a resumed sweep, or one more worker, does not replay
    the stream an earlier process used, so it does not propose that process's points again. The
    inputs are recorded in the study, so the seed of every trial is known from the storage.
    """
    digest = hashlib.sha256(f"{seed}:{n_existing}:{sequence}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def make_sampler(spec: SweepSpec, *, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of ``spec`` seeded with ``seed`` (a :func:`derive_seed` value; ``None``: random).

    Raises:
      BadInput: ``cmaes`` without the package Optuna's CMA-ES sampler needs.
    """
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return GridSampler(grid_space(spec), seed=seed)
    if spec.sampler == "cmaes":
        if importlib.util.find_spec("cmaes") is None:
            raise BadInput("sweep.sampler = cmaes needs the `cmaes` package: pip install cmaes")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)  # a population asks K at once


PERCENTILE = 25.0  # `percentile` keeps only the best quarter of the trials at an epoch (median: half)


def make_pruner(spec: SweepSpec, *, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner of ``spec``; the step it sees is the epoch.

    ``median`` and ``percentile`` compare a trial with the others at the same epoch once 5 trials
    finished and after a fifth of the epochs; ``asha`` (successive halving) promotes a third of the
    trials at epochs 1, 3, 9, …; ``hyperband`` runs several such brackets.
    """
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))
    if spec.pruner == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    # Let a few trials finish and every trial train a little before comparing.
    warmup = {"n_startup_trials": 5, "n_warmup_steps": max(1, max_epochs // 5)}
    if spec.pruner == "percentile":
        return optuna.pruners.PercentilePruner(PERCENTILE, **warmup)
    return optuna.pruners.MedianPruner(**warmup)
