"""`--population K`: K trials asked at once and trained as one population, each still its own trial.

Budget, states and runs are checked against the stores; one trial's curve against the same trial
trained alone (float32, ``1e-5`` normwise relative, as in tests/experiments/run/test_population.py).
"""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

import sweeps.ahead
from experiments.config import load_config
from experiments.run import train_run
from sweeps.objective import trial_config
from sweeps.padding import pad_widths, space_max_widths
from sweeps.population import default_population
from sweeps.space import parse_space
from sweeps.study.journal import INTERMEDIATE_VALUE
from sweeps.sweep import run_sweep
from tests.sweeps.conftest import journal_appends, journal_study, mlflow_runs, write_config
from tests.sweeps.inprocess import bplab_main, use_tmp_stores

EPOCHS = 3


def test_a_population_sweep_keeps_budget_states_runs_and_curves(tmp_path, monkeypatch):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="pop", n_trials=6, epochs=EPOCHS, sweep_extra='pruner = "none"')
    # the pruner's verdict, forced: trial 1 is pruned at its first report, in the middle of a population
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: self.number == 1)

    appends = journal_appends(monkeypatch)

    ahead = []  # its idle thread imports the plots' modules, and compiles no single-trial programs
    monkeypatch.setattr(sweeps.ahead, "import_plotting", lambda: ahead.append("imported"))
    monkeypatch.setattr(sweeps.ahead, "compile_programs", lambda *a, **k: ahead.append("compiled"))
    other_depth = [(load_config(cfg).with_values({"model.hidden": [3, 3]}), (3, 3))]  # as if 2 depths
    monkeypatch.setattr(sweeps.ahead, "depth_configs", lambda *a, **k: other_depth)

    result = run_sweep(cfg, population=4)

    trials = journal_study(tmp_path, "pop").get_trials()
    # every epoch's reports of a population are one journal append: 4 members, then 3 (one pruned)
    reports = [
        ops for ops in ([log["op_code"] for log in logs] for logs in appends) if INTERMEDIATE_VALUE in ops
    ]
    assert [len(ops) for ops in reports] == [4, 3, 3, 2, 2, 2]
    assert all(set(ops) == {INTERMEDIATE_VALUE} for ops in reports)
    assert [len(t.intermediate_values) for t in trials] == [EPOCHS, 1, EPOCHS, EPOCHS, EPOCHS, EPOCHS]
    assert ahead == ["imported"]
    assert result.exit_code == 0 and [t.number for t in trials] == list(range(6))  # 4 + 2: the budget
    states = [t.state.name for t in trials]
    assert states == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert len({t.params["lr"] for t in trials}) == 6
    runs = {
        r.data.tags["optuna.trial"]: r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "trial"
    }
    assert sorted(runs, key=int) == [str(n) for n in range(6)]
    client = MlflowClient(uri)
    for t in trials:
        run = runs[str(t.number)]
        assert run.info.status == ("KILLED" if t.number == 1 else "FINISHED")
        assert run.data.tags["optuna.state"] == t.state.name
        assert len(client.get_metric_history(run.info.run_id, "val_loss")) == (1 if t.number == 1 else EPOCHS)
    assert runs["1"].data.tags["bplab.pruned_at"] == "1"
    alone = train_run(trial_config(load_config(cfg), trials[2].params), track=False)
    got = [m.value for m in client.get_metric_history(runs["2"].info.run_id, "val_loss")]
    want = np.array([m["val_loss"] for m in alone.history])
    assert np.linalg.norm(np.array(got) - want) <= 1e-5 * np.linalg.norm(want)
    assert trials[2].value == pytest.approx(alone.history[-1]["val_loss"], rel=1e-5)


def test_the_padding_rule():
    assert pad_widths((32,), (256,), "cpu") == (256,)  # ≤ 256: always
    assert pad_widths((300,), (512,), "cpu") == (512,)  # ≤ 2× the true width
    assert pad_widths((128,), (512,), "cpu") is None  # 4× and past 256: its own program
    assert pad_widths((64, 300), (256, 512), "cpu") == (256, 512)
    assert pad_widths((64, 200), (256, 512), "cpu") is None  # every layer or none
    assert pad_widths((16,), (4096,), "gpu") == (4096,)  # an accelerator always pads
    assert pad_widths((300,), (256,), "gpu") is None  # wider than the space: not padded
    assert pad_widths((8, 8), (256,), "cpu") is None


def test_the_padding_rule_can_be_forced_for_measurements(monkeypatch):
    monkeypatch.setenv("BPLAB_PAD", "0")
    assert pad_widths((32,), (256,), "gpu") is None
    monkeypatch.setenv("BPLAB_PAD", "1")
    assert pad_widths((128,), (4096,), "cpu") == (4096,)


def test_space_max_widths_and_default_population():
    space = parse_space({"width": [32, 256], "width_step": 32}, "t.toml")
    assert space_max_widths(space, 2) == (256, 256)
    choices = parse_space({"model.hidden": {"choices": [[30], [64, 16], [20, 40]]}}, "t.toml")
    assert space_max_widths(choices, 2) == (64, 40) and space_max_widths(choices, 1) == (30,)
    assert (default_population("cpu"), default_population("gpu"), default_population("tpu")) == (1, 16, 16)


def test_bplab_worker_trains_populations_too(tmp_path, monkeypatch, capsys):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="joined", n_trials=4, epochs=2, sweep_extra='pruner = "none"')
    assert run_sweep(cfg, workers=0).exit_code == 0  # the study, for workers elsewhere

    rc, _out, err = bplab_main(["worker", "--study", "joined", "--population", "4"], capsys)

    assert rc == 0, err
    assert [t.state.name for t in journal_study(tmp_path, "joined").get_trials()] == ["COMPLETE"] * 4
    runs = [r.info for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "trial"]
    assert len(runs) == 4
    # one population: every run was open before the first one ended
    assert max(r.start_time for r in runs) < min(r.end_time for r in runs)
