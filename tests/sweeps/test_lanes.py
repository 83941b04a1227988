"""Trials side by side (``BPLAB_LANES``): each trains as it would alone, and a stop ends them all."""

from __future__ import annotations

import signal
import threading

import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

import sweeps.lanes
from sweeps.sweep import run_sweep
from tests.sweeps.conftest import journal_study, mlflow_runs, wait_for, write_config
from tests.sweeps.inprocess import use_tmp_stores

# The random sampler draws the same points whatever the schedule, so both sides train the same trials.
RANDOM = 'sampler = "random"\npruner = "none"\nseed = 7'


def swept(folder, monkeypatch, lanes: int) -> tuple[list, str]:
    """A 4-trial sweep trained ``lanes`` at a time in ``folder``: its trials and its MLflow store."""
    folder.mkdir()
    uri = use_tmp_stores(monkeypatch, folder)
    monkeypatch.setenv("BPLAB_LANES", str(lanes))
    cfg = write_config(folder, name="lanes", n_trials=4, epochs=6, sweep_extra=RANDOM)
    assert run_sweep(cfg, workers=1).exit_code == 0
    return journal_study(folder, "lanes").trials, uri


def curves(uri: str) -> dict[str, list[float]]:
    """Each trial's per-epoch validation loss, by trial number."""
    client = MlflowClient(uri)
    runs = [r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "trial"]
    return {
        r.data.tags["optuna.trial"]: [
            m.value
            for m in sorted(client.get_metric_history(r.info.run_id, "val_loss"), key=lambda m: m.step)
        ]
        for r in runs
    }


def meeting_in_pairs(monkeypatch) -> list[tuple[str, int]]:
    """Makes each lane's trial wait, before it trains, until the other lane's trial is there too, and
    returns the (thread, trial) of each meeting. Trials trained one after the other never meet: the
    barrier times out and breaks, and the trial fails."""
    pair, met = threading.Barrier(2, timeout=60), []
    train = sweeps.lanes.train_sampled

    def meet_then_train(trial, *args, **kwargs):
        pair.wait()
        met.append((threading.current_thread().name, trial.number))
        return train(trial, *args, **kwargs)

    monkeypatch.setattr(sweeps.lanes, "train_sampled", meet_then_train)
    return met


def test_trials_side_by_side_train_as_they_would_one_at_a_time(tmp_path, monkeypatch):
    alone, alone_uri = swept(tmp_path / "one", monkeypatch, lanes=1)
    met = meeting_in_pairs(monkeypatch)
    paired, paired_uri = swept(tmp_path / "two", monkeypatch, lanes=2)

    assert [t.params for t in paired] == [t.params for t in alone]
    assert [t.state for t in paired] == [TrialState.COMPLETE] * 4
    assert [t.value for t in paired] == pytest.approx([t.value for t in alone], rel=1e-6)
    together, apart = curves(paired_uri), curves(alone_uri)
    assert sorted(together) == sorted(apart) == ["0", "1", "2", "3"]
    for trial, curve in apart.items():
        assert len(curve) == 6 and together[trial] == pytest.approx(curve, rel=1e-6)
    # and they did train side by side: each pair met in two threads, the first trial in the main one
    assert sorted(met, key=lambda m: m[1]) == [
        ("MainThread", 0),
        ("trial-1", 1),
        ("MainThread", 2),
        ("trial-3", 3),
    ]


EPOCHS = 2000  # a trial of many seconds: stopped one epoch in, its lane's run has a short history


@pytest.mark.integration
def test_a_stop_ends_both_lanes_runs_killed_and_requeues_both_trials(tmp_path, env, procs):
    """SIGINT reaches the main thread only; the other lane's trial must stop and end KILLED too."""
    cfg = write_config(tmp_path, name="stop", n_trials=4, epochs=EPOCHS, sweep_extra='pruner = "none"')
    p = procs.start(["sweep", cfg.name], cwd=tmp_path, env={**env, "BPLAB_LANES": "2"})

    def both_training():
        try:
            trials = journal_study(tmp_path, "stop").trials
        except (KeyError, FileNotFoundError):
            return None
        running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
        return running if len(running) == 2 else None

    pair = wait_for(both_training, timeout=120, what="two trials training side by side")
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=60) == 130

    trials = journal_study(tmp_path, "stop").trials
    stopped = [trials[t.number] for t in pair]
    assert [t.state for t in stopped] == [TrialState.FAIL] * 2
    assert {t.user_attrs["bplab.failure"] for t in stopped} == {"interrupted"}
    retries = [t for t in trials if t.system_attrs.get("failed_trial") in {t.number for t in pair}]
    assert sorted(t.system_attrs["failed_trial"] for t in retries) == sorted(t.number for t in pair)
    assert [t.state for t in retries] == [TrialState.WAITING] * 2
    runs = [
        r
        for r in mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
        if r.data.tags.get("bplab.kind") == "trial"
    ]
    assert len(runs) == 2
    assert {(r.info.status, r.data.tags["bplab.failure"]) for r in runs} == {("KILLED", "interrupted")}
    # both stopped where they were: the other lane did not train on to its last epoch
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert all(0 < len(client.get_metric_history(r.info.run_id, "val_loss")) < EPOCHS for r in runs)
