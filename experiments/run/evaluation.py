"""What a run reports: the per-epoch metrics under their user-facing names, and the final numbers."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from backprop_core import EpochMetrics, UnitMasks, evaluate
from experiments.config import RunConfig
from experiments.data import Dataset


def split_evaluator(cfg: RunConfig, ds: Dataset, masks: UnitMasks | None = None) -> Callable:
    """``ev(params, x, y) -> (mean cost, accuracy)`` for this config's net on this data (``masks``:
    the unit masks of a padded net, see :func:`experiments.run.initial.initial_masks`)."""
    return functools.partial(
        evaluate,
        activation=cfg.model.activation,
        cost=cfg.model.cost,
        classification=ds.is_classification,
        unit_masks=masks,
    )


def epoch_metrics(
    m: EpochMetrics, val_loss, val_acc, samples_per_sec: float, classification: bool
) -> dict[str, float]:
    """One epoch's metrics from the fetched ``EpochMetrics`` and the validation numbers.

    Names: ``train_loss``, ``val_loss``, ``val_accuracy`` (classes only), ``grad_norm/W{l}``,
    ``grad_norm/b{l}``, ``saturation/layer{l}``, ``samples_per_sec``.
    """
    metrics = {"train_loss": float(m.train_loss), "val_loss": float(val_loss)}
    if classification:
        metrics["val_accuracy"] = float(val_acc)
    for l, (gW, gb, sat) in enumerate(zip(m.grad_norm_W, m.grad_norm_b, m.saturation), start=1):
        metrics[f"grad_norm/W{l}"] = float(gW)
        metrics[f"grad_norm/b{l}"] = float(gb)
        metrics[f"saturation/layer{l}"] = float(sat)
    metrics["samples_per_sec"] = samples_per_sec
    return metrics


def fetch(tree):
    """``jax.device_get(tree)`` once the device is done with it.

    Waiting first is what makes running out of memory a catchable error: a buffer XLA could not
    allocate while a program ran raises ``JaxRuntimeError`` (``Out of memory allocating …``) in
    ``jax.block_until_ready``, whereas ``jax.device_get`` of it aborts the process (jaxlib 0.10 on
    the CPU: ``Check failed: buffer_.IsConcrete()``, SIGABRT), leaving the run RUNNING. It costs
    nothing: the fetch waits for the same buffers anyway.
    """
    return jax.device_get(jax.block_until_ready(tree))


def final_metrics(
    params, ds: Dataset, history: list[dict[str, float]], ev: Callable, dtype
) -> dict[str, float]:
    """The last epoch's train and validation numbers plus the test split's (``test_loss``, …)."""
    test_loss, test_acc = fetch(ev(params, jnp.asarray(ds.x_test, dtype), jnp.asarray(ds.y_test, dtype)))
    last = history[-1]
    final = {"train_loss": last["train_loss"], "val_loss": last["val_loss"], "test_loss": float(test_loss)}
    if ds.is_classification:
        final["val_accuracy"] = last["val_accuracy"]
        final["test_accuracy"] = float(test_acc)
    return final
