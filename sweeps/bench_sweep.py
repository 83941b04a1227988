"""Sweep throughput: trials per minute of ``bplab sweep`` against a tutorial-style sweep, same run.

    python -m sweeps.bench_sweep                      # 40 trials × 30 epochs of digits, 1 and 2 workers
    python -m sweeps.bench_sweep --n-trials 8 --epochs 5 --workers 1   # a quick look

Each contender runs as a fresh subprocess in its own empty folder (its own Optuna and MLflow
stores), timed from process start to exit, so start-up, compilation and store writes all count:

- ``bplab K workers``: ``bplab sweep CONFIG --n-trials N --workers K`` with full tracking (every
  per-epoch metric of every trial, the trials' light artifacts, the parent's plots and tables), the
  journal storage, the JAX persistent compilation cache in a fresh private folder (so it only helps
  within the sweep); then the first of them once more in a new folder over that run's cache
  ("warm"), as a second sweep of the same space in a new process would run.
- ``baseline``: what a tutorial writes: ``jax.grad`` of the cost inside a jitted step called from a
  Python loop over mini-batches; the metrics computed in Python after each epoch and logged with one
  synchronous ``mlflow.log_metric`` per value; params with one ``log_param`` each; Optuna on SQLite
  (``sqlite:///optuna.db``) with ``study.optimize``; each trial a nested run under one parent run.
  Same data split, search space, sampler (TPE, same seed) and epochs. Neither prunes
  (``sweep.pruner = none``): every trial trains its full epochs, so the ratio compares the cost of
  a trial, not two pruners' luck.

The machines here are shared and noisy: compare the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "digits.toml"


# --- the tutorial-style baseline (runs in its own process) -----------------------------------------


def baseline(n_trials: int, epochs: int, config: Path) -> None:
    """The tutorial sweep; prints nothing but Optuna's and MLflow's own output."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optuna

    from experiments import tracking
    from experiments.config import load_config
    from experiments.data import load_dataset
    from sweeps.space import parse_sweep

    cfg = load_config(config, [f"train.epochs={epochs}"])
    spec = parse_sweep(cfg.sweep, cfg.source)
    ds = load_dataset(cfg.data, cfg.train.seed)
    bs = cfg.train.batch_size

    def forward(params, x):
        a = x
        for W, b in params:
            a = jax.nn.sigmoid(a @ W.T + b)
        return a

    def cost(params, x, y):
        return jnp.mean(0.5 * jnp.sum((y - forward(params, x)) ** 2, axis=1))

    @jax.jit
    def step(params, x, y, lr):
        grads = jax.grad(cost)(params, x, y)
        return [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, grads)]

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", spec.space.lr.low, spec.space.lr.high, log=True)
        n_layers = trial.suggest_int("n_layers", int(spec.space.n_layers.low), int(spec.space.n_layers.high))
        widths = [
            trial.suggest_int(f"width_{l}", int(spec.space.width.low), int(spec.space.width.high), log=True)
            for l in range(1, n_layers + 1)
        ]
        init = trial.suggest_categorical("init", list(spec.space.init)) if spec.space.init else cfg.model.init
        sizes = [ds.x_train.shape[1], *widths, ds.y_train.shape[1]]
        tracking.baseline_start_run("baseline", f"trial-{trial.number}", nested=True)
        for k, v in {"lr": lr, "hidden": widths, "init": init, "batch_size": bs, "epochs": epochs}.items():
            tracking.baseline_log_param(k, v)
        key = jax.random.key(trial.number)
        params = []
        for n_in, n_out in itertools.pairwise(sizes):
            key, k1, k2 = jax.random.split(key, 3)
            scale = 1.0 if init == "normal" else 1.0 / math.sqrt(n_in)
            params.append((scale * jax.random.normal(k1, (n_out, n_in)), jax.random.normal(k2, (n_out,))))
        rng = np.random.default_rng(trial.number)
        try:
            for epoch in range(1, epochs + 1):
                order = rng.permutation(len(ds.x_train))
                for i in range(0, len(order), bs):
                    idx = order[i : i + bs]
                    params = step(params, ds.x_train[idx], ds.y_train[idx], lr)
                train_loss = float(cost(params, ds.x_train, ds.y_train))
                val_loss = float(cost(params, ds.x_val, ds.y_val))
                pred = np.asarray(forward(params, ds.x_val)).argmax(1)
                val_acc = float((pred == ds.y_val.argmax(1)).mean())
                for name, value in (
                    ("train_loss", train_loss),
                    ("val_loss", val_loss),
                    ("val_accuracy", val_acc),
                ):
                    tracking.baseline_log_metric(name, value, epoch)
                if not math.isfinite(train_loss):
                    tracking.baseline_end_run("FAILED")
                    raise optuna.TrialPruned()
        except optuna.TrialPruned:
            raise
        pred = np.asarray(forward(params, ds.x_test)).argmax(1)
        tracking.baseline_log_metric("test_accuracy", float((pred == ds.y_test.argmax(1)).mean()), epochs)
        tracking.baseline_end_run("FINISHED")
        return val_acc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage="sqlite:///optuna.db",
        study_name="baseline",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=spec.seed),
    )
    tracking.baseline_start_run("baseline", "sweep-baseline")
    study.optimize(objective, n_trials=n_trials)
    tracking.baseline_end_run("FINISHED")


# --- the harness ---------------------------------------------------------------------------------


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return seconds


def measure(n_trials: int, epochs: int, workers: list[int], config: Path) -> list[dict]:
    """Runs the baseline and each ``bplab`` worker count once, each in a fresh folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "BPLAB_OPTUNA_STORAGE")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        contenders = [("baseline (tutorial style)", None)] + [
            (f"bplab sweep, {k} worker(s)", k) for k in workers
        ]
        # The same sweep again in a new process and a new folder, over the first bplab run's
        # compilation cache: what a team's next sweep over the same space pays.
        contenders.append((f"bplab sweep, {workers[0]} worker(s), warm compilation cache", workers[0]))
        first_cache = None
        for i, (label, k) in enumerate(contenders):
            folder = root / f"contender{i}"
            folder.mkdir(parents=True)
            cache = folder / "jax-cache"
            if k is not None:
                first_cache = first_cache or cache
                cache = first_cache if label.endswith("warm compilation cache") else cache
            run_env = {**env, "BPLAB_JAX_CACHE": str(cache)}
            if k is None:
                cmd = [sys.executable, "-m", "sweeps.bench_sweep", "--baseline", "--n-trials", str(n_trials)]
                cmd += ["--epochs", str(epochs), "--config", str(config)]
            else:
                bplab = str(Path(sys.executable).with_name("bplab"))
                cmd = [bplab, "sweep", str(config), "--n-trials", str(n_trials), "--workers", str(k)]
                cmd += ["--set", f"train.epochs={epochs}", "--set", "sweep.pruner=none"]
            seconds = _timed(cmd, folder, run_env)
            rows.append(
                {
                    "contender": label,
                    "workers": k or 1,
                    "seconds": seconds,
                    "trials_per_min": 60 * n_trials / seconds,
                }
            )
            print(f"{label}: {seconds:.1f}s, {60 * n_trials / seconds:.2f} trials/min", file=sys.stderr)
    base = rows[0]["trials_per_min"]
    for row in rows:
        row["speedup"] = row["trials_per_min"] / base
    return rows


def table(rows: list[dict], n_trials: int, epochs: int) -> str:
    """The Markdown table for docs/PERFORMANCE.md."""
    lines = [
        f"{n_trials}-trial digits sweep, {epochs} epochs per trial, no pruning:",
        "",
        "| contender | workers | wall time (s) | trials/min | × baseline |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['contender']} | {r['workers']} | {r['seconds']:.1f} | {r['trials_per_min']:.2f} | "
            f"{r['speedup']:.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for bplab")
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)  # the baseline's own process
    args = ap.parse_args(argv)
    if args.baseline:
        baseline(args.n_trials, args.epochs, args.config)
        return
    rows = measure(args.n_trials, args.epochs, [int(k) for k in args.workers.split(",")], args.config)
    print(table(rows, args.n_trials, args.epochs))
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
