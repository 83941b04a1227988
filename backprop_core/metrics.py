"""What a step and an epoch measure on device: the loss, gradient norms and saturation."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from backprop_core.activations import Activation
from backprop_core.network import Cache, UnitMasks

Array = jax.Array


class StepStats(NamedTuple):
    """What one step measures, before its update.

    Attributes:
      loss: the batch cost.
      grad_norm_W: ``‖∂C/∂W^l‖_F`` per layer, shape ``(L,)``.
      grad_norm_b: ``‖∂C/∂b^l‖`` per layer, shape ``(L,)``.
      saturation: per layer, the share of (sample, unit) pairs with ``σ'(z) < 0.01 · max σ'``.
    """

    loss: Array
    grad_norm_W: Array
    grad_norm_b: Array
    saturation: Array


class EpochMetrics(NamedTuple):
    """An epoch's metrics: ``train_loss`` is the mean per-sample cost over the epoch's samples, the
    other fields are the means of the steps' :class:`StepStats` fields."""

    train_loss: Array
    grad_norm_W: Array
    grad_norm_b: Array
    saturation: Array


def saturation(
    cache: Cache,
    weights: Array,
    *,
    activation: Activation,
    output: Activation,
    unit_masks: UnitMasks | None = None,
) -> Array:
    """Per layer, the weighted share of units whose ``σ'`` is below 1% of its maximum.

    With ``unit_masks`` only real units count: a padded unit's ``a`` is 0, where the sigmoid's and
    relu's ``σ'`` are 0 too, so counting it would report padding as saturation. The share of layer
    ``l`` for sample ``i`` is then ``Σ_j m^l_j s_ij / Σ_j m^l_j`` over the saturated marks ``s_ij``.
    """
    acts = cache.activations[1:]
    shares = []
    for l, a in enumerate(acts, start=1):
        act = output if l == len(acts) else activation
        saturated = (act.prime(a) < 0.01 * act.max_prime).astype(a.dtype)
        if unit_masks is None or l == len(acts):
            per_sample = jnp.mean(saturated, axis=1)
        else:
            m = unit_masks[l - 1].astype(a.dtype)
            per_sample = saturated @ m / jnp.maximum(jnp.sum(m), 1)
        shares.append(weights @ per_sample)
    return jnp.stack(shares)
