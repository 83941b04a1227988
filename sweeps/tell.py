"""Telling Optuna and MLflow how a trial ended, so its trial state and its run always agree.

A failure that may pass (out of memory, a store that did not answer, an error of ours) queues the
trial's params once more; :func:`sweeps.study.budget.gives_up` decides when they are given up on
(a poison trial). A divergence, a gradient bug or a missing metric is the params' own verdict and
is not repeated. An interrupted trial is always queued again: nothing was wrong with it.
"""

from __future__ import annotations

import contextlib
import logging

import optuna
from optuna.trial import TrialState

from experiments import tracking
from experiments.errors import failure_tags
from experiments.names import (
    ATTR_FAILURE,
    ATTR_REASON,
    ATTR_RUN_ID,
    INTERRUPTED,
    STORAGE_UNAVAILABLE,
    TAG_FAILURE,
    TAG_FAILURE_REASON,
    TAG_TRIAL,
    TAG_TRIAL_STATE,
    TRACKING_UNAVAILABLE,
)
from experiments.run.ending import ending
from sweeps.objective import Outcome
from sweeps.study import StudyHandle, requeue, study_lock
from sweeps.study.budget import NON_TRANSIENT

QUEUED_AGAIN = (*NON_TRANSIENT, TRACKING_UNAVAILABLE, STORAGE_UNAVAILABLE)
log = logging.getLogger(__name__)


def retry_of(handle: StudyHandle, trial: optuna.Trial) -> int | None:
    """The number of the trial that ``trial`` repeats, if it is a retry."""
    attrs = handle.study._storage.get_trial_system_attrs(trial._trial_id)
    return attrs.get("failed_trial")


def trial_run_id(handle: StudyHandle, number: int) -> str | None:
    """The child run of trial ``number`` (newest first), found by its tags; ``None`` when the
    tracking server does not answer either."""
    try:
        runs = tracking.child_runs(handle.parent_run_id)
    except Exception:  # the trial is told to Optuna all the same
        return None
    runs = [r for r in runs if r["tags"].get(TAG_TRIAL) == str(number)]
    return runs[0]["run_id"] if runs else None


def mirror(run_id: str, state: str, failure: str | None = None, reason: str | None = None) -> None:
    """The trial's state (and failure) on its run, which ends FAILED if it is still RUNNING.

    A tracking server that does not answer is logged, not raised: the trial's verdict stands, and
    ``bplab runs reconcile`` ends the run later.
    """
    tags = {TAG_TRIAL_STATE: state}
    if failure:
        tags.update(failure_tags(failure, reason or failure))
    try:
        tracking.set_tags(run_id, tags)
        if failure and tracking.run_status(run_id) == "RUNNING":
            tracking.end_run(run_id, "KILLED" if failure == INTERRUPTED else "FAILED")
    except Exception as e:
        log.warning("bplab: warning: could not mark run %s %s: %s", run_id, state, e)


def tell(handle: StudyHandle, trial: optuna.Trial, outcome: Outcome) -> bool:
    """Records ``outcome`` on the run, then in Optuna (state, value, failure label), and queues the
    params again when the failure may pass; returns whether they were queued again."""
    run_id = outcome.run_id or trial_run_id(handle, trial.number)
    failed = outcome.state == TrialState.FAIL
    if run_id:
        mirror(run_id, outcome.state.name, outcome.failure if failed else None, outcome.reason)
        trial.set_user_attr(ATTR_RUN_ID, run_id)
    if outcome.failure:
        trial.set_user_attr(ATTR_FAILURE, outcome.failure)
    if outcome.reason:
        trial.set_user_attr(ATTR_REASON, outcome.reason[:500])
    if outcome.state == TrialState.COMPLETE:
        handle.study.tell(trial, outcome.value, skip_if_finished=True)
        return False
    if not (failed and outcome.failure in QUEUED_AGAIN):
        handle.study.tell(trial, state=outcome.state, skip_if_finished=True)
        return False
    with study_lock(handle.url, handle.name):  # failed and queued at once: nobody sees the gap
        frozen = handle.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return frozen.state == TrialState.FAIL and requeue(handle.study, frozen, failure=outcome.failure)


def interrupted(handle: StudyHandle, trial: optuna.Trial) -> None:
    """A trial stopped by SIGINT/SIGTERM: failed, its run KILLED, its params queued for the resume.
    A trial already told (the signal came just after) stays as it was told."""
    with study_lock(handle.url, handle.name):
        if handle.study._storage.get_trial(trial._trial_id).state.is_finished():
            return
        trial.set_user_attr(ATTR_FAILURE, INTERRUPTED)
        frozen = handle.study.tell(trial, state=TrialState.FAIL)
        requeue(handle.study, frozen, failure=INTERRUPTED)
    run_id = trial_run_id(handle, trial.number)
    if run_id:
        with contextlib.suppress(Exception):  # the store may be what stopped us; reconcile ends it
            tracking.settle(run_id)  # an ending the signal left queued lands first, then is corrected
            status, tags = ending(KeyboardInterrupt())
            tracking.set_tags(run_id, {**tags, TAG_TRIAL_STATE: "FAIL", TAG_FAILURE: INTERRUPTED})
            run = tracking.get_run(run_id)
            if TAG_FAILURE_REASON in run.data.tags:  # what a library made of the signal is not why it stopped
                tracking.client().delete_tag(run_id, TAG_FAILURE_REASON)
            if run.info.status == "RUNNING":
                tracking.end_run(run_id, status)
            else:  # the run ended just before the signal, the trial was not told: they must agree
                tracking.client().set_terminated(run_id, status=status)
