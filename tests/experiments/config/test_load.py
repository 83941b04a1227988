"""load_config and RunConfig: shipped configs, overrides, round trips and the flat params MLflow logs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from experiments.config import RunConfig, load_config
from experiments.errors import BadInput

CONFIGS = Path(__file__).resolve().parents[3] / "experiments" / "configs"


@pytest.mark.parametrize("name", ["xor.toml", "digits.toml", "regression_target.toml"])
def test_shipped_configs_load(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.source.endswith(name)
    assert cfg.train.epochs >= 1 and cfg.train.lr > 0


def test_digits_is_the_classic_setup():
    cfg = load_config(CONFIGS / "digits.toml")
    assert cfg.data.dataset == "digits"
    assert cfg.model.hidden == (30,)
    assert (cfg.model.activation, cfg.model.cost, cfg.model.init) == ("sigmoid", "quadratic", "normal")
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.epochs) == (3.0, 10, 30)


def test_overrides_are_toml_literals_or_bare_words():
    cfg = load_config(
        CONFIGS / "digits.toml",
        ["train.lr=0.5", "model.hidden=[30,20]", "model.activation=tanh", 'experiment.name="x y"'],
    )
    assert cfg.train.lr == 0.5
    assert cfg.model.hidden == (30, 20)
    assert cfg.model.activation == "tanh"
    assert cfg.experiment.name == "x y"


def test_integer_lr_becomes_float():
    lr = load_config(CONFIGS / "digits.toml", ["train.lr=3"]).train.lr
    assert lr == 3.0 and isinstance(lr, float)


def test_sweep_overrides_land_in_the_raw_sweep_table(tmp_path):
    path = tmp_path / "no_sweep.toml"
    path.write_text('[data]\ndataset = "iris"\n', encoding="utf-8")
    cfg = load_config(path, ["sweep.n_trials=7", "sweep.space.lr=[0.1, 3.0]"])
    assert cfg.sweep["n_trials"] == 7
    assert tuple(cfg.sweep["space"]["lr"]) == (0.1, 3.0)
    assert cfg.to_dict()["sweep"] == {"n_trials": 7, "space": {"lr": [0.1, 3.0]}}


def test_toml_round_trip(tmp_path):
    cfg = load_config(CONFIGS / "digits.toml", ["model.hidden=[12, 7]", "sweep.space.lr=[0.1, 1.0]"])
    path = tmp_path / "resolved.toml"
    path.write_text(cfg.to_toml(), encoding="utf-8")
    again = load_config(path)
    assert again.to_dict() == cfg.to_dict()
    assert RunConfig.from_dict(tomllib.loads(cfg.to_toml()), "again").model == cfg.model


def test_from_dict_reads_its_own_frozen_sweep_back():
    cfg = load_config(CONFIGS / "digits.toml")
    again = RunConfig.from_dict({**cfg.to_dict(), "sweep": cfg.sweep}, cfg.source)
    assert again == cfg


def test_with_values_validates():
    cfg = load_config(CONFIGS / "digits.toml")
    new = cfg.with_values({"train.lr": 0.1, "model.hidden": [30, 20]})
    assert (new.train.lr, new.model.hidden) == (0.1, (30, 20))
    assert cfg.train.lr == 3.0  # the original is untouched
    with pytest.raises(BadInput, match=r"train\.lr"):
        cfg.with_values({"train.lr": -1.0})


def test_flat_keys_for_mlflow_params():
    flat = load_config(CONFIGS / "digits.toml").flat()
    assert flat["train.lr"] == 3.0
    assert flat["model.hidden"] == "[30]"
    assert flat["data.dataset"] == "digits"
    assert all(isinstance(v, str | int | float | bool) for v in flat.values())


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match=r"nope\.toml: no such config file"):
        load_config(tmp_path / "nope.toml")
