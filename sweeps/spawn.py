"""``--workers K``: K spawned worker processes on one study, watched by the process that started them.

Spawned, not forked: JAX is not fork-safe. A Ctrl-C in a terminal reaches every worker; a signal to
the watching process alone is forwarded, and the workers get a minute to fail and re-queue their
trials before they are terminated.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable

from sweeps.study import StudyHandle
from sweeps.worker import worker_process

WATCH_S = 1.0  # how often the watcher reports the study's trials
STOP_GRACE_S = 60.0  # how long an interrupted worker gets to re-queue its trial


def run_spawned(
    handle: StudyHandle,
    *,
    workers: int,
    deadline: float | None,
    heartbeat: int,
    on_change: Callable[[], None],
    grad: Callable | None = None,
) -> list[str]:
    """Runs ``workers`` processes until they stop, calling ``on_change`` every second meanwhile.

    Returns:
      The names of the workers that ended abnormally (their trials were failed and re-queued).

    Raises:
      KeyboardInterrupt: after forwarding it to the workers and waiting for them.
    """
    ctx = mp.get_context("spawn")
    env = {"MLFLOW_TRACKING_URI": os.environ.get("MLFLOW_TRACKING_URI", handle.tracking_uri)}
    remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    procs = [
        ctx.Process(
            target=worker_process,
            args=(handle.url, handle.name, i, remaining, heartbeat, env, grad),
            name=f"bplab-worker-{i}",
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            on_change()
            time.sleep(WATCH_S)
    except KeyboardInterrupt:
        for p in procs:  # a Ctrl-C in a terminal reached them too; a signal to this pid alone did not
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join(STOP_GRACE_S)
            if p.is_alive():
                p.terminate()
        raise
    for p in procs:
        p.join()
    on_change()
    return [p.name for p in procs if p.exitcode != 0]
