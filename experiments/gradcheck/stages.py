"""The gradient-check pipeline: a check at initialisation, a few epochs, a second check.

The epochs between the two checks train with ``jax.grad``, so a buggy manual pass cannot steer the
weights somewhere odd; the point is a second, non-random place to compare at. Both checks use one
batch (the first ``train.batch_size`` rows) and the same finite-difference coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp

from backprop_core import precision, train_epoch
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.gradcheck.check import CheckResult, check_batch, check_gradients
from experiments.run.initial import initial_params


@dataclass(frozen=True)
class Stage:
    """One check of the pipeline.

    Attributes:
      name: ``init`` or ``after N epoch(s)``.
      epochs: epochs trained before it (the MLflow ``step`` of its metrics).
      result: the check.
    """

    name: str
    epochs: int
    result: CheckResult


def check_stages(
    cfg: RunConfig,
    ds: Dataset,
    *,
    epochs: int,
    grad: Callable | None = None,
    finite_differences: Literal["init", "all"] = "all",
) -> list[Stage]:
    """Checks ``grad`` at initialisation and, when ``epochs`` > 0, again after that many epochs.

    Args:
      cfg, ds: the validated config and its data (the seed's key is split in three: init, shuffle,
        finite-difference coordinates).
      epochs: epochs trained with ``jax.grad`` between the two checks; 0 checks once.
      grad: the manual backward pass to check (``None``: :func:`backprop_core.backward`).
      finite_differences: ``"all"`` adds autodiff vs central differences to every check; ``"init"``
        to the first only (each costs a compile; they judge ``jax.grad``, which training leaves alone).

    Returns:
      The stages in order: ``init`` first.
    """
    tr, model = cfg.train, cfg.model
    with precision(tr.dtype) as dtype:
        init_key, shuffle_key, fd_key = jax.random.split(jax.random.key(tr.seed), 3)
        params = initial_params(cfg, ds, init_key, dtype=dtype)
        xb, yb = (jnp.asarray(a, dtype) for a in check_batch(ds.x_train, ds.y_train, tr.batch_size))

        def check(p, fd: bool) -> CheckResult:
            return check_gradients(
                p, xb, yb, activation=model.activation, cost=model.cost, dtype=tr.dtype,
                grad=grad, finite_differences=fd, key=fd_key,
            )  # fmt: skip

        stages = [Stage("init", 0, check(params, True))]
        if epochs:
            x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
            for k in jax.random.split(shuffle_key, epochs):
                params, _ = train_epoch(
                    params, x, y, k, lr=jnp.asarray(tr.lr, dtype), batch_size=tr.batch_size,
                    activation=model.activation, cost=model.cost, grad="autodiff",
                )  # fmt: skip
            name = f"after {epochs} epoch{'s' if epochs != 1 else ''}"
            stages.append(Stage(name, epochs, check(params, finite_differences == "all")))
    return stages
