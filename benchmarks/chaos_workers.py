"""Chaos benchmark: ``bplab worker`` processes on one PostgreSQL study, one SIGKILLed every few seconds.

The sweep service promises that a dead worker costs time, never correctness: the budget stays exact,
each trial's Optuna state agrees with its MLflow run's status, and nothing stays RUNNING. Unit tests
kill one worker at one chosen moment; this kills them for minutes at whatever point they have
reached (start-up, mid-trial, mid-tell, holding the study lock), then checks the stores
(:mod:`benchmarks.chaos_checks`) and reports trials per minute, kills and retries.

How it runs: a fresh database on the PostgreSQL at ``--pg-host:--pg-port`` (trust auth for
``postgres``) and an ``mlflow server`` on sqlite in a temp folder; ``bplab sweep --workers 0``
creates the study and its parent run; ``--workers`` ``bplab worker`` processes join it, and every
``--kill-every`` s one of them (round robin) is SIGKILLed and started again, until the study is done.
The survivors then leave by themselves; the last one to see the budget spent finalises the parent
run (``sweeps/finish.py``). If none did, ``bplab sweep`` is run again with ``--workers 1``, which
resumes the study and finalises it, and the report says so. ``bplab runs reconcile`` runs before the
checks. A study that makes no progress for ``--stall`` s (a trial nobody will ever fail) is reported
as stalled rather than waited on. Exit 0 when every check passes; a failed run keeps its temp folder
(worker logs, ``mlflow.db``). From the repository root (the second line kills 4× as often, so kills
land in the short windows between a trial's steps)::

    .venv/bin/python -m benchmarks.chaos_workers --n-trials 200 --workers 4 --kill-every 20
    .venv/bin/python -m benchmarks.chaos_workers --n-trials 200 --workers 4 --kill-every 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import optuna

from benchmarks import chaos_checks as checks
from benchmarks.chaos_fleet import Fleet
from benchmarks.chaos_stores import mlflow_server, postgres_database
from benchmarks.commands import REPO, bplab, clean_env
from experiments import tracking
from experiments.names import ATTR_PARENT
from experiments.signals import terminate_as_interrupt
from sweeps.study.budget import is_done

STUDY = "chaos"
POLL_S = 2.0  # how often the study is read; the kill cadence and the study's state decide the rest
# Digits, 2 epochs, a space of 6 architectures: trials are short, so kills land in every phase.
SPACE = """[sweep.space]
lr = [0.3, 10.0]
n_layers = [1, 2]
width = [32, 64]
width_step = 32
"""


def write_config(folder: Path) -> Path:
    """digits.toml with the small search space above (epochs come from ``--set``)."""
    text = (REPO / "experiments" / "configs" / "digits.toml").read_text()
    path = folder / "chaos.toml"
    path.write_text(text.split("[sweep.space]")[0] + SPACE)
    return path


def sweep_argv(config: Path, storage: str, args: argparse.Namespace, *, workers: int) -> list[str]:
    """``bplab sweep`` on the study: 0 workers creates it, 1 resumes and finalises it."""
    return [
        *bplab(), "sweep", str(config), "--workers", str(workers), "--n-trials", str(args.n_trials),
        "--study", STUDY, "--storage", storage, "--heartbeat", str(args.heartbeat),
        "--set", f"train.epochs={args.epochs}",
    ]  # fmt: skip


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    """Runs a command to the end; returns its output. Raises RuntimeError on a non-zero exit."""
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:4])}… exited {r.returncode}:\n{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout + r.stderr


def chaos(fleet: Fleet, study: optuna.Study, args: argparse.Namespace) -> tuple[float, str]:
    """Starts the fleet and kills one worker every ``kill_every`` s until the study is done; returns
    ``(seconds, how it ended)``: ``done``, ``timeout``, ``stalled`` (no trial finished for ``stall``
    s: a trial nobody will ever fail) or ``deserted`` (every worker left an unfinished study)."""
    start = time.monotonic()
    fleet.start_all()
    next_kill, victim = start + args.kill_every, 0
    finished, progressed = 0, start
    while True:
        now = time.monotonic()
        trials = study.get_trials(deepcopy=False)
        if is_done(trials, args.n_trials):
            return now - start, "done"
        if len(checks.accounted(trials)) != finished:
            finished, progressed = len(checks.accounted(trials)), now
        if now - start > args.timeout:
            return now - start, "timeout"
        if now - progressed > args.stall:
            return now - start, "stalled"
        fleet.collect_exits(restart=True)
        if fleet.alive() == 0:
            return now - start, "deserted"
        if now >= next_kill:
            fleet.kill(victim)
            victim, next_kill = (victim + 1) % fleet.size, now + args.kill_every
        time.sleep(POLL_S)


def measure(args: argparse.Namespace, folder: Path) -> tuple[list[checks.Check], dict[str, object]]:
    """Runs the whole benchmark in ``folder``; returns the checks and the numbers."""
    with postgres_database(host=args.pg_host, port=args.pg_port) as storage, mlflow_server(folder) as uri:
        env = clean_env({
            "MLFLOW_TRACKING_URI": uri, "BPLAB_JAX_CACHE": str(folder / "jax-cache"),
            "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
        })  # fmt: skip
        os.environ["MLFLOW_TRACKING_URI"] = uri  # this process reads the same server
        config = write_config(folder)
        run(sweep_argv(config, storage, args, workers=0), cwd=folder, env=env)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=STUDY, storage=storage)
        worker = [*bplab(), "worker", "--study", STUDY, "--storage", storage]
        worker += ["--heartbeat", str(args.heartbeat)]
        fleet = Fleet(worker, folder, env, args.workers, folder)
        try:
            seconds, ending = chaos(fleet, study, args)
            done = ending == "done"
            # Workers of an unfinished study wait for its trials forever: give them only a moment.
            stuck = fleet.wait_all(args.exit_timeout if done else 5.0)
        finally:
            fleet.stop()
        parent = study.user_attrs[ATTR_PARENT]
        parent_after_workers = tracking.run_status(parent)
        resumed = parent_after_workers == "RUNNING" and done
        if resumed:  # no worker finalised the parent: the documented resume does
            run(sweep_argv(config, storage, args, workers=1), cwd=folder, env=env)
        out = run([*bplab(), "runs", "reconcile"], cwd=folder, env=env)
        ended = re.search(r"ended (\d+) run", out)
        trials = study.get_trials(deepcopy=False)
        runs = tracking.child_runs(parent)
        results = [
            checks.budget(trials, args.n_trials),
            checks.agreement(trials, runs),
            checks.nothing_running(runs, tracking.run_status(parent)),
            checks.Check("workers left by themselves", not stuck and not fleet.crashes,
                         f"{stuck} stuck, {len(fleet.crashes)} crashed"),
        ]  # fmt: skip
        numbers: dict[str, object] = {
            "ending": ending,
            "wall s (workers start → end)": round(seconds, 1),
            "trials/min (accounted)": round(len(checks.accounted(trials)) / seconds * 60, 2),
            "trials/min (all, with retries)": round(len(trials) / seconds * 60, 2),
            "kills": fleet.kills,
            "worker starts": fleet.starts,
            **checks.tally(trials),
            "parent after workers": parent_after_workers + (" (finalised by a resume)" if resumed else ""),
            "runs ended by reconcile": int(ended.group(1)) if ended else "?",
        }
        for crash in fleet.crashes:
            print(f"crash: {crash}")
        return results, numbers


def report(results: list[checks.Check], numbers: dict[str, object], args: argparse.Namespace) -> None:
    print(f"\nchaos: {args.workers} workers, {args.n_trials} trials × {args.epochs} epochs, "
          f"SIGKILL every {args.kill_every:g} s, heartbeat {args.heartbeat} s")  # fmt: skip
    print("| check | result | detail |\n|---|---|---|")
    for c in results:
        print(f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |")
    print("\n| number | value |\n|---|---|")
    for key, value in numbers.items():
        print(f"| {key} | {value} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-trials", type=int, default=200)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--kill-every", type=float, default=20.0, help="seconds between SIGKILLs")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--heartbeat", type=int, default=2, help="a killed worker's trial is failed after 3×")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds of chaos before giving up")
    p.add_argument("--stall", type=float, default=120.0, help="seconds without a finished trial")
    p.add_argument("--exit-timeout", type=float, default=120.0, help="seconds for workers to leave")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (logs) even when all pass")
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bplab-chaos-"))
    print(f"working in {folder}", flush=True)
    with terminate_as_interrupt():  # SIGTERM too drops the database and stops the server and workers
        results, numbers = measure(args, folder)  # on an error the folder stays, with the workers' logs
    report(results, numbers, args)
    passed = all(c.ok for c in results)
    if passed and not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
