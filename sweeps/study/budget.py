"""The study's budget: global and exact, however many workers share it.

Before each trial a worker takes the study lock, re-queued trials first, and asks for a new trial
only while fewer than ``n_trials`` original trials exist. A retry (a re-queued trial, marked by
Optuna's ``failed_trial`` system attribute) takes the place of the trial it repeats, so it is not
counted twice. (Optuna's ``MaxTrialsCallback`` stops a worker only after a trial ends, so K workers
could overshoot by K − 1: hence the lock.)
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from experiments.names import (
    ATTR_BUDGET,
    ATTR_FAILURE,
    ATTR_SAMPLER_SEED,
    BAD_CONFIG,
    EXCEPTION,
    INTERRUPTED,
    OOM,
    WORKER_LOST,
)
from experiments.process import process_identity
from sweeps.study.handle import StudyHandle
from sweeps.study.locks import study_lock
from sweeps.study.storage import heartbeat_interval

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
NON_TRANSIENT = (OOM, EXCEPTION, BAD_CONFIG)  # the trial's own failures: a second one gives up
MAX_ATTEMPTS = 4  # failed attempts of one param set, of any kind but an interrupt, before giving up
SYS_FAILURES = "bplab_failures"  # system attribute of a retry: the categories of the attempts before it


def is_retry(trial: FrozenTrial) -> bool:
    """A re-queued trial (by the reaper or after an interrupt) repeats another."""
    return "failed_trial" in trial.system_attrs


def retried_numbers(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the trials that a later trial repeats."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history", []))
    return out


def originals(trials: Sequence[FrozenTrial]) -> int:
    """How much of the budget is spent: trials that are not retries, in any state."""
    return sum(not is_retry(t) for t in trials)


def accounted(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The finished trials that count: complete, pruned and failed, minus failures that were retried
    (their retry stands for them)."""
    superseded = retried_numbers(trials)
    return [t for t in trials if t.state in FINISHED and t.number not in superseded]


def is_done(trials: Sequence[FrozenTrial], budget: int) -> bool:
    """The budget is spent and nothing is running or waiting."""
    busy = any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    return not busy and originals(trials) >= budget


def reserve(handle: StudyHandle) -> optuna.Trial | None:
    """Takes the next trial under the study lock: a re-queued one first, else a new one while the
    budget allows; ``None`` when neither. The trial is stamped with this process's host and pid.

    On PostgreSQL its first heartbeat is recorded here, still under the lock, not by the worker's
    heartbeat thread later: Optuna's stale check skips a trial that never beat, so a process killed
    in between would leave it RUNNING forever. A trial the reaper finds under this lock without a
    heartbeat or a host was therefore reserved by a process that died doing it.
    """
    with study_lock(handle.url, handle.name):
        trials = handle.study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        budget = int(handle.study.user_attrs.get(ATTR_BUDGET, handle.budget))
        if not waiting and originals(trials) >= budget:
            return None
        trial = handle.study.ask()  # pops a waiting trial when there is one
        if heartbeat_interval(handle):
            handle.study._storage.record_heartbeat(trial._trial_id)
        for key, value in process_identity().items():
            trial.set_user_attr(key, value)
        if handle.sampler_seed is not None:
            trial.set_user_attr(ATTR_SAMPLER_SEED, handle.sampler_seed)
        return trial


def failures(trial: FrozenTrial) -> list[str]:
    """The failure categories of every attempt of ``trial``'s params, this one last (when failed)."""
    previous = list(trial.system_attrs.get(SYS_FAILURES, []))
    own = trial.user_attrs.get(ATTR_FAILURE) if trial.state == TrialState.FAIL else None
    return [*previous, own] if own else previous


def gives_up(categories: Sequence[str]) -> bool:
    """Whether params whose attempts failed with ``categories`` (oldest first) are not tried again:
    the same non-transient category twice (a poison trial), or :data:`MAX_ATTEMPTS` failures of any
    kind but an interrupt (so params that kill their worker cannot take down the fleet in turn)."""
    counted = [c for c in categories if c != INTERRUPTED]
    return len(counted) >= MAX_ATTEMPTS or any(counted.count(c) >= 2 for c in NON_TRANSIENT)


def is_poison(trial: FrozenTrial) -> bool:
    """A failed trial whose params were given up on (see :func:`gives_up`)."""
    return trial.state == TrialState.FAIL and gives_up(failures(trial))


def requeue(study: optuna.Study, trial: FrozenTrial, *, failure: str = WORKER_LOST) -> bool:
    """Queues a failed trial's params again, unless :func:`gives_up` says they failed too often;
    returns whether it did.

    The new trial is marked as a retry the way Optuna's own ``RetryHeartbeatStaleTrialCallback``
    marks it (``failed_trial``, ``retry_history``), with the categories of the failed attempts,
    but without the failed trial's user attributes: its failure label and process belong to the
    attempt that failed.
    """
    categories = [*trial.system_attrs.get(SYS_FAILURES, []), failure]
    if gives_up(categories):
        return False
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    system_attrs = {
        **trial.system_attrs,
        "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
    }
    system_attrs["retry_history"] = history
    system_attrs[SYS_FAILURES] = categories
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs=system_attrs,
        )
    )
    return True
