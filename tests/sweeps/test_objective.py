"""A trial's params → a frozen run config, through a real Optuna trial."""

from __future__ import annotations

import optuna
import pytest

from experiments.config import RunConfig
from sweeps.objective import config_values, suggest, trial_config
from sweeps.space import parse_sweep


def test_params_to_config_and_back_through_a_real_trial():
    base = RunConfig.from_dict({"data": {"dataset": "xor"}, "train": {"batch_size": 4}}, "x")
    spec = parse_sweep(
        {"space": {"n_layers": [2, 2], "width": [5, 6], "activation": ["tanh"], "init": ["scaled"]}}, "x"
    )
    study = optuna.create_study()
    trial = study.ask()
    params = suggest(trial, spec.space)
    cfg = trial_config(base, params)
    assert len(cfg.model.hidden) == 2 and all(5 <= w <= 6 for w in cfg.model.hidden)
    assert cfg.model.activation == "tanh" and cfg.train.lr == pytest.approx(params["lr"])
    assert cfg.model.init == "scaled"
    assert config_values({"lr": 1, "n_layers": 1, "width_1": 7, "width_2": 9}) == {
        "train.lr": 1.0,
        "model.hidden": [7],
    }
