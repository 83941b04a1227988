"""Whole commands as the benchmark's unit of time: a subprocess timed from spawn to exit.

Timing the command, not a function, is the point: interpreter start-up, imports, compilation and store
writes are part of what a user waits for, on both sides. A command that fails or overruns stops the
benchmark with its exit status and the tail of its stderr, so a broken side is never reported as fast.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Any of these would point a side at a shared store or cache, and make the run depend on the machine;
# NPROC would size both sides' XLA thread pools (bplab chooses its own: experiments/cpu_threads.py).
UNSET = (
    "MLFLOW_TRACKING_URI",
    "BPLAB_OPTUNA_STORAGE",
    "BPLAB_JAX_CACHE",
    "JAX_COMPILATION_CACHE_DIR",
    "NPROC",
    "BPLAB_LANES",
)
TAIL_CHARS = 3000
PACKAGES = ("backprop_core", "experiments", "sweeps", "bplab", "benchmarks")


class CommandFailed(RuntimeError):
    """A timed command exited non-zero or ran past its timeout; the message holds its stderr tail."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without store or cache settings, the repo on ``PYTHONPATH`` (the
    peer and the floor run as ``python -m benchmarks.…`` from a temporary folder), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    return {**env, **(extra or {})}


def python() -> list[str]:
    """The interpreter running the benchmark (the project's venv)."""
    return [sys.executable]


def bplab() -> list[str]:
    """``bplab`` as a user types it: the console script beside the interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("bplab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bplab"]


def run_timed(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[float, str]:
    """Runs ``cmd`` to completion; returns ``(wall seconds, stdout)``.

    Raises:
      CommandFailed: a non-zero exit or the timeout, with the command, its folder and stderr's tail.
    """
    shown = " ".join(cmd)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(list(cmd), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
        raise CommandFailed(f"{shown} (in {cwd}) ran past {timeout:g} s:\n{err[-TAIL_CHARS:]}") from None
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise CommandFailed(f"{shown} (in {cwd}) exited {r.returncode}:\n{r.stderr[-TAIL_CHARS:]}")
    return seconds, r.stdout


def startup_seconds(*, cwd: Path, repeats: int = 3, timeout: float = 300) -> float:
    """Median wall time of a fresh interpreter importing what ``bplab sweep`` imports before its first
    trial (the CLI, the sweep verb, JAX, Optuna, MLflow): the fixed cost no sweep can avoid."""
    code = "import bplab.app, bplab.sweep, experiments.tracking"
    cmd = [*python(), "-c", code]
    times = [run_timed(cmd, cwd=cwd, env=clean_env(), timeout=timeout)[0] for _ in range(repeats)]
    return statistics.median(times)


def source_fingerprint() -> str:
    """A short hash of the measured code (paths, sizes, modification times of its ``.py`` files).

    Taken before and after a benchmark: if it differs, the code was edited while it ran and the rows
    may time different versions of it (a warm row may even miss the cache the empty row filled).
    """
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            st = path.stat()
            h.update(f"{path.relative_to(REPO)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]
