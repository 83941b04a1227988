"""The epoch loop of one run: one jitted epoch, validation, one fetch, the periodic check, one log.

Per epoch: the core's ``train_epoch`` (one ``lax.scan``), the validation metrics, one fetch from the
device, then :func:`record_epoch`: every ``train.gradcheck_every`` epochs a manual-vs-autodiff check,
one ``log_batch``, the caller's ``on_metrics`` (a display: it sees every logged epoch), the failure
checks (a non-finite loss, a disagreeing check) and last the caller's ``on_epoch`` — so a callback that
acts on the metrics (an Optuna pruner) never sees an epoch that fails the run.

The next epoch is queued on the device before an epoch is fetched: JAX dispatches asynchronously, so
the device trains epoch ``e + 1`` while the host logs and judges epoch ``e`` (a few ms of Python per
epoch, as long as a small net's epoch). The numbers are the same; a run that fails or is pruned at
``e`` drops the epoch in flight. An epoch's ``samples_per_sec`` counts from the moment the previous
epoch was fetched to the moment this one is done: where the host's work per epoch outlasts the
device's, that is the loop's rate, not the device's alone.

A run padded to wider hidden layers (``pad_to``) trains, evaluates and checks the padded net under
unit masks: the true net's numbers up to float rounding, in programs shared by every width padded
alike. Its returned weights are the true net's. A population of runs (:mod:`.population`) goes
through the same :func:`start`, :func:`record_epoch` and :func:`finish`, one slot at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from backprop_core import Params, UnitMasks, precision, train_epoch, unpad_params
from experiments import tracking
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.environment import environment_params
from experiments.errors import Diverged, GradientMismatch
from experiments.gradcheck.check import CheckResult, check_batch, check_gradients
from experiments.gradcheck.metrics import gradcheck_metrics
from experiments.run.evaluation import epoch_metrics, fetch, final_metrics, split_evaluator
from experiments.run.initial import initial_masks, initial_params, layer_sizes

OnEpoch = Callable[[int, Mapping[str, float]], None]


@dataclass
class Trained:
    """What the loop produced: per-epoch metrics, the final numbers, the weights, the last check."""

    history: list[dict[str, float]]
    final: dict[str, float]
    params: Params
    gradcheck: CheckResult


@dataclass
class Started:
    """One run ready to train: its initial (padded) params, masks, learning rate, data order, data on
    device, evaluator and gradient check.

    Attributes:
      check: ``check(params) -> CheckResult``, manual vs autodiff on one batch (of the padded net).
      check_batch: that batch, ``(x, y)`` on device.
      epoch_keys: ``(epochs,)`` PRNG keys, epoch ``e``'s shuffle at ``e − 1``.
    """

    cfg: RunConfig
    params: Params
    masks: UnitMasks | None
    lr: jax.Array
    epoch_keys: jax.Array
    train: tuple[jax.Array, jax.Array]
    val: tuple[jax.Array, jax.Array]
    ev: Callable
    check: Callable[[Params], CheckResult]
    check_batch: tuple[jax.Array, jax.Array]
    history: list[dict[str, float]]
    last_check: CheckResult | None = None


def start(
    cfg: RunConfig, ds: Dataset, *, dtype, run_id: str | None, grad: Callable | None, pad_to=None
) -> Started:
    """Draws the initial params, puts the data on device and logs the run's params (inside
    ``precision(train.dtype)``)."""
    tr = cfg.train
    init_key, shuffle_key = jax.random.split(jax.random.key(tr.seed))
    params = initial_params(cfg, ds, init_key, dtype=dtype, pad_to=pad_to)
    masks = initial_masks(cfg, pad_to, dtype=dtype)
    xc, yc = (jnp.asarray(a, dtype) for a in check_batch(ds.x_train, ds.y_train, tr.batch_size))
    if run_id:
        true = _unpadded(fetch(params), cfg, ds, pad_to)
        tracking.log_params(run_id, {**cfg.flat(), **environment_params(true), **_data_params(ds)})

    def check(p) -> CheckResult:
        # Manual vs autodiff only: finite differences are `bplab gradcheck`'s, they cost a compile.
        return check_gradients(
            p, xc, yc, activation=cfg.model.activation, cost=cfg.model.cost, dtype=tr.dtype,
            grad=grad, finite_differences=False, unit_masks=masks,
        )  # fmt: skip

    return Started(
        cfg=cfg,
        params=params,
        masks=masks,
        lr=jnp.asarray(tr.lr, dtype),
        epoch_keys=jax.random.split(shuffle_key, tr.epochs),
        train=(jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)),
        val=(jnp.asarray(ds.x_val, dtype), jnp.asarray(ds.y_val, dtype)),
        ev=split_evaluator(cfg, ds, masks),
        check=check,
        check_batch=(xc, yc),
        history=[],
    )


def record_epoch(
    run: Started,
    ds: Dataset,
    epoch: int,
    check_of: Callable[[], CheckResult],
    fetched,
    seconds: float,
    *,
    run_id: str | None,
    on_epoch: OnEpoch | None,
    on_metrics: OnEpoch | None,
) -> None:
    """Everything after an epoch's one fetch ``fetched = (EpochMetrics, val_loss, val_acc)``.

    ``check_of()`` checks the epoch's params, called only at the epochs of the periodic check (a
    population checks all its members at once then, not every epoch).

    Raises:
      Diverged: the training loss became non-finite.
      GradientMismatch: the periodic check exceeded the tolerance.
    """
    tr = run.cfg.train
    metrics = epoch_metrics(*fetched, ds.n_train / seconds, ds.is_classification)
    diverged = not math.isfinite(metrics["train_loss"])
    if not diverged and tr.gradcheck_every and epoch % tr.gradcheck_every == 0:
        run.last_check = check_of()
        metrics.update(gradcheck_metrics(run.last_check))
    run.history.append(metrics)
    if run_id:
        tracking.log_metrics(run_id, metrics, step=epoch)
    if on_metrics is not None:
        on_metrics(epoch, metrics)
    if diverged:
        raise Diverged(
            f"training loss became {metrics['train_loss']} at epoch {epoch} (lr = {tr.lr:g}); "
            f"try a smaller learning rate (train.lr)"
        )
    if run.last_check is not None and not run.last_check.ok:
        raise GradientMismatch(f"at epoch {epoch}: {run.last_check.describe_failure()}")
    if on_epoch is not None:
        on_epoch(epoch, metrics)


def finish(run: Started, ds: Dataset, params: Params, *, run_id: str | None, dtype, pad_to=None) -> Trained:
    """The end-of-run check (when the last epoch had none), the test numbers and the true weights.

    Raises:
      GradientMismatch: the final check exceeded the tolerance.
    """
    tr = run.cfg.train
    if run.last_check is None or tr.gradcheck_every == 0 or tr.epochs % tr.gradcheck_every != 0:
        run.last_check = run.check(params)  # the table artifact needs one
        if not run.last_check.ok:
            raise GradientMismatch(f"at the end of training: {run.last_check.describe_failure()}")
    final = final_metrics(params, ds, run.history, run.ev, dtype)
    if run_id:
        tracking.log_metrics(
            run_id, {k: v for k, v in final.items() if k.startswith("test_")}, step=tr.epochs
        )
    return Trained(run.history, final, _unpadded(fetch(params), run.cfg, ds, pad_to), run.last_check)


def train_epochs(
    cfg: RunConfig,
    ds: Dataset,
    *,
    run_id: str | None,
    grad: Callable | None,
    on_epoch: OnEpoch | None,
    on_metrics: OnEpoch | None = None,
    pad_to: Sequence[int] | None = None,
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
      pad_to: hidden widths to train the net padded to, under unit masks (``None``: unpadded).

    Raises:
      Diverged: the training loss became non-finite (at that epoch).
      GradientMismatch: a check exceeded the tolerance (periodic, or the final one).
    """
    tr = cfg.train
    with precision(tr.dtype) as dtype:
        run = start(cfg, ds, dtype=dtype, run_id=run_id, grad=grad, pad_to=pad_to)
        epoch_grad = grad if (grad is not None and tr.grad == "manual") else tr.grad
        (x, y), (xv, yv) = run.train, run.val

        def epoch_after(params, key):
            return train_epoch(
                params, x, y, key, lr=run.lr, batch_size=tr.batch_size, activation=cfg.model.activation,
                cost=cfg.model.cost, grad=epoch_grad, unit_masks=run.masks,
            )  # fmt: skip

        # Iterated, not indexed: ``keys[e]`` is an eager slice per epoch, ``iter`` one unstack per run.
        keys = iter(run.epoch_keys)
        started = time.perf_counter()
        ahead = epoch_after(run.params, next(keys))
        for epoch in range(1, tr.epochs + 1):
            params, m = ahead
            val = run.ev(params, xv, yv)
            # The next epoch is queued before this one is fetched, so that the device trains it while
            # this epoch is logged and judged (see the module docstring). A run that stops here drops it.
            ahead = epoch_after(params, next(keys)) if epoch < tr.epochs else None
            m = jax.block_until_ready(m)
            seconds = time.perf_counter() - started
            fetched = fetch((m, *val))  # the epoch's one fetch
            started = time.perf_counter()  # the next epoch runs on the device from about here
            record_epoch(
                run, ds, epoch, lambda p=params: run.check(p), fetched, seconds,
                run_id=run_id, on_epoch=on_epoch, on_metrics=on_metrics,
            )  # fmt: skip
        return finish(run, ds, params, run_id=run_id, dtype=dtype, pad_to=pad_to)


def _unpadded(params: Params, cfg: RunConfig, ds: Dataset, pad_to) -> Params:
    """The true net's weights from host ``params`` (numpy slicing: on device it compiles per width)."""
    return params if pad_to is None else unpad_params(params, layer_sizes(cfg, ds))


def _data_params(ds: Dataset) -> dict[str, int]:
    return {"data.n_train": ds.n_train, "data.n_val": len(ds.x_val), "data.n_test": len(ds.x_test)}
