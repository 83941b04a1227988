"""Configs: validated into frozen objects; every bad value is one BadInput line naming file and key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from experiments.config import RunConfig, load_config, parse_override
from experiments.errors import BadInput

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"


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


def test_config_is_frozen():
    cfg = load_config(CONFIGS / "digits.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.sweep["x"] = 1  # type: ignore[index]


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
    assert load_config(CONFIGS / "digits.toml", ["train.lr=3"]).train.lr == 3.0


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


BAD_VALUES = [
    ("train.lr=0", "train.lr"),
    ("train.lr=-0.5", "train.lr"),
    ('train.lr="fast"', "train.lr"),
    ("train.epochs=0", "train.epochs"),
    ("train.batch_size=0", "train.batch_size"),
    ("train.batch_size=2.5", "train.batch_size"),
    ("model.hidden=[30, 0]", "model.hidden"),
    ("model.hidden=30", "model.hidden"),
    ("model.activation=swish", "model.activation"),
    ("model.cost=hinge", "model.cost"),
    ("model.init=xavier", "model.init"),
    ("data.dataset=mnist", "data.dataset"),
    ("train.grad=numeric", "train.grad"),
    ("train.dtype=float16", "train.dtype"),
    ("train.seed=-1", "train.seed"),
    ("train.momentum=0.9", "train.momentum"),
    ("model.depth=3", "model.depth"),
    ("optim.lr=1", "optim"),
    ("lr=1", "lr"),
    ("train.epochs=true", "train.epochs"),
]


@pytest.mark.parametrize(("override", "key"), BAD_VALUES)
def test_bad_values_name_file_and_key(override, key):
    with pytest.raises(BadInput) as e:
        load_config(CONFIGS / "digits.toml", [override])
    message = str(e.value)
    assert "\n" not in message
    assert "digits.toml" in message
    assert key in message


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nlearning_rate = 0.1\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad\.toml: unknown key train\.learning_rate"):
        load_config(path)


def test_unknown_section_in_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optimizer]\nlr = 0.1\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"bad\.toml: unknown section \[optimizer\]"):
        load_config(path)


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[train\nlr = \n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"broken\.toml: TOML syntax error"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match=r"nope\.toml: no such config file"):
        load_config(tmp_path / "nope.toml")


def test_file_dataset_needs_a_path():
    with pytest.raises(BadInput, match=r"data\.path is required"):
        load_config(CONFIGS / "digits.toml", ["data.dataset=file"])


def test_override_without_equals():
    with pytest.raises(BadInput, match="key=value"):
        parse_override("train.lr", "x.toml")
