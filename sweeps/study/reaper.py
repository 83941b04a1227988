"""The reaper: a RUNNING trial whose process is gone is failed (``bplab.failure=worker_lost``), its
params are queued again and its MLflow run is ended FAILED, so a sweep outlives its workers.

Which trials are lost depends on the storage; what is done with them does not:

- journal and SQLite have no heartbeats: a trial's recorded host, pid and pid start time tell whether
  its process lives.
- PostgreSQL has heartbeats: a trial whose last beat is older than the grace period is lost. So is a
  trial found without a host or without any heartbeat: :func:`~sweeps.study.budget.reserve` records
  both under the study lock the reaper holds, so its process died while reserving it. (Optuna's own
  stale check skips a trial that never beat: it would stay RUNNING forever.)

Optuna's ``fail_stale_trials`` is not used: it fails a trial first and calls back after, when the
trial no longer takes the failure label.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Sequence

import optuna
import sqlalchemy
from optuna.storages._rdb.models import TrialHeartbeatModel
from optuna.trial import FrozenTrial, TrialState

from experiments.names import ATTR_FAILURE, ATTR_HOST, ATTR_PID, ATTR_PID_START, WORKER_LOST
from experiments.process import process_alive
from sweeps.reconcile import reconcile_trial_run
from sweeps.study.budget import requeue
from sweeps.study.handle import StudyHandle
from sweeps.study.locks import study_lock
from sweeps.study.storage import heartbeat_interval


def reap(handle: StudyHandle) -> list[int]:
    """Fails the RUNNING trials whose process is gone, re-queues their params (unless
    :func:`~sweeps.study.budget.gives_up`) and marks their MLflow runs FAILED; returns their numbers.
    """
    with study_lock(handle.url, handle.name):
        running = handle.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if handle.url.heartbeat_capable:
            lost = _lost_by_heartbeat(handle, running)
        else:
            lost = _lost_by_process(running)
        failed = [f for f in (fail_lost(handle.study, t) for t in lost) if f is not None]
    for frozen in failed:  # MLflow after the lock: the other workers need not wait for it
        reconcile_trial_run(handle.study, frozen, failure=WORKER_LOST)
    return [f.number for f in failed]


def fail_lost(study: optuna.Study, trial: FrozenTrial) -> FrozenTrial | None:
    """Labels ``trial`` ``worker_lost``, fails it and queues its params again; returns it failed, or
    ``None`` when it finished first (a stale trial whose process was alive after all).

    The label goes first: Optuna refuses attributes on a finished trial.
    """
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, ATTR_FAILURE, WORKER_LOST)
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    frozen = copy.deepcopy(storage.get_trial(trial._trial_id))
    requeue(study, frozen, failure=WORKER_LOST)  # unless they failed too often
    return frozen


def _lost_by_process(running: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Trials whose recorded process is not alive, or that have none (it died while reserving)."""
    this_host = socket.gethostname()
    lost = []
    for t in running:
        a = t.user_attrs
        host, pid, start = a.get(ATTR_HOST), a.get(ATTR_PID), a.get(ATTR_PID_START)
        if host is None or not process_alive(host, pid, start, this_host=this_host):
            lost.append(t)
    return lost


def _lost_by_heartbeat(handle: StudyHandle, running: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Trials whose heartbeat is stale, or that have no host or no heartbeat (died while reserving)."""
    if not running or not heartbeat_interval(handle):
        return []  # without heartbeats every trial would look unbeaten
    storage = handle.study._storage
    stale = set(storage._get_stale_trial_ids(handle.study._study_id))
    beaten = _with_heartbeat(storage, [t._trial_id for t in running])
    return [
        t
        for t in running
        if t._trial_id in stale or t._trial_id not in beaten or ATTR_HOST not in t.user_attrs
    ]


def _with_heartbeat(storage: optuna.storages.BaseStorage, trial_ids: list[int]) -> set[int]:
    """Which of ``trial_ids`` have a heartbeat row (Optuna has no public way to ask)."""
    engine = getattr(storage, "_backend", storage).engine  # the RDB storage behind Optuna's cache
    rows = sqlalchemy.select(TrialHeartbeatModel.trial_id).where(TrialHeartbeatModel.trial_id.in_(trial_ids))
    with engine.connect() as conn:
        return set(conn.execute(rows).scalars())
