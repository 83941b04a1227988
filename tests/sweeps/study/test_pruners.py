"""Each ``sweep.pruner`` makes the Optuna pruner it names, and the aggressive ones do prune."""

from __future__ import annotations

import optuna
import pytest

from sweeps.space import PRUNERS, parse_sweep
from sweeps.study.samplers import PERCENTILE, make_pruner

KINDS = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "asha": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "none": optuna.pruners.NopPruner,
}


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_name_makes_its_pruner(name):
    assert isinstance(make_pruner(parse_sweep({"pruner": name}, "x"), max_epochs=10), KINDS[name])


@pytest.mark.parametrize("name", ["asha", "percentile"])
def test_a_clearly_worse_trial_is_pruned(name):
    pruner = make_pruner(parse_sweep({"pruner": name}, "x"), max_epochs=10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    for i in range(8):  # good trials: the loss falls every epoch (asked each epoch, as the objective does)
        trial = study.ask()
        for epoch in range(1, 11):
            trial.report(0.1 + 0.01 * i - 0.001 * epoch, epoch)
            trial.should_prune()
        study.tell(trial, 0.1 + 0.01 * i)
    bad = study.ask()
    pruned_at = next((e for e in range(1, 11) if bad.report(5.0, e) or bad.should_prune()), None)
    assert pruned_at is not None
    assert PERCENTILE == 25.0
