"""A worker: takes trials from a study until its budget is spent, one tracked run each.

Any number of workers, on any number of machines, run this same loop on one study (``bplab sweep
--workers K`` spawns K of them; ``bplab worker`` is one). Each trial is reserved under the study lock
(:func:`sweeps.study.budget.reserve`), trained by :func:`sweeps.objective.run_trial`, and told to Optuna with
the state its MLflow run ended with.

When the budget is spent but other workers still hold trials, a worker waits for them instead of
leaving: if one of them dies, its trial is failed (heartbeat or reaper) and re-queued, and a waiting
worker runs it. So a sweep ends with every trial accounted for as long as one worker survives.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import optuna
from optuna.trial import TrialState

from experiments import tracking
from experiments.names import (
    ATTR_FAILURE,
    ATTR_REASON,
    ATTR_RUN_ID,
    INTERRUPTED,
    TAG_FAILURE,
    TAG_TRIAL,
    TAG_TRIAL_STATE,
)
from experiments.signals import terminate_as_interrupt
from sweeps.cache import enable_compilation_cache
from sweeps.objective import Outcome, TrialContext, run_trial
from sweeps.study import StudyHandle, load, reap, requeue, reserve
from sweeps.study.url import StorageURL

POLL_S = 1.0  # how often a waiting worker looks for re-queued trials
# MLflow nags once per logged model about type hints on the pyfunc; a sweep logs one per trial.
warnings.filterwarnings("ignore", message="Add type hints to the `predict` method")


@contextlib.contextmanager
def heartbeat(handle: StudyHandle, trial: optuna.Trial) -> Iterator[None]:
    """Beats for ``trial`` every heartbeat interval while it runs (PostgreSQL only).

    Our own loop asks and tells (the budget needs the lock), so it records the heartbeats that
    ``study.optimize`` would; a process that dies stops beating and its trial goes stale.
    """
    storage = handle.study._storage
    interval = storage.get_heartbeat_interval() if handle.url.heartbeat_capable else None
    if not interval:
        yield
        return
    trial_id = trial._trial_id  # the storage's id; Optuna's public Trial exposes only the number
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a missed beat is retried; the grace period allows it
                storage.record_heartbeat(trial_id)
            stop.wait(interval)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _retry_of(handle: StudyHandle, trial: optuna.Trial) -> int | None:
    attrs = handle.study._storage.get_trial_system_attrs(trial._trial_id)
    return attrs.get("failed_trial")


def _trial_run_id(handle: StudyHandle, number: int) -> str | None:
    """The child run of trial ``number`` (newest first), found by its tags."""
    runs = [r for r in tracking.child_runs(handle.parent_run_id) if r["tags"].get(TAG_TRIAL) == str(number)]
    return runs[0]["run_id"] if runs else None


def tell(handle: StudyHandle, trial: optuna.Trial, outcome: Outcome) -> None:
    """Records ``outcome`` in Optuna (state, value, failure label) and mirrors the state on the run."""
    run_id = outcome.run_id or _trial_run_id(handle, trial.number)
    if run_id:
        trial.set_user_attr(ATTR_RUN_ID, run_id)
    if outcome.failure:
        trial.set_user_attr(ATTR_FAILURE, outcome.failure)
    if outcome.reason:
        trial.set_user_attr(ATTR_REASON, outcome.reason[:500])
    if outcome.state == TrialState.COMPLETE:
        handle.study.tell(trial, outcome.value, skip_if_finished=True)
    else:
        handle.study.tell(trial, state=outcome.state, skip_if_finished=True)
    if run_id:
        tracking.set_tags(run_id, {TAG_TRIAL_STATE: outcome.state.name})


def _interrupted(handle: StudyHandle, trial: optuna.Trial) -> None:
    """A trial stopped by SIGINT/SIGTERM: failed, its run tagged, its params queued for the resume."""
    trial.set_user_attr(ATTR_FAILURE, INTERRUPTED)
    frozen = handle.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
    if frozen.state == TrialState.FAIL:
        requeue(handle.study, frozen)
    run_id = _trial_run_id(handle, trial.number)
    if run_id:
        tracking.set_tags(run_id, {TAG_TRIAL_STATE: "FAIL", TAG_FAILURE: INTERRUPTED})
        if tracking.run_status(run_id) == "RUNNING":
            tracking.end_run(run_id, "KILLED")


def _busy(handle: StudyHandle) -> bool:
    trials = handle.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    return bool(trials)


def work(
    handle: StudyHandle,
    *,
    max_trials: int | None = None,
    deadline: float | None = None,
    on_change: Callable[[], None] | None = None,
    wait_for_others: bool = True,
    grad: Callable | None = None,
) -> int:
    """Runs trials of ``handle``'s study until the budget, ``max_trials`` or ``deadline`` (a
    ``time.monotonic()`` value) stops it; returns how many trials this worker ran.

    ``on_change`` is called after each trial is told; ``grad`` replaces the backward pass of every
    trial (``None``: the real one).

    Raises:
      KeyboardInterrupt: after failing and re-queueing the trial it interrupted.
    """
    ctx = TrialContext(handle.base, handle.spec, handle.name, handle.parent_run_id or "", grad=grad)
    reap(handle)
    ran = 0
    while max_trials is None or ran < max_trials:
        if deadline is not None and time.monotonic() >= deadline:
            break
        trial = reserve(handle)
        if trial is None:
            if not (wait_for_others and _busy(handle)):
                break
            time.sleep(POLL_S)
            reap(handle)  # fails and re-queues the trials of dead workers
            continue
        retry_of = _retry_of(handle, trial)
        with heartbeat(handle, trial):
            try:
                outcome = run_trial(trial, ctx, retry_of=retry_of)
            except KeyboardInterrupt:
                _interrupted(handle, trial)
                raise
        tell(handle, trial, outcome)
        ran += 1
        if on_change:
            on_change()
    return ran


def worker_process(
    url: StorageURL,
    name: str,
    index: int,
    deadline_in: float | None,
    heartbeat_s: int,
    env: dict[str, str],
    grad: Callable | None = None,
) -> None:
    """Entry point of a spawned worker (``--workers K``): joins the study and works.

    Spawned, not forked: JAX is not fork-safe. SIGTERM is turned into ``KeyboardInterrupt`` so a
    terminated worker fails and re-queues its trial like an interrupted one.
    """
    os.environ.update(env)
    enable_compilation_cache()
    deadline = time.monotonic() + deadline_in if deadline_in is not None else None
    try:
        with terminate_as_interrupt():
            handle = load(url, name, heartbeat=heartbeat_s, worker_index=index)
            work(handle, deadline=deadline, grad=grad)
    except KeyboardInterrupt:
        sys.exit(130)
