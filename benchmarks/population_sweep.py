"""Trials per minute of one ``bplab sweep`` command at a given ``--population`` and ``--workers``: the
device check's sweep.

    python -m benchmarks.population_sweep --n-trials 1000 --population 16 --workers 4 --budget 100
    python -m benchmarks.population_sweep --n-trials 1000 --population 1 --budget 25

A whole command is timed, as a user waits for it: ``bplab sweep`` of the digits config with every
epoch run (``sweep.pruner=none``), ``--workers`` processes (default 1: in-process), in a fresh
temporary folder with the default embedded stores (MLflow on SQLite, Optuna's journal file) and an
empty ``BPLAB_JAX_CACHE``, so compiling counts.

``--budget`` is passed as the sweep's own ``--timeout`` (no trial starts after it), so a population
size too slow for ``N`` trials on the device's time budget still yields a rate over the trials it
finished instead of nothing; the JSON says whether all ``N`` finished. The rate is counted from the
stores, not from the command's output: trials COMPLETE in Optuna, and MLflow child runs FINISHED, so a
trial counts only when it was tracked. Prints one JSON document.

It does not use :func:`benchmarks.commands.run_timed`: a sweep that overruns is killed and still
counted here, where a benchmark side that overruns must fail.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage

from benchmarks.commands import TAIL_CHARS, CommandFailed, bplab, clean_env

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "digits.toml"


def _journal_backend(path: Path):
    """Optuna's journal file backend under its name in this Optuna (renamed in 4.0)."""
    storages = optuna.storages.journal if hasattr(optuna.storages, "journal") else optuna.storages
    backend = getattr(storages, "JournalFileBackend", None) or storages.JournalFileStorage
    return backend(str(path))


def completed_trials(folder: Path, study: str) -> int:
    """Trials of ``study`` that Optuna recorded as COMPLETE in the folder's journal."""
    storage = JournalStorage(_journal_backend(folder / "optuna.journal"))
    trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def tracked_runs(folder: Path) -> int:
    """FINISHED MLflow runs with a parent (the trials' child runs) in the folder's ``mlflow.db``."""
    with sqlite3.connect(folder / "mlflow.db") as db:
        (n,) = db.execute(
            "SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'mlflow.parentRunId' AND r.status = 'FINISHED'"
        ).fetchone()
    return int(n)


def measure(
    *,
    n_trials: int,
    population: int,
    epochs: int,
    budget: float | None,
    grace: float,
    config: Path,
    workers: int = 1,
) -> dict:
    """One timed sweep in a fresh folder; the counts and trials per minute as a dict.

    A sweep still running ``grace`` seconds after its budget is killed and counted as it stands
    (``killed_after_grace``), so a slow device still reports a rate.

    Raises:
      CommandFailed: the sweep exited non-zero.
    """
    study = f"pop{population}-w{workers}-n{n_trials}"
    with tempfile.TemporaryDirectory(prefix="bplab-pop-") as tmp:
        folder, cache = Path(tmp) / "run", Path(tmp) / "jax-cache"
        folder.mkdir()
        cmd = [*bplab(), "sweep", str(config), "--n-trials", str(n_trials), "--workers", str(workers)]
        cmd += ["--population", str(population), "--study", study]
        cmd += ["--set", f"train.epochs={epochs}", "--set", "sweep.pruner=none"]
        if budget is not None:
            cmd += ["--timeout", f"{budget:g}"]
        env = clean_env({"BPLAB_JAX_CACHE": str(cache), "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"})
        load = os.getloadavg()
        # The trials started before the budget ran out, and the parent's plots, get ``grace`` to finish.
        hard = 3600 if budget is None else budget + grace
        t0, killed = time.perf_counter(), False
        try:
            r = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=hard)
        except subprocess.TimeoutExpired:
            killed = True  # what the stores hold still gives a rate: a device run has no time to redo it
        seconds = time.perf_counter() - t0
        if not killed and r.returncode != 0:
            raise CommandFailed(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-TAIL_CHARS:]}")
        done, tracked = completed_trials(folder, study), tracked_runs(folder)
    return {
        "population": population,
        "workers": workers,
        "n_trials_asked": n_trials,
        "budget_s": budget,
        "epochs": epochs,
        "completed": done,
        "tracked_child_runs": tracked,
        "all_finished": done == n_trials,
        "killed_after_grace": killed,
        "wall_s": seconds,
        "trials_per_min": 60 * done / seconds,
        "loadavg_start": load,
        "command": " ".join(cmd),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit code (1: the sweep failed)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-trials", type=int, default=1000)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--budget", type=float, default=None, help="seconds after which no trial starts")
    ap.add_argument("--grace", type=float, default=60, help="seconds allowed after the budget")
    ap.add_argument("--config", type=Path, default=CONFIG)
    args = ap.parse_args(argv)
    try:
        result = measure(
            n_trials=args.n_trials,
            population=args.population,
            workers=args.workers,
            epochs=args.epochs,
            budget=args.budget,
            grace=args.grace,
            config=args.config.resolve(),
        )
    except CommandFailed as e:
        print(f"population sweep failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
