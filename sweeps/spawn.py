"""``--workers K``: K spawned worker processes on one study, watched by the process that started them.

Spawned, not forked: JAX is not fork-safe. A Ctrl-C in a terminal reaches every worker; a SIGINT or
SIGTERM to the watching process alone is forwarded as SIGTERM (which every worker turns into an
interrupt, even when it was started with SIGINT ignored, as a background job of a script is), and
the workers get a minute to fail and re-queue their trials before they are terminated. Further
signals meanwhile are ignored, so the watcher always waits for its workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from experiments.names import STORAGE_UNAVAILABLE
from sweeps.failure import classify
from sweeps.study import StudyHandle
from sweeps.worker import worker_process

WATCH_S = 1.0  # how often the watcher reports the study's trials
STOP_GRACE_S = 60.0  # how long an interrupted worker gets to re-queue its trial


def stop(procs: list[BaseProcess]) -> None:
    """Forwards the stop to the workers (a signal to this pid alone did not reach them) and waits
    for them to re-queue their trials; a second signal meanwhile does not cut that short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(STOP_GRACE_S)
            if p.is_alive():
                p.kill()  # its trial stays RUNNING; the reaper or the heartbeat fails and re-queues it
                p.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(on_change: Callable[[], None]) -> None:
    """Reports the trials; while the storage does not answer, the workers retry it and decide."""
    try:
        on_change()
    except Exception as e:
        if classify(e) != STORAGE_UNAVAILABLE:
            raise


def run_spawned(
    handle: StudyHandle,
    *,
    workers: int,
    deadline: float | None,
    heartbeat: int,
    on_change: Callable[[], None],
    grad: Callable | None = None,
    population: int = 1,
) -> list[str]:
    """Runs ``workers`` processes until they stop, calling ``on_change`` every second meanwhile;
    each trains its trials in populations of ``population``.

    Returns:
      The names of the workers that ended abnormally (their trials were failed and re-queued).

    Raises:
      KeyboardInterrupt: after forwarding it to the workers and waiting for them.
    """
    ctx = mp.get_context("spawn")
    env = {"MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI", handle.tracking_uri)}
    # Several workers share one GPU: each takes memory as it needs it, not JAX's default 75% at start
    # (the second worker would find too little left). The user's own setting wins.
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    procs = [
        ctx.Process(
            target=worker_process,
            args=(handle.url, handle.name, i, remaining, heartbeat, env, grad, population),
            name=f"bplab-worker-{i}",
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            _watch(on_change)
            time.sleep(WATCH_S)
    except BaseException:
        stop(procs)
        raise
    for p in procs:
        p.join()
    on_change()
    return [p.name for p in procs if p.exitcode != 0]
