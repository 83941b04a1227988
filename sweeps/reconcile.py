"""Keeps MLflow runs and Optuna trials in agreement when a process died between the two.

A worker killed mid-trial leaves its child run RUNNING; the reaper (by heartbeat or by pid) fails
the trial, and this module ends the run FAILED with ``bplab.failure=worker_lost``. At the end of a
sweep :func:`reconcile_all` repeats it for every child run, whoever killed its worker.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from experiments import tracking
from experiments.names import (
    ATTR_PARENT,
    TAG_FAILURE,
    TAG_TRIAL,
    TAG_TRIAL_REASON,
    TAG_TRIAL_STATE,
    WORKER_LOST,
)


def _orphan_tags(trial: FrozenTrial, failure: str) -> dict[str, str]:
    return {
        TAG_TRIAL_STATE: trial.state.name,
        TAG_FAILURE: failure,
        TAG_TRIAL_REASON: "the worker process ended during the trial; its params were queued again",
    }


def reconcile_trial_run(study: optuna.Study, trial: FrozenTrial, *, failure: str) -> int:
    """Ends the RUNNING child run(s) of a finished ``trial`` FAILED; returns how many it ended."""
    parent = study.user_attrs.get(ATTR_PARENT)
    if not parent or trial.state not in (TrialState.FAIL, TrialState.COMPLETE, TrialState.PRUNED):
        return 0
    ended = 0
    for run in tracking.child_runs(parent):
        if run["tags"].get(TAG_TRIAL) == str(trial.number) and _disagrees(run, trial):
            _end_failed(run, trial, failure)
            ended += 1
    return ended


def _disagrees(run: dict, trial: FrozenTrial) -> bool:
    """The run is still RUNNING, or it ended as if its trial had been told, while the trial was
    failed instead (its worker died after ending the run and before telling Optuna)."""
    if run["status"] == "RUNNING":
        return True
    told_fail = run["tags"].get(TAG_TRIAL_STATE) == "FAIL"
    return trial.state == TrialState.FAIL and run["status"] != "FAILED" and not told_fail


def _end_failed(run: dict, trial: FrozenTrial, failure: str) -> None:
    tracking.set_tags(run["run_id"], _orphan_tags(trial, failure))
    if run["status"] == "RUNNING":
        tracking.end_run(run["run_id"], "FAILED")
    else:
        tracking.client().set_terminated(run["run_id"], status="FAILED")


def reconcile_all(study: optuna.Study) -> int:
    """Ends FAILED every child run still RUNNING whose trial is finished; returns how many."""
    parent = study.user_attrs.get(ATTR_PARENT)
    if not parent:
        return 0
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    ended = 0
    for run in tracking.child_runs(parent):
        number = run["tags"].get(TAG_TRIAL)
        trial = by_number.get(int(number)) if number and number.isdigit() else None
        if trial is None or not trial.state.is_finished() or not _disagrees(run, trial):
            continue
        if trial.state in (TrialState.FAIL, TrialState.COMPLETE, TrialState.PRUNED):
            _end_failed(run, trial, WORKER_LOST)
            ended += 1
    return ended
