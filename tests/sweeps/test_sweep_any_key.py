"""`bplab sweep` over dotted config keys, in-process (the binary's wiring is the other sweep tests'):
every point is a validated config, an invalid one fails its own trial as ``bad_config``, and the
study optimises the metric it was given."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from tests.sweeps.conftest import journal_study, mlflow_runs, write_config
from tests.sweeps.inprocess import bplab_main, use_tmp_stores

SPACE = """
"train.lr" = {low = 0.5, high = 10.0, log = true}
"model.hidden" = {choices = [[2], [3, 2]]}
"model.activation" = {choices = ["sigmoid", "tanh"]}
"data.test_fraction" = {choices = [0.15, 0.8]}
"""


def test_dotted_keys_reach_the_runs_and_a_bad_point_fails_alone(tmp_path, monkeypatch, capsys):
    sweep = 'metric = "train_loss"\npruner = "asha"\nsampler = "random"\nseed = 3'
    # The short keys of the tiny config would contradict the dotted ones: drop them.
    cfg = write_config(tmp_path, name="anykey", n_trials=4, sweep_extra=sweep, space_extra=SPACE)
    text = cfg.read_text().replace("lr = [0.5, 10.0]\nn_layers = [1, 1]\nwidth = [2, 3]\n", "")
    cfg.write_text(text)
    use_tmp_stores(monkeypatch, tmp_path)
    rc, _out, err = bplab_main(["sweep", cfg.name], capsys)
    assert rc in (0, 1), err
    study = journal_study(tmp_path, "anykey")
    assert study.direction.name == "MINIMIZE" and study.metric_names in (None, ["train_loss"])
    runs = {
        int(run.data.tags["optuna.trial"]): run
        for run in mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
        if run.data.tags.get("bplab.kind") == "trial"
    }
    assert {t.params["data.test_fraction"] for t in study.trials} == {0.15, 0.8}  # both kinds of point
    for t in study.trials:
        assert set(t.params) == {"train.lr", "model.hidden", "model.activation", "data.test_fraction"}
        if t.params["data.test_fraction"] == 0.8:  # + val_fraction 0.15 leaves < 10% to train
            assert t.state == TrialState.FAIL and t.user_attrs["bplab.failure"] == "bad_config"
            continue
        assert t.state == TrialState.COMPLETE, t.user_attrs
        params = runs[t.number].data.params
        assert params["model.hidden"] == t.params["model.hidden"]
        assert params["model.activation"] == t.params["model.activation"]
        assert float(params["train.lr"]) == pytest.approx(t.params["train.lr"])
