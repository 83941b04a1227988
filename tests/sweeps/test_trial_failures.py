"""A failure stays inside its trial: the trial FAILs with a category, its run is FAILED, the worker
goes on, and params that fail the same way twice are given up on (poison).

The failure comes from outside the product code: ``grad=`` (the backward pass every trial uses, a
test seam of ``run_sweep``) raises on the calls we choose, or the sampled config is invalid.
"""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from backprop_core import backward
from sweeps.result import Ending
from sweeps.sweep import run_sweep
from tests.sweeps.conftest import journal_study, mlflow_runs, write_config
from tests.sweeps.inprocess import use_tmp_stores


def failing_first(n: int, error: BaseException):
    """A backward pass that raises ``error`` on its first ``n`` calls, then is the real one.

    A trial calls it while its epoch is traced; a raise leaves nothing compiled, so the next trial
    calls it again: the first ``n`` trials fail.
    """
    calls = {"n": 0}

    def flaky_backward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= n:
            raise error
        return backward(*args, **kwargs)

    return flaky_backward


@pytest.mark.parametrize(
    ("error", "category"),
    [(MemoryError("cannot allocate 64 GiB"), "oom"), (RuntimeError("an error nobody expected"), "exception")],
)
def test_an_unexpected_error_fails_its_trial_retries_it_once_then_gives_up(
    tmp_path, monkeypatch, error, category
):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="fail", n_trials=3, sweep_extra='pruner = "none"\nseed = 1')

    result = run_sweep(cfg, grad=failing_first(2, error))

    assert result.ending == Ending.DONE and result.exit_code == 0  # the worker went on
    p = result.progress
    assert (p.done, p.complete, p.failed, p.poison) == (3, 2, 1, 1)
    trials = journal_study(tmp_path, "fail").trials
    assert [t.state for t in trials] == [
        TrialState.FAIL,
        TrialState.FAIL,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
    ]
    first, retry = trials[0], trials[1]
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == first.params
    assert {first.user_attrs["bplab.failure"], retry.user_attrs["bplab.failure"]} == {category}
    assert type(error).__name__ in retry.user_attrs["bplab.reason"]
    runs = {r.data.tags.get("optuna.trial"): r for r in mlflow_runs(uri)}
    for number in ("0", "1"):
        run = runs[number]
        assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == category
        assert str(error) in run.data.tags["bplab.failure_reason"]
    parent = next(r for r in runs.values() if r.data.tags.get("bplab.kind") == "sweep")
    parent = MlflowClient(uri).get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.poison"] == "1"
    assert not [r for r in mlflow_runs(uri) if r.info.status == "RUNNING"]


def test_a_sampled_point_that_is_not_a_valid_config_gets_a_failed_run(tmp_path, monkeypatch):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    # XOR has 4 training rows: a batch of 8 is refused before training, for every trial.
    cfg = write_config(tmp_path, name="bad", n_trials=1, space_extra="batch_size = [8]")

    result = run_sweep(cfg)

    assert result.ending == Ending.DONE and (result.progress.failed, result.progress.poison) == (1, 1)
    trials = journal_study(tmp_path, "bad").trials
    assert [(t.state, t.user_attrs["bplab.failure"]) for t in trials] == [(TrialState.FAIL, "bad_config")] * 2
    children = [r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "trial"]
    assert sorted(r.data.tags["optuna.trial"] for r in children) == ["0", "1"]
    for run in children:
        assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "bad_config"
        assert "larger than the training set" in run.data.tags["bplab.failure_reason"]
        assert run.data.params["train.batch_size"] == "8"
