"""``bplab sweep`` and ``bplab worker``: the library functions behind the two commands.

A sweep validates everything first (config, ``[sweep]``, storage, MLflow store, sampler), then opens
or resumes the study and its parent run, runs K workers (in this process for K = 1, spawned
processes otherwise; K = 0 only prepares the study for remote workers), and finishes the parent run
with the results. SIGINT (or SIGTERM) stops it: the running trials are failed and re-queued, the
parent run ends KILLED with the counts so far and ``sweep.stopped=interrupted``, and the same call
resumes under the same parent run (and clears ``sweep.stopped`` when it finishes). A lost Optuna
storage ends the parent run FAILED (``bplab.failure=storage_unavailable``).

Nothing here prints: progress goes to a :class:`~sweeps.result.SweepObserver`, and the outcome comes
back as a :class:`~sweeps.result.SweepResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

from experiments import tracking
from experiments.config import load_config
from experiments.signals import terminate_as_interrupt
from experiments.tracking.reconcile import reconcile_at_start
from sweeps.ahead import CompileAhead
from sweeps.finish import finish, result, stop_parent, storage_lost
from sweeps.parent import open_parent
from sweeps.population import default_population
from sweeps.preflight import check_space_fits, fit_cpu_threads, lanes_wanted
from sweeps.progress import snapshot
from sweeps.result import Ending, Opened, Silent, SweepObserver, SweepResult
from sweeps.space import parse_sweep
from sweeps.spawn import run_spawned
from sweeps.study import (
    StudyHandle,
    create_or_resume,
    is_done,
    load,
    make_pruner,
    make_sampler,
    probe_storage,
    resolve_storage,
    with_sampler,
)
from sweeps.study.url import check_study_name
from sweeps.worker import work

HEARTBEAT_S = 10


def absolute_tracking_uri() -> str:
    """The MLflow store with a relative sqlite path made absolute, so workers started elsewhere
    (spawned, or ``bplab worker`` in another folder of this machine) write to the same store."""
    uri = tracking.tracking_uri()
    db = tracking.sqlite_path(uri)
    return f"sqlite:///{db.resolve()}" if db is not None else uri


def _use_tracking(uri: str) -> None:
    """Workers write where the sweep writes, unless ``MLFLOW_TRACKING_URI`` says otherwise."""
    if uri and not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = uri


def _opened(handle: StudyHandle, observer: SweepObserver) -> None:
    spec = handle.spec
    observer.opened(
        Opened(
            handle.name,
            handle.url.redacted(),
            handle.budget,
            spec.metric,
            spec.direction,
            handle.parent_run_id,
            spec.max_epochs(handle.base.train.epochs),
        )
    )


def _work(
    handle: StudyHandle,
    observer: SweepObserver,
    *,
    workers: int = 1,
    max_trials: int | None = None,
    deadline: float | None = None,
    heartbeat: int = HEARTBEAT_S,
    grad: Callable | None = None,
    population: int | None = None,
    lanes: int = 1,
) -> list[str]:
    """Runs the local workers, reporting the trials to ``observer``; returns the lost workers' names.
    Each trains populations of ``population`` (``None``: the backend's default); one worker in this
    process trains ``lanes`` trials side by side (:mod:`sweeps.lanes`).

    Raises:
      KeyboardInterrupt: SIGINT or SIGTERM, after the running trials were failed and re-queued.
    """
    population = population or default_population(jax.default_backend())

    def changed() -> None:
        observer.trials_changed(snapshot(handle.study.get_trials(deepcopy=False)))

    try:
        with terminate_as_interrupt():
            changed()
            # One trial thread leaves a core idle: it compiles the other depths' single-trial programs
            # there, and imports what the plots at the end need (all a population's sweep or a process
            # that only watches its workers can use it for).
            single = workers == 1 and population == 1
            ahead = CompileAhead(handle.base, handle.spec.space, grad, depths=single)
            with contextlib.closing(ahead):
                if workers == 1:
                    work(
                        handle, max_trials=max_trials, deadline=deadline, on_change=changed, grad=grad,
                        population=population, before_train=ahead.trial_starts, lanes=lanes,
                    )  # fmt: skip
                    return []
                ahead.trial_starts(handle.base)  # this process trains nothing
                return run_spawned(
                    handle, workers=workers, deadline=deadline, heartbeat=heartbeat, on_change=changed,
                    grad=grad, population=population,
                )  # fmt: skip
    finally:
        observer.closed()


def run_sweep(
    config: Path,
    overrides: Sequence[str] | None = None,
    *,
    n_trials: int | None = None,
    workers: int = 1,
    study: str | None = None,
    storage: str | None = None,
    timeout: float | None = None,
    heartbeat: int = HEARTBEAT_S,
    observer: SweepObserver | None = None,
    grad: Callable | None = None,
    population: int | None = None,
) -> SweepResult:
    """Runs (or resumes) the sweep of ``config``.

    Args:
      config: the TOML config with ``[sweep]``; overrides: ``--set`` strings.
      n_trials: the study's total budget (default ``sweep.n_trials``).
      workers: local processes; 0 only creates the study for ``bplab worker`` elsewhere.
      study: the study name (default: the experiment name); storage: see :mod:`sweeps.study.url`.
      timeout: seconds after which no new trial starts (default ``sweep.timeout``).
      heartbeat: PostgreSQL heartbeat interval in seconds (a dead worker's trial is failed after 3×).
      observer: receives the opened study and every change of its trials (default: none).
      grad: a replacement backward pass for every trial (``None``: the real one); tests plant bugs here.
      population: trials trained at once as populations by each worker; ``None``:
        :func:`sweeps.population.default_population` of the backend.

    Returns:
      How it ended; ``exit_code`` is 1 when a trial found a gradient bug, 130 when interrupted.

    Raises:
      BadInput: anything wrong with the inputs or the stores, before any run is opened.
    """
    observer = observer or Silent()
    cfg = load_config(config, list(overrides or []))
    spec = parse_sweep(cfg.sweep, cfg.source)
    if n_trials is not None:
        spec = dataclasses.replace(spec, n_trials=n_trials)
    if timeout is not None:
        spec = dataclasses.replace(spec, timeout=timeout)
    lanes = 1
    if workers:  # before any JAX computation; spawned workers inherit it (0: the trials train elsewhere)
        lanes = fit_cpu_threads(cfg, spec, population=population, lanes=lanes_wanted() if workers == 1 else 1)
    check_space_fits(cfg, spec, workers=workers)
    url = resolve_storage(storage)
    make_sampler(spec)  # refuses a sampler whose package is missing, now rather than in a worker
    make_pruner(spec, max_epochs=spec.max_epochs(cfg.train.epochs))
    name = study or cfg.experiment.name
    check_study_name(url, name)
    probe_storage(url)
    tracking.ensure_reachable(experiment=cfg.experiment.name)
    reconcile_at_start("sweep")
    handle = create_or_resume(url, name, cfg, spec, tracking_uri=absolute_tracking_uri(), heartbeat=heartbeat)
    _use_tracking(handle.tracking_uri)
    with_sampler(handle)
    open_parent(handle)
    _opened(handle, observer)
    if workers == 0:
        return result(handle, Ending.READY)
    start = time.monotonic()
    deadline = start + spec.timeout if spec.timeout else None
    try:
        lost = _work(
            handle, observer, workers=workers, deadline=deadline, heartbeat=heartbeat, grad=grad,
            population=population, lanes=lanes,
        )  # fmt: skip
        deadline_hit = deadline is not None and time.monotonic() >= deadline
        return finish(handle, start, deadline_hit=deadline_hit, lost=lost)
    except KeyboardInterrupt:
        return stop_parent(handle, start, Ending.INTERRUPTED)
    except Exception as e:
        reason = storage_lost(handle, e)
        if reason is None:
            raise
        return stop_parent(handle, start, Ending.STORAGE_LOST, reason)


def run_worker(
    study: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    heartbeat: int = HEARTBEAT_S,
    observer: SweepObserver | None = None,
    grad: Callable | None = None,
    population: int | None = None,
) -> SweepResult:
    """Joins an existing study (``bplab worker``).

    Args:
      study, storage: which study; its stored config, budget and parent run need nothing else.
      n_trials: at most this many trials from this worker (the study's budget still bounds all).
      heartbeat, observer, grad, population: as in :func:`run_sweep`.

    Raises:
      BadInput: no such study, or an unreachable store.
    """
    observer = observer or Silent()
    url = resolve_storage(storage)
    probe_storage(url)
    handle = load(url, study, heartbeat=heartbeat, worker_index=1 + os.getpid() % 10_000)
    fit_cpu_threads(handle.base, handle.spec, population=population)
    _use_tracking(handle.tracking_uri)
    tracking.ensure_reachable()
    reconcile_at_start("worker")
    if is_done(handle.study.get_trials(deepcopy=False), handle.budget):
        return result(handle, Ending.NOTHING_TO_DO)
    if handle.parent_run_id is None or tracking.run_status(handle.parent_run_id) != "RUNNING":
        open_parent(handle)
    _opened(handle, observer)
    start = time.monotonic()
    try:
        _work(handle, observer, max_trials=n_trials, heartbeat=heartbeat, grad=grad, population=population)
        return finish(handle, start, deadline_hit=False)
    except KeyboardInterrupt:
        return result(handle, Ending.INTERRUPTED)
    except Exception as e:  # the parent run is the sweep's: other workers or a resume end it
        reason = storage_lost(handle, e)
        if reason is None:
            raise
        return result(handle, Ending.STORAGE_LOST, reason=reason)
