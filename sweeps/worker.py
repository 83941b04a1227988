"""A worker: takes trials from a study until its budget is spent, one tracked run each.

Any number of workers, on any number of machines, run this same loop on one study (``bplab sweep
--workers K`` spawns K of them; ``bplab worker`` is one). Each trial is reserved under the study lock
(:func:`sweeps.study.budget.reserve`), trained by :func:`sweeps.objective.run_trial`, and told to Optuna with
the state its MLflow run ended with.

When the budget is spent but other workers still hold trials, a worker waits for them instead of
leaving: if one of them dies, its trial is failed (heartbeat or reaper) and re-queued, and a waiting
worker runs it. So a sweep ends with every trial accounted for as long as one worker survives.

A failure stays inside its trial (:mod:`sweeps.tell`); only a lost Optuna storage stops a worker,
after :data:`RECONNECT_WAITS_S` of retries, with :class:`~sweeps.failure.StorageLost`. Its trial in
flight stays RUNNING there, and the next worker or resume reaps it.

A stop (SIGINT/SIGTERM) fails and re-queues the trial in flight. A library can turn the interrupt into
another error on its way up, so once a stop was requested, a failure is taken as the stop and no
further trial starts (:func:`experiments.signals.raise_if_stop_requested`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from typing import TypeVar

import optuna
from optuna.trial import TrialState

from experiments.collector import collect_less_often, no_collection_at_exit
from experiments.compile_cache import enable_compilation_cache
from experiments.config import RunConfig
from experiments.names import STORAGE_UNAVAILABLE
from experiments.signals import raise_if_stop_requested, terminate_as_interrupt
from sweeps.failure import StorageLost, classify, root_cause
from sweeps.lanes import train_side_by_side
from sweeps.objective import Outcome, TrialContext, kept_inside, run_trial
from sweeps.population import work_batch
from sweeps.study import StudyHandle, batched_reports, load, reap, reserve
from sweeps.study.storage import heartbeat_interval
from sweeps.study.url import StorageURL
from sweeps.tell import interrupted, retry_of, tell

POLL_S = 1.0  # how often a waiting worker looks for re-queued trials
RECONNECT_WAITS_S = (1.0, 3.0, 6.0)  # a storage that does not answer is retried after these pauses
REDRAW_S = 0.5  # a live view redraws after an epoch at most this often (each redraw reads the study)
# A trial's reports reach a journal at most this often (each append is a lock and an fsync: ~2 ms, a
# digits epoch's own time on 2 cores); the first at once, so a dashboard sees each trial start.
REPORTS_EVERY_S = 1.0
T = TypeVar("T")
# Our loop asks, tells and beats itself (the budget needs the lock), which Optuna warns about.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
# MLflow nags once per logged model about type hints on the pyfunc; a sweep logs one per trial.
warnings.filterwarnings("ignore", message="Add type hints to the `predict` method")


@contextlib.contextmanager
def heartbeat(handle: StudyHandle, trial: optuna.Trial) -> Iterator[None]:
    """Beats for ``trial`` every heartbeat interval while it runs (PostgreSQL only).

    Our own loop asks and tells (the budget needs the lock), so it records the heartbeats that
    ``study.optimize`` would; a process that dies stops beating and its trial goes stale. (The first
    beat is :func:`~sweeps.study.budget.reserve`'s, so no trial is ever RUNNING without one.)
    """
    storage = handle.study._storage
    interval = heartbeat_interval(handle)
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


def with_storage(handle: StudyHandle, action: Callable[[], T]) -> T:
    """Runs a storage ``action``, retrying it while the storage does not answer.

    Raises:
      StorageLost: the storage did not answer after :data:`RECONNECT_WAITS_S` (one line, the cause).
    """
    for wait in (*RECONNECT_WAITS_S, None):
        try:
            return action()
        except Exception as e:
            raise_if_stop_requested()  # an error while stopping: the stop, not a storage to retry
            if classify(e) != STORAGE_UNAVAILABLE:
                raise
            if wait is None:
                tries = f"{len(RECONNECT_WAITS_S)} retries over {sum(RECONNECT_WAITS_S):.0f} s"
                where = handle.url.redacted()
                raise StorageLost(
                    f"the Optuna storage {where} stopped answering ({tries}): {root_cause(e)}"
                ) from None
            time.sleep(wait)
    raise AssertionError("unreachable")


def _run(handle: StudyHandle, trial: optuna.Trial, ctx: TrialContext) -> Outcome:
    """One reserved trial, trained under its heartbeat; nothing it raises escapes but an interrupt."""
    with heartbeat(handle, trial):
        outcome = kept_inside(
            lambda: run_trial(trial, ctx, retry_of=retry_of(handle, trial)), _reports(handle)
        )
    if outcome.state == TrialState.FAIL:
        raise_if_stop_requested()  # a failure while stopping is the stop: the trial is re-queued
    return outcome


def _reports(handle: StudyHandle) -> Callable[[], contextlib.AbstractContextManager]:
    """The block a trial's reports share journal appends in (at most every :data:`REPORTS_EVERY_S`)."""
    return batched_reports(handle.study._storage, every_s=REPORTS_EVERY_S)


def _busy(handle: StudyHandle) -> bool:
    trials = handle.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    return bool(trials)


def _at_most_every(seconds: float, fn: Callable[[], None]) -> Callable[[], None]:
    """``fn``, skipped when it last ran less than ``seconds`` ago (epochs can be milliseconds apart)."""
    last = [-math.inf]

    def throttled() -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            fn()

    return throttled


def work(
    handle: StudyHandle,
    *,
    max_trials: int | None = None,
    deadline: float | None = None,
    on_change: Callable[[], None] | None = None,
    wait_for_others: bool = True,
    grad: Callable | None = None,
    population: int = 1,
    before_train: Callable[[RunConfig], None] | None = None,
    lanes: int = 1,
) -> int:
    """Runs trials of ``handle``'s study until the budget, ``max_trials`` or ``deadline`` (a
    ``time.monotonic()`` value) stops it; returns how many trials this worker ran.

    ``on_change`` is called after each trial is told, and after an epoch at most every
    :data:`REDRAW_S` seconds; ``grad`` replaces the backward pass of every
    trial (``None``: the real one); ``population`` > 1 reserves that many trials at a time and
    trains them as populations (:mod:`sweeps.population`); ``before_train`` is called with each
    trial's config just before it trains (:mod:`sweeps.ahead` starts compiling other depths then);
    ``lanes`` > 1 (with ``population`` 1) reserves that many trials at a time and trains them side by
    side, one thread each (:mod:`sweeps.lanes`).

    Raises:
      KeyboardInterrupt: after failing and re-queueing the trial it interrupted.
      StorageLost: the Optuna storage stopped answering (its trial in flight is left to the reaper).
    """
    spec = dataclasses.replace(handle.spec, n_trials=handle.budget)  # the budget in force
    redraw = None if on_change is None else _at_most_every(REDRAW_S, on_change)
    ctx = TrialContext(handle.base, spec, handle.name, handle.parent_run_id or "", grad, redraw, before_train)
    with_storage(handle, partial(reap, handle))
    ran = 0
    while max_trials is None or ran < max_trials:
        if deadline is not None and time.monotonic() >= deadline:
            break
        raise_if_stop_requested()
        trial = with_storage(handle, partial(reserve, handle))
        if trial is None:
            if not (wait_for_others and with_storage(handle, partial(_busy, handle))):
                break
            time.sleep(POLL_S)
            with_storage(handle, partial(reap, handle))  # fails and re-queues the trials of dead workers
            continue
        batch = population if population > 1 else lanes
        if batch > 1:  # populations, or trials side by side
            size = batch if max_trials is None else min(batch, max_trials - ran)
            train = None if population > 1 else partial(train_side_by_side, scope=_reports(handle))
            storage, beat = partial(with_storage, handle), partial(heartbeat, handle)
            ran += work_batch(
                handle, trial, ctx, size=size, storage=storage, beat=beat, on_change=on_change, train=train
            )
            continue
        try:
            outcome = _run(handle, trial, ctx)
            with_storage(handle, partial(tell, handle, trial, outcome))
        except KeyboardInterrupt:  # while training or telling: a trial not told yet is re-queued
            interrupted(handle, trial)
            raise
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
    population: int = 1,
) -> None:
    """Entry point of a spawned worker (``--workers K``): joins the study and works, training its
    trials in populations of ``population`` (:func:`work`).

    Spawned, not forked: JAX is not fork-safe. SIGINT and SIGTERM both raise ``KeyboardInterrupt``
    (a sweep started in the background inherits an ignored SIGINT; a worker must still stop), so a
    stopped worker fails and re-queues its trial and exits 130; one whose storage is lost exits 1.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.update(env)
    collect_less_often()
    no_collection_at_exit()
    enable_compilation_cache()
    deadline = time.monotonic() + deadline_in if deadline_in is not None else None
    try:
        with terminate_as_interrupt():
            handle = load(url, name, heartbeat=heartbeat_s, worker_index=index)
            work(handle, deadline=deadline, grad=grad, population=population)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        if not isinstance(e, StorageLost) and classify(e) != STORAGE_UNAVAILABLE:
            raise
        sys.exit(1)  # the watching process meets the same storage and reports it in one line
