"""One tracked training run: validate, open the MLflow run, train epoch by epoch, log, close honestly.

Order of business in :func:`train_run`:
  1. Preflight (nothing is written yet): load the data, check the batch size against it, check the
     test-only fault seam, and check the store answers. Any problem is ``BadInput`` (exit 2).
  2. Open the run; log params and tags.
  3. Per epoch: the core's jitted ``train_epoch`` (one ``lax.scan``), the validation metrics, one
     fetch from the device, every ``train.gradcheck_every`` epochs a manual-vs-autodiff check, then
     one ``log_batch`` and the caller's ``on_epoch``.
  4. Test metrics, artifacts (config, weights, plots, gradient-check table, pyfunc model), FINISHED.

A run ends with the status that happened: FINISHED; FAILED with ``bplab.failure`` =
``diverged`` | ``gradient_mismatch`` | ``exception`` and ``bplab.failure_reason``; KILLED on
SIGINT/SIGTERM, or with the status an ``on_epoch`` callback asks for through :class:`StopRun`.
"""

from __future__ import annotations

import functools
import math
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from backprop_core import (
    forward,
    init_params,
    per_sample_costs,
    precision,
    resolve,
    train_epoch,
)
from experiments import faults, gradcheck
from experiments.config import RunConfig
from experiments.data import Dataset, load_dataset
from experiments.environment import environment_params
from experiments.errors import BadInput, Diverged, GradientMismatch, RunFailed, StopRun
from experiments.signals import terminate_as_interrupt

OnEpoch = Callable[[int, dict[str, float]], None]


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
      run_id: the MLflow run id (``None`` with ``track=False``).
      config: the resolved config.
      history: one dict of metrics per epoch (epoch 1 first).
      final: ``train_loss``, ``val_loss``, ``test_loss`` (and the accuracies for classes).
      params: the trained ``((W, b), …)`` as numpy arrays.
    """

    run_id: str | None
    config: RunConfig
    history: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    params: tuple = ()
    gradcheck: gradcheck.CheckResult | None = None


# --- preflight -------------------------------------------------------------------------------------


def prepare(cfg: RunConfig, *, track: bool = True) -> Dataset:
    """Everything that can be checked before a run opens; returns the data.

    Raises:
      BadInput: bad data, a batch larger than the training split, an unknown ``BPLAB_FAULT`` or an
        unreachable store — with the config's source in the message.
    """
    try:
        ds = load_dataset(cfg.data, cfg.train.seed)
    except BadInput as e:
        raise BadInput(f"{cfg.source}: {e}") from None
    if cfg.train.batch_size > ds.n_train:
        raise BadInput(
            f"{cfg.source}: train.batch_size = {cfg.train.batch_size} is larger than the training set "
            f"({ds.n_train} rows)"
        )
    if cfg.model.cost == "softmax_cross_entropy" and not (ds.is_classification and ds.n_outputs >= 2):
        # softmax over one unit is constantly 1, and on non-one-hot targets the cost goes negative.
        raise BadInput(
            f"{cfg.source}: model.cost = softmax_cross_entropy needs one-hot classes (2 or more outputs); "
            f"dataset {cfg.data.dataset!r} has {ds.n_outputs} output(s)"
            + ("" if ds.is_classification else " and real-valued targets")
        )
    try:
        faults.active_fault()
    except ValueError as e:
        raise BadInput(str(e)) from None
    if track:
        from experiments import tracking

        tracking.ensure_reachable()
    return ds


# --- metrics ---------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("activation", "cost", "classification"))
def evaluate(params, x, y, *, activation: str, cost: str, classification: bool):
    """``(mean cost, accuracy)`` on a whole split; accuracy is ``nan`` for regression.

    Accuracy: argmax of ``a^L`` against argmax of ``y``; with a single output unit, ``a^L > ½``.
    """
    act, out, c = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out)
    loss = jnp.mean(per_sample_costs(cache, y, c))
    a = cache.activations[-1]
    if not classification:
        return loss, jnp.asarray(jnp.nan, loss.dtype)
    if a.shape[1] == 1:
        hits = (a[:, 0] > 0.5) == (y[:, 0] > 0.5)
    else:
        hits = jnp.argmax(a, axis=1) == jnp.argmax(y, axis=1)
    return loss, jnp.mean(hits.astype(loss.dtype))


def epoch_metrics(m, val_loss, val_acc, samples_per_sec: float, classification: bool) -> dict[str, float]:
    """The DESIGN names for one epoch from the fetched ``EpochMetrics`` and validation numbers."""
    metrics = {"train_loss": float(m.train_loss), "val_loss": float(val_loss)}
    if classification:
        metrics["val_accuracy"] = float(val_acc)
    for l, (gW, gb, sat) in enumerate(zip(m.grad_norm_W, m.grad_norm_b, m.saturation), start=1):
        metrics[f"grad_norm/W{l}"] = float(gW)
        metrics[f"grad_norm/b{l}"] = float(gb)
        metrics[f"saturation/layer{l}"] = float(sat)
    metrics["samples_per_sec"] = samples_per_sec
    return metrics


def gradcheck_metrics(result: gradcheck.CheckResult) -> dict[str, float]:
    """``gradcheck/max_rel_err`` and ``gradcheck/rel_err/W{l}``."""
    out = {"gradcheck/max_rel_err": result.max_rel_err}
    for name, err in result.grad_rel_errs().items():
        if name.startswith("W"):
            out[f"gradcheck/rel_err/{name}"] = err
    return out


# --- progress --------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar on a terminal, one plain line per epoch otherwise."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled = total, label, enabled
        self.bar = None
        if enabled and sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self.task = self.bar.add_task(label, total=total, info="")
            self.bar.start()

    def update(self, epoch: int, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        info = "  ".join(
            f"{k}={metrics[k]:.4g}" for k in ("train_loss", "val_loss", "val_accuracy") if k in metrics
        )
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch, info=info)
        else:
            print(f"epoch {epoch}/{self.total}  {info}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


# --- the run ---------------------------------------------------------------------------------------


def train_run(
    cfg: RunConfig,
    *,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    on_epoch: OnEpoch | None = None,
    track: bool = True,
    show_progress: bool = True,
    artifacts: str = "full",
) -> RunResult:
    """Trains ``cfg`` and records it in MLflow.

    Args:
      cfg: a validated config.
      parent_run_id: nest the run under this one (a sweep's parent run).
      tags: extra tags; they override the defaults (``bplab.kind=run``, ``bplab.grad``).
      run_name: the MLflow run name (default: the experiment name and seed).
      on_epoch: called as ``on_epoch(epoch, metrics)`` after each epoch's metrics are logged;
        may raise :class:`StopRun`.
      track: ``False`` trains the same way without touching MLflow (``run_id`` is ``None``).
      show_progress: a progress bar on a terminal, plain lines otherwise; ``False`` for silence.
      artifacts: ``"full"`` logs the config, weights, gradient-check table, PNG plots and the pyfunc
        model; ``"light"`` (a sweep's trials) skips the plots and the model, which cost more than
        training a small net (~0.8 s a run here), while every metric is still logged.

    Returns:
      The :class:`RunResult`.

    Raises:
      BadInput: preflight problems (no run is opened).
      Diverged, GradientMismatch: the run ended FAILED for that reason.
      StopRun: re-raised from ``on_epoch`` after ending the run with its status.
      KeyboardInterrupt: SIGINT/SIGTERM; the run ended KILLED.
    """
    ds = prepare(cfg, track=track)
    backward_fn = faults.backward_fn()
    run_id = None
    if track:
        from experiments import tracking

        all_tags = {"bplab.kind": "run", "bplab.grad": cfg.train.grad}
        if backward_fn is not None:
            all_tags["bplab.fault"] = faults.active_fault()  # visible, so nobody trusts such a run
        all_tags.update(tags or {})
        run_id = tracking.start_run(
            cfg.experiment.name,
            run_name=run_name or f"{cfg.experiment.name}-seed{cfg.train.seed}",
            parent_run_id=parent_run_id,
            tags=all_tags,
            description=cfg.experiment.description,
        )
    result = RunResult(run_id, cfg)
    progress = _Progress(cfg.train.epochs, cfg.experiment.name, show_progress)
    try:
        with terminate_as_interrupt():
            _train(cfg, ds, result, backward_fn, on_epoch, progress)
            if track:
                _log_artifacts(result, ds, full=artifacts == "full")
                tracking.end_run(run_id, "FINISHED")
    except StopRun as stop:
        _close(run_id, stop.status, {**stop.tags, "bplab.stop_reason": stop.reason or stop.status})
        raise
    except RunFailed as failure:
        failure.run_id = run_id
        _close(run_id, "FAILED", {"bplab.failure": failure.kind, "bplab.failure_reason": failure.message})
        raise
    except KeyboardInterrupt:
        _close(run_id, "KILLED", {"bplab.stop_reason": "interrupted (SIGINT or SIGTERM)"})
        raise
    except BaseException as e:
        reason = f"{type(e).__name__}: {' '.join(str(e).split())}"[:500]
        _close(run_id, "FAILED", {"bplab.failure": "exception", "bplab.failure_reason": reason})
        raise
    finally:
        progress.close()
    return result


def _close(run_id: str | None, status: str, tags: Mapping[str, Any]) -> None:
    """Ends a run that did not finish; a store error here must not hide the original one."""
    if run_id is None:
        return
    from experiments import tracking

    try:
        tracking.set_tags(run_id, tags)
        tracking.end_run(run_id, status)
    except Exception as e:  # the store itself may be what failed
        print(f"bplab: warning: could not mark run {run_id} {status}: {e}", file=sys.stderr)


def _train(cfg: RunConfig, ds: Dataset, result: RunResult, backward_fn, on_epoch, progress) -> None:
    """The epoch loop; fills ``result`` (history, final, params) and logs as it goes."""
    tr, model = cfg.train, cfg.model
    grad = backward_fn if (backward_fn is not None and tr.grad == "manual") else tr.grad
    check_every = tr.gradcheck_every
    with precision(tr.dtype) as dtype:
        init_key, shuffle_key = jax.random.split(jax.random.key(tr.seed))
        params = init_params(
            init_key, (ds.n_inputs, *model.hidden, ds.n_outputs), init=model.init, dtype=dtype
        )
        x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
        xv, yv = jnp.asarray(ds.x_val, dtype), jnp.asarray(ds.y_val, dtype)
        xc, yc = (jnp.asarray(a, dtype) for a in gradcheck.check_batch(ds.x_train, ds.y_train, tr.batch_size))
        lr = jnp.asarray(tr.lr, dtype)
        ev = functools.partial(
            evaluate, activation=model.activation, cost=model.cost, classification=ds.is_classification
        )
        if result.run_id:
            from experiments import tracking

            tracking.log_params(
                result.run_id, {**cfg.flat(), **environment_params(params), **_data_params(ds)}
            )
        epoch_keys = jax.random.split(shuffle_key, tr.epochs)
        last_check = None
        for epoch in range(1, tr.epochs + 1):
            t0 = time.perf_counter()
            params, m = train_epoch(
                params,
                x,
                y,
                epoch_keys[epoch - 1],
                lr=lr,
                batch_size=tr.batch_size,
                activation=model.activation,
                cost=model.cost,
                grad=grad,
            )
            m = jax.block_until_ready(m)
            seconds = time.perf_counter() - t0
            val_loss, val_acc = ev(params, xv, yv)
            m, val_loss, val_acc = jax.device_get((m, val_loss, val_acc))  # the epoch's one fetch
            metrics = epoch_metrics(m, val_loss, val_acc, ds.n_train / seconds, ds.is_classification)
            diverged = not math.isfinite(metrics["train_loss"])
            if not diverged and check_every and epoch % check_every == 0:
                last_check = _check(params, xc, yc, cfg, backward_fn)
                metrics.update(gradcheck_metrics(last_check))
            result.history.append(metrics)
            if result.run_id:
                tracking.log_metrics(result.run_id, metrics, step=epoch)
            progress.update(epoch, metrics)
            if diverged:
                raise Diverged(
                    f"training loss became {metrics['train_loss']} at epoch {epoch} (lr = {tr.lr:g}); "
                    f"try a smaller learning rate (train.lr)"
                )
            if last_check is not None and not last_check.ok:
                raise GradientMismatch(f"at epoch {epoch}: {last_check.describe_failure()}")
            if on_epoch is not None:
                on_epoch(epoch, metrics)

        if last_check is None or check_every == 0 or tr.epochs % check_every != 0:
            last_check = _check(params, xc, yc, cfg, backward_fn)  # the table artifact needs one
            if not last_check.ok:
                raise GradientMismatch(f"at the end of training: {last_check.describe_failure()}")
        result.gradcheck = last_check
        test_loss, test_acc = jax.device_get(
            ev(params, jnp.asarray(ds.x_test, dtype), jnp.asarray(ds.y_test, dtype))
        )
        last = result.history[-1]
        final = {
            "train_loss": last["train_loss"],
            "val_loss": last["val_loss"],
            "test_loss": float(test_loss),
        }
        if ds.is_classification:
            final["val_accuracy"] = last["val_accuracy"]
            final["test_accuracy"] = float(test_acc)
        result.final = final
        result.params = jax.device_get(params)
        if result.run_id:
            tracking.log_metrics(
                result.run_id, {k: v for k, v in final.items() if k.startswith("test_")}, step=tr.epochs
            )


def _check(params, xc, yc, cfg: RunConfig, backward_fn) -> gradcheck.CheckResult:
    return gradcheck.check_gradients(
        params,
        xc,
        yc,
        activation=cfg.model.activation,
        cost=cfg.model.cost,
        dtype=cfg.train.dtype,
        backward_fn=backward_fn,
        finite_differences=False,  # the per-epoch check is manual vs autodiff; bplab gradcheck adds FD
    )


def _data_params(ds: Dataset) -> dict[str, Any]:
    return {"data.n_train": ds.n_train, "data.n_val": len(ds.x_val), "data.n_test": len(ds.x_test)}


def _log_artifacts(result: RunResult, ds: Dataset, *, full: bool) -> None:
    """Config TOML, weights ``.npz``, the gradient-check table; when ``full``, PNG plots and the model."""
    from experiments import plots, pyfunc_model, tracking

    run_id, cfg = result.run_id, result.config
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        toml = cfg.to_toml()
        tracking.log_text(run_id, toml, "config.toml")
        weights = pyfunc_model.save_weights(
            tmp / "params.npz", result.params, x_shift=ds.x_shift, x_scale=ds.x_scale
        )
        tracking.log_artifact(run_id, weights)
        table = result.gradcheck.table(stage=f"epoch {cfg.train.epochs}")
        tracking.log_dict(run_id, table, "gradcheck.json")
        tracking.log_table(run_id, table, "gradcheck_table.json")
        if not full:
            return
        plots_dir = tmp / "plots"
        plots_dir.mkdir()
        plots.loss_curves(result.history, plots_dir / "loss.png", title=cfg.experiment.name)
        plots.grad_norms(result.history, plots_dir / "grad_norms.png", title=cfg.experiment.name)
        tracking.log_artifacts(run_id, plots_dir, "plots")
        tracking.log_pyfunc_model(
            run_id, weights=weights, config_toml=toml, input_example=ds.x_test[:5] * ds.x_scale + ds.x_shift
        )


def train_command(path, overrides=()) -> RunResult:
    """``bplab train CONFIG [--set …]``: loads, trains, prints where the run is and how it ended."""
    from experiments import tracking
    from experiments.config import load_config

    cfg = load_config(path, overrides)
    try:
        result = train_run(cfg)
    except RunFailed as e:
        if e.run_id:
            print(f"run {e.run_id} FAILED: {tracking.run_url(e.run_id)}", file=sys.stderr)
        raise
    finals = "  ".join(f"{k}={v:.4g}" for k, v in result.final.items())
    print(f"finished: {finals}")
    print(f"run {result.run_id} in {tracking.tracking_uri()}: {tracking.run_url(result.run_id)}")
    return result
