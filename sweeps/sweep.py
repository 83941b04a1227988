"""``bplab sweep`` and ``bplab worker``: the library functions behind the two commands.

A sweep validates everything first (config, ``[sweep]``, storage, MLflow store, sampler), then opens
or resumes the study and its parent run, runs K workers (in this process for K = 1, spawned
processes otherwise; K = 0 only prepares the study for remote workers), and finishes the parent run
with the results. SIGINT (or SIGTERM) stops it: the running trial is failed and re-queued, the parent
run is marked KILLED, and the same command resumes under the same parent run.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from experiments import tracking
from experiments.config import load_config
from sweeps.cache import enable_compilation_cache
from sweeps.display import Display, final_report, status_line
from sweeps.parent import finalize, open_parent
from sweeps.space import parse_sweep
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
from sweeps.worker import work, worker_process

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


def _finish(handle: StudyHandle, start: float, out: TextIO, *, deadline_hit: bool) -> int:
    """Finalises the parent run when nothing is left (or time is up) and prints the summary;
    returns the exit code: 1 when a trial found a gradient bug, 0 otherwise."""
    trials = handle.study.get_trials(deepcopy=False)
    done = is_done(trials, handle.budget)
    if not (done or deadline_hit):
        print(status_line(_progress(handle, start), handle.spec.metric), file=out)
        print("other workers are still running trials; the last one to finish writes the results", file=out)
        return 0
    finalize(handle, elapsed=time.monotonic() - start, stopped=None if done else "timeout")
    p = final_report(
        handle.study.get_trials(deepcopy=False),
        budget=handle.budget,
        metric=handle.spec.metric,
        direction=handle.spec.direction,
        elapsed=time.monotonic() - start,
        parent_url=tracking.run_url(handle.parent_run_id),
        stream=out,
    )
    if not done:
        print(
            f"stopped by the time limit; run the same command to continue to {handle.budget} trials", file=out
        )
    print("browse every trial: bplab ui", file=out)
    return 1 if p.gradient_bugs else 0


def _progress(handle: StudyHandle, start: float):
    from sweeps.display import progress

    return progress(
        handle.study.get_trials(deepcopy=False),
        budget=handle.budget,
        direction=handle.spec.direction,
        elapsed=time.monotonic() - start,
    )


def _interrupted(handle: StudyHandle, out: TextIO) -> int:
    """Marks the parent run KILLED and says how to resume."""
    if handle.parent_run_id:
        tracking.set_tags(handle.parent_run_id, {"sweep.stopped": "interrupted"})
        tracking.end_run(handle.parent_run_id, "KILLED")
    print(
        "bplab: interrupted; the running trial was failed and queued again. "
        "Run the same command to resume under the same parent run.",
        file=sys.stderr,
    )
    return 130


def _run_spawned(
    handle: StudyHandle, workers: int, deadline: float | None, heartbeat: int, display: Display
) -> None:
    """K spawned worker processes (JAX is not fork-safe); this process only watches and redraws."""
    ctx = mp.get_context("spawn")
    env = {"MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI", handle.tracking_uri)}
    remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    procs = [
        ctx.Process(
            target=worker_process,
            args=(handle.url, handle.name, i, remaining, heartbeat, env),
            name=f"bplab-worker-{i}",
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            display.update(handle.study.get_trials(deepcopy=False))
            time.sleep(1.0)
    except KeyboardInterrupt:
        for p in procs:  # a Ctrl-C in a terminal reached them too; a signal to this pid alone did not
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.terminate()
        raise
    for p in procs:
        p.join()
    display.update(handle.study.get_trials(deepcopy=False))
    lost = [p.name for p in procs if p.exitcode not in (0,)]
    if lost:
        print(
            f"bplab: warning: {', '.join(lost)} ended abnormally; their trials were re-queued",
            file=sys.stderr,
        )


def run_sweep(
    config: Path,
    overrides: list[str] | None = None,
    *,
    n_trials: int | None = None,
    workers: int = 1,
    study: str | None = None,
    storage: str | None = None,
    timeout: float | None = None,
    heartbeat: int = HEARTBEAT_S,
    out: TextIO | None = None,
) -> int:
    """Runs (or resumes) the sweep of ``config``; returns the exit code.

    Args:
      config: the TOML config with ``[sweep]``; overrides: ``--set`` strings.
      n_trials: the study's total budget (default ``sweep.n_trials``).
      workers: local processes; 0 only creates the study for ``bplab worker`` elsewhere.
      study: the study name (default: the experiment name); storage: see :mod:`sweeps.study`.
      timeout: seconds after which no new trial starts (default ``sweep.timeout``).
      heartbeat: PostgreSQL heartbeat interval in seconds (a dead worker's trial is failed after 3×).

    Raises:
      BadInput: anything wrong with the inputs or the stores, before any run is opened.
    """
    out = out or sys.stdout
    cfg = load_config(config, overrides or [])
    spec = parse_sweep(cfg.sweep, cfg.source)
    if n_trials is not None:
        spec = dataclasses.replace(spec, n_trials=n_trials)
    if timeout is not None:
        spec = dataclasses.replace(spec, timeout=timeout)
    url = resolve_storage(storage)
    make_sampler(spec)  # refuses a sampler whose package is missing, now rather than in a worker
    make_pruner(spec, max_epochs=spec.max_epochs(cfg.train.epochs))
    probe_storage(url)
    tracking.ensure_reachable()
    name = study or cfg.experiment.name
    handle = create_or_resume(url, name, cfg, spec, tracking_uri=absolute_tracking_uri(), heartbeat=heartbeat)
    _use_tracking(handle.tracking_uri)
    with_sampler(handle)
    parent = open_parent(handle)
    print(
        f"study {name!r} on {url.redacted()}: {handle.budget} trials; parent run {parent}",
        file=out,
        flush=True,
    )
    if workers == 0:
        where = "" if storage is None else f" --storage '{url.redacted()}'"
        print(f"ready: join with `bplab worker --study {name}{where}` on each machine", file=out)
        return 0
    enable_compilation_cache()
    start = time.monotonic()
    deadline = start + spec.timeout if spec.timeout else None
    from experiments.signals import terminate_as_interrupt

    try:
        with Display(
            budget=handle.budget, metric=spec.metric, direction=spec.direction, stream=out
        ) as display:
            display.update(handle.study.get_trials(deepcopy=False))
            with terminate_as_interrupt():
                if workers == 1:
                    work(
                        handle,
                        deadline=deadline,
                        on_change=lambda: display.update(handle.study.get_trials(deepcopy=False)),
                    )
                else:
                    _run_spawned(handle, workers, deadline, heartbeat, display)
    except KeyboardInterrupt:
        return _interrupted(handle, out)
    deadline_hit = deadline is not None and time.monotonic() >= deadline
    return _finish(handle, start, out, deadline_hit=deadline_hit)


def run_worker(
    study: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    heartbeat: int = HEARTBEAT_S,
    out: TextIO | None = None,
) -> int:
    """Joins an existing study (``bplab worker``); returns the exit code.

    Args:
      study, storage: which study; its stored config, budget and parent run need nothing else.
      n_trials: at most this many trials from this worker (the study's budget still bounds all).
      heartbeat: as in :func:`run_sweep`.
    """
    out = out or sys.stdout
    url = resolve_storage(storage)
    probe_storage(url)
    handle = load(url, study, heartbeat=heartbeat, worker_index=1 + os.getpid() % 10_000)
    _use_tracking(handle.tracking_uri)
    tracking.ensure_reachable()
    if is_done(handle.study.get_trials(deepcopy=False), handle.budget):
        print(f"study {study!r} is complete ({handle.budget} trials); nothing to do", file=out)
        return 0
    if handle.parent_run_id is None or tracking.run_status(handle.parent_run_id) != "RUNNING":
        open_parent(handle)
    print(f"worker {os.getpid()} joined study {study!r} on {url.redacted()}", file=out, flush=True)
    enable_compilation_cache()
    start = time.monotonic()
    from experiments.signals import terminate_as_interrupt

    try:
        with (
            Display(
                budget=handle.budget, metric=handle.spec.metric, direction=handle.spec.direction, stream=out
            ) as display,
            terminate_as_interrupt(),
        ):
            work(
                handle,
                max_trials=n_trials,
                on_change=lambda: display.update(handle.study.get_trials(deepcopy=False)),
            )
    except KeyboardInterrupt:
        print("bplab: worker interrupted; its trial was failed and queued again", file=sys.stderr)
        return 130
    return _finish(handle, start, out, deadline_hit=False)
