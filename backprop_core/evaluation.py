"""A whole split's mean cost and accuracy: what validation and test report."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from backprop_core.activations import Activation
from backprop_core.costs import Cost
from backprop_core.network import UnitMasks, forward, per_sample_costs, resolve
from backprop_core.params import Params

Array = jax.Array


@partial(jax.jit, static_argnames=("activation", "cost", "classification"))
def evaluate(
    params: Params,
    x: Array,
    y: Array,
    *,
    activation: str | Activation,
    cost: str | Cost,
    classification: bool,
    unit_masks: UnitMasks | None = None,
) -> tuple[Array, Array]:
    """``(mean cost, accuracy)`` on a whole split; accuracy is ``nan`` for regression.

    Args:
      params: ``((W^1, b^1), …)``, padded or not.
      x: inputs ``(n, n_0)``; y: targets ``(n, n_L)``.
      activation, cost: as in :func:`backprop_core.train_epoch`.
      classification: whether ``y`` holds classes; if not, accuracy is ``nan``.
      unit_masks: marks of the real hidden units of padded ``params`` (see
        :mod:`backprop_core.padding`); ``None`` for an unpadded net.

    Returns:
      ``(mean_i C_i, accuracy)``. Accuracy is the share of rows whose argmax of ``a^L`` equals the
      argmax of ``y``; with a single output unit, whose ``a^L > ½`` agrees with ``y > ½``.
    """
    act, out, c = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out, unit_masks=unit_masks)
    loss = jnp.mean(per_sample_costs(cache, y, c))
    a = cache.activations[-1]
    if not classification:
        return loss, jnp.asarray(jnp.nan, loss.dtype)
    if a.shape[1] == 1:
        hits = (a[:, 0] > 0.5) == (y[:, 0] > 0.5)
    else:
        hits = jnp.argmax(a, axis=1) == jnp.argmax(y, axis=1)
    return loss, jnp.mean(hits.astype(loss.dtype))
