"""The epoch loop of one run: one jitted epoch, validation, one fetch, the periodic check, one log.

Per epoch: the core's ``train_epoch`` (one ``lax.scan``), the validation metrics, one fetch from the
device, every ``train.gradcheck_every`` epochs a manual-vs-autodiff check, then one ``log_batch``,
the caller's ``on_metrics`` (a display: it sees every logged epoch), then the failure checks (a
non-finite loss, a disagreeing check) and last the caller's ``on_epoch`` — so a callback that acts on
the metrics (an Optuna pruner) never sees an epoch that fails the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from backprop_core import Params, precision, train_epoch
from experiments import tracking
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.environment import environment_params
from experiments.errors import Diverged, GradientMismatch
from experiments.gradcheck.check import CheckResult, check_batch, check_gradients
from experiments.gradcheck.metrics import gradcheck_metrics
from experiments.run.evaluation import epoch_metrics, final_metrics, split_evaluator
from experiments.run.initial import initial_params

OnEpoch = Callable[[int, Mapping[str, float]], None]


@dataclass
class Trained:
    """What the loop produced: per-epoch metrics, the final numbers, the weights, the last check."""

    history: list[dict[str, float]]
    final: dict[str, float]
    params: Params
    gradcheck: CheckResult


def train_epochs(
    cfg: RunConfig,
    ds: Dataset,
    *,
    run_id: str | None,
    grad: Callable | None,
    on_epoch: OnEpoch | None,
    on_metrics: OnEpoch | None = None,
) -> Trained:
    """Trains ``cfg`` on ``ds`` for ``train.epochs`` epochs, logging to ``run_id`` when there is one.

    Args:
      cfg, ds: the validated config and its data.
      run_id: the open MLflow run, or ``None`` (untracked).
      grad: a replacement for :func:`backprop_core.backward` (``None``: the real one); it trains when
        ``train.grad = "manual"`` and is what the periodic check judges.
      on_epoch: called as ``on_epoch(epoch, metrics)`` after each epoch that did not fail the run.
      on_metrics: called as ``on_metrics(epoch, metrics)`` once each epoch's metrics are logged, also
        for the epoch that fails the run.

    Raises:
      Diverged: the training loss became non-finite (at that epoch).
      GradientMismatch: a check exceeded the tolerance (periodic, or the final one).
    """
    tr = cfg.train
    history: list[dict[str, float]] = []
    with precision(tr.dtype) as dtype:
        init_key, shuffle_key = jax.random.split(jax.random.key(tr.seed))
        params = initial_params(cfg, ds, init_key, dtype=dtype)
        x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
        xv, yv = jnp.asarray(ds.x_val, dtype), jnp.asarray(ds.y_val, dtype)
        xc, yc = (jnp.asarray(a, dtype) for a in check_batch(ds.x_train, ds.y_train, tr.batch_size))
        lr = jnp.asarray(tr.lr, dtype)
        ev = split_evaluator(cfg, ds)
        if run_id:
            tracking.log_params(run_id, {**cfg.flat(), **environment_params(params), **_data_params(ds)})

        def check(p) -> CheckResult:
            # Manual vs autodiff only: finite differences are `bplab gradcheck`'s, they cost a compile.
            return check_gradients(
                p, xc, yc, activation=cfg.model.activation, cost=cfg.model.cost, dtype=tr.dtype,
                grad=grad, finite_differences=False,
            )  # fmt: skip

        epoch_grad = grad if (grad is not None and tr.grad == "manual") else tr.grad
        epoch_keys = jax.random.split(shuffle_key, tr.epochs)
        last_check = None
        for epoch in range(1, tr.epochs + 1):
            t0 = time.perf_counter()
            params, m = train_epoch(
                params, x, y, epoch_keys[epoch - 1], lr=lr, batch_size=tr.batch_size,
                activation=cfg.model.activation, cost=cfg.model.cost, grad=epoch_grad,
            )  # fmt: skip
            m = jax.block_until_ready(m)
            seconds = time.perf_counter() - t0
            val_loss, val_acc = ev(params, xv, yv)
            m, val_loss, val_acc = jax.device_get((m, val_loss, val_acc))  # the epoch's one fetch
            metrics = epoch_metrics(m, val_loss, val_acc, ds.n_train / seconds, ds.is_classification)
            diverged = not math.isfinite(metrics["train_loss"])
            if not diverged and tr.gradcheck_every and epoch % tr.gradcheck_every == 0:
                last_check = check(params)
                metrics.update(gradcheck_metrics(last_check))
            history.append(metrics)
            if run_id:
                tracking.log_metrics(run_id, metrics, step=epoch)
            if on_metrics is not None:
                on_metrics(epoch, metrics)
            if diverged:
                raise Diverged(
                    f"training loss became {metrics['train_loss']} at epoch {epoch} (lr = {tr.lr:g}); "
                    f"try a smaller learning rate (train.lr)"
                )
            if last_check is not None and not last_check.ok:
                raise GradientMismatch(f"at epoch {epoch}: {last_check.describe_failure()}")
            if on_epoch is not None:
                on_epoch(epoch, metrics)

        if last_check is None or tr.gradcheck_every == 0 or tr.epochs % tr.gradcheck_every != 0:
            last_check = check(params)  # the table artifact needs one
            if not last_check.ok:
                raise GradientMismatch(f"at the end of training: {last_check.describe_failure()}")
        final = final_metrics(params, ds, history, ev, dtype)
        if run_id:
            tracking.log_metrics(
                run_id, {k: v for k, v in final.items() if k.startswith("test_")}, step=tr.epochs
            )
        return Trained(history, final, jax.device_get(params), last_check)


def _data_params(ds: Dataset) -> dict[str, int]:
    return {"data.n_train": ds.n_train, "data.n_val": len(ds.x_val), "data.n_test": len(ds.x_test)}
