"""Every bad config value is one BadInput line naming the file and the key, as users see it today."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import RunConfig, load_config, parse_override
from experiments.errors import BadInput

CONFIGS = Path(__file__).resolve().parents[3] / "experiments" / "configs"
DIGITS = CONFIGS / "digits.toml"

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


EXACT = [
    ("model.hidden=[30,0]", "model.hidden must be positive widths (a zero width has no units), got [30, 0]"),
    ("model.hidden=[0, true]", "model.hidden must be a list of integer widths, e.g. [30], got [0, True]"),
    ("model.hidden=30", "model.hidden must be a list of integer widths, e.g. [30], got 30"),
    ("train.lr=inf", "train.lr must be a number > 0, got inf"),
    ("train.lr=true", "train.lr must be a number > 0, got True"),
    ("train.batch_size=2.5", "train.batch_size must be an integer ≥ 1, got 2.5"),
    ("train.seed=-1", "train.seed must be an integer ≥ 0, got -1"),
    ('experiment.name="  "', "experiment.name must be a non-empty string, got '  '"),
    ("data.path=3", "data.path must be a string, got 3"),
    ("data.val_fraction=1", "data.val_fraction must be a number in [0, 1), got 1"),
    ("model.init=xavier", "model.init must be one of normal, scaled, got 'xavier'"),
    ("train.dtype=float16", "train.dtype must be one of float32, float64, got 'float16'"),
    (
        "train.momentum=0.9",
        "unknown key train.momentum; train takes batch_size, dtype, epochs, grad, gradcheck_every, lr, seed",
    ),
    ("data.path=x.csv", 'data.path is only used with data.dataset = "file"'),
]


@pytest.mark.parametrize(("override", "line"), EXACT)
def test_the_exact_line(override, line):
    with pytest.raises(BadInput) as e:
        load_config(DIGITS, [override])
    assert str(e.value) == f"{DIGITS}: {line}"


@pytest.mark.parametrize(
    ("d", "line"),
    [
        (5, "src: the config must be a table"),
        ({"train": {"lr": 0, "zz": 1}}, "src: unknown key train.zz; train takes"),  # unknown keys first
        ({"train": {"lr": 0}, "model": {"hidden": [0]}}, "src: model.hidden must be positive widths"),
        ({"data": {"dataset": "xor"}, "train": 3}, "src: train must be a table, got an integer"),
        ({"sweep": [1], "train": {"lr": 0}}, "src: train.lr must be a number > 0, got 0"),
        ({"sweep": [1]}, "src: sweep must be a table, got a list"),
        ({"optimizer": {}, "train": {"lr": 0}}, "src: unknown section [optimizer]; expected one of"),
    ],
)
def test_the_first_problem_in_reading_order(d, line):
    with pytest.raises(BadInput) as e:
        RunConfig.from_dict(d, "src")
    assert str(e.value).startswith(line)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nlearning_rate = 0.1\n", r"bad\.toml: unknown key train\.learning_rate"),
        ("[optimizer]\nlr = 0.1\n", r"bad\.toml: unknown section \[optimizer\]"),
        ("[train\nlr = \n", r"bad\.toml: TOML syntax error"),
    ],
)
def test_bad_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput, match=message) as e:
        load_config(path)
    assert "\n" not in str(e.value)


def test_file_dataset_needs_a_path():
    with pytest.raises(BadInput, match=r"data\.path is required"):
        load_config(CONFIGS / "digits.toml", ["data.dataset=file"])


def test_override_without_equals():
    with pytest.raises(BadInput, match="key=value"):
        parse_override("train.lr", "x.toml")


def test_override_nested_below_a_key():
    with pytest.raises(BadInput, match=r"unknown key train\.lr\.x$"):
        load_config(DIGITS, ["train.lr.x=1"])


def test_a_quoted_dotted_key_names_a_sweep_space_entry():
    cfg = load_config(DIGITS, ['sweep.space."train.lr"={low=0.5, high=4.0, log=true}'])
    assert cfg.sweep["space"]["train.lr"] == {"low": 0.5, "high": 4.0, "log": True}
    assert "train" not in cfg.sweep["space"]  # one key with a dot, not a table train holding lr


@pytest.mark.parametrize("key", ["train..lr", 'train.""', "train.lr x", "train.\nlr"])
def test_a_key_that_is_not_one_toml_key_is_refused(key):
    with pytest.raises(BadInput, match=r"must look like section\.key"):
        load_config(DIGITS, [f"{key}=1"])
