"""The reaper: journal and SQLite studies have no heartbeats, so a RUNNING trial whose process is
gone is found by its recorded host, pid and pid start time, failed and queued again."""

from __future__ import annotations

import socket

import optuna
from optuna.trial import TrialState

from experiments.names import ATTR_FAILURE, ATTR_HOST, ATTR_PID, ATTR_PID_START, WORKER_LOST
from experiments.process import process_alive
from sweeps.reconcile import reconcile_trial_run
from sweeps.study.budget import requeue
from sweeps.study.handle import StudyHandle
from sweeps.study.locks import study_lock


def reap(handle: StudyHandle) -> list[int]:
    """Fails RUNNING trials whose process is gone (``bplab.failure=worker_lost``), re-queues their
    params (unless :func:`~sweeps.study.budget.gives_up`) and marks their MLflow runs FAILED.
    Returns the reaped trial numbers.

    PostgreSQL studies use heartbeats instead (:func:`optuna.storages.fail_stale_trials`).
    """
    if handle.url.heartbeat_capable:
        optuna.storages.fail_stale_trials(handle.study)
        return []
    this_host = socket.gethostname()
    reaped = []
    with study_lock(handle.url, handle.name):
        for t in handle.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            a = t.user_attrs
            host, pid, start = a.get(ATTR_HOST), a.get(ATTR_PID), a.get(ATTR_PID_START)
            # No host: its process died between reserving it and stamping it (both under this lock).
            if host is not None and process_alive(host, pid, start, this_host=this_host):
                continue
            handle.study._storage.set_trial_user_attr(t._trial_id, ATTR_FAILURE, WORKER_LOST)
            frozen = handle.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            if frozen.state == TrialState.FAIL:
                requeue(handle.study, frozen, failure=WORKER_LOST)  # unless they failed too often
                reaped.append(t.number)
    for number in reaped:
        reconcile_trial_run(handle.study, handle.study.trials[number], failure=WORKER_LOST)
    return reaped
