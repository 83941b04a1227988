"""Points of a space with dotted keys, through real Optuna trials, into validated run configs."""

from __future__ import annotations

import optuna
import pytest

from experiments.config import RunConfig
from sweeps.space import parse_sweep
from sweeps.suggest import config_values, suggest

BASE = RunConfig.from_dict({"data": {"dataset": "xor"}, "train": {"batch_size": 4}}, "x")


def _points(space: dict, n: int = 12) -> list[dict]:
    spec = parse_sweep({"space": space}, "x")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [suggest(study.ask(), spec.space) for _ in range(n)]


def test_dotted_keys_reach_the_config():
    space = {
        "train.batch_size": {"choices": [2, 4]},
        "model.activation": {"choices": ["sigmoid", "tanh"]},
        "train.lr": {"low": 0.01, "high": 10, "log": True},
        "model.hidden": {"choices": [[3], [5, 4]]},
        "data.val_fraction": {"low": 0.1, "high": 0.3, "step": 0.1},
        "train.epochs": {"low": 2, "high": 6, "step": 2},
    }
    for params in _points(space):
        assert "lr" not in params and "n_layers" not in params  # the dotted keys replace the short ones
        cfg = BASE.with_values(config_values(params))  # what the objective does
        assert cfg.train.batch_size in (2, 4) and cfg.model.activation in ("sigmoid", "tanh")
        assert 0.01 <= cfg.train.lr <= 10 and cfg.model.hidden in ((3,), (5, 4))
        assert cfg.data.val_fraction == pytest.approx(round(cfg.data.val_fraction, 1))
        assert cfg.train.epochs in (2, 4, 6)


def test_short_keys_keep_their_parameter_names():
    params = _points({"n_layers": [2, 2], "width": [5, 6], "batch_size": [2, 4]}, n=1)[0]
    assert set(params) == {"lr", "n_layers", "width_1", "width_2", "batch_size"}
    assert config_values(params)["model.hidden"] == [params["width_1"], params["width_2"]]


def test_a_list_choice_travels_as_json_and_comes_back_a_list():
    assert config_values({"model.hidden": "[5, 4]", "model.cost": "quadratic"}) == {
        "model.hidden": [5, 4],
        "model.cost": "quadratic",
    }
