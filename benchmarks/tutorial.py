"""The tutorial peer of ``benchmarks.sweep_vs_tutorial``: a sweep as a user writes it from the docs.

It is the yardstick ``bplab sweep`` is judged against, so it must be a fair one: what a careful reader
of the JAX, MLflow and Optuna tutorials writes, not a straw man. A ``jax.grad`` SGD step, jitted, called
from a Python loop over shuffled mini-batches (the last, partial one included, as ``bplab`` trains it);
a jitted evaluation once per epoch; one ``mlflow.log_metric`` per value per epoch (``train_loss``,
``val_loss``, ``val_accuracy``); ``optuna.create_study(storage="sqlite:///optuna.db")`` and
``study.optimize`` with a TPE sampler seeded as a fresh ``bplab sweep``'s first process is (so
both sides draw the same first points) and no pruner; one MLflow run per trial nested under a
parent run, both stores in the working folder. No persistent compilation cache: a tutorial sets none.

Fairness: the data (split, scaling) comes from the project's own loader and the search space from the
config's ``[sweep.space]``, so both sides train the same arrays over the same space for the same epochs
and batch size; only the training loop and the tracking are the tutorial's.

    python -m benchmarks.tutorial --n-trials 8 --epochs 5 --study s1   # in an empty folder
"""

from __future__ import annotations

import argparse
import itertools
import math
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import mlflow
import numpy as np
import optuna

from experiments.config import load_config
from experiments.data import load_dataset
from sweeps.study.samplers import derive_seed

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "digits.toml"
ACTIVATIONS = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}


def forward(params, x, act):
    """The MLP's output; every layer uses ``act`` (the digits config: sigmoid, quadratic cost)."""
    for W, b in params:
        x = ACTIVATIONS[act](x @ W.T + b)
    return x


def loss_fn(params, x, y, act):
    """Mean quadratic cost ``½‖y − a‖²`` over the batch."""
    return jnp.mean(0.5 * jnp.sum((y - forward(params, x, act)) ** 2, axis=1))


@partial(jax.jit, static_argnames="act")
def sgd_step(params, x, y, lr, act):
    """One SGD step by ``jax.grad``, the tutorials' jitted update."""
    grads = jax.grad(loss_fn)(params, x, y, act)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


@partial(jax.jit, static_argnames="act")
def evaluate(params, x, y, act):
    """Mean cost and accuracy on a whole split."""
    a = forward(params, x, act)
    loss = jnp.mean(0.5 * jnp.sum((y - a) ** 2, axis=1))
    return loss, jnp.mean(jnp.argmax(a, axis=1) == jnp.argmax(y, axis=1))


def init_params(key, sizes, init):
    """N(0, 1) weights and biases, or N(0, 1/n_in) weights for ``init = "scaled"``."""
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        key, kw, kb = jax.random.split(key, 3)
        scale = 1.0 if init == "normal" else 1.0 / math.sqrt(n_in)
        params.append((scale * jax.random.normal(kw, (n_out, n_in)), jax.random.normal(kb, (n_out,))))
    return params


def run(n_trials: int, epochs: int, study_name: str, config: Path) -> None:
    """The tutorial sweep: ``n_trials`` trials of ``epochs`` epochs each, stores in the working folder."""
    cfg = load_config(config)
    if cfg.model.cost != "quadratic" or "batch_size" in cfg.sweep["space"] or "epochs" in cfg.sweep["space"]:
        raise SystemExit("the tutorial peer covers the quadratic cost and a fixed batch size and epochs")
    space, seed = cfg.sweep["space"], cfg.sweep.get("seed")
    ds = load_dataset(cfg.data, cfg.train.seed)
    x_train, y_train = ds.x_train.astype(np.float32), ds.y_train.astype(np.float32)
    x_val, y_val = ds.x_val.astype(np.float32), ds.y_val.astype(np.float32)
    bs = cfg.train.batch_size

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", *space["lr"], log=True)
        n_layers = trial.suggest_int("n_layers", *space["n_layers"])
        step, log = space.get("width_step", 1), space.get("width_log", False)
        widths = [
            trial.suggest_int(f"width_{i}", *space["width"], step=step, log=log)
            for i in range(1, n_layers + 1)
        ]
        acts, inits = space.get("activation"), space.get("init")
        act = trial.suggest_categorical("activation", list(acts)) if acts else cfg.model.activation
        init = trial.suggest_categorical("init", list(inits)) if inits else cfg.model.init
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params({**trial.params, "batch_size": bs, "epochs": epochs})
            sizes = [x_train.shape[1], *widths, y_train.shape[1]]
            params = init_params(jax.random.key(trial.number), sizes, init)
            rng = np.random.default_rng(trial.number)
            for epoch in range(1, epochs + 1):
                order = rng.permutation(len(x_train))
                for i in range(0, len(order), bs):
                    idx = order[i : i + bs]
                    params = sgd_step(params, x_train[idx], y_train[idx], lr, act)
                train_loss = float(evaluate(params, x_train, y_train, act)[0])
                val_loss, val_accuracy = (float(v) for v in evaluate(params, x_val, y_val, act))
                mlflow.log_metric("train_loss", train_loss, step=epoch)
                mlflow.log_metric("val_loss", val_loss, step=epoch)
                mlflow.log_metric("val_accuracy", val_accuracy, step=epoch)
                if not math.isfinite(train_loss):
                    raise ValueError(f"diverged at epoch {epoch}")  # Optuna records the trial as FAIL
        return val_accuracy

    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_experiment("digits-tutorial")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage="sqlite:///optuna.db",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(
            seed=None if seed is None else derive_seed(seed, n_existing=0, sequence=0)
        ),
    )
    with mlflow.start_run(run_name=study_name):
        study.optimize(objective, n_trials=n_trials, catch=(ValueError,))


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.tutorial --n-trials N --epochs E --study NAME [--config P]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--study", default="tutorial")
    ap.add_argument("--config", type=Path, default=CONFIG)
    args = ap.parse_args(argv)
    run(args.n_trials, args.epochs, args.study, args.config)


if __name__ == "__main__":
    main()
