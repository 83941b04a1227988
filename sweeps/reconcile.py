"""Keeps MLflow runs and Optuna trials in agreement when a process died between the two.

A worker killed mid-trial leaves its child run RUNNING; the heartbeat callback or the reaper fails
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
        if run["status"] == "RUNNING" and run["tags"].get(TAG_TRIAL) == str(trial.number):
            tracking.set_tags(run["run_id"], _orphan_tags(trial, failure))
            tracking.end_run(run["run_id"], "FAILED")
            ended += 1
    return ended


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
        if run["status"] != "RUNNING" or trial is None:
            continue
        if trial.state in (TrialState.FAIL, TrialState.COMPLETE, TrialState.PRUNED):
            tracking.set_tags(run["run_id"], _orphan_tags(trial, WORKER_LOST))
            tracking.end_run(run["run_id"], "FAILED")
            ended += 1
    return ended
