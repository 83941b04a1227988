"""The [sweep] table's validation, the grid, trial params → config, and the budget's arithmetic."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from experiments.config import RunConfig
from experiments.errors import BadInput
from sweeps.display import fmt_params, progress
from sweeps.objective import config_values, suggest, trial_config
from sweeps.space import SAMPLERS, Range, grid_space, grid_values, parse_sweep
from sweeps.study import accounted, is_done, make_sampler, originals, resolve_storage


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
        ({"pruner": "early"}, "sweep.pruner"),
        ({"metric": "test_accuracy"}, "sweep.metric"),
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


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_proposes_points_inside_the_space(sampler):
    spec = parse_sweep(
        {"sampler": sampler, "seed": 0, "space": {"lr": [0.1, 5.0], "n_layers": [1, 2], "width": [4, 16]}},
        "x",
    )
    study = optuna.create_study(sampler=make_sampler(spec))
    for i in range(12):  # past CMA-ES's and TPE's start-up trials
        trial = study.ask()
        params = suggest(trial, spec.space)
        assert 0.1 <= params["lr"] <= 5.0 and 1 <= params["n_layers"] <= 2
        assert all(4 <= params[f"width_{l}"] <= 16 for l in range(1, params["n_layers"] + 1))
        study.tell(trial, float(i % 5))


def test_grid_values():
    assert grid_values(Range(1, 2), 3, integer=True) == [1, 2]
    assert grid_values(Range(0.1, 10.0, log=True), 3, integer=False) == pytest.approx([0.1, 1.0, 10.0])
    spec = parse_sweep({"sampler": "grid", "space": {"n_layers": [1, 2], "width": [4, 16]}}, "x")
    assert set(grid_space(spec)) == {"lr", "n_layers", "width_1", "width_2"}


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
    assert fmt_params(params).startswith("lr=")


def _t(number, state, *, retry_of=None, value=None):
    system_attrs = {} if retry_of is None else {"failed_trial": retry_of, "retry_history": [retry_of]}
    t = create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params={"lr": 0.5},
        distributions={"lr": FloatDistribution(0.1, 1.0)},
        system_attrs=system_attrs,
    )
    t.number = number
    return t


def test_a_retry_is_not_counted_twice():
    trials = [
        _t(0, TrialState.COMPLETE, value=0.3),
        _t(1, TrialState.FAIL),  # a worker died; trial 3 repeats it
        _t(2, TrialState.PRUNED),
        _t(3, TrialState.COMPLETE, retry_of=1, value=0.2),
    ]
    assert originals(trials) == 3
    assert [t.number for t in accounted(trials)] == [0, 2, 3]
    assert is_done(trials, 3) and not is_done(trials, 4)
    p = progress(trials, budget=3, direction="minimize", elapsed=10.0)
    assert (p.done, p.complete, p.pruned, p.failed, p.best_number) == (3, 2, 1, 0, 3)


def test_a_waiting_retry_keeps_the_study_open():
    trials = [_t(0, TrialState.FAIL), _t(1, TrialState.WAITING, retry_of=0)]
    assert originals(trials) == 1 and not is_done(trials, 1)


def test_storage_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    assert resolve_storage(None, cwd=tmp_path).target == str(tmp_path / "optuna.journal")
    monkeypatch.setenv("BPLAB_OPTUNA_STORAGE", "postgresql://u:secret@h/db")
    url = resolve_storage(None, cwd=tmp_path)
    assert url.kind == "postgresql" and "secret" not in url.redacted()
    with pytest.raises(BadInput, match="--storage 'mysql://x'"):
        resolve_storage("mysql://x", cwd=tmp_path)


def test_status_line_before_any_trial_completes():
    from sweeps.display import status_line

    p = progress([_t(0, TrialState.FAIL)], budget=3, direction="minimize", elapsed=1.0)
    assert "no complete trial yet" in status_line(p, "val_loss") and "1/3 done" in status_line(p, "val_loss")
