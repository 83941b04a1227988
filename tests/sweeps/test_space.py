"""The [sweep] table's validation: defaults, a full table, and one line per bad value."""

from __future__ import annotations

import optuna
import pytest

from experiments.errors import BadInput
from sweeps.grid import grid_space
from sweeps.space import Range, parse_sweep
from sweeps.suggest import suggest


def test_defaults_when_the_table_is_empty():
    spec = parse_sweep({}, "x.toml")
    assert (spec.sampler, spec.pruner, spec.metric, spec.direction) == (
        "tpe",
        "median",
        "val_loss",
        "minimize",
    )
    assert spec.space.lr.log and spec.space.lr.low < spec.space.lr.high


def test_a_full_table():
    spec = parse_sweep(
        {
            "n_trials": 7,
            "timeout": 60,
            "sampler": "random",
            "pruner": "hyperband",
            "metric": "val_accuracy",
            "space": {
                "lr": [0.1, 5.0],
                "n_layers": [1, 3],
                "width": [4, 64],
                "width_log": True,
                "batch_size": [10, 32],
                "activation": ["sigmoid", "tanh"],
                "epochs": [5, 9],
            },
        },
        "x.toml",
    )
    assert spec.direction == "maximize"  # an accuracy is maximised unless told otherwise
    assert spec.space.width == Range(4, 64, log=True)
    assert spec.space.batch_size == (10, 32) and spec.max_epochs(30) == 9


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"n_trial": 3}, "unknown key sweep.n_trial"),
        ({"n_trials": 0}, "sweep.n_trials must be an integer ≥ 1"),
        ({"n_trials": "ten"}, "sweep.n_trials"),
        ({"sampler": "bayes"}, "sweep.sampler must be one of tpe, random, grid, cmaes"),
        ({"pruner": "early"}, "sweep.pruner must be one of median, percentile, asha, hyperband, none"),
        ({"pruner": "early"}, "sweep.pruner"),
        ({"metric": "test accuracy"}, "sweep.metric must be the name of a metric the runs log"),
        ({"pruner": "asha", "space": {"batch_size": [10, 10]}}, "batch_size must be a list without repeated"),
        ({"space": {"train.momentum": {"choices": [1]}}}, 'sweep.space."train.momentum"; train takes'),
        ({"space": {"sweep.n_trials": {"choices": [1]}}}, 'unknown key sweep.space."sweep.n_trials"'),
        ({"space": {"train.batch_size": [8, 16]}}, '"train.batch_size" must be {choices = [...]} or {low'),
        ({"space": {"train.batch_size": {"values": [8]}}}, '"train.batch_size" must be {choices'),
        ({"space": {"train.batch_size": {"low": 8, "high": 4}}}, "must be a range with low < high"),
        ({"space": {"train.batch_size": {"choices": [0, 8]}}}, "offers 0, but train.batch_size must be"),
        ({"space": {"train.epochs": {"low": 1, "high": 10, "step": 4}}}, "divides high − low"),
        ({"space": {"train.lr": {"low": 0.0, "high": 1.0, "log": True}}}, "must be a log range: low > 0"),
        ({"space": {"model.activation": {"choices": ["swish"]}}}, "offers 'swish', but model.activation"),
        ({"space": {"model.hidden": {"choices": [[30], [0]]}}}, "offers [0], but model.hidden must"),
        ({"space": {"lr": [0.1, 1.0], "train.lr": {"low": 0.1, "high": 1.0}}}, "both search train.lr"),
        ({"sampler": "grid", "space": {"model.cost": {"choices": ["quadratic"]}}}, "needs another sampler"),
        ({"direction": "up"}, "sweep.direction"),
        ({"timeout": -1}, "sweep.timeout"),
        ({"space": {"lr": [1.0, 0.1]}}, "sweep.space.lr must be [low, high] with low < high"),
        ({"space": {"lr": [0.0, 1.0]}}, "sweep.space.lr must be a range of positive numbers"),
        ({"space": {"lr": 0.5}}, "sweep.space.lr must be [low, high]"),
        ({"space": {"width": [0, 8]}}, "sweep.space.width must be a range of positive integers"),
        ({"space": {"n_layers": [1.5, 2]}}, "sweep.space.n_layers"),
        ({"space": {"activation": ["swish"]}}, "sweep.space.activation"),
        ({"space": {"init": ["xavier"]}}, "sweep.space.init"),
        ({"space": {"batch_size": [0]}}, "sweep.space.batch_size"),
        ({"space": {"depth": [1, 2]}}, "unknown key sweep.space.depth"),
        ({"space": {"width_log": "yes"}}, "sweep.space.width_log"),
        ({"space": {"width_step": 0}}, "sweep.space.width_step"),
        ({"space": {"width": [32, 256], "width_step": 32, "width_log": True}}, "width_step > 1 cannot"),
        ({"space": {"width": [32, 250], "width_step": 32}}, "must divide"),
    ],
)
def test_bad_tables_are_one_line_naming_file_and_key(table, needle):
    with pytest.raises(BadInput) as e:
        parse_sweep(table, "cfg.toml")
    msg = str(e.value)
    assert msg.startswith("cfg.toml: ") and needle in msg and "\n" not in msg


def test_stepped_widths_land_on_the_lattice():
    spec = parse_sweep({"space": {"width": [32, 256], "width_step": 32, "n_layers": [2, 2]}}, "x")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    widths = set()
    for _ in range(20):
        params = suggest(study.ask(), spec.space)
        widths |= {params["width_1"], params["width_2"]}
    assert widths <= set(range(32, 257, 32)) and len(widths) > 1
    grid = grid_space(parse_sweep({"sampler": "grid", "space": {"width": [32, 256], "width_step": 32}}, "x"))
    assert set(grid["width_1"]) <= set(range(32, 257, 32))


def test_any_logged_metric_with_its_direction():
    assert parse_sweep({"metric": "test_accuracy"}, "x").direction == "maximize"
    spec = parse_sweep({"metric": "grad_norm/W1", "direction": "maximize"}, "x")
    assert (spec.metric, spec.direction) == ("grad_norm/W1", "maximize")


def test_dotted_keys_become_params_and_bound_the_hidden_layers():
    space = parse_sweep(
        {
            "space": {
                "model.hidden": {"choices": [[30], [64, 32]]},
                "train.batch_size": {"low": 8, "high": 64, "step": 8},
                "train.lr": {"low": 0.01, "high": 10, "log": True},
                "data.val_fraction": {"low": 0.1, "high": 0.3},
                "train.epochs": {"choices": [5, 12]},
            }
        },
        "x",
    )
    spec_space = space.space
    assert spec_space.param("train.batch_size").integer and not spec_space.param("train.lr").integer
    assert (spec_space.n_layers, spec_space.width) == (Range(1, 2), Range(30, 64))  # memory checks, padding
    assert space.max_epochs(30) == 12
    assert spec_space.largest_batch(10) == 64 and parse_sweep({}, "x").space.largest_batch(10) == 10
